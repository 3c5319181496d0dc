//! Health tracking: checks (scripts, TCP and HTTP probes, interfaces, files) reporting
//! their health to the routers that track them.
//!
//! Rise/fall hysteresis is pure ([`priority`]); the runners are tasks of their own
//! ([`runner`]), so a slow check never delays a router. The weights are the router's: it
//! turns the health it is told into effective priority and faults by its own configuration.
//!
//! Wiring, in the daemon:
//! ```text
//! let plan = vipd::track::plan(&config)?;
//! let tasks = plan.spawn(&inboxes, &board); // name -> router inbox
//! ```

pub mod acl;
pub mod command_paths;
pub mod priority;
pub mod probe;
pub mod process;
pub mod process_quorum;
pub mod process_watch;
pub mod runner;
pub mod security;
pub mod track_file;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Check, CheckKind, Config, TrackTarget};
use crate::daemon::router_inbox::RouterInbox;
use crate::vrrp::router::TrackerConfig;
pub use priority::{Health, Hysteresis, Tracker, Verdict};
pub use process::{CommandError, RunAs};
pub use runner::{CheckSpec, InstanceTrackers, Probe, Report};
pub use security::{InsecureScript, check_script};

/// How often a `track: {file: ...}` entry (which has no check, so no interval) is read.
pub const FILE_TRACK_INTERVAL: Duration = Duration::from_secs(1);

/// Why the trackers cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// A script's command line or user is unusable.
    #[error("check {check}: {error}")]
    Command {
        /// The check.
        check: String,
        /// What is wrong.
        error: CommandError,
    },
    /// A script could be changed by a non-root user while vipd runs as root.
    #[error(transparent)]
    Insecure(#[from] InsecureScript),
}

/// Every instance's trackers as their task last evaluated them, by instance name; read by
/// `vipd status` and the metrics.
pub type Board = Arc<RwLock<BTreeMap<String, Vec<Tracker>>>>;

impl Health {
    /// A word for status and metrics: "init", "ok", "failed", or the file value.
    pub fn word(&self) -> String {
        match self {
            Health::Init => "init".into(),
            Health::Ok => "ok".into(),
            Health::Failed => "failed".into(),
            Health::Value(v) => format!("value {v}"),
        }
    }
}

/// Everything to run: the checks that some instance tracks, and each instance's trackers.
#[derive(Debug)]
pub struct Plan {
    /// Checks by source name, each run once however many instances track it.
    pub checks: BTreeMap<String, CheckSpec>,
    /// Instances that track anything.
    pub instances: Vec<InstanceTrackers>,
}

/// The fault source name of a named check.
pub fn check_source(name: &str) -> String {
    format!("check {name}")
}

/// The source name a tracker reports under, and whether it follows a file (keepalived's
/// track_file rules), for a validated config.
pub fn source_of(config: &Config, target: &TrackTarget) -> (String, bool) {
    match target {
        TrackTarget::Check(name) => {
            let file = matches!(config.checks[name].kind, CheckKind::File(_));
            (check_source(name), file)
        }
        TrackTarget::Interface(ifname) => (format!("interface {ifname}"), false),
        TrackTarget::File(path) => (format!("file {}", path.display()), true),
    }
}

/// The trackers of instance `inst` as its router weighs them.
pub fn router_trackers(config: &Config, inst: &crate::config::Instance) -> Vec<TrackerConfig> {
    inst.track
        .iter()
        .map(|t| {
            let (source, file) = source_of(config, &t.target);
            TrackerConfig {
                source,
                weight: t.weight,
                file,
            }
        })
        .collect()
}

/// Builds the plan from a validated config. When scripts run privileged (vipd is root or
/// holds capabilities), every command is security-checked first ([`script_security`]) and
/// the first problem is returned.
pub fn plan(config: &Config) -> Result<Plan, TrackError> {
    let privileged = security::scripts_privileged();
    let mut checks = BTreeMap::new();
    let mut instances = Vec::new();
    for (iname, inst) in &config.instances {
        let mut trackers = Vec::new();
        for t in &inst.track {
            let (source, file) = source_of(config, &t.target);
            let spec = match &t.target {
                TrackTarget::Check(name) => spec_of(config, name, &config.checks[name])?,
                TrackTarget::Interface(ifname) => CheckSpec {
                    source: source.clone(),
                    probe: Probe::Interface(ifname.clone()),
                    interval: FILE_TRACK_INTERVAL,
                    timeout: FILE_TRACK_INTERVAL,
                    rise: 1,
                    fall: 1,
                },
                TrackTarget::File(path) => CheckSpec {
                    source: source.clone(),
                    probe: Probe::File(PathBuf::from(path)),
                    interval: FILE_TRACK_INTERVAL,
                    timeout: FILE_TRACK_INTERVAL,
                    rise: 1,
                    fall: 1,
                },
            };
            checks.entry(source.clone()).or_insert(spec);
            trackers.push(Tracker {
                source,
                weight: t.weight,
                file,
                health: Health::Init,
            });
        }
        if !trackers.is_empty() {
            instances.push(InstanceTrackers {
                instance: iname.clone(),
                base: inst.priority,
                trackers,
            });
        }
    }
    if privileged {
        if let Some(e) = script_security(config).into_iter().next() {
            return Err(e.into());
        }
    }
    Ok(Plan { checks, instances })
}

/// The spec of the named check of a validated config, to run once (the isolation guard).
pub fn named_spec(config: &Config, name: &str) -> Result<CheckSpec, TrackError> {
    spec_of(config, name, &config.checks[name])
}

fn spec_of(config: &Config, name: &str, c: &Check) -> Result<CheckSpec, TrackError> {
    let err = |error| TrackError::Command {
        check: name.to_owned(),
        error,
    };
    let probe = match &c.kind {
        CheckKind::Script(line) => {
            let user = c.user.as_deref().or(config.global.script_user.as_deref());
            Probe::Script {
                argv: process::split_command(line).map_err(err)?,
                run_as: RunAs::for_scripts(user).map_err(err)?,
            }
        }
        CheckKind::Tcp { host, port } => Probe::Tcp {
            host: host.clone(),
            port: *port,
        },
        CheckKind::Http(h) => Probe::Http(h.clone()),
        CheckKind::Interface(i) => Probe::Interface(i.clone()),
        CheckKind::File(p) => Probe::File(p.clone()),
        CheckKind::Process(p) => Probe::Process(p.clone()),
    };
    Ok(CheckSpec {
        source: check_source(name),
        probe,
        interval: c.interval,
        timeout: c.timeout,
        rise: c.rise,
        fall: c.fall,
    })
}

/// Every command in the config (script checks, instance and group notify commands, fence
/// commands) that
/// runs something another user could modify, or whose program cannot be found. For
/// `vipd check` and startup; meaningful when scripts run privileged
/// ([`security::scripts_privileged`]).
pub fn script_security(config: &Config) -> Vec<InsecureScript> {
    let trust = security::Trust::of_this_process();
    let mut lines: Vec<&str> = config
        .checks
        .values()
        .filter_map(|c| match &c.kind {
            CheckKind::Script(l) => Some(l.as_str()),
            _ => None,
        })
        .collect();
    for inst in config.instances.values() {
        lines.extend(inst.notify().commands().map(|(_, l)| l));
    }
    for notify in config.group_notify.values() {
        lines.extend(notify.commands().map(|(_, l)| l));
    }
    let fences = config
        .instances
        .values()
        .filter_map(|inst| inst.fence.as_ref().map(|f| f.argv.clone()));
    let mut seen = std::collections::BTreeSet::new();
    lines
        .into_iter()
        .filter_map(|l| process::split_command(l).ok())
        .chain(fences)
        .filter(|argv| seen.insert(argv.clone()))
        .filter_map(|argv| security::check_command(&argv[0], &argv, trust).err())
        .collect()
}

impl Plan {
    /// Spawns one task per check and one per tracking instance. `inboxes` maps instance
    /// names to router inboxes; an instance without one is skipped.
    pub fn spawn(
        self,
        inboxes: &HashMap<String, RouterInbox>,
        board: &Board,
    ) -> Vec<JoinHandle<()>> {
        {
            let mut b = board.write().unwrap_or_else(|e| e.into_inner());
            b.clear();
            for inst in &self.instances {
                b.insert(inst.instance.clone(), inst.trackers.clone());
            }
        }
        let mut subs: HashMap<String, runner::Subscribers> = HashMap::new();
        let mut tasks = Vec::new();
        for inst in self.instances {
            let Some(inbox) = inboxes.get(&inst.instance) else {
                continue;
            };
            let (tx, rx) = mpsc::unbounded_channel();
            for t in &inst.trackers {
                let list = subs.entry(t.source.clone()).or_default();
                if !list.iter().any(|s| s.same_channel(&tx)) {
                    list.push(tx.clone());
                }
            }
            tasks.push(tokio::spawn(runner::run_instance(
                inst,
                rx,
                inbox.clone(),
                board.clone(),
            )));
        }
        for (source, spec) in self.checks {
            if let Some(s) = subs.remove(&source) {
                tasks.push(tokio::spawn(runner::run_check(spec, s)));
            }
        }
        tasks
    }
}
