//! The Master goes away: killed (with its cable cut), stopped cleanly, killed and restarted.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netns_tests::vipd::{InstanceSpec, VrrpState};
use netns_tests::{Capture, decode, require_root};
use nix::sys::signal::Signal;

use crate::common::*;

/// How long a stopped Master may take to exit (the bound).
const EXIT_BUDGET: Duration = Duration::from_secs(2);

#[test]
fn sigkill_of_the_master_hands_over_within_master_down_interval() {
    if !require_root() {
        return;
    }
    let Pair {
        lab,
        vip,
        low,
        mut d0,
        mut d1,
        ..
    } = settled_pair();
    let (n0, n1) = (lab.node(0), lab.node(1));
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());

    // A dead host: the process gone and its kernel cut off, or the stale VIP would answer.
    let t0 = Instant::now();
    d0.kill();
    lab.set_port(n0, false).unwrap();
    let limit = low.master_down_interval() + TOLERANCE;
    let took = takeover_time(n1, "eth0", vip, t0, limit);
    eprintln!(
        "SIGKILL takeover: {took:?} (Master_Down_Interval {:?})",
        low.master_down_interval()
    );
    assert!(took <= limit, "takeover took {took:?}, limit {limit:?}");

    let t = d1
        .wait_state(&low.name, VrrpState::Master, TOLERANCE)
        .unwrap();
    assert_eq!(t.from, VrrpState::Backup);
    assert!(t.reason.contains("master down timer expired"), "{t:?}");
    assert!(
        holds(n0, "eth0", vip),
        "a SIGKILLed vipd cannot have removed its VIP"
    );
    assert_only_holder(&[n1], n1, "eth0", vip);
    assert_client_sees(&lab, vip, n1.mac("eth0").unwrap());
}

#[test]
fn sigterm_of_the_master_resigns_with_priority_0_and_exits_0() {
    if !require_root() {
        return;
    }
    let Pair {
        lab,
        vip,
        high,
        low,
        mut d0,
        mut d1,
    } = settled_pair();
    let (n0, n1) = (lab.node(0), lab.node(1));
    let cap = Capture::start(
        &lab.client,
        "eth0",
        "ip proto 112",
        lab.log_path("client.pcap"),
    )
    .unwrap();

    let t0 = Instant::now();
    d0.signal(Signal::SIGTERM).unwrap();
    let limit = low.skew_time() + TOLERANCE;
    let took = takeover_time(n1, "eth0", vip, t0, limit);
    eprintln!(
        "SIGTERM takeover: {took:?} (Skew_Time {:?})",
        low.skew_time()
    );
    assert!(took <= limit, "takeover took {took:?}, limit {limit:?}");
    let status = d0.wait_exit(EXIT_BUDGET.saturating_sub(t0.elapsed()));
    assert!(
        status.is_some_and(|s| s.success()),
        "vipd must exit 0 within {EXIT_BUDGET:?} of SIGTERM: {status:?}; log:\n{}",
        d0.log_text()
    );

    // The Backup took over because of the priority-0 advert, not its down timer.
    let t = d1
        .wait_state(&low.name, VrrpState::Master, TOLERANCE)
        .unwrap();
    assert!(t.reason.contains("resigned (priority 0)"), "{t:?}");
    let last = d0.transitions(&high.name).pop();
    assert_eq!(
        last.map(|t| (t.from, t.to)),
        Some((VrrpState::Master, VrrpState::Init))
    );
    assert!(
        !holds(n0, "eth0", vip),
        "a stopped vipd must release its VIP"
    );

    let frames = cap.stop().unwrap();
    let resign = frames
        .iter()
        .filter_map(|f| decode::is_vrrp_advert(&f.data))
        .find(|a| a.src == IpAddr::from(n0.ip4()) && a.priority == 0 && a.vrid == high.vrid);
    assert!(
        resign.is_some(),
        "no priority-0 advert from node0 on the wire"
    );
    assert_only_holder(&[n0, n1], n1, "eth0", vip);
    assert_client_sees(&lab, vip, n1.mac("eth0").unwrap());
}

#[test]
fn restart_after_sigkill_removes_the_stale_vip_and_never_splits() {
    if !require_root() {
        return;
    }
    let Pair {
        lab,
        vip,
        high,
        low,
        mut d0,
        mut d1,
    } = settled_pair();
    let (n0, n1) = (lab.node(0), lab.node(1));

    d0.kill();
    lab.set_port(n0, false).unwrap();
    settle(&mut d1, &low, VrrpState::Master);
    wait_holds(n1, "eth0", vip, true, TOLERANCE);
    assert!(
        holds(n0, "eth0", vip),
        "precondition: the killed node kept its VIP"
    );

    // Cable back, then vipd restarted at once: until it runs, the stale VIP answers too.
    // Without preemption the restarted node must stay Backup; with it, the normal handover
    // would overlap for a moment and hide what this test is about.
    let again = InstanceSpec {
        preempt: false,
        ..high.clone()
    };
    lab.set_port(n0, true).unwrap();
    let mut d0 = start(&lab, 0, &again);
    let line = d0
        .wait_log(
            "removing a VIP left on the interface",
            Duration::from_secs(5),
        )
        .unwrap();
    assert!(line.contains(&vip.to_string()), "{line}");
    wait_holds(n0, "eth0", vip, false, TOLERANCE);
    let mac1 = n1.mac("eth0").unwrap();
    let until = Instant::now() + again.master_down_interval() * 4;
    let mut probes = 0;
    while Instant::now() < until {
        assert_eq!(
            answerers(&lab, vip),
            vec![mac1],
            "after the restart only node1 may answer"
        );
        probes += 1;
    }
    assert!(probes >= 2);
    settle(&mut d0, &again, VrrpState::Backup);
    assert_stays(
        &d0,
        &again.name,
        VrrpState::Backup,
        again.master_down_interval(),
    );
    assert_eq!(d1.state(&low.name), Some(VrrpState::Master));
    assert_only_holder(&[n0, n1], n1, "eth0", vip);
    assert_client_sees(&lab, vip, mac1);
}
