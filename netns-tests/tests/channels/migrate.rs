//! Moving a pair from multicast to unicast with two reloads, while a client pings the VIP
//! every 10 ms: not one ping lost, no state change.

use std::time::Duration;

use netns_tests::vipd::{Vipd, VipdConfig, VrrpState};
use netns_tests::{Pinger, pinger_bin, require_root};

use crate::common::*;

fn reload(
    d: &Vipd,
    extra: Vec<String>,
    unicast: Vec<std::net::IpAddr>,
    spec: &netns_tests::vipd::InstanceSpec,
) {
    let mut s = spec.clone();
    s.extra = extra;
    s.unicast_peers = unicast;
    d.rewrite(&VipdConfig::single(d.node().name(), s)).unwrap();
    let out = d.ctl_ok(&["reload"]).unwrap();
    assert!(out.contains("updated in place"), "{out}");
}

#[test]
fn multicast_to_unicast_without_losing_a_ping() {
    if !require_root() {
        return;
    }
    let Pair {
        lab,
        vip,
        high,
        low,
        d0,
        d1,
    } = settled_pair();
    let (n0, n1) = (lab.node(0), lab.node(1));
    let before = (
        d0.transitions(&high.name).len(),
        d1.transitions(&low.name).len(),
    );
    let pinger = Pinger::start(
        &lab.client,
        &pinger_bin(),
        vip,
        None,
        lab.log_path("ping.log"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Step 1: a unicast channel beside multicast, on both nodes.
    let to =
        |n: &netns_tests::Node| format!("channels: [{{ interface: eth0, peers: [{}] }}]", n.ip4());
    reload(&d1, vec![to(n0)], vec![], &low);
    reload(&d0, vec![to(n1)], vec![], &high);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        channel_unicast_heard(&d1),
        "node1 hears node0's unicast channel"
    );
    // Step 2: unicast as the primary path, the channel gone; the Backup first.
    reload(&d1, vec![], vec![n0.ip4().into()], &low);
    std::thread::sleep(Duration::from_millis(500));
    reload(&d0, vec![], vec![n1.ip4().into()], &high);
    std::thread::sleep(Duration::from_secs(1));
    let report = pinger.stop().unwrap();
    eprintln!("{report:?}");
    assert_eq!(
        report.lost, 0,
        "pings lost during the migration: {report:?}"
    );
    assert_eq!(report.duplicates, 0);
    assert!(report.sent > 200, "{report:?}");
    assert_eq!(
        d0.transitions(&high.name).len(),
        before.0,
        "{}",
        d0.log_text()
    );
    assert_eq!(
        d1.transitions(&low.name).len(),
        before.1,
        "{}",
        d1.log_text()
    );
    assert_stays(
        &d1,
        &low.name,
        VrrpState::Backup,
        low.master_down_interval() * 3,
    );
    assert_eq!(d1.state(&low.name), Some(VrrpState::Backup));
}

fn channel_unicast_heard(d: &Vipd) -> bool {
    let status = d.status().unwrap();
    status.raw["instances"][0]["channels"]
        .as_array()
        .and_then(|a| a.get(1))
        .and_then(|c| c["counters"]["adverts_received"].as_u64())
        .is_some_and(|n| n > 0)
}

#[test]
fn a_channel_added_by_reload_carries_a_running_backup() {
    if !require_root() {
        return;
    }
    let crate::setup::HbPair {
        lab,
        high,
        low,
        d0,
        mut d1,
        ..
    } = crate::setup::hb_pair(crate::setup::hb_lab(), |_, _| Vec::new());
    let (n0, n1) = (lab.node(0), lab.node(1));
    reload(&d1, vec![crate::setup::vrrp_channel(n0)], vec![], &low);
    reload(&d0, vec![crate::setup::vrrp_channel(n1)], vec![], &high);
    let _lan = lab.cut(netns_tests::Cut::VrrpOnLan).unwrap();
    // The Backup sent nothing since the reload; its channel health must still be of the
    // new channels, or it would not know eth1 now carries the Master.
    crate::setup::wait_channel_lost(&mut d1, "eth0", &low);
    assert_stays(
        &d1,
        &low.name,
        VrrpState::Backup,
        low.master_down_interval() * 4,
    );
}
