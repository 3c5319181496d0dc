//! Notify commands and the event log: every transition, in order, with the right arguments;
//! a hung command is killed and the queue goes on; nothing is left behind.

use std::path::Path;
use std::time::Duration;

use netns_tests::vipd::{NotifySpec, Vipd, VrrpState, proc_stats};
use netns_tests::{require_root, wait_until};
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::common::*;

/// A notify script that appends its arguments and the previous state to the file named by
/// its first argument. It takes a moment first, as real ones do (they talk to other
/// services): notifications then queue up behind it, and a stop notification is still
/// running when the daemon has finished stopping.
fn logger(lab: &netns_tests::Lab) -> std::path::PathBuf {
    script(
        lab,
        "notify-log.sh",
        r#"out=$1; shift; sleep 0.2; echo "$* prev=$VIPD_PREV_STATE" >> "$out""#,
    )
}

/// Waits until `path` has `n` lines, and returns them.
fn wait_lines(path: &Path, n: usize, timeout: Duration) -> Vec<String> {
    let _ = wait_until(timeout, Duration::from_millis(20), || {
        lines(path).len() >= n
    });
    lines(path)
}

/// The word notify commands use for a state (a router going back to INIT is stopping).
fn word(s: VrrpState) -> &'static str {
    match s {
        VrrpState::Init => "STOP",
        VrrpState::Backup => "BACKUP",
        VrrpState::Master => "MASTER",
        VrrpState::Fault => "FAULT",
    }
}

/// What the notify log must say for each transition vipd logged.
fn expected_from_log(vipd: &Vipd, priority: u8) -> Vec<String> {
    vipd.transitions("web")
        .iter()
        .map(|t| format!("INSTANCE web {} {priority} prev={}", word(t.to), t.from))
        .collect()
}

#[test]
fn notify_scripts_and_the_event_log_report_every_transition_in_order() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let log = logger(&lab);
    let mut cfgs = Vec::new();
    for (node, prio) in [(n0, 150), (n1, 100)] {
        let mut spec = web(vip, prio, vec![]);
        let out = lab.log_path(&format!("{}.notify", node.name()));
        spec.notify = Some(NotifySpec {
            any: Some(format!("{} {}", log.display(), out.display())),
            ..Default::default()
        });
        let mut cfg = config(node, spec);
        cfg.event_log = Some(lab.log_path(&format!("{}.events", node.name())));
        cfgs.push((cfg, out));
    }
    let [mut d0, mut d1] = master_then_backup(&lab, &cfgs[0].0, &cfgs[1].0);
    let spec = cfgs[0].0.instances[0].clone();

    // Drain node0 and undrain it: node1 takes over, then node0 preempts back.
    d0.ctl_ok(&["maintenance", "on"]).unwrap();
    d1.wait_state("web", VrrpState::Master, TOLERANCE).unwrap();
    d0.wait_state("web", VrrpState::Backup, TOLERANCE).unwrap();
    d0.ctl_ok(&["maintenance", "off"]).unwrap();
    d0.wait_state(
        "web",
        VrrpState::Master,
        spec.master_down_interval() + TOLERANCE,
    )
    .unwrap();
    d1.wait_state("web", VrrpState::Backup, TOLERANCE).unwrap();
    // Then stop both, the Backup first.
    for d in [&mut d1, &mut d0] {
        d.signal(Signal::SIGTERM).unwrap();
        let status = d.wait_exit(Duration::from_secs(5));
        assert!(status.is_some_and(|s| s.success()), "{status:?}");
    }

    let want0 = [
        "INSTANCE web BACKUP 150 prev=INIT",
        "INSTANCE web MASTER 150 prev=BACKUP",
        "INSTANCE web BACKUP 150 prev=MASTER",
        "INSTANCE web MASTER 150 prev=BACKUP",
        "INSTANCE web STOP 150 prev=MASTER",
    ];
    let want1 = [
        "INSTANCE web BACKUP 100 prev=INIT",
        "INSTANCE web MASTER 100 prev=BACKUP",
        "INSTANCE web BACKUP 100 prev=MASTER",
        "INSTANCE web STOP 100 prev=BACKUP",
    ];
    for ((d, want, prio), (cfg, out)) in [(&d0, &want0[..], 150), (&d1, &want1[..], 100)]
        .into_iter()
        .zip(&cfgs)
    {
        let name = d.node().name();
        let got = wait_lines(out, want.len(), TOLERANCE);
        assert_eq!(got, want, "{name}: notify calls; log:\n{}", d.log_text());
        assert_eq!(
            got,
            expected_from_log(d, prio),
            "{name}: notify calls must be exactly the logged transitions"
        );
        let events: Vec<Value> = lines(cfg.event_log.as_ref().unwrap())
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let as_notify: Vec<String> = events
            .iter()
            .map(|e| {
                assert_eq!(e["instance"], "web", "{e}");
                let to = e["to"].as_str().unwrap();
                let to = if to == "INIT" { "STOP" } else { to };
                format!(
                    "INSTANCE web {to} {} prev={}",
                    e["priority"],
                    e["from"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(as_notify, want, "{name}: event log vs notify calls");
    }
}

#[test]
fn a_notify_past_its_timeout_is_killed_and_the_next_still_runs() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let n0 = lab.node(0);
    let log = logger(&lab);
    let slow = script(
        &lab,
        "notify-slow.sh",
        r#"out=$1; shift; echo "start $$ $*" >> "$out"; sleep 30; echo "end $$" >> "$out""#,
    );
    let (slow_out, any_out) = (lab.log_path("slow.notify"), lab.log_path("any.notify"));
    let timeout = Duration::from_millis(500);
    let mut spec = web(vip, 150, vec![]);
    spec.notify = Some(NotifySpec {
        master: Some(format!("{} {}", slow.display(), slow_out.display())),
        any: Some(format!("{} {}", log.display(), any_out.display())),
        timeout: Some(timeout),
        ..Default::default()
    });
    let mut d0 = Vipd::start(&lab, n0, &config(n0, spec.clone())).unwrap();
    settle(&mut d0, &spec, VrrpState::Master);
    d0.ctl_ok(&["maintenance", "on"]).unwrap();
    d0.wait_state("web", VrrpState::Backup, TOLERANCE).unwrap();

    // BACKUP, then MASTER after the slow master command was killed, then BACKUP.
    let got = wait_lines(&any_out, 3, timeout + TOLERANCE * 2);
    assert_eq!(
        got,
        [
            "INSTANCE web BACKUP 150 prev=INIT",
            "INSTANCE web MASTER 150 prev=BACKUP",
            "INSTANCE web BACKUP 150 prev=MASTER",
        ],
        "log:\n{}",
        d0.log_text()
    );
    let slow_lines = lines(&slow_out);
    assert_eq!(slow_lines.len(), 1, "{slow_lines:?}");
    let pid: u32 = slow_lines[0]
        .strip_prefix("start ")
        .and_then(|r| r.split_once(' '))
        .filter(|(_, args)| *args == "INSTANCE web MASTER 150")
        .and_then(|(pid, _)| pid.parse().ok())
        .unwrap_or_else(|| panic!("{slow_lines:?}"));
    // The command led its own process group; the whole group (its sleep too) is dead. The
    // orphaned sleep may linger a moment as a zombie of PID 1, which is not vipd's to reap.
    let left = |pgrp| {
        proc_stats()
            .into_iter()
            .filter(|p| p.pgrp == pgrp && p.state != 'Z')
            .collect::<Vec<_>>()
    };
    let _ = wait_until(TOLERANCE, Duration::from_millis(20), || {
        left(pid).is_empty()
    });
    assert_eq!(
        left(pid),
        vec![],
        "the timed-out command's group is still running"
    );
    assert!(
        d0.log_text()
            .lines()
            .any(|l| l.contains("notify command failed") && l.contains("notify-slow.sh")),
        "the kill must be logged:\n{}",
        d0.log_text()
    );
    assert_eq!(
        d0.zombie_children(),
        Vec::<u32>::new(),
        "zombies under vipd"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines(&slow_out).len(), 1, "the slow command never ended");
}
