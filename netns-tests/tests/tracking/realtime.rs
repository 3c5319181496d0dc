//! `global.realtime_priority`: the router thread runs at SCHED_RR, and nothing it starts
//! does (its other threads, notify scripts); 0 leaves the whole daemon at normal priority.

use std::path::Path;
use std::time::Duration;

use netns_tests::vipd::{NotifySpec, Vipd, VrrpState};
use netns_tests::{require_root, wait_until};

use crate::common::*;

/// A thread's ID and its (policy, realtime priority).
type ThreadScheduling = (u32, (u32, u32));

/// SCHED_OTHER and SCHED_RR, as /proc reports a thread's policy.
const NORMAL: u32 = 0;
const RR: u32 = 2;

/// (policy, realtime priority) of every thread of `pid`, the main thread (the router
/// thread) first: fields 41 and 40 of /proc/PID/task/TID/stat.
fn thread_policies(pid: u32) -> Vec<ThreadScheduling> {
    let mut tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the daemon's threads")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_by_key(|&t| (t != pid, t));
    tids.into_iter()
        .filter_map(|tid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
            // After the command name, field 3 is the first; rt_priority is 40, policy 41.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let rt = fields.get(37)?.parse().ok()?;
            let policy = fields.get(38)?.parse().ok()?;
            Some((tid, (policy, rt)))
        })
        .collect()
}

/// What `chrt -p` said of the notify command's shell, once it ran.
fn wait_notify(out: &Path) -> String {
    let _ = wait_until(TOLERANCE, Duration::from_millis(20), || {
        std::fs::read_to_string(out).is_ok_and(|t| t.contains("priority"))
    });
    std::fs::read_to_string(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()))
}

/// Starts one Master with `realtime_priority` (vipd's default for `None`); returns its
/// threads' scheduling and what its notify command saw of its own.
fn run_with(realtime_priority: Option<u8>) -> (Vec<ThreadScheduling>, String) {
    let lab = lab(false);
    let n0 = lab.node(0);
    let chrt = script(&lab, "chrt.sh", r#"chrt -p $$ > "$1""#);
    let out = lab.log_path("notify.chrt");
    let mut spec = web(lab.vip4(0), 150, vec![]);
    spec.notify = Some(NotifySpec {
        master: Some(format!("{} {}", chrt.display(), out.display())),
        ..Default::default()
    });
    let mut cfg = config(n0, spec);
    cfg.realtime_priority = realtime_priority;
    let mut d0 = Vipd::start(&lab, n0, &cfg).expect("start vipd");
    settle(&mut d0, &cfg.instances[0], VrrpState::Master);
    let notified = wait_notify(&out);
    (thread_policies(d0.pid()), notified)
}

#[test]
fn the_router_thread_runs_at_sched_rr_and_nothing_it_starts_does() {
    if !require_root() {
        return;
    }
    let (threads, notified) = run_with(None);
    let (main, others) = threads.split_first().expect("a main thread");
    assert_eq!(
        main.1,
        (RR, 10),
        "the router thread runs at vipd's default SCHED_RR 10: {threads:?}"
    );
    assert!(!others.is_empty(), "vipd has helper threads: {threads:?}");
    assert!(
        others.iter().all(|(_, s)| *s == (NORMAL, 0)),
        "every other thread is at normal priority: {threads:?}"
    );
    assert!(
        notified.contains("SCHED_OTHER"),
        "the notify command runs at normal priority: {notified}"
    );
}

#[test]
fn realtime_priority_zero_leaves_every_thread_normal() {
    if !require_root() {
        return;
    }
    let (threads, notified) = run_with(Some(0));
    assert!(
        threads.iter().all(|(_, s)| *s == (NORMAL, 0)),
        "realtime_priority: 0 keeps normal scheduling: {threads:?}"
    );
    assert!(notified.contains("SCHED_OTHER"), "{notified}");
}
