//! Fencing and election-only mode with real vipd processes in network namespaces.
//!
//! Fencing: the pair is cut from each other (VRRP dropped in the switch, everything else
//! flows); the Backup fences the silent Master before taking over. The fence command here
//! records what it was given and stops the other node's vipd (SIGTERM, then waits for it to
//! be gone, as a fence device confirms the power is off), so exactly one node ever holds the
//! VIP. A failing fence under `retry` keeps the Backup a Backup; under `proceed` it takes
//! over anyway.
//!
//! Election-only (`vips: []`): the notify command (scripts/move-floating-ip, pointed at a
//! recorder) is all that happens on a failover; no address is added on any node.
//!
//! They need root and a built vipd; without root they say SKIPPED loudly (and fail under
//! CI=true).

#[path = "tracking/common.rs"]
#[allow(dead_code)]
mod common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netns_tests::vipd::{InstanceSpec, NotifySpec, Vipd, VrrpState};
use netns_tests::{Cut, Lab, Node, require_root, wait_until};

use common::*;

/// A fence command: appends its arguments and the VIPD_* variables to `record`, then does
/// `body` (the part that fences, or fails).
fn fence_script(lab: &Lab, name: &str, body: &str) -> PathBuf {
    script(
        lab,
        name,
        &format!(
            "record=$1; shift\n\
             echo \"$* peer=$VIPD_FENCE_PEER instance=$VIPD_INSTANCE vrid=$VIPD_VRID\" >> \"$record\"\n\
             {body}"
        ),
    )
}

/// `fence:` for node 1: `command` run with `record` as its first argument.
fn fence_line(command: &Path, record: &Path, on_failure: &str, env: &str) -> String {
    format!(
        "fence: {{ command: \"/usr/bin/env {env} {} {}\", timeout: 5s, on_failure: {on_failure} }}",
        command.display(),
        record.display()
    )
}

/// Node 0 (150) Master, then node 1 (100, with `extra` lines) Backup, settled; node 0
/// holds `vip`.
fn pair(lab: &Lab, vip: Ipv4Addr, extra: impl FnOnce(&Vipd) -> Vec<String>) -> [Vipd; 2] {
    let high = web(vip, 150, vec![]);
    let mut d0 = Vipd::start(lab, lab.node(0), &config(lab.node(0), high.clone())).unwrap();
    settle(&mut d0, &high, VrrpState::Master);
    let low = InstanceSpec {
        extra: extra(&d0),
        ..web(vip, 100, vec![])
    };
    let mut d1 = Vipd::start(lab, lab.node(1), &config(lab.node(1), low.clone())).unwrap();
    settle(&mut d1, &low, VrrpState::Backup);
    // Only a Master that was heard can be fenced: a startup silence has nobody to name.
    let n0 = lab.node(0).ip4().to_string();
    wait_until(TOLERANCE, Duration::from_millis(20), || {
        d1.status()
            .is_ok_and(|s| s.instance("web").master.as_deref() == Some(n0.as_str()))
    })
    .unwrap_or_else(|e| panic!("node1 never heard node0: {e}\n{}", d1.log_text()));
    wait_holds(lab.node(0), vip, true, TOLERANCE);
    [d0, d1]
}

/// Who holds `vip`, sampled every 10 ms for `how_long` or until `stop` says so: the
/// timeline as (elapsed, node 0 holds, node 1 holds) at every change.
fn vip_timeline(
    lab: &Lab,
    vip: Ipv4Addr,
    how_long: Duration,
    mut stop: impl FnMut(bool, bool) -> bool,
) -> Vec<(Duration, bool, bool)> {
    let t0 = Instant::now();
    let mut timeline: Vec<(Duration, bool, bool)> = Vec::new();
    while t0.elapsed() < how_long {
        let now = (holds(lab.node(0), vip), holds(lab.node(1), vip));
        if timeline.last().is_none_or(|&(_, a, b)| (a, b) != now) {
            timeline.push((t0.elapsed(), now.0, now.1));
        }
        if stop(now.0, now.1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    timeline
}

#[test]
fn a_successful_fence_stops_the_silent_master_before_the_backup_takes_over() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let record = lab.log_path("fence.record");
    // SIGTERM: vipd removes its VIP and exits, as the node would lose it powered off. Gone
    // means exited: a zombie (not yet reaped by this test) counts as gone.
    let fence = fence_script(
        &lab,
        "fence-kill.sh",
        "kill -TERM \"$MASTER_PID\" || exit 1\n\
         while grep -qs '^State:.*[RSD]' \"/proc/$MASTER_PID/status\"; do sleep 0.05; done",
    );
    let [mut d0, mut d1] = pair(&lab, vip, |d0| {
        let env = format!("MASTER_PID={}", d0.pid());
        vec![fence_line(&fence, &record, "retry", &env)]
    });
    let low = web(vip, 100, vec![]);

    let _cut = lab.cut(Cut::VrrpOnLan).unwrap();
    let budget = low.master_down_interval() + Duration::from_secs(5) + TOLERANCE * 2;
    let timeline = vip_timeline(&lab, vip, budget, |_, n1| n1);
    assert!(
        timeline.iter().all(|&(_, a, b)| !(a && b)),
        "both nodes held {vip} at once: {timeline:?}\n{}",
        d1.log_text()
    );
    assert_eq!(
        timeline.last().map(|&(_, a, b)| (a, b)),
        Some((false, true)),
        "node1 must hold {vip} after the fence: {timeline:?}\n{}",
        d1.log_text()
    );
    let t = d1.wait_state("web", VrrpState::Master, TOLERANCE).unwrap();
    assert!(t.reason.contains("master down"), "{t:?}");
    assert!(
        d0.wait_exit(TOLERANCE).is_some(),
        "the fenced vipd still runs"
    );

    let calls = lines(&record);
    let n0 = lab.node(0).ip4();
    assert_eq!(
        calls,
        [format!("{n0} web 51 peer={n0} instance=web vrid=51")],
        "what the fence command was given"
    );
    assert_eq!(d1.counter("fence_fenced"), 1);
    let status = d1.status().unwrap();
    let last = status.raw["instances"][0]["last_fence"]
        .as_str()
        .unwrap_or("");
    assert!(last.starts_with("fenced at "), "{last}");
    assert_master(&lab, lab.node(1), vip);
    assert!(
        lab.client.ping_once(vip.into()),
        "the client cannot ping {vip}"
    );
}

#[test]
fn a_failed_fence_under_retry_keeps_the_backup_a_backup_and_fences_again() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let record = lab.log_path("fence.record");
    let fence = fence_script(&lab, "fence-fails.sh", "echo 'pdu: no answer' >&2; exit 1");
    let [d0, d1] = pair(&lab, vip, |_| {
        vec![fence_line(&fence, &record, "retry", "FENCE=1")]
    });
    let low = web(vip, 100, vec![]);

    let _cut = lab.cut(Cut::VrrpOnLan).unwrap();
    // Asked again each Master_Down_Interval after a refusal: at least three by then.
    let quiet = low.master_down_interval() * 4 + TOLERANCE;
    let timeline = vip_timeline(&lab, vip, quiet, |_, _| false);
    assert!(
        timeline.iter().all(|&(_, a, b)| a && !b),
        "node0 alone must hold {vip} throughout: {timeline:?}"
    );
    assert!(
        !d1.transitions("web")
            .iter()
            .any(|t| t.to == VrrpState::Master),
        "node1 became Master after a failed fence:\n{}",
        d1.log_text()
    );
    let calls = lines(&record).len();
    assert!(calls >= 3, "the fence ran {calls} times");
    let failed = d1.counter("fence_failed");
    assert!(
        failed >= 3 && failed as usize <= calls,
        "{failed} counted, {calls} ran"
    );
    assert!(
        d1.log_text().contains("pdu: no answer"),
        "stderr tail not logged"
    );
    assert_eq!(d0.state("web"), Some(VrrpState::Master));
}

#[test]
fn a_failed_fence_under_proceed_takes_over_anyway() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let record = lab.log_path("fence.record");
    let fence = fence_script(&lab, "fence-fails.sh", "exit 1");
    let [_d0, mut d1] = pair(&lab, vip, |_| {
        vec![fence_line(&fence, &record, "proceed", "FENCE=1")]
    });
    let low = web(vip, 100, vec![]);

    let _cut = lab.cut(Cut::VrrpOnLan).unwrap();
    let t = d1
        .wait_state(
            "web",
            VrrpState::Master,
            low.master_down_interval() + TOLERANCE * 2,
        )
        .unwrap();
    assert!(t.reason.contains("master down"), "{t:?}");
    wait_holds(lab.node(1), vip, true, TOLERANCE);
    // Nothing stopped node0: `proceed` chose a split brain over no Master, and both hold
    // the VIP while the cut lasts.
    assert!(holds(lab.node(0), vip), "node0 lost {vip} without a fence");
    assert_eq!(lines(&record).len(), 1);
    assert_eq!(d1.counter("fence_failed"), 1);
    assert!(d1.log_text().contains("FENCE FAILED"), "{}", d1.log_text());
}

/// The addresses on `node`'s eth0, sorted.
fn addresses(node: &Node) -> Vec<String> {
    let out = node
        .exec_ok(&["ip", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn election_only_moves_nothing_but_runs_the_notify_command() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // The example script, copied where vipd trusts it (root-owned, not group-writable).
    let body = std::fs::read_to_string(repo.join("scripts/move-floating-ip")).unwrap();
    let mover = script(
        &lab,
        "move-floating-ip",
        body.trim_start_matches("#!/bin/sh\n"),
    );
    let before: Vec<Vec<String>> = lab.nodes.iter().map(addresses).collect();
    let mut recs = Vec::new();
    let mut specs = Vec::new();
    for (i, prio) in [(0usize, 150u8), (1, 100)] {
        let rec = lab.log_path(&format!("node{i}.moves"));
        let recorder = script(
            &lab,
            &format!("cloud-move-ip-{i}"),
            &format!("echo \"$*\" >> {}", rec.display()),
        );
        specs.push(InstanceSpec {
            priority: prio,
            vips: vec![],
            notify: Some(NotifySpec {
                any: Some(format!(
                    "/usr/bin/env FLOATING_IP_COMMAND={} {}",
                    recorder.display(),
                    mover.display()
                )),
                ..Default::default()
            }),
            ..Default::default()
        });
        recs.push(rec);
    }
    let mut d0 = Vipd::start(&lab, lab.node(0), &config(lab.node(0), specs[0].clone())).unwrap();
    settle(&mut d0, &specs[0], VrrpState::Master);
    let mut d1 = Vipd::start(&lab, lab.node(1), &config(lab.node(1), specs[1].clone())).unwrap();
    settle(&mut d1, &specs[1], VrrpState::Backup);

    // The Master stops (SIGTERM): the Backup takes over after Skew_Time.
    d0.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    d1.wait_state(
        "web",
        VrrpState::Master,
        specs[1].master_down_interval() + TOLERANCE,
    )
    .unwrap();
    assert!(
        d0.wait_exit(TOLERANCE * 2).is_some(),
        "node0's vipd did not exit"
    );

    let wait = |path: &Path, n: usize| {
        let _ = wait_until(TOLERANCE * 2, Duration::from_millis(20), || {
            lines(path).len() >= n
        });
        lines(path)
    };
    assert_eq!(
        wait(&recs[0], 3),
        ["BACKUP web", "MASTER web", "STOP web"],
        "node0's moves"
    );
    assert_eq!(
        wait(&recs[1], 2),
        ["BACKUP web", "MASTER web"],
        "node1's moves"
    );
    let after: Vec<Vec<String>> = lab.nodes.iter().map(addresses).collect();
    assert_eq!(
        before, after,
        "an election-only instance added or removed an address"
    );
}
