//! The tasks: one per check (probing on its interval, applying rise/fall, reporting changes)
//! and one per instance (adding its trackers up and telling its router).
//!
//! Checks report on unbounded channels, but only when a verdict changes, so a queue can
//! only grow as fast as checks flip. Nothing here ever waits on a router task except to
//! hand it an input.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval};
use tracing::{debug, info, warn};

use super::priority::{Health, Hysteresis, Tracker};
use super::probe::{self, FileValue, Probed};
use super::process::{self, RunAs};
use crate::config::HttpCheck;
use crate::daemon::router_inbox::RouterInbox;
use crate::net::{LinkEvents, NetError, Netlink};
use crate::vrrp::router::Input;

/// What a check probes, ready to run.
#[derive(Clone, Debug)]
pub enum Probe {
    /// Run a command; exit 0 is healthy.
    Script {
        /// Program and arguments.
        argv: Vec<String>,
        /// Who it runs as (only when vipd is root).
        run_as: Option<RunAs>,
    },
    /// TCP connect.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// HTTP GET.
    Http(HttpCheck),
    /// A track file's integer.
    File(PathBuf),
    /// An interface's link state, from netlink events.
    Interface(String),
    /// A count of matching processes, from process events or /proc scans.
    Process(crate::config::ProcessCheck),
}

/// One check, ready to run.
#[derive(Clone, Debug)]
pub struct CheckSpec {
    /// The fault source name its trackers use ("check web", "interface eth2").
    pub source: String,
    /// What it probes.
    pub probe: Probe,
    /// Time between probes (unused for interfaces, which are event-driven).
    pub interval: Duration,
    /// Time one probe may take.
    pub timeout: Duration,
    /// Successes in a row to recover.
    pub rise: u32,
    /// Failures in a row to fail.
    pub fall: u32,
}

/// A check's verdict changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The check's source name.
    pub source: String,
    /// Its new verdict.
    pub health: Health,
    /// What the last probe saw.
    pub detail: String,
}

/// Where a check's reports go: the inboxes of the instance tasks that track it.
pub type Subscribers = Vec<mpsc::UnboundedSender<Report>>;

pub(super) fn publish(subs: &Subscribers, report: Report) {
    info!(check = %report.source, health = ?report.health, detail = %report.detail, "check changed");
    for s in subs {
        // An instance task that has gone away (shutdown) needs nothing more.
        let _ = s.send(report.clone());
    }
}

/// Runs one probe: healthy, failed only for want of a local resource, and the detail.
/// Interface and file checks are not pass/fail probes; validation keeps them out of here.
pub async fn probe_once(spec: &CheckSpec) -> Probed {
    match &spec.probe {
        Probe::Script { argv, run_as } => {
            let out = process::run(&process::Spec {
                argv: argv.clone(),
                env: Vec::new(),
                run_as: *run_as,
                timeout: spec.timeout,
            })
            .await;
            let ok = out.exit.success();
            let (stdout, stderr) = (out.stdout.to_string(), out.stderr.to_string());
            let mut detail = format!("{} ({:.2}s)", out.exit, out.elapsed.as_secs_f64());
            if !stdout.is_empty() || !stderr.is_empty() {
                detail.push_str(&format!("; stdout: {stdout:?}; stderr: {stderr:?}"));
            }
            Probed {
                ok,
                local: out.local_error,
                detail,
            }
        }
        Probe::Tcp { host, port } => probe::tcp(host, *port, spec.timeout).await,
        Probe::Http(h) => probe::http(h, spec.timeout).await,
        Probe::File(_) | Probe::Interface(_) | Probe::Process(_) => {
            unreachable!("not a pass/fail probe")
        }
    }
}

/// Runs a check for ever, reporting verdict changes to `subs`. The first probe runs at once;
/// a probe that outlasts the interval delays the next one rather than overlapping it.
pub async fn run_check(spec: CheckSpec, subs: Subscribers) {
    match &spec.probe {
        Probe::Interface(name) => {
            return run_interface(spec.source.clone(), name.clone(), subs).await;
        }
        Probe::File(path) => return run_file(&spec, path.clone(), subs).await,
        Probe::Process(check) => {
            let (source, check) = (spec.source.clone(), check.clone());
            return super::process_watch::run(source, check, spec.interval, subs).await;
        }
        _ => {}
    }
    let mut h = Hysteresis::new(spec.rise, spec.fall);
    let mut tick = interval(spec.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_ok = true;
    loop {
        tick.tick().await;
        let Probed { ok, detail, .. } = probe_once(&spec).await;
        // The first failure of a streak is worth a line with its exit status and output;
        // the repeats are not (the verdict change is logged when fall is reached).
        if !ok && last_ok {
            warn!(check = %spec.source, %detail, "check failed");
        } else {
            debug!(check = %spec.source, ok, %detail, "probe");
        }
        last_ok = ok;
        if let Some(health) = h.record(ok) {
            publish(
                &subs,
                Report {
                    source: spec.source.clone(),
                    health,
                    detail,
                },
            );
        }
    }
}

async fn run_file(spec: &CheckSpec, path: PathBuf, subs: Subscribers) {
    let mut last: Option<Health> = None;
    let mut tick = interval(spec.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (health, detail) = match probe::read_file(&path).await {
            FileValue::Value(v) => (Health::Value(v), format!("{} reads {v}", path.display())),
            FileValue::Unreadable(e) => (Health::Failed, e),
        };
        if last != Some(health) {
            last = Some(health);
            publish(
                &subs,
                Report {
                    source: spec.source.clone(),
                    health,
                    detail,
                },
            );
        }
    }
}

/// Follows one interface's link state: the state now, then every change, from netlink
/// events (no polling). An interface that does not exist is down.
async fn run_interface(source: String, name: String, subs: Subscribers) {
    let report = |up: bool, detail: String| Report {
        source: source.clone(),
        health: if up { Health::Ok } else { Health::Failed },
        detail,
    };
    // Subscribe before reading the current state, so no change in between is lost.
    let mut events = match LinkEvents::subscribe().await {
        Ok(e) => e,
        Err(e) => {
            // Without events the state cannot be known: say failed, loudly, and stop.
            warn!(%source, error = %e, "cannot follow link state");
            publish(
                &subs,
                report(false, format!("cannot follow link state: {e}")),
            );
            return;
        }
    };
    let now = match Netlink::new() {
        Ok(nl) => match nl.link_by_name(&name).await {
            Ok(l) => Ok(l.usable()),
            Err(NetError::InterfaceNotFound(_)) => Ok(false),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    let mut up = match now {
        Ok(up) => up,
        Err(e) => {
            warn!(%source, error = %e, "cannot read link state; assuming down");
            false
        }
    };
    publish(
        &subs,
        report(up, format!("{name} is {}", if up { "up" } else { "down" })),
    );
    while let Some(ev) = events.next().await {
        if ev.name == name && ev.up != up {
            up = ev.up;
            publish(
                &subs,
                report(
                    up,
                    format!("{name} went {}", if up { "up" } else { "down" }),
                ),
            );
        }
    }
    warn!(%source, "link event stream closed; link state no longer followed");
}

/// The trackers of one instance, as the arithmetic sees them, before any result.
#[derive(Clone, Debug)]
pub struct InstanceTrackers {
    /// The instance name.
    pub instance: String,
    /// Its configured priority.
    pub base: u8,
    /// Its trackers, in config order.
    pub trackers: Vec<Tracker>,
}

/// Runs one instance's tracker task: records each report on the board, and tells the
/// router the tracker's health, until the report channel or the router inbox closes. Health,
/// not a difference from what the router was told before: the router weighs it by its
/// current configuration, so a restarted task (a reload) cannot leave a stale verdict.
pub async fn run_instance(
    mut me: InstanceTrackers,
    mut reports: mpsc::UnboundedReceiver<Report>,
    inbox: RouterInbox,
    board: super::Board,
) {
    while let Some(r) = reports.recv().await {
        for t in me.trackers.iter_mut().filter(|t| t.source == r.source) {
            t.health = r.health;
        }
        if let Some(list) = board
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&me.instance)
        {
            list.clone_from(&me.trackers);
        }
        info!(instance = %me.instance, health = ?r.health, cause = %r.source, "tracking");
        let input = Input::Health {
            source: r.source,
            health: r.health,
        };
        if inbox.send(input).await.is_err() {
            return;
        }
    }
}
