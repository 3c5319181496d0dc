//! The higher-priority node comes back: preempt, nopreempt, preempt_delay.

use std::net::IpAddr;
use std::time::Duration;

use netns_tests::vipd::{InstanceSpec, Transition, Vipd, VrrpState};
use netns_tests::{Lab, require_root};
use nix::sys::signal::Signal;

use crate::common::*;

/// Runs node 0 with `high` (priority 150) as Master over node 1 (priority 100), stops node 0
/// cleanly, waits until node 1 is Master, and starts node 0 again with `high`. Returns the
/// restarted node 0, node 1, and node 0's entry into Backup after the restart.
fn come_back(lab: &Lab, high: &InstanceSpec) -> (Vipd, Vipd, Transition) {
    let vip = high.vips[0];
    let low = InstanceSpec {
        priority: 100,
        preempt: true,
        preempt_delay: Duration::ZERO,
        ..high.clone()
    };
    let [mut d0, mut d1] = master_then_backup(lab, high, &low);
    d0.signal(Signal::SIGTERM).unwrap();
    assert!(
        d0.wait_exit(Duration::from_secs(2))
            .is_some_and(|s| s.success())
    );
    settle(&mut d1, &low, VrrpState::Master);
    wait_holds(lab.node(1), "eth0", vip, true, TOLERANCE);
    let mut d0 = start(lab, 0, high);
    let entered = d0
        .wait_state(&high.name, VrrpState::Backup, START_SLACK)
        .unwrap();
    (d0, d1, entered)
}

#[test]
fn preempt_the_higher_node_takes_over_again_after_restart() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip: IpAddr = lab.vip4(0).into();
    let high = spec(vip, 150);
    let (mut d0, mut d1, _) = come_back(&lab, &high);
    let t = d0
        .wait_state(
            &high.name,
            VrrpState::Master,
            high.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    let t = d1
        .wait_state(&high.name, VrrpState::Backup, TOLERANCE)
        .unwrap();
    assert!(t.reason.contains("preempted by"), "{t:?}");
    let (n0, n1) = (lab.node(0), lab.node(1));
    wait_holds(n0, "eth0", vip, true, TOLERANCE);
    wait_holds(n1, "eth0", vip, false, TOLERANCE);
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());
}

#[test]
fn nopreempt_the_higher_node_stays_backup_after_restart() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip: IpAddr = lab.vip4(0).into();
    let high = InstanceSpec {
        preempt: false,
        ..spec(vip, 150)
    };
    let (d0, d1, _) = come_back(&lab, &high);
    assert_stays(
        &d0,
        &high.name,
        VrrpState::Backup,
        high.master_down_interval() * 4,
    );
    assert_eq!(d1.state(&high.name), Some(VrrpState::Master));
    let (n0, n1) = (lab.node(0), lab.node(1));
    assert_only_holder(&[n0, n1], n1, "eth0", vip);
    assert_client_sees(&lab, vip, n1.mac("eth0").unwrap());
}

#[test]
fn preempt_delay_the_higher_node_takes_over_only_after_the_delay() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip: IpAddr = lab.vip4(0).into();
    let delay = Duration::from_millis(1500);
    let high = InstanceSpec {
        preempt_delay: delay,
        ..spec(vip, 150)
    };
    let (mut d0, mut d1, backup) = come_back(&lab, &high);
    let (n0, n1) = (lab.node(0), lab.node(1));
    // Well inside the delay: node 1 still holds the VIP.
    assert_only_holder(&[n0, n1], n1, "eth0", vip);
    let master = d0
        .wait_state(
            &high.name,
            VrrpState::Master,
            delay + high.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    let waited = Duration::from_secs_f64(master.at - backup.at);
    eprintln!("preempt_delay {delay:?}: took over {waited:?} after entering Backup");
    assert!(
        waited >= delay,
        "took over after {waited:?}, before the {delay:?} delay"
    );
    assert!(
        waited <= delay + TOLERANCE,
        "took over only after {waited:?}"
    );
    d1.wait_state(&high.name, VrrpState::Backup, TOLERANCE)
        .unwrap();
    wait_holds(n0, "eth0", vip, true, TOLERANCE);
    wait_holds(n1, "eth0", vip, false, TOLERANCE);
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());
}
