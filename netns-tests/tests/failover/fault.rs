//! The Master's own interface goes down, and comes back.

use std::time::Instant;

use netns_tests::require_root;
use netns_tests::vipd::VrrpState;

use crate::common::*;

#[test]
fn own_link_down_faults_the_master_and_link_up_preempts_back() {
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

    let t0 = Instant::now();
    n0.set_link("eth0", false).unwrap();
    let t = d0
        .wait_state(&high.name, VrrpState::Fault, TOLERANCE)
        .unwrap();
    assert!(t.reason.contains("link eth0 down"), "{t:?}");
    wait_holds(n0, "eth0", vip, false, TOLERANCE);
    let limit = low.master_down_interval() + TOLERANCE;
    let took = takeover_time(n1, "eth0", vip, t0, limit);
    eprintln!("link-down takeover: {took:?}");
    d1.wait_state(&low.name, VrrpState::Master, TOLERANCE)
        .unwrap();
    assert_only_holder(&[n0, n1], n1, "eth0", vip);
    assert_client_sees(&lab, vip, n1.mac("eth0").unwrap());

    let faults = d0.transitions(&high.name).len();
    n0.set_link("eth0", true).unwrap();
    let t = d0
        .wait_state(
            &high.name,
            VrrpState::Master,
            high.master_down_interval() + TOLERANCE * 2,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    let after = d0.moves_since(&high.name, faults);
    assert_eq!(
        after,
        [
            (VrrpState::Fault, VrrpState::Backup),
            (VrrpState::Backup, VrrpState::Master)
        ],
        "link up: FAULT -> BACKUP, then preempting"
    );
    d1.wait_state(&low.name, VrrpState::Backup, TOLERANCE)
        .unwrap();
    wait_holds(n0, "eth0", vip, true, TOLERANCE);
    wait_holds(n1, "eth0", vip, false, TOLERANCE);
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());
}
