//! `vipd maintenance on|off`: a graceful drain that a pinging client barely notices.

use std::time::{Duration, Instant};

use netns_tests::require_root;
use netns_tests::vipd::VrrpState;

use crate::common::*;

/// What the client may lose beyond Skew_Time: the resign advert's and the gratuitous ARP's
/// trips and vipd's own work, with room for a loaded machine.
const LOSS_SLACK: Duration = Duration::from_millis(150);

#[test]
fn maintenance_on_hands_over_within_skew_time_and_off_preempts_back() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let (high, low) = (inst("web", 51, vip, 150), inst("web", 51, vip, 100));
    let [mut d0, mut d1] = master_then_backup(
        &lab,
        &config(n0, vec![high.clone()]),
        &config(n1, vec![low.clone()]),
    );
    wait_holds(n0, vip, true, TOLERANCE);
    let ping = pinger(&lab, vip, "client-ping.log");
    std::thread::sleep(Duration::from_millis(300));

    let t0 = Instant::now();
    let out = d0.ctl_ok(&["maintenance", "on"]).unwrap();
    assert!(out.contains("maintenance on: web"), "{out}");
    let limit = low.skew_time() + TOLERANCE;
    wait_holds(n1, vip, true, limit.saturating_sub(t0.elapsed()));
    let took = t0.elapsed();
    eprintln!(
        "maintenance takeover: {took:?} (Skew_Time {:?})",
        low.skew_time()
    );
    let t = d1
        .wait_state(&low.name, VrrpState::Master, TOLERANCE)
        .unwrap();
    assert!(t.reason.contains("resigned (priority 0)"), "{t:?}");
    let t = d0.transitions(&high.name).pop().unwrap();
    assert_eq!((t.from, t.to), (VrrpState::Master, VrrpState::Backup));
    assert!(t.reason.contains("maintenance"), "{t:?}");
    assert!(!holds(n0, vip), "a drained node must release its VIP");

    std::thread::sleep(Duration::from_millis(300));
    let report = ping.stop().unwrap();
    let lost = Duration::from_secs_f64(report.lost as f64 * report.interval_ms / 1e3);
    eprintln!(
        "maintenance drain: {} of {} pings lost ({lost:?}), longest gap {:.0} ms",
        report.lost, report.sent, report.longest_gap_ms
    );
    assert!(
        lost < low.skew_time() + LOSS_SLACK,
        "the client lost {lost:?} of pings, more than Skew_Time {:?} + {LOSS_SLACK:?}: {:?}",
        low.skew_time(),
        report.windows
    );
    assert_eq!(report.duplicates, 0, "two nodes answered at once");
    assert!(report.received > 0);

    // The drain holds: node0 has the higher priority and preempts, yet stays Backup.
    let quiet = high.master_down_interval() * 4;
    let since = d0.transitions(&high.name).len();
    std::thread::sleep(quiet);
    assert_eq!(
        d0.transitions(&high.name).len(),
        since,
        "a drained node must not preempt; log:\n{}",
        d0.log_text()
    );
    let s = d0.status().unwrap();
    let w = s.instance("web");
    assert_eq!(
        (w.state.as_str(), w.maintenance, w.vips_held),
        ("BACKUP", true, false),
        "{}",
        s.raw
    );
    assert_eq!(w.master, Some(n1.ip4().to_string()));
    assert_eq!(answerers(&lab, vip), vec![n1.mac("eth0").unwrap()]);

    let out = d0.ctl_ok(&["maintenance", "off"]).unwrap();
    assert!(out.contains("maintenance off: web"), "{out}");
    let t = d0
        .wait_state(
            &high.name,
            VrrpState::Master,
            high.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    d1.wait_state(&low.name, VrrpState::Backup, TOLERANCE)
        .unwrap();
    wait_holds(n0, vip, true, TOLERANCE);
    wait_holds(n1, vip, false, TOLERANCE);
    let s = d0.status().unwrap();
    let w = s.instance("web");
    assert_eq!((w.state.as_str(), w.maintenance), ("MASTER", false));
    assert_eq!(answerers(&lab, vip), vec![n0.mac("eth0").unwrap()]);
}
