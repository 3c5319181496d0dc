//! Who becomes Master when two nodes start together.

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use netns_tests::vipd::{InstanceSpec, VrrpState};
use netns_tests::{Capture, Lab, decode, require_root};

use crate::common::*;

/// `base` at priority 150 (for node 0) and at priority 100 (for node 1).
fn ranked(base: InstanceSpec) -> (InstanceSpec, InstanceSpec) {
    let high = InstanceSpec {
        priority: 150,
        ..base.clone()
    };
    let low = InstanceSpec {
        priority: 100,
        ..base
    };
    (high, low)
}

/// Starts node 1 with `low` and node 0 with `high` together and checks that node 0 wins:
/// both logs, the addresses, and what the client sees.
fn elects_the_higher_priority(lab: &Lab, (high, low): (InstanceSpec, InstanceSpec)) {
    let vip = high.vips[0];
    // The lower priority starts first: a head start must not decide the election.
    let mut backup = start(lab, 1, &low);
    let mut master = start(lab, 0, &high);
    settle(&mut master, &high, VrrpState::Master);
    settle(&mut backup, &low, VrrpState::Backup);
    let (n0, n1) = (lab.node(0), lab.node(1));
    wait_holds(n0, "eth0", vip, true, TOLERANCE);
    // Longer than the Backup's own Master_Down_Interval: it hears the Master's adverts.
    assert_stays(
        &backup,
        &low.name,
        VrrpState::Backup,
        low.master_down_interval(),
    );
    assert_eq!(master.state(&high.name), Some(VrrpState::Master));
    assert_only_holder(&[n0, n1], n0, "eth0", vip);
    assert_client_sees(lab, vip, n0.mac("eth0").unwrap());
}

#[test]
fn v2_at_the_default_interval_elects_the_higher_priority() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let base = InstanceSpec {
        version: 2,
        advert_interval: Duration::from_secs(1),
        ..spec(lab.vip4(0).into(), 100)
    };
    elects_the_higher_priority(&lab, ranked(base));
}

#[test]
fn v3_ipv4_elects_the_higher_priority() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    elects_the_higher_priority(&lab, ranked(spec(lab.vip4(0).into(), 100)));
}

#[test]
fn v3_ipv6_elects_the_higher_priority() {
    if !require_root() {
        return;
    }
    let lab = lab(true);
    elects_the_higher_priority(&lab, ranked(spec(lab.vip6(0).into(), 100)));
}

#[test]
fn unicast_v3_elects_the_higher_priority_and_sends_to_the_peer_only() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let cap = Capture::start(n1, "eth0", "ip proto 112", lab.log_path("n1-vrrp.pcap")).unwrap();
    // Each node lists the other as its only peer.
    let (mut high, mut low) = ranked(spec(lab.vip4(0).into(), 100));
    high.unicast_peers = vec![n1.ip4().into()];
    low.unicast_peers = vec![n0.ip4().into()];
    elects_the_higher_priority(&lab, (high, low));
    let frames = cap.stop().unwrap();
    let from_master: Vec<IpAddr> = frames
        .iter()
        .filter(|f| {
            decode::is_vrrp_advert(&f.data).is_some_and(|a| a.src == IpAddr::from(n0.ip4()))
        })
        .filter_map(|f| decode::ip(&f.data).map(|ip| ip.dst))
        .collect();
    assert!(
        !from_master.is_empty(),
        "node1 captured no advert from the Master"
    );
    assert!(
        from_master.iter().all(|d| *d == IpAddr::from(n1.ip4())),
        "the Master's adverts must go to node1 by unicast: {from_master:?}"
    );
}

/// Attaches switch port `port` to the LAN bridge or detaches it; its link stays up either way.
fn set_bridged(lab: &Lab, port: &str, bridged: bool) {
    let master: &[&str] = if bridged {
        &["master", "br0"]
    } else {
        &["nomaster"]
    };
    let out = Command::new("ip")
        .args(["-n", lab.switch_ns(), "link", "set", "dev", port])
        .args(master)
        .output()
        .expect("ip link set master");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// RFC 9568 §6.4.3: a Master that hears an equal priority from a higher address yields. (A
/// Backup accepts an equal-priority Master whatever its address, so two nodes started
/// together do not say who wins; two Masters that meet do.)
#[test]
fn equal_priority_masters_meet_and_the_higher_address_wins() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0).into();
    let both = spec(vip, 100);
    let (n0, n1) = (lab.node(0), lab.node(1));
    // node1 (host .2, the higher address) starts cut off, so both become Master. Its switch
    // port leaves the bridge rather than going down: with carrier lost it would be in FAULT.
    set_bridged(&lab, "n1", false);
    let mut d0 = start(&lab, 0, &both);
    let mut d1 = start(&lab, 1, &both);
    settle(&mut d0, &both, VrrpState::Master);
    settle(&mut d1, &both, VrrpState::Master);
    let masters = d1.transitions(&both.name).len();

    set_bridged(&lab, "n1", true);
    let t = d0
        .wait_state(
            &both.name,
            VrrpState::Backup,
            both.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(
        t.reason.contains(&n1.ip4().to_string()),
        "node0 must yield to node1: {t:?}"
    );
    wait_holds(n0, "eth0", vip, false, TOLERANCE);
    assert_stays(
        &d0,
        &both.name,
        VrrpState::Backup,
        both.master_down_interval() * 2,
    );
    assert_eq!(
        d1.transitions(&both.name).len(),
        masters,
        "node1 must stay Master throughout; log:\n{}",
        d1.log_text()
    );
    assert_only_holder(&[n0, n1], n1, "eth0", vip);
    assert_client_sees(&lab, vip, n1.mac("eth0").unwrap());
}
