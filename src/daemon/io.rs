//! The live [`RouterIo`]: adverts go straight out of the raw socket; address changes and
//! announcements are queued to the instance's address worker.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use std::time::SystemTime;

use tokio::sync::broadcast;

use super::arbiter::{ArbiterLink, ArbiterMsg};
use super::driver::{GateQuestion, RouterIo, VipOp};
use super::fence::Fencer;
use super::groups::GroupEvent;
use super::isolation::{Finding, IsolationProbe};
use super::latest::{Latest, Reader};
use super::senders::{Sending, TxPath};
use super::stats::{Hot, LazyLogLimiter, Stats};
use crate::arbiter::keeper::KeeperInput;
use crate::config::Vip;
use crate::control::protocol::Event;
use crate::control::server::View;
use crate::daemon::router_inbox::RouterInbox;
use crate::notify::{EventRecord, Notifier};
use crate::vrrp::State;
use crate::vrrp::channels::HealthChange;
use crate::vrrp::packet::Advert;
use crate::vrrp::router::{GateAnswer, GateKind, Input, Receipt, Router, Suppressed, Transition};
use crate::vrrp::timing::Centis;

/// What the status view last showed of the router, to skip unchanged publishes cheaply.
#[derive(Debug, PartialEq)]
pub struct Seen {
    state: State,
    priority: u8,
    base: u8,
    master: Option<IpAddr>,
    interval: Centis,
    draining: bool,
    faults: u32,
    carrying: u32,
}

impl Seen {
    fn of(router: &Router) -> Seen {
        let health = router.channel_health();
        Seen {
            state: router.state(),
            priority: router.priority(),
            base: router.config().priority,
            master: router.master(),
            interval: router.master_adver_interval(),
            draining: router.draining(),
            // Each fault input adds or removes one source, so the count changes whenever the
            // set does.
            faults: u32::try_from(router.fault_count()).unwrap_or(u32::MAX),
            carrying: u32::try_from(health.carrying()).unwrap_or(u32::MAX),
        }
    }
}

/// The parts of an instance a reload changes in place.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The VIPs (adverts list their addresses); shared with the status view.
    pub vips: Arc<[Vip]>,
    /// Notify commands and the event file, when configured.
    pub notifier: Option<Notifier>,
    /// The sync group's task, when the instance is in one.
    pub group: Option<UnboundedSender<GroupEvent>>,
    /// Where adverts go, one path per heartbeat channel (primary interface first).
    pub paths: Arc<[TxPath]>,
    /// The isolation guard's check, when configured.
    pub isolation: Option<Arc<IsolationProbe>>,
    /// The fence gate's command, when configured.
    pub fence: Option<Arc<Fencer>>,
    /// The arbiter task of the instance's key, when it has `arbiter: true`.
    pub arbiter: Option<ArbiterLink>,
    /// Where isolation checks and fence commands run (off the routers' thread). Here, not
    /// in the router task's I/O, which every router holds in its cell; behind a shared
    /// pointer, 8 bytes where a handle is 16, which keeps the settings in the 96-byte class.
    pub scripts: Arc<tokio::runtime::Handle>,
}

/// How many times any instance's settings were replaced. Every advert sent or received
/// looks whether its instance's settings changed; this one counter, shared by all and kept
/// in the cache by them, answers "no" without reading each instance's own version, a cache
/// miss per advert at fifty instances and 10 ms adverts. Bumped after the replacement
/// ([`SettingsSource::replace`]), so a reader that sees the new count sees the new settings. 32
/// bits, which keep the router's cell in its size class: the count wraps, and a reader is
/// fooled only if exactly 2^32 reloads pass between two of its adverts.
static SETTINGS_REPLACED: AtomicU32 = AtomicU32::new(0);

/// An instance's settings as the supervisor holds them. Replaced only through here, so no
/// reload can change them without the count the advert path looks at.
pub struct SettingsSource(Latest<Settings>);

impl SettingsSource {
    /// The first settings of an instance.
    pub fn new(settings: Settings) -> Self {
        SettingsSource(Latest::new(settings))
    }

    /// A reader for the router's I/O.
    pub fn reader(&self) -> Reader<Settings> {
        self.0.reader()
    }

    /// The settings now.
    pub fn borrow(&self) -> arc_swap::Guard<Arc<Settings>> {
        self.0.borrow()
    }

    /// Replaces the settings (a reload) where the router's I/O will see them.
    pub fn replace(&self, settings: Settings) {
        self.0.replace(settings);
        SETTINGS_REPLACED.fetch_add(1, Ordering::Release);
    }
}

/// [`SETTINGS_REPLACED`] now: what a new router's I/O starts from.
pub fn settings_replaced() -> u32 {
    SETTINGS_REPLACED.load(Ordering::Acquire)
}

thread_local! {
    /// The advert being sent, filled in from the router's configuration per send.
    static SCRATCH_ADVERT: std::cell::RefCell<Advert> = std::cell::RefCell::new(Advert {
        version: crate::vrrp::Version::V3,
        vrid: 0,
        priority: 0,
        interval: Centis::new(0),
        addresses: Default::default(),
        auth: crate::vrrp::packet::Auth::None,
    });
}

/// Where and how one instance sends.
pub struct LiveIo {
    /// Instance name, for logs.
    pub name: Arc<str>,
    /// Every heartbeat channel's way out (and, by index, its counters).
    pub sending: Sending,
    /// Log lines about rejected adverts, at most one per source and reason per period.
    pub limiter: LazyLogLimiter,
    /// The router's own inbox, for isolation check results.
    pub inbox: RouterInbox,
    /// The address worker's queue.
    pub vip_ops: super::vips::VipQueue,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Where the control server reads this instance's status.
    pub view: Latest<View>,
    /// The transition stream (`vipd events`).
    pub events: broadcast::Sender<Event>,
    /// What a reload can change while the router runs (read for adverts).
    pub settings: Reader<Settings>,
    /// A reload's settings that the status view has not shown yet.
    pub view_stale: bool,
    /// [`SETTINGS_REPLACED`] when the sending paths and the status view last looked at the
    /// settings.
    pub settings_looked: u32,
    /// What the view last showed.
    pub seen: Option<Seen>,
}

impl LiveIo {
    fn publish(&mut self, router: &Router, transition: Option<&Transition>) {
        // Most inputs (an advert timer, a Master's advert) change nothing the view shows:
        // compare the few fields that can change before building anything.
        let seen = Seen::of(router);
        let health = router.channel_health();
        self.follow_settings();
        if transition.is_none() && !self.view_stale && self.seen.as_ref() == Some(&seen) {
            return;
        }
        self.seen = Some(seen);
        // Past the gate something shown changed: publish the new values.
        self.view_stale = false;
        let settings = self.settings.borrow();
        self.view.modify(|view| {
            view.config = Arc::clone(router.shared_config());
            view.vips = settings.vips.clone();
            view.state = router.state();
            view.effective_priority = router.priority();
            view.master = router.master();
            view.master_interval = router.master_adver_interval();
            view.maintenance = router.draining();
            view.set_trouble(
                router.faults().iter().map(ToString::to_string).collect(),
                health
                    .channels()
                    .iter()
                    .enumerate()
                    .filter_map(|(k, c)| c.lost.then_some(k))
                    .collect(),
            );
            if let Some(t) = transition {
                view.last_reason = Some(t.reason.clone());
                view.since = SystemTime::now();
            }
        });
    }
}

impl LiveIo {
    /// Takes note of a reload's new settings, if there was one since the last look: the
    /// sending paths follow at once; the status view at its next publish.
    fn follow_settings(&mut self) {
        let replaced = SETTINGS_REPLACED.load(Ordering::Acquire);
        if replaced == self.settings_looked {
            return;
        }
        self.settings_looked = replaced;
        if !self.settings.has_changed() {
            return;
        }
        self.view_stale = true;
        let settings = self.settings.borrow_and_update();
        if !Arc::ptr_eq(&settings.paths, &self.sending.paths()) {
            self.sending.replace(settings.paths.clone());
        }
    }
}

impl RouterIo for LiveIo {
    fn send_advert(&mut self, router: &Router, priority: u8) {
        self.follow_settings();
        // What the advert says is the router's configuration: one copy, changed by reload
        // in the same input that changes what the router does. The advert is written into
        // the thread's one scratch copy, whose address list keeps its room, rather than into
        // a template of 64 bytes in every instance's cell.
        let config = router.config();
        SCRATCH_ADVERT.with_borrow_mut(|advert| {
            advert.version = config.version;
            advert.vrid = config.vrid;
            advert.priority = priority;
            advert.interval = config.advert_interval;
            advert.auth = config.auth;
            advert.addresses.clear();
            advert.addresses.extend_from_slice(&config.vips);
            self.sending.send(&self.name, advert, &self.stats);
        });
    }

    fn channel(&mut self, router: &Router, change: HealthChange) {
        let line = router
            .channel_health()
            .describe(&change, &router.config().channel_names);
        match change {
            HealthChange::Lost { .. } => warn!(instance = %self.name, "{line}"),
            HealthChange::Recovered { .. } => info!(instance = %self.name, "{line}"),
        }
    }

    fn receipt(&mut self, router: &Router, channel: usize, from: IpAddr, receipt: Receipt) {
        // A reload may have changed the channels the counters belong to.
        self.follow_settings();
        self.count_receipt(router, channel, from, receipt);
    }

    fn suppressed(&mut self, what: Suppressed) {
        self.stats.bump(what.label());
        if what == Suppressed::Takeover {
            // Rare, and the reason a takeover came one interval late: said in the log.
            warn!(instance = %self.name,
                "the master down timer was handled over a quarter advert interval late, or came \
                 while this host or thread stood still or just after: listening one more advert \
                 interval (or, after a stall shorter than a quarter interval, as long as it \
                 lasted) before taking over");
        }
    }

    fn ask_gate(&mut self, router: &Router, question: GateQuestion) {
        let GateQuestion {
            gate,
            attempt,
            takeover,
            ..
        } = question;
        let answer = move |granted: bool, detail: String| {
            Input::Gate(GateAnswer {
                gate,
                attempt,
                granted,
                detail,
                fenced: false,
            })
        };
        match gate {
            GateKind::Isolation => {
                let settings = self.settings.borrow();
                let probe = settings.isolation.clone();
                let inbox = self.inbox.clone();
                let name = self.name.to_string();
                let stats = self.stats.clone();
                settings.scripts.spawn(async move {
                    let (finding, detail) = match &probe {
                        Some(p) => p.run().await,
                        // Only if the config changed under a waiting router: let it go on.
                        None => (
                            Finding::Reachable,
                            "no isolation check configured any more".to_owned(),
                        ),
                    };
                    match finding {
                        Finding::Reachable => {}
                        Finding::Unreachable => {
                            warn!(instance = %name, %detail, "isolation check failed")
                        }
                        Finding::LocalError => {
                            stats.bump("isolation_local_errors");
                            if let Some(held) = probe.as_ref().and_then(|p| p.may_log_local_error())
                            {
                                warn!(
                                    instance = %name,
                                    %detail,
                                    "isolation check could not run here (a local resource error, \
                                     not evidence of isolation): takeover allowed \
                                     ({held} more such lines suppressed)"
                                );
                            }
                        }
                    }
                    let _ = inbox.send(answer(finding.grants(), detail)).await;
                });
            }
            GateKind::SyncGroup => match &self.settings.borrow().group {
                Some(group) => {
                    let _ = group.send(GroupEvent::Ask {
                        member: self.name.to_string(),
                        attempt,
                    });
                }
                None => {
                    // The router's own configuration names no group any more either: it
                    // asks again after its patience and finds no gate.
                    warn!(instance = %self.name, ?takeover, "no sync group task to ask");
                }
            },
            GateKind::Fence => self.fence(router, question),
            GateKind::Arbiter => match &self.settings.borrow().arbiter {
                Some(link) => {
                    let _ = link.send(ArbiterMsg::Keeper(KeeperInput::Ask {
                        member: self.name.to_string(),
                        attempt,
                        after_fence: question.after_fence,
                    }));
                }
                None => {
                    // Only if a reload took the arbiter away under a waiting router: it asks
                    // again after its patience and finds no gate.
                    warn!(instance = %self.name, ?takeover, "no arbiter task to ask");
                }
            },
        }
    }

    fn release_lease(&mut self) {
        if let Some(link) = &self.settings.borrow().arbiter {
            let member = self.name.to_string();
            let _ = link.send(ArbiterMsg::Keeper(KeeperInput::Release { member }));
        }
    }

    fn withdraw_gate(&mut self, gate: GateKind, attempt: u64) {
        if gate == GateKind::Arbiter
            && let Some(link) = &self.settings.borrow().arbiter
        {
            let member = self.name.to_string();
            let _ = link.send(ArbiterMsg::Keeper(KeeperInput::Withdraw {
                member,
                attempt,
            }));
        }
        if gate == GateKind::SyncGroup
            && let Some(group) = &self.settings.borrow().group
        {
            let _ = group.send(GroupEvent::Withdraw {
                member: self.name.to_string(),
                attempt,
            });
        }
    }

    fn vips(&mut self, op: VipOp) {
        // Refused only once the instance is stopping and the router task has ended.
        self.vip_ops.push(op);
    }

    fn sync_refused(&mut self) {
        if let Some(group) = &self.settings.borrow().group {
            let _ = group.send(GroupEvent::Refused {
                member: self.name.to_string(),
            });
        }
    }

    fn faults_changed(&mut self, router: &Router) {
        if let Some(group) = &self.settings.borrow().group {
            let _ = group.send(GroupEvent::Faults {
                member: self.name.to_string(),
                faults: router.faults(),
            });
        }
    }

    fn after_input(&mut self, router: &Router) {
        self.publish(router, None);
    }

    fn transition(&mut self, router: &Router, t: &Transition) {
        self.stats.count(Hot::Transitions);
        self.stats
            .transition((t.from.name(), t.to.name(), t.reason.kind()));
        self.publish(router, Some(t));
        let settings = Arc::clone(&self.settings.borrow());
        if let Some(group) = &settings.group {
            let member = self.name.to_string();
            let _ = group.send(GroupEvent::Transition {
                member,
                transition: t.clone(),
            });
        }
        if let Some(n) = &settings.notifier {
            n.instance(t);
        }
        let record = EventRecord {
            time: SystemTime::now(),
            instance: self.name.to_string(),
            group: false,
            from: t.from,
            to: t.to,
            reason: t.reason.to_string(),
            priority: Some(t.priority),
            master: t.master,
        };
        let _ = self.events.send(Event::from(&record));
        let master = t
            .master
            .map(|m| m.to_string())
            .unwrap_or_else(|| "-".into());
        info!(
            instance = %self.name,
            vrid = router.config().vrid,
            from = %t.from,
            to = %t.to,
            priority = t.priority,
            master = %master,
            "{}: {} -> {}: {}",
            self.name, t.from, t.to, t.reason
        );
    }
}
