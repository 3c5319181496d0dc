//! The isolation guard: a Backup cut off from everything goes to FAULT, not MASTER; one that
//! can still reach its target takes over as usual.

use netns_tests::Cut;
use netns_tests::require_root;
use netns_tests::vipd::VrrpState;

use crate::common::*;
use crate::setup::*;

#[test]
fn an_isolated_backup_goes_to_fault_not_master() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        vip,
        high,
        low,
        d0,
        mut d1,
        ..
    } = hb_pair(hb_lab(), |lab, i| {
        let mut extra = vec![vrrp_channel(lab.node(1 - i))];
        if i == 1 {
            extra.push(format!(
                "isolation_check: {{ ping: {}, timeout: 300ms }}",
                lab.client.ip4()
            ));
        }
        extra
    });
    let lan = lab.cut(Cut::Node(lab.node(1))).unwrap();
    let hb = lab.cut(Cut::Heartbeat(lab.node(1))).unwrap();
    let t = d1
        .wait_state(
            &low.name,
            VrrpState::Fault,
            low.master_down_interval() + TOLERANCE * 2,
        )
        .unwrap();
    assert!(t.reason.contains("isolated"), "{t:?}");
    assert!(
        !d1.transitions(&low.name)
            .iter()
            .any(|t| t.to == VrrpState::Master),
        "the isolated node must never be Master:\n{}",
        d1.log_text()
    );
    assert!(!holds(lab.node(1), "eth0", vip));
    assert_stays(&d1, &low.name, VrrpState::Fault, quiet(&low));
    assert_stays(
        &d0,
        &high.name,
        VrrpState::Master,
        std::time::Duration::ZERO,
    );

    lan.heal().unwrap();
    hb.heal().unwrap();
    let t = d1
        .wait_state(
            &low.name,
            VrrpState::Backup,
            low.master_down_interval() * 2 + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("faults cleared"), "{t:?}");

    // Reachable: the guard lets a real takeover through.
    let mut d0 = d0;
    d0.kill();
    let _dead = lab.cut(Cut::Node(lab.node(0))).unwrap();
    wait_master_down(&mut d1, &low);
    assert_client_sees(&lab, vip, lab.node(1).mac("eth0").unwrap());
}
