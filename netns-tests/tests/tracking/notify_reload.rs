//! Notify order across reloads: an instance keeps one notify queue for the daemon's life, so
//! a reload while commands are running or waiting neither runs two of them side by side nor
//! reorders them.

use std::path::Path;
use std::time::Duration;

use netns_tests::vipd::{NotifySpec, Vipd, VipdConfig, VrrpState};
use netns_tests::{Lab, require_root, wait_until};

use crate::common::*;

/// How long each notify command takes once let through, as a real one talking to another
/// service might: long enough that two running side by side would interleave their lines.
const WORK: Duration = Duration::from_millis(500);

/// A notify command that writes `START <state>`, waits until the gate file exists, takes
/// [`WORK`], then writes `END <state>`. The gate lets the test hold the queue full for as
/// long as it takes to reload, however slow the machine.
fn gated_logger(lab: &Lab) -> std::path::PathBuf {
    script(
        lab,
        "notify-gated.sh",
        r#"out=$1; gate=$2; shift 2
echo "START $3" >> "$out"
while [ ! -e "$gate" ]; do sleep 0.02; done
sleep 0.5
echo "END $3" >> "$out""#,
    )
}

/// The word notify commands use for a state.
fn word(s: VrrpState) -> &'static str {
    match s {
        VrrpState::Init => "STOP",
        VrrpState::Backup => "BACKUP",
        VrrpState::Master => "MASTER",
        VrrpState::Fault => "FAULT",
    }
}

/// node0's configuration: `web` at 150 whose `any` command is `cmd`, killed after `timeout`.
fn with_notify(lab: &Lab, cmd: &str, timeout: Duration) -> VipdConfig {
    let mut spec = web(lab.vip4(0), 150, vec![]);
    spec.notify = Some(NotifySpec {
        any: Some(cmd.to_string()),
        timeout: Some(timeout),
        ..Default::default()
    });
    config(lab.node(0), spec)
}

/// Drains node0 and waits for node1 to take over, or undrains it and waits for node0 to
/// preempt back.
fn maintenance(d0: &mut Vipd, d1: &mut Vipd, on: bool) {
    let (mine, theirs) = if on {
        (VrrpState::Backup, VrrpState::Master)
    } else {
        (VrrpState::Master, VrrpState::Backup)
    };
    d0.ctl_ok(&["maintenance", if on { "on" } else { "off" }])
        .unwrap();
    d0.wait_state("web", mine, TOLERANCE * 2).unwrap();
    d1.wait_state("web", theirs, TOLERANCE * 2).unwrap();
}

/// Waits until the notify log's last line is `line` (a command has started and is held).
fn wait_last(out: &Path, line: &str) {
    let ok = wait_until(TOLERANCE * 2, Duration::from_millis(10), || {
        lines(out).last().map(String::as_str) == Some(line)
    });
    assert!(ok.is_ok(), "expected {line:?} last: {:?}", lines(out));
}

#[test]
fn a_reload_while_notify_commands_queue_keeps_them_one_at_a_time_and_in_order() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let n1 = lab.node(1);
    let (out, gate) = (lab.log_path("node0.notify"), lab.log_path("notify.gate"));
    let cmd = format!(
        "{} {} {}",
        gated_logger(&lab).display(),
        out.display(),
        gate.display()
    );
    // Far longer than any command is held: a kill would leave an END missing.
    let c0 = with_notify(&lab, &cmd, Duration::from_secs(60));
    std::fs::write(&gate, "").unwrap();
    let [mut d0, mut d1] =
        master_then_backup(&lab, &c0, &config(n1, web(lab.vip4(0), 100, vec![])));
    let _ = wait_until(TOLERANCE * 2, Duration::from_millis(20), || {
        lines(&out).len() >= 4
    });
    assert_eq!(
        lines(&out),
        ["START BACKUP", "END BACKUP", "START MASTER", "END MASTER"]
    );

    // Hold the queue: the first command of the burst runs (blocked), the rest wait behind it
    // while node0 reloads twice, each time with a new notify timeout.
    std::fs::remove_file(&gate).unwrap();
    maintenance(&mut d0, &mut d1, true);
    wait_last(&out, "START BACKUP");
    maintenance(&mut d0, &mut d1, false);
    let mut pending_at_reload = Vec::new();
    for timeout in [50, 40] {
        d0.rewrite(&with_notify(&lab, &cmd, Duration::from_secs(timeout)))
            .unwrap();
        let reply = d0.ctl_ok(&["reload"]).unwrap();
        assert!(reply.contains("updated in place: web"), "{reply}");
        pending_at_reload.push(d0.transitions("web").len() * 2 - lines(&out).len());
        maintenance(&mut d0, &mut d1, true);
        maintenance(&mut d0, &mut d1, false);
    }
    let held = lines(&out);
    assert_eq!(
        held.last().map(String::as_str),
        Some("START BACKUP"),
        "the held command is still the first of the burst: {held:?}"
    );

    // Let them through; each takes WORK, one after another.
    std::fs::write(&gate, "").unwrap();
    let transitions = d0.transitions("web");
    let expected: Vec<String> = transitions
        .iter()
        .flat_map(|t| {
            [
                format!("START {}", word(t.to)),
                format!("END {}", word(t.to)),
            ]
        })
        .collect();
    let queued = (expected.len() - held.len()) / 2 + 1;
    let drained = wait_until(
        WORK * u32::try_from(queued).unwrap() * 2 + TOLERANCE * 4,
        Duration::from_millis(20),
        || lines(&out).len() >= expected.len(),
    );
    // Anything still running or arriving late would show up here.
    std::thread::sleep(WORK * 2);
    let got = lines(&out);
    eprintln!("pending notify lines at each reload: {pending_at_reload:?}; log: {got:?}");
    for pair in got.windows(2) {
        assert!(
            !(pair[0].starts_with("START") && pair[1].starts_with("START")),
            "two notify commands ran side by side: {got:?}"
        );
    }
    assert!(drained.is_ok(), "the queue did not drain: {got:?}");
    assert_eq!(
        got,
        expected,
        "notify calls vs transitions {:?}; log:\n{}",
        transitions
            .iter()
            .map(|t| format!("{} -> {}", t.from, t.to))
            .collect::<Vec<_>>(),
        d0.log_text()
    );
    assert_eq!(
        transitions.len(),
        8,
        "INIT->BACKUP->MASTER, then three drains and undrains"
    );
    assert!(
        pending_at_reload.iter().all(|&p| p >= 3),
        "each reload must come while commands are queued: {pending_at_reload:?}"
    );
}
