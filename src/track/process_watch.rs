//! Runs a process check: counts the matching processes from the kernel's process events
//! (fork, exec, name change, exit) after one scan of /proc, or, where the events are not
//! available (no CAP_NET_ADMIN, a PID or user namespace), by scanning /proc every
//! `interval`. The verdict is [`QuorumTracker`]'s.
//!
//! A scan is bounded: at most [`MAX_SCAN_ENTRIES`] /proc entries and [`MAX_CMDLINE`] bytes
//! of each command line, so a host with a runaway process count cannot stall the check.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};

use super::priority::Health;
use super::process_quorum::{ProcessInfo, QuorumTracker};
use super::runner::{Report, Subscribers, publish};
use crate::config::ProcessCheck;
use crate::net::proc_connector::{ProcEvent, ProcEvents};

/// The most /proc entries one scan reads.
pub const MAX_SCAN_ENTRIES: usize = 65_536;
/// The most bytes of a command line read (keepalived's own limit is a page).
pub const MAX_CMDLINE: u64 = 4096;

/// What a process check follows, and where from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Kernel process events.
    Events,
    /// /proc scans every interval.
    Scan,
}

/// Reads what the check needs of one process; `None` when it is gone, is a zombie (as
/// keepalived, a process that has exited does not count) or is a kernel thread.
pub fn read_process(proc_root: &Path, pid: u32, cmdline: bool) -> Option<ProcessInfo> {
    let dir = proc_root.join(pid.to_string());
    // stat gives the name and the state in one read: "PID (NAME) S ...". The name may
    // hold spaces and parentheses, so it ends at the last ')'.
    let stat = std::fs::read(dir.join("stat")).ok()?;
    let open = stat.iter().position(|b| *b == b'(')?;
    let close = stat.iter().rposition(|b| *b == b')')?;
    let comm = String::from_utf8_lossy(stat.get(open + 1..close)?).into_owned();
    let state = *stat.get(close + 2)?;
    if matches!(state, b'Z' | b'X') {
        return None;
    }
    let mut info = ProcessInfo {
        comm,
        cmdline: Vec::new(),
    };
    if cmdline {
        let f = std::fs::File::open(dir.join("cmdline")).ok()?;
        f.take(MAX_CMDLINE).read_to_end(&mut info.cmdline).ok()?;
    }
    Some(info)
}

/// The matching processes under `proc_root`, from at most [`MAX_SCAN_ENTRIES`] entries;
/// `true` when the bound cut the scan short.
pub fn scan(proc_root: &Path, check: &ProcessCheck) -> std::io::Result<(HashSet<u32>, bool)> {
    scan_at_most(proc_root, check, MAX_SCAN_ENTRIES)
}

/// [`scan`] with its bound given.
pub fn scan_at_most(
    proc_root: &Path,
    check: &ProcessCheck,
    max: usize,
) -> std::io::Result<(HashSet<u32>, bool)> {
    let mut found = HashSet::new();
    for (read, entry) in std::fs::read_dir(proc_root)?.enumerate() {
        if read == max {
            return Ok((found, true));
        }
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if read_process(proc_root, pid, check.uses_cmdline()).is_some_and(|p| check.matches(&p)) {
            found.insert(pid);
        }
    }
    Ok((found, false))
}

async fn scan_now(check: &ProcessCheck) -> HashSet<u32> {
    let c = check.clone();
    let got = tokio::task::spawn_blocking(move || scan(Path::new("/proc"), &c)).await;
    match got {
        Ok(Ok((found, cut))) => {
            if cut {
                warn!(name = %check.name, max = MAX_SCAN_ENTRIES, "process scan stopped at its bound; the count may be low");
            }
            found
        }
        Ok(Err(e)) => {
            warn!(error = %e, "cannot read /proc; counting no processes");
            HashSet::new()
        }
        Err(e) => {
            warn!(error = %e, "process scan task failed");
            HashSet::new()
        }
    }
}

/// Runs the check for ever, reporting verdict changes under `source` to `subs`. `interval`
/// is the time between scans when kernel events are not available.
pub async fn run(source: String, check: ProcessCheck, interval: Duration, subs: Subscribers) {
    // Subscribe before the first scan, so no process that starts in between is missed.
    let events = match ProcEvents::subscribe() {
        Ok(e) => Some(e),
        Err(e) => {
            info!(%source, error = %e, every = ?interval, "no process events; scanning /proc");
            None
        }
    };
    run_with(source, check, interval, subs, events).await
}

/// [`run`] with the events source chosen by the caller (`None`: scan mode), for tests.
pub async fn run_with(
    source: String,
    check: ProcessCheck,
    interval: Duration,
    subs: Subscribers,
    mut events: Option<ProcEvents>,
) {
    let mut mode = if events.is_some() {
        Mode::Events
    } else {
        Mode::Scan
    };
    let mut q = QuorumTracker::new(check.clone());
    let mut pids = scan_now(&check).await;
    let mut next_scan = Instant::now() + interval;
    let report = |healthy: bool, count: usize, mode: Mode| Report {
        source: source.clone(),
        health: if healthy { Health::Ok } else { Health::Failed },
        detail: format!(
            "{count} matching process(es) named {:?} ({mode:?})",
            check.name
        ),
    };
    let mut changed = q.observe(Instant::now().into_std(), pids.len());
    loop {
        if let Some(h) = changed.take() {
            publish(&subs, report(h, q.count(), mode));
        }
        let due = q.deadline().map(Instant::from_std);
        let wake = match (mode, due) {
            (Mode::Scan, Some(d)) => d.min(next_scan),
            (Mode::Scan, None) => next_scan,
            (Mode::Events, Some(d)) => d,
            (Mode::Events, None) => Instant::now() + Duration::from_secs(3600),
        };
        let event = match events.as_mut() {
            Some(ev) => tokio::select! {
                e = ev.next() => Some(e),
                () = sleep_until(wake) => None,
            },
            None => {
                sleep_until(wake).await;
                None
            }
        };
        match event {
            None if mode == Mode::Scan && Instant::now() >= next_scan => {
                pids = scan_now(&check).await;
                next_scan = Instant::now() + interval;
            }
            None => {}
            Some(Ok(ProcEvent::Exit(pid))) => {
                pids.remove(&pid);
            }
            Some(Ok(ProcEvent::Fork(pid) | ProcEvent::Exec(pid) | ProcEvent::Comm(pid))) => {
                let matched = read_process(Path::new("/proc"), pid, check.uses_cmdline())
                    .is_some_and(|p| check.matches(&p));
                if matched {
                    pids.insert(pid);
                } else {
                    pids.remove(&pid);
                }
            }
            Some(Ok(ProcEvent::Lost)) => {
                warn!(%source, "process events were lost; scanning /proc again");
                pids = scan_now(&check).await;
            }
            Some(Err(e)) => {
                warn!(%source, error = %e, every = ?interval, "process events failed; scanning /proc from now on");
                events = None;
                mode = Mode::Scan;
                pids = scan_now(&check).await;
                next_scan = Instant::now() + interval;
            }
        }
        let now = Instant::now().into_std();
        changed = q.observe(now, pids.len()).or_else(|| q.poll(now));
        debug!(%source, count = pids.len(), "process count");
    }
}
