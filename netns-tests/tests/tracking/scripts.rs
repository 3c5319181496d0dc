//! Check scripts: a failing one (weight 0) faults the Master; weights move the VIP only when
//! they drop the Master below the Backup.

use std::time::Instant;

use netns_tests::require_root;
use netns_tests::vipd::{CheckKind, CheckSpec, VrrpState};

use crate::common::*;

#[test]
fn a_failing_check_script_faults_the_master_and_recovery_preempts_back() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let (flag0, flag1) = (lab.log_path("node0.down"), lab.log_path("node1.down"));
    let check = |flag| CheckSpec::new("alive", CheckKind::Script(flag_check(&lab, flag)));
    let (high, low) = (
        web(vip, 150, vec![track_check("alive", 0)]),
        web(vip, 100, vec![track_check("alive", 0)]),
    );
    let mut c0 = config(n0, high.clone());
    c0.checks = vec![check(&flag0)];
    let mut c1 = config(n1, low.clone());
    c1.checks = vec![check(&flag1)];
    let [mut d0, mut d1] = master_then_backup(&lab, &c0, &c1);
    wait_holds(n0, vip, true, TOLERANCE);

    let t0 = Instant::now();
    set_flag(&flag0, true);
    let limit = c0.checks[0].detection_time() + low.skew_time() + TOLERANCE;
    let took = wait_holds(n1, vip, true, limit);
    eprintln!(
        "check failure takeover: {took:?} (fall x interval {:?}, Skew_Time {:?})",
        c0.checks[0].interval * c0.checks[0].fall,
        low.skew_time()
    );
    let t = d0.wait_state("web", VrrpState::Fault, TOLERANCE).unwrap();
    assert_eq!(t.from, VrrpState::Master);
    assert!(t.reason.contains("check alive"), "{t:?}");
    // Not earlier than fall probes allow: a single failure must not fault.
    assert!(
        t0.elapsed() >= c0.checks[0].interval * (c0.checks[0].fall - 1),
        "FAULT after {:?}",
        t0.elapsed()
    );
    let t = d1.wait_state("web", VrrpState::Master, TOLERANCE).unwrap();
    assert!(
        t.reason.contains("resigned (priority 0)"),
        "a Master entering FAULT resigns: {t:?}"
    );
    let s = d0.status().unwrap();
    let w = s.instance("web");
    assert_eq!(
        (w.state.as_str(), w.vips_held),
        ("FAULT", false),
        "{}",
        s.raw
    );
    assert!(
        w.faults.iter().any(|f| f.contains("check alive")),
        "{}",
        s.raw
    );
    assert_master(&lab, n1, vip);
    assert_eq!(
        d0.zombie_children(),
        Vec::<u32>::new(),
        "zombies under vipd"
    );

    let faults = d0.transitions("web").len();
    set_flag(&flag0, false);
    let t = d0
        .wait_state(
            "web",
            VrrpState::Master,
            c0.checks[0].recovery_time() + high.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    let after = d0.moves_since("web", faults);
    assert_eq!(
        after,
        [
            (VrrpState::Fault, VrrpState::Backup),
            (VrrpState::Backup, VrrpState::Master)
        ]
    );
    d1.wait_state("web", VrrpState::Backup, TOLERANCE).unwrap();
    wait_holds(n0, vip, true, TOLERANCE);
    wait_holds(n1, vip, false, TOLERANCE);
    assert_master(&lab, n0, vip);
    assert!(d0.status().unwrap().instance("web").faults.is_empty());
}

#[test]
fn a_negative_weight_moves_the_vip_only_below_the_backups_priority() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let (small, big) = (lab.log_path("small.down"), lab.log_path("big.down"));
    let high = web(
        vip,
        150,
        vec![track_check("small", -20), track_check("big", -60)],
    );
    let low = web(vip, 100, vec![]);
    let mut c0 = config(n0, high.clone());
    c0.checks = vec![
        CheckSpec::new("small", CheckKind::Script(flag_check(&lab, &small))),
        CheckSpec::new("big", CheckKind::Script(flag_check(&lab, &big))),
    ];
    let detect = c0.checks[0].detection_time();
    let [mut d0, mut d1] = master_then_backup(&lab, &c0, &config(n1, low.clone()));
    wait_holds(n0, vip, true, TOLERANCE);

    // 150 - 20 = 130: still above 100, nothing moves.
    set_flag(&small, true);
    wait_priority(&d0, 130, detect + TOLERANCE);
    let (since0, since1) = (d0.transitions("web").len(), d1.transitions("web").len());
    std::thread::sleep(low.master_down_interval() * 4);
    assert_eq!(d0.transitions("web").len(), since0, "node0 moved at 130");
    assert_eq!(
        d1.transitions("web").len(),
        since1,
        "node1 moved against 130"
    );
    assert_eq!(d0.state("web"), Some(VrrpState::Master));
    assert_master(&lab, n0, vip);

    // 150 - 20 - 60 = 70: below 100, the Backup preempts on the next advert.
    set_flag(&big, true);
    let limit = detect + high.advert_interval * 2 + TOLERANCE;
    let took = wait_holds(n1, vip, true, limit);
    eprintln!("weight takeover: {took:?}");
    let t = d1.wait_state("web", VrrpState::Master, TOLERANCE).unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    let t = d0.wait_state("web", VrrpState::Backup, TOLERANCE).unwrap();
    assert!(t.reason.contains("preempted by"), "{t:?}");
    wait_priority(&d0, 70, TOLERANCE);
    assert_master(&lab, n1, vip);

    // Back to 130: node0 outranks node1 again and preempts.
    set_flag(&big, false);
    let t = d0
        .wait_state(
            "web",
            VrrpState::Master,
            c0.checks[1].recovery_time() + high.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    wait_holds(n1, vip, false, TOLERANCE);
    wait_priority(&d0, 130, TOLERANCE);
    assert_master(&lab, n0, vip);
}
