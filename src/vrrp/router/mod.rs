//! One virtual router's state machine (RFC 9568 §6 plus keepalived's FAULT state).
//!
//! The router never reads a clock or does I/O. The caller feeds it [`Input`]s with the
//! current time and carries out the [`Action`]s it returns, in order; after every call it
//! asks [`Router::next_deadline`] when to feed [`Input::Timer`] next. That query *is* the
//! "re-arm timer" output: one source of truth instead of an action that can fall out of
//! step with the router's own timers.
//!
//! Action order, the same for every path:
//! - becoming Master: `SendAdvert`, `AddVips`, `Announce`, `Notify`. The advert goes first
//!   (RFC 9568 §6.4.2 order) because it is what makes the other Backups stand down; the
//!   addresses are added before they are announced.
//! - leaving Master: `SendAdvert { priority: 0 }` (or, when yielding to a higher priority
//!   with `yield_advert`, our own priority), `RemoveVips`, `ReleaseLease` under an arbiter,
//!   `Notify`.
//! - re-asserting against a lower-priority Master (a healed split brain): `SendAdvert`,
//!   `Announce`, `Notify` (Master to Master, [`Reason::Reasserted`]); the advert at most
//!   once per advert interval, the announcement once per our own Master_Down_Interval (and
//!   again past the clients' ARP locktime), the notification once per episode of lower
//!   adverts (see `rules.rs`). What the limits hold back is reported as `Suppressed`.
//! - while Master: `Announce` alone when the repeat burst is due and every
//!   `announce.refresh` (keepalived's `garp_master_refresh`), on a grid from becoming Master.
//! - a takeover a gate questions: `AskGate` alone instead of becoming Master (and, for the
//!   isolation gate, from FAULT on every re-check); the answer comes back as [`Input::Gate`].
//!   An abandoned wait says `WithdrawGate`.
//! - `Notify` is always last: it reports a transition that has been carried out.
//!
//! The rules themselves live in `rules.rs` (start, stop, adverts, timers and the moves
//! between states), `control.rs` (priority, reload, faults, drain, sync orders) and
//! `gate.rs` (the takeover gate, every path to Master), `health.rs` (priority and faults from
//! trackers' health); the timers in `timers.rs`.

mod api;
mod control;
mod episodes;
mod gate;
mod gates;
mod health;
mod lease;
mod reason;
mod receive;
mod resignation;
mod rules;
mod timers;

#[cfg(test)]
pub(crate) mod tests;

use health::FaultState;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use api::{
    Action, Advert, AnnounceSchedule, Arrival, Input, Packet, Receipt, RouterConfig, Stall,
    Suppressed, SyncOrder,
};
pub use gates::{FaultSource, GateAnswer, GateKind, SyncMembership, Takeover, TrackerConfig};
pub use reason::{Reason, Transition};
pub use timers::Deadlines;

use std::collections::BTreeMap;

use super::State;
use super::channels::ChannelHealth;
use super::health::Health;
use super::timing::{Centis, master_down_interval, skew_time};
use crate::vrrp::stamp::Stamp;
use gate::PendingTakeover;
use timers::Timers;

/// One virtual router. See the module docs for how to drive it.
#[derive(Debug)]
pub struct Router {
    /// Shared: the daemon keeps the same configuration to compare a reload against.
    config: Arc<RouterConfig>,
    state: State,
    priority: u8,
    /// Fault sources and trackers' health: made at the first tracker or fault, so a router
    /// with neither keeps 8 bytes where three collections took 72 (see [`FaultState`]).
    fault_state: Option<Box<FaultState>>,
    /// Which heartbeat channels carry the Master's adverts, while Backup.
    channels: ChannelHealth,
    /// Maintenance drain: never Master while set.
    draining: bool,
    /// Set by a sync-group Backup order: behave as nopreempt until next Master.
    held: bool,
    /// End of the startup delay, if one was configured; never Master before it.
    startup_until: Option<Stamp>,
    /// When this router last entered Backup: "silent for" counts from it.
    backup_since: Option<Stamp>,
    /// The preempt delay's episode: since when a lower-priority Master has been heard (or
    /// since start), as keepalived counts `preempt_delay`.
    preempt_since: Option<Stamp>,
    /// The Master's interval as far as a Backup knows it (v3 adopts the advertised one).
    master_adver_interval: Centis,
    /// The last advert heard while Backup (or the winner we yielded to).
    heard: Option<Heard>,
    /// Backup: the Masters we follow (an advert we would not preempt), each by its last
    /// advert; at most [`FOLLOWED_MAX`], the oldest dropped first. Two Masters exist for a
    /// moment when a partition heals: the resignation of one is no reason to take over from
    /// the other.
    followed: Vec<Heard>,
    /// Master: when we last announced (becoming Master, or re-asserting over a lower-priority
    /// Master), for the re-assertion rate limit.
    last_reannounce: Option<Stamp>,
    /// What only something out of the ordinary makes (see [`episodes`]).
    episodes: Option<Box<episodes::Episodes>>,
    /// Backup: a takeover waiting for a gate's answer. Boxed: only gated takeovers have
    /// one, for moments, and it would make every router 144 bytes larger.
    pending: Option<Box<PendingTakeover>>,
    /// Under an arbiter: until when the keeper has proven the lease ours, by our clock.
    lease_until: Option<Stamp>,
    /// Under an arbiter with `keep`: the store is unreachable, so a Master keeps its
    /// addresses past `lease_until`.
    lease_unproven: bool,
    timers: Timers,
}

/// How many Masters a Backup remembers following at once.
const FOLLOWED_MAX: usize = 4;

/// An advert remembered by a Backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Heard {
    addr: IpAddr,
    /// The heartbeat channel it came in on: a node has another address on each.
    channel: usize,
    priority: u8,
    at: Stamp,
}

impl Router {
    /// A router in Initialize with the base priority as its effective priority.
    pub fn new(config: impl Into<Arc<RouterConfig>>) -> Self {
        let config: Arc<RouterConfig> = config.into();
        let priority = config.priority;
        let master_adver_interval = config.advert_interval;
        let fault_state = (!config.trackers.is_empty()).then(|| {
            Box::new(FaultState {
                health: config
                    .trackers
                    .iter()
                    .map(|t| (t.source.clone(), Health::Init))
                    .collect(),
                ..FaultState::default()
            })
        });
        let channels = ChannelHealth::idle(config.channel_names.len());
        let mut router = Router {
            channels,
            config,
            state: State::Initialize,
            priority,
            fault_state,
            draining: false,
            held: false,
            startup_until: None,
            backup_since: None,
            preempt_since: None,
            master_adver_interval,
            heard: None,
            followed: Vec::new(),
            last_reannounce: None,
            episodes: None,
            pending: None,
            lease_until: None,
            lease_unproven: false,
            timers: Timers::default(),
        };
        // Before any report, unweighted trackers hold the router in FAULT (keepalived holds
        // an instance until its unweighted scripts have reported).
        let (priority, faults) = router.verdict();
        router.priority = priority;
        if !faults.is_empty() {
            router.fault_state_mut().tracker_faults = faults;
        }
        router
    }

    /// Feeds one input at time `now` and returns what to do, in order.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        self.handle_into(now, input, &mut out);
        out
    }

    /// [`Input::Timer`], handled by a thread that stood still over `stall` (it was due to
    /// run at `stall.from` and ran only at `stall.to`): a Master_Down deadline inside that
    /// stall is treated as one this router ran late for, however close to the stall's end
    /// it lies (see "A stalled host" in the README).
    pub fn timer_after_stall_into(&mut self, now: Instant, stall: Stall, out: &mut Vec<Action>) {
        self.fire_due(now, Some(stall), out);
    }

    /// [`Router::handle`] appending to `out`: a caller that feeds thousands of adverts a
    /// second keeps one buffer instead of allocating one per input.
    pub fn handle_into(&mut self, now: Instant, input: Input, out: &mut Vec<Action>) {
        match input {
            Input::Start => self.start(now, out),
            Input::Stop => self.stop(out),
            Input::Advert(advert) => self.advert(now, advert, out),
            Input::Packet(packet) => self.packet(now, *packet, out),
            Input::Timer => self.fire_due(now, None, out),
            Input::Health { source, health } => self.health(now, source, health, out),
            Input::Fault { source, active } => self.fault(now, source, active, out),
            Input::Drain(on) => self.drain(now, on, out),
            Input::Sync(order) => self.sync(now, order, out),
            Input::Gate(answer) => self.gate_answer(now, answer, out),
            Input::Lease(view) => self.lease_view(now, view, out),
            Input::Configure(config) => self.configure(now, config, out),
        }
    }

    /// [`Router::handle_into`] for a received packet, without boxing it into an [`Input`].
    pub fn receive_into(&mut self, now: Instant, packet: Packet, out: &mut Vec<Action>) {
        self.packet(now, packet, out);
    }

    /// The earliest time at which [`Input::Timer`] must be fed, if any timer is armed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.earliest()
    }

    /// [`Router::next_deadline`] as its stamp, which orders as the instant does: cheaper to
    /// compare, for the driver's look at whether an advert heard moved it.
    pub fn next_stamp(&self) -> Option<Stamp> {
        self.timers.earliest_stamp()
    }

    /// Every armed deadline, for status output.
    pub fn deadlines(&self) -> Deadlines {
        self.timers.deadlines()
    }

    /// The advert timer's deadline, if armed: [`Router::deadlines`]'s `advert` without
    /// making the other six, for the driver's look at every advert sent or heard.
    pub fn advert_deadline(&self) -> Option<Instant> {
        self.timers.advert.map(Stamp::get)
    }

    /// The master-down timer's deadline, if armed ([`Router::advert_deadline`]'s twin).
    pub fn master_down_deadline(&self) -> Option<Instant> {
        self.timers.down.map(|d| d.deadline.get())
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The effective priority (what adverts carry).
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// The configuration.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The same configuration, as the router shares it (a status view keeps it).
    pub fn shared_config(&self) -> &Arc<RouterConfig> {
        &self.config
    }

    /// Whether a takeover is waiting for a gate's answer.
    pub fn waiting_for_gate(&self) -> bool {
        self.pending.is_some()
    }

    /// Whether this router may be handed adverts other than resignations late: read at its
    /// next deadline rather than as they come, each with the time it arrived.
    ///
    /// A Backup acts on such an advert only at a deadline: it moves Master_Down, or
    /// (lower priority, preempting) leaves it running; the same advert handed over at the
    /// deadline with its arrival time decides the same. A resignation shortens the wait to
    /// Skew_Time and must come at once; a Master answers what it hears; a takeover waiting
    /// for a gate is called off by the first advert heard.
    ///
    /// One heartbeat channel only: with several, the others' adverts come as they arrive
    /// (a sealed line, a UDP socket), and one read late after them would move Master_Down
    /// back to its own arrival, and show its channel silent in between.
    pub fn reads_late(&self) -> bool {
        self.state == State::Backup
            && self.pending.is_none()
            && self.config.channel_addrs.len() == 1
    }

    /// The Master whose routine adverts may reach this router late, while it reads late and
    /// has heard one: only that Master's. Anyone else's may be a new Master, or a flood,
    /// which left to wait would fill the queue the Master's adverts wait in.
    pub fn late_source(&self) -> Option<IpAddr> {
        self.heard.filter(|_| self.reads_late()).map(|h| h.addr)
    }

    /// Active fault sources: trackers first, then links, the sync group and isolation.
    pub fn faults(&self) -> Vec<FaultSource> {
        let state = self.fault_state();
        let trackers = state
            .tracker_faults
            .iter()
            .cloned()
            .map(FaultSource::Tracker);
        trackers.chain(state.external.iter().cloned()).collect()
    }

    /// How many fault sources are active: `faults().len()` without building the list.
    pub fn fault_count(&self) -> usize {
        let state = self.fault_state();
        state.tracker_faults.len() + state.external.len()
    }

    /// Whether any fault source is active.
    pub fn faulted(&self) -> bool {
        let state = self.fault_state();
        !state.tracker_faults.is_empty() || !state.external.is_empty()
    }

    /// Which heartbeat channels carry the Master's adverts (watched while Backup).
    pub fn channel_health(&self) -> &ChannelHealth {
        &self.channels
    }

    /// The latest health of each tracker that has one.
    pub fn tracker_health(&self) -> &BTreeMap<String, Health> {
        &self.fault_state().health
    }

    /// The Master as far as this router knows: itself when Master, the last advert heard
    /// when Backup, nobody otherwise.
    pub fn master(&self) -> Option<IpAddr> {
        match self.state {
            State::Master => Some(self.config.primary_addr),
            State::Backup => self.heard.map(|h| h.addr),
            State::Initialize | State::Fault => None,
        }
    }

    /// The Master's advert interval as this router uses it: its own when Master, the adopted
    /// one when a v3 Backup has heard a Master.
    pub fn master_adver_interval(&self) -> Centis {
        self.master_adver_interval
    }

    /// Whether a maintenance drain is on.
    pub fn draining(&self) -> bool {
        self.draining
    }

    /// Whether a sync-group Backup order keeps this router from preempting.
    pub fn held_by_group(&self) -> bool {
        self.held
    }

    /// Master_Down_Interval for the current priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.config.version,
            self.priority,
            self.master_adver_interval,
            self.config.down_timer_adverts,
        )
    }

    /// Skew_Time for the current priority and Master_Adver_Interval.
    fn skew_time(&self) -> Duration {
        skew_time(
            self.config.version,
            self.priority,
            self.master_adver_interval,
        )
    }

    /// Master_Down_Interval from our own configuration, whoever the Master is: the period
    /// of the re-announce rate limit.
    fn own_master_down_interval(&self) -> Duration {
        master_down_interval(
            self.config.version,
            self.priority,
            self.config.advert_interval,
            self.config.down_timer_adverts,
        )
    }
}
