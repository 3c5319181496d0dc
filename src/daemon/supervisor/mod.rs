//! The supervisor: starts, updates and stops instances, so that the first start and every
//! reload are the same operation, a config applied to what runs.
//!
//! Instances are matched across configs by (interface, VRID, family) and name. A match whose
//! settings can change live is updated in place (a Master stays Master with its VIPs); a
//! change that cannot (interface, version, unicast, authentication, virtual MAC, address
//! ownership) restarts that instance alone, gracefully.

mod instances;
#[cfg(all(test, target_os = "linux", target_pointer_width = "64"))]
mod size_budget;
mod tasks;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::arbiter::{ArbiterLink, ArbiterMsg, Arbiters};
use super::checked::Checked;
use super::driver::{self, RouterCell, VipOp};
use super::fence::Fencer;
use super::groups::{self, GroupEvent};
use super::instance::{self, Prepared};
use super::io::{self, LiveIo, Settings, SettingsSource};
use super::isolation::IsolationProbe;
use super::latest::Latest;
use super::links::{self, Watchers};
use super::senders::{Sending, TxPath};
use super::sockets::{self, Attachment, Sockets, write};
use super::stats::LazyLogLimiter;
use super::wakeup::{SharedTimer, Wakeup};
use super::{DaemonError, STOP_BUDGET, stats, vips};
use crate::arbiter::board::ArbiterBoard;
use crate::config::{Config, Instance};
use crate::control::protocol::Event;
use crate::control::server;
use crate::daemon::router_inbox::RouterInbox;
use crate::net::{Announcer, Netlink};
use crate::notify::{Commands, EventStream, Notifier, NotifyCounters, Subject};
use crate::track::{self, RunAs};
use crate::vrrp::Family;
use crate::vrrp::group::SyncGroup;
use crate::vrrp::router::{Input, Router, RouterConfig, SyncMembership};
use crate::vrrp::udp_frame::FrameKey;

/// How instances are matched across a reload.
type Key = (String, u8, Family);

struct Live {
    prepared: Prepared,
    /// Its router, where receive loops hand it adverts: for sockets attached on reload, and
    /// where its I/O waits once it stopped.
    cell: Arc<RouterCell<LiveIo>>,
    /// The address worker's queue (its worker is a task only while it has work).
    vip_ops: vips::VipQueue,
    settings: SettingsSource,
    /// Shared with the list the control server and the metrics read; its inbox and
    /// counters are the instance's.
    control: Arc<server::Instance>,
    /// The sockets its channels use.
    attached: Box<[Attachment]>,
    /// Its send paths (kept to re-use when a reload leaves the channels alone).
    paths: Arc<[TxPath]>,
    /// Per channel label, kept across reloads so the counters only grow.
    channel_stats: sockets::ChannelStats,
    /// What its router was configured with last (a reload compares against it); the
    /// router shares it.
    router_config: Arc<RouterConfig>,
}

/// Everything that runs, and how to change it.
pub struct Supervisor {
    nl: Netlink,
    /// Boxed: a map node keeps room for eleven values, and each empty place would cost a
    /// whole `Live` (384 bytes) where a box costs 8.
    live: BTreeMap<Arc<str>, Box<Live>>,
    sockets: Sockets,
    /// UDP keys, isolation checks and fence commands of the config applied last.
    keys: HashMap<std::path::PathBuf, Arc<FrameKey>>,
    isolation: HashMap<String, Arc<IsolationProbe>>,
    fences: HashMap<String, Arc<Fencer>>,
    watchers: Watchers,
    events: broadcast::Sender<Event>,
    controls: watch::Sender<server::Instances>,
    trackers: Vec<JoinHandle<()>>,
    groups: Vec<JoinHandle<()>>,
    event_log: Option<(std::path::PathBuf, EventStream)>,
    /// Notify tasks; each ends once its queue is drained and its notifier dropped (the
    /// instance stopped, or a reload replaced it).
    notify_tasks: Vec<JoinHandle<()>>,
    board: track::Board,
    /// The runtime (its own thread) where check scripts and notify commands are started:
    /// forking a hundred processes must not delay an advert.
    scripts: Arc<tokio::runtime::Handle>,
    /// Per instance name, kept across reloads so the counters only grow. Keyed, as `live`,
    /// by the instance's one copy of its name.
    notify_counters: HashMap<Arc<str>, Arc<NotifyCounters>>,
    /// One notify queue per instance and per group, kept across reloads.
    queues: HashMap<(Subject, String), Notifier>,
    /// The arbiter tasks, by key, kept across reloads with their leases.
    arbiters: Arbiters,
    /// The precise timer every router task waits on; `None` without a timerfd (then
    /// tokio's millisecond timer).
    timer: Option<SharedTimer>,
}

/// What an instance is wired to besides its own sockets and router.
struct Wiring {
    /// Its notify queue.
    notifier: Option<Notifier>,
    /// Its sync group's task.
    group: Option<mpsc::UnboundedSender<GroupEvent>>,
    /// Its arbiter task, and what that task shows.
    arbiter: Option<(ArbiterLink, Arc<ArbiterBoard>)>,
}

impl Supervisor {
    /// A supervisor with nothing running yet.
    pub fn new(
        nl: Netlink,
        watchers: Watchers,
        events: broadcast::Sender<Event>,
        scripts: tokio::runtime::Handle,
    ) -> Self {
        let (controls, _) = watch::channel(Vec::new());
        let timer = SharedTimer::start()
            .inspect_err(|error| {
                warn!(%error, "no timerfd: timers fall back to millisecond precision");
            })
            .ok();
        Supervisor {
            nl,
            live: BTreeMap::new(),
            sockets: Sockets::new(timer.clone()),
            keys: HashMap::new(),
            isolation: HashMap::new(),
            fences: HashMap::new(),
            watchers,
            events,
            controls,
            trackers: Vec::new(),
            groups: Vec::new(),
            event_log: None,
            notify_tasks: Vec::new(),
            board: track::Board::default(),
            scripts: Arc::new(scripts),
            notify_counters: HashMap::new(),
            queues: HashMap::new(),
            arbiters: Arbiters::default(),
            timer,
        }
    }

    /// The instances the control server and the metrics see; follows reloads.
    pub fn controls(&self) -> watch::Receiver<server::Instances> {
        self.controls.subscribe()
    }

    /// The number of running instances.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Makes what runs match `config`. Everything that can fail before anything changes
    /// (scripts, notify commands, new instances' interfaces) is checked first; an error there
    /// leaves everything as it was. Returns a one-line summary.
    pub async fn apply(&mut self, checked: Checked) -> Result<String, DaemonError> {
        let applied = self.apply_checked(checked).await;
        // What applying freed (the configuration, the state of what it replaced) sits in
        // this thread's allocation cache, which nothing per advert drains.
        super::allocator::flush_thread_cache();
        applied
    }

    async fn apply_checked(&mut self, checked: Checked) -> Result<String, DaemonError> {
        let Checked {
            config,
            plan,
            run_as,
            keys,
            isolation,
            fences,
        } = checked;
        self.keys = keys;
        self.isolation = isolation;
        self.fences = fences;
        let mut notifiers = self.notifiers(&config, run_as)?;
        let mut arbiter_of = self.arbiters.apply(&config).map_err(DaemonError::Config)?;
        // What runs now, by key: diffing against it (not the last file) retries an instance
        // that failed to start before.
        let running: HashMap<Key, (String, Instance)> = self
            .live
            .iter()
            .map(|(n, l)| {
                (
                    key(&l.prepared.instance),
                    (n.to_string(), l.prepared.instance.clone()),
                )
            })
            .collect();
        let mut summary = Summary::default();
        let mut keep: HashMap<String, Instance> = HashMap::new();
        let (mut fresh, mut restart) = (Vec::new(), Vec::new());
        for (name, inst) in &config.instances {
            match running.get(&key(inst)) {
                Some((old_name, old)) if old_name == name && !needs_restart(old, inst) => {
                    keep.insert(name.clone(), old.clone());
                }
                Some(_) => restart.push((name.clone(), inst.clone())),
                None => fresh.push((name.clone(), inst.clone())),
            }
        }
        let mut prepared = Vec::new();
        for (name, inst) in &fresh {
            match instance::prepare(&self.nl, name, inst).await {
                Ok(p) => prepared.push(p),
                Err(e) => {
                    for p in &prepared {
                        instance::teardown(&self.nl, p).await;
                    }
                    return Err(e.into());
                }
            }
        }
        // From here on, things change.
        let gone: Vec<String> = self
            .live
            .keys()
            .filter(|n| !keep.contains_key(&***n))
            .map(|n| n.to_string())
            .collect();
        for name in gone {
            if !restart.iter().any(|(n, _)| *n == name) {
                summary.stopped.push(name.clone());
            }
            self.stop_instance(&name).await;
        }
        // Queues of instances and groups gone from the file end once they have run what is
        // queued.
        self.queues.retain(|(subject, name), _| match subject {
            Subject::Instance => config.instances.contains_key(name),
            Subject::Group => config.groups.contains_key(name),
        });
        let (group_of, group_tasks) = group_channels(&config);
        let mut failed = Vec::new();
        for (name, old) in &keep {
            let new = &config.instances[name];
            match self
                .update_instance(
                    &config,
                    name,
                    old,
                    new,
                    Wiring {
                        notifier: notifiers.remove(name),
                        group: group_of.get(name).cloned(),
                        arbiter: arbiter_of.remove(name),
                    },
                )
                .await
            {
                Ok(true) => summary.updated.push(name.clone()),
                Ok(false) => summary.unchanged += 1,
                Err(e) => failed.push(e.to_string()),
            }
        }
        // A restarted instance is prepared only now: its old self had to release first.
        for (name, inst) in &restart {
            match instance::prepare(&self.nl, name, inst).await {
                Ok(p) => {
                    prepared.push(p);
                    summary.restarted.push(name.clone());
                }
                Err(e) => failed.push(e.to_string()),
            }
        }
        let mut new_inboxes = Vec::new();
        for p in prepared {
            let name = p.name.to_string();
            if !summary.restarted.contains(&name) {
                summary.started.push(name.clone());
            }
            let rc = router_config(&config, &p, p.name.clone());
            let wiring = Wiring {
                notifier: notifiers.remove(&name),
                group: group_of.get(&name).cloned(),
                arbiter: arbiter_of.remove(&name),
            };
            match self.start_instance(p, rc, wiring) {
                Ok(inbox) => new_inboxes.push((name, inbox)),
                Err(e) => failed.push(format!("instance {name}: {e}")),
            }
        }
        let group_notifiers = self.group_notifiers(&config, run_as)?;
        self.respawn_groups(group_tasks, group_notifiers);
        self.respawn_trackers(plan);
        for (_, inbox) in new_inboxes {
            let _ = inbox.send(Input::Start).await;
        }
        self.arbiters.retire().await;
        self.publish_controls();
        if failed.is_empty() {
            Ok(summary.to_string())
        } else {
            let (summary, failed) = (summary.to_string(), failed.join("; "));
            Err(DaemonError::Partial { summary, failed })
        }
    }

    /// Stops every instance: Masters send priority 0 and release their VIPs.
    pub async fn stop_all(&mut self) {
        let names: Vec<Arc<str>> = self.live.keys().cloned().collect();
        for r in names.iter().filter_map(|n| self.live.get(n)) {
            let _ = r.control.inbox.send(Input::Stop).await;
        }
        for name in names {
            self.stop_instance(&name).await;
        }
        // After the instances: a Master lets go of its addresses before its lease goes.
        self.arbiters.stop_all().await;
        self.publish_controls();
        // Every notifier is gone with its instance once the kept queues are let go, so each
        // task ends once it has run what is queued, the stop notifications included; exiting
        // first would drop those (killing a command already running). The caller's stop
        // budget bounds this wait.
        self.queues.clear();
        for task in self.notify_tasks.drain(..) {
            let _ = task.await;
        }
    }

    fn publish_controls(&self) {
        self.controls
            .send_replace(self.live.values().map(|l| l.control.clone()).collect());
    }
}

#[derive(Default)]
struct Summary {
    unchanged: usize,
    updated: Vec<String>,
    started: Vec<String>,
    restarted: Vec<String>,
    stopped: Vec<String>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                v.join(", ")
            }
        };
        write!(
            f,
            "{} unchanged; updated in place: {}; started: {}; restarted: {}; stopped: {}",
            self.unchanged,
            list(&self.updated),
            list(&self.started),
            list(&self.restarted),
            list(&self.stopped)
        )
    }
}

fn key(i: &Instance) -> Key {
    (i.interface.clone(), i.vrid, i.family())
}

/// Settings a running router cannot take without starting over.
fn needs_restart(old: &Instance, new: &Instance) -> bool {
    // unicast.source is the primary address: the identity in ties and in adverts.
    let source = |i: &Instance| i.unicast.as_ref().and_then(|u| u.source);
    old.interface != new.interface
        || source(old) != source(new)
        || old.version != new.version
        || old.auth != new.auth
        || old.use_vmac != new.use_vmac
        || old.v3_checksum != new.v3_checksum
        || old.is_address_owner() != new.is_address_owner()
        // A Master that gains an arbiter must win the lease before it may hold the VIP, and
        // one that loses it must give the lease back: both start over as Backup.
        || old.arbiter != new.arbiter
}

/// The one origin of every router's advert grid in this daemon (see
/// [`RouterConfig::advert_origin`]): fixed for the life of the process, so reloads and
/// restarts of the instances keep it.
fn advert_origin() -> std::time::Instant {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

/// Everything the router of prepared instance `p` needs, from the whole config: its
/// trackers and its sync group are the router's to weigh and to ask.
/// `name` is the instance's one shared copy of its name.
fn router_config(config: &Config, p: &Prepared, name: Arc<str>) -> RouterConfig {
    let inst = &p.instance;
    let mut rc = inst.router_config(name, p.primary, &channel_addrs(p));
    rc.advert_origin = Some(advert_origin());
    rc.trackers = track::router_trackers(config, inst).into();
    if let Some(store) = config.arbiter.as_ref().filter(|_| inst.arbiter) {
        rc.arbiter = Some(store.on_store_loss);
        // A takeover after silence waits for the silent Master's lease to expire: up to its
        // TTL. Asking again sooner would only give the lease back and take another.
        let wait = store.ttl * 2 + std::time::Duration::from_secs(1);
        rc.gate_patience = rc.gate_patience.max(wait);
    }
    rc.sync_group = config.group_of(&p.name).map(|(group, members)| {
        Box::new(SyncMembership {
            group: group.to_owned(),
            members: members.to_vec(),
        })
    });
    rc
}

type GroupChannels = (
    HashMap<String, mpsc::UnboundedSender<GroupEvent>>,
    Vec<(SyncGroup, mpsc::UnboundedReceiver<GroupEvent>)>,
);

fn group_channels(config: &Config) -> GroupChannels {
    let mut of = HashMap::new();
    let mut tasks = Vec::new();
    for (name, members) in &config.groups {
        let (tx, rx) = mpsc::unbounded_channel();
        for m in members {
            of.insert(m.clone(), tx.clone());
        }
        tasks.push((SyncGroup::new(name.clone(), members.clone()), rx));
    }
    (of, tasks)
}

/// Our address on each channel, primary first: the router breaks equal-priority ties with
/// the address of the channel an advert came in on.
fn channel_addrs(p: &Prepared) -> Box<[IpAddr]> {
    let on_channel = |c: &instance::ResolvedChannel| match c.channel.sealed() {
        // A sealed frame carries the sender's identity, which is compared with ours.
        true => p.primary,
        false => c.src,
    };
    std::iter::once(p.primary)
        .chain(p.channels.iter().map(on_channel))
        .collect()
}

/// The channels' labels and counters, for status and metrics.
fn channel_list(paths: &[TxPath]) -> Vec<(String, Arc<stats::Stats>)> {
    paths
        .iter()
        .map(|p| (p.label.to_string(), p.stats.clone()))
        .collect()
}
