//! Reloads that change what an instance tracks: the operator fixes a failing check's command,
//! drops a failing weighted tracker, or adds a bonus that fails at once. What counts is the
//! configuration now and the health measured now, never what the previous config left behind.

use std::time::Duration;

use netns_tests::vipd::{CheckKind, CheckSpec, Vipd, VrrpState};
use netns_tests::{require_root, wait_until};

use crate::common::*;

/// How long a reload may take to show its effect: new probes have to rise, then the Master
/// has to be preempted. Generous, because two cores run several labs at once.
const AFTER_RELOAD: Duration = Duration::from_secs(10);

/// Runs `vipd reload` and checks that vipd says it reloaded.
fn reload(vipd: &Vipd) {
    let out = vipd.ctl_ok(&["reload"]).unwrap();
    assert!(out.contains("reloaded"), "{out}");
}

/// Waits until `vipd`'s instance `web` is Master with no faults; panics with the last status.
fn wait_clean_master(vipd: &Vipd, timeout: Duration) {
    let mut last = None;
    let ok = wait_until(timeout, Duration::from_millis(100), || {
        last = vipd.status().ok();
        last.as_ref().is_some_and(|s| {
            s.instance("web").state == "MASTER" && s.instance("web").faults.is_empty()
        })
    });
    assert!(
        ok.is_ok(),
        "{}: web not a fault-free MASTER {timeout:?} after the reload; status: {}\nlog:\n{}",
        vipd.node().name(),
        last.map_or("none".into(), |s| s.raw.to_string()),
        vipd.log_text()
    );
}

#[test]
fn a_reload_that_replaces_a_failing_check_command_clears_the_fault() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let flag = lab.log_path("node0.down");
    let high = web(vip, 150, vec![track_check("alive", 0)]);
    let low = web(vip, 100, vec![]);
    let mut c0 = config(n0, high.clone());
    c0.checks = vec![CheckSpec::new(
        "alive",
        CheckKind::Script(flag_check(&lab, &flag)),
    )];
    let check = c0.checks[0].clone();
    let [mut d0, mut d1] = master_then_backup(&lab, &c0, &config(n1, low.clone()));
    wait_holds(n0, vip, true, TOLERANCE);

    set_flag(&flag, true);
    let t = d0
        .wait_state(
            "web",
            VrrpState::Fault,
            check.detection_time() + TOLERANCE * 2,
        )
        .unwrap();
    assert!(t.reason.contains("check alive"), "{t:?}");
    d1.wait_state("web", VrrpState::Master, low.skew_time() + TOLERANCE * 2)
        .unwrap();
    wait_holds(n1, vip, true, TOLERANCE);

    // The operator points the check at a command that passes. The flag stays, so the old
    // command would still fail: only the reload can clear the fault.
    let passes = script(&lab, "passes.sh", "exit 0");
    c0.checks[0].kind = CheckKind::Script(passes.display().to_string());
    d0.rewrite(&c0).unwrap();
    let faulted = d0.transitions("web").len();
    reload(&d0);
    wait_clean_master(&d0, AFTER_RELOAD);
    let after = d0.moves_since("web", faulted);
    assert_eq!(
        after,
        [
            (VrrpState::Fault, VrrpState::Backup),
            (VrrpState::Backup, VrrpState::Master)
        ]
    );
    let s = d0.status().unwrap();
    let w = s.instance("web");
    assert_eq!(
        (w.effective_priority, w.vips_held),
        (150, true),
        "{}",
        s.raw
    );
    d1.wait_state("web", VrrpState::Backup, TOLERANCE).unwrap();
    wait_holds(n1, vip, false, TOLERANCE);
    assert_master(&lab, n0, vip);
}

#[test]
fn a_reload_that_removes_a_failing_weighted_tracker_restores_the_priority() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let flag = lab.log_path("big.down");
    let high = web(vip, 150, vec![track_check("big", -60)]);
    let low = web(vip, 100, vec![]);
    let mut c0 = config(n0, high.clone());
    c0.checks = vec![CheckSpec::new(
        "big",
        CheckKind::Script(flag_check(&lab, &flag)),
    )];
    let check = c0.checks[0].clone();
    let [mut d0, mut d1] = master_then_backup(&lab, &c0, &config(n1, low.clone()));
    wait_holds(n0, vip, true, TOLERANCE);

    // 150 - 60 = 90, below node1's 100: node1 preempts.
    set_flag(&flag, true);
    wait_priority(&d0, 90, check.detection_time() + TOLERANCE * 2);
    d1.wait_state(
        "web",
        VrrpState::Master,
        low.master_down_interval() + TOLERANCE * 2,
    )
    .unwrap();
    d0.wait_state("web", VrrpState::Backup, TOLERANCE).unwrap();
    wait_holds(n1, vip, true, TOLERANCE);

    // The tracker and its check go; the flag stays, so the check would still fail.
    d0.rewrite(&config(n0, web(vip, 150, vec![]))).unwrap();
    reload(&d0);
    wait_priority(&d0, 150, AFTER_RELOAD);
    let t = d0
        .wait_state("web", VrrpState::Master, AFTER_RELOAD)
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    let s = d0.status().unwrap();
    let w = s.instance("web");
    assert_eq!(
        (w.base_priority, w.effective_priority),
        (150, 150),
        "{}",
        s.raw
    );
    assert!(w.faults.is_empty(), "{}", s.raw);
    d1.wait_state("web", VrrpState::Backup, TOLERANCE).unwrap();
    wait_holds(n1, vip, false, TOLERANCE);
    assert_master(&lab, n0, vip);
}

#[test]
fn a_reload_that_adds_a_bonus_check_failing_from_its_first_probe_gives_no_bonus() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let high = web(vip, 150, vec![]);
    let low = web(vip, 100, vec![]);
    let [d0, d1] = master_then_backup(&lab, &config(n0, high.clone()), &config(n1, low.clone()));
    wait_holds(n0, vip, true, TOLERANCE);
    let (before0, before1) = (d0.transitions("web").len(), d1.transitions("web").len());

    // +60 would lift node1 to 160, above node0's 150; but the check never passes.
    let fails = script(&lab, "fails.sh", "exit 1");
    let mut c1 = config(n1, web(vip, 100, vec![track_check("bonus", 60)]));
    c1.checks = vec![CheckSpec::new(
        "bonus",
        CheckKind::Script(fails.display().to_string()),
    )];
    let check = c1.checks[0].clone();
    d1.rewrite(&c1).unwrap();
    reload(&d1);

    // Long enough for the check to fail `fall` times and for a wrong preemption to show.
    let watch = check.detection_time() + low.master_down_interval() * 4 + TOLERANCE;
    let mut took_vip = false;
    let _ = wait_until(watch, Duration::from_millis(20), || {
        took_vip |= holds(n1, vip);
        false
    });
    assert!(
        !took_vip,
        "node1 took the VIP on a bonus whose check never passed; log:\n{}",
        d1.log_text()
    );
    let moved1 = &d1.transitions("web")[before1..];
    assert!(moved1.is_empty(), "node1 must stay Backup: {moved1:?}");
    let moved0 = &d0.transitions("web")[before0..];
    assert!(moved0.is_empty(), "node0 must stay Master: {moved0:?}");
    let s = d1.status().unwrap();
    let w = s.instance("web");
    assert_eq!(w.effective_priority, 100, "no bonus: {}", s.raw);
    let bonus = s.raw["instances"][0]["trackers"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "check bonus"))
        .cloned()
        .unwrap_or_else(|| panic!("no tracker `check bonus`: {}", s.raw));
    assert_eq!(bonus["state"], "failed", "{}", s.raw);
    assert_master(&lab, n0, vip);
}
