//! A deterministic cluster simulator: N virtual routers on a simulated LAN under a virtual
//! clock, with loss, delay, duplication, reordering and partitions. Every link between two
//! routers has `channels` independent heartbeat channels (as with `channels:` in the config);
//! a router advertises on all of them, and each can be cut on its own.
//!
//! The routers are the real `vipd::vrrp::router::Router`; only the network and the clock are
//! simulated. Under an arbiter every node also runs the real `vipd::arbiter::keeper::Keeper`,
//! talking to a model of etcd (`store.rs`, wired in `arbiter.rs`). Every call of
//! `Router::handle` or `Keeper::handle` is followed by an invariant check, so a rule broken
//! for a single instant is caught.

pub mod arbiter;
mod fence;
pub mod group;
mod late;
mod net;
pub mod node;
mod run;
mod spec;
pub mod store;
mod store_link;

pub use late::Reads;
pub use spec::{
    ClusterSpec, Conditions, Filter, Logged, Mutator, NodeSpec, addr, default_trackers,
};

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::{Duration, Instant};

use vipd::vrrp::State;
use vipd::vrrp::router::{Input, Router, Stall};
use vipd::vrrp::timing;

use node::Node;

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    to: usize,
    from: usize,
    channel: usize,
    priority: u8,
}

/// The simulator.
pub struct Sim {
    spec: ClusterSpec,
    t0: Instant,
    now: Duration,
    nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<(Duration, u64, Delivery)>>,
    seq: u64,
    rng: u64,
    /// Directed pairs (from, to) that cannot talk, per channel: (channel, from, to).
    cut: BTreeSet<(usize, usize, usize)>,
    /// When each advert was sent (by anyone), in order.
    sent: Vec<Duration>,
    /// Current network conditions.
    pub conditions: Conditions,
    /// Every transition, in order.
    pub log: Vec<Logged>,
    /// Invariant violations seen so far (empty on a correct router).
    pub violations: Vec<String>,
    mutator: Option<Mutator>,
    filter: Option<Filter>,
    /// Inputs due at a time (tracker reports, gate answers), in (time, sequence) order.
    timed: BinaryHeap<Reverse<(Duration, u64, usize)>>,
    timed_inputs: std::collections::HashMap<u64, Input>,
    /// When each (node, check) last reported or will report.
    last_report: std::collections::HashMap<(usize, String), Duration>,
    /// The store, when the routers have the arbiter gate.
    store: Option<store::Store>,
    arbiter_spec: arbiter::ArbiterSpec,
    /// Nodes cut from the store.
    store_cut: BTreeSet<usize>,
    /// Arbiter events (keeper inputs, store requests and replies, thaws), in time order.
    events: BinaryHeap<Reverse<(Duration, u64)>>,
    event_data: std::collections::HashMap<u64, arbiter::Event>,
    keeper_mutator: Option<arbiter::KeeperMutator>,
    /// Print every arbiter input and action (set by a test while debugging a schedule).
    pub trace: bool,
    /// Tracker reports after a reload only say what changed from an untracked baseline (the
    /// reporting defect, to prove the convergence property catches it).
    pub report_differences_only: bool,
    /// The fence gate crashes the node it fences (false: a broken fence device that says
    /// it fenced and did nothing, to prove the property catches one).
    pub fence_kills: bool,
    /// Fences that crashed a running node.
    pub fences: u64,
    /// How adverts reach the routers (see `late.rs`).
    pub reads: Reads,
    /// A broken driver (a mutant): an overdue deadline's timer is handed over dated by the
    /// deadline, not the clock, so the router never learns that it ran late.
    pub timer_dated_by_deadline: bool,
    /// Adverts handed over late so far.
    pub read_late: u64,
    /// The instant the input being handled is dated, when not now (an advert read late).
    dated: Option<Duration>,
}

impl Sim {
    /// A cluster with every router in Initialize, at virtual time zero.
    pub fn new(spec: ClusterSpec, seed: u64) -> Sim {
        Sim::with_arbiter(spec, arbiter::ArbiterSpec::default(), seed)
    }

    /// A cluster whose arbiter (if it has one) has these settings.
    pub fn with_arbiter(spec: ClusterSpec, a: arbiter::ArbiterSpec, seed: u64) -> Sim {
        let t0 = Instant::now();
        // Each host's daemon has its own advert origin (its start): the nodes' Masters
        // advertise on grids out of phase with each other, by an amount the seed picks.
        // A hash of the seed and the node, not a draw from the schedule's sequence: the
        // schedules pinned by seed in the fixed tests stay what they were.
        let origin = |i: u64| {
            let mixed = (seed ^ (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .wrapping_mul(0xbf58_476d_1ce4_e5b9);
            t0 + Duration::from_micros((mixed >> 33) % 1_000_000)
        };
        let nodes = (0..spec.nodes.len())
            .map(|i| Node::new(&spec, i, origin(i as u64)))
            .collect();
        let store = spec.arbiter.map(|_| store::Store::new(a.rate_ppm));
        let mut sim = Sim {
            spec,
            t0,
            now: Duration::ZERO,
            nodes,
            queue: BinaryHeap::new(),
            seq: 0,
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            cut: BTreeSet::new(),
            sent: Vec::new(),
            conditions: Conditions::default(),
            log: Vec::new(),
            violations: Vec::new(),
            mutator: None,
            filter: None,
            timed: BinaryHeap::new(),
            timed_inputs: std::collections::HashMap::new(),
            last_report: std::collections::HashMap::new(),
            store,
            arbiter_spec: a,
            store_cut: BTreeSet::new(),
            events: BinaryHeap::new(),
            event_data: std::collections::HashMap::new(),
            keeper_mutator: None,
            trace: std::env::var_os("SIM_TRACE").is_some(),
            report_differences_only: false,
            fence_kills: true,
            fences: 0,
            reads: Reads::AtOnce,
            timer_dated_by_deadline: false,
            read_late: 0,
            dated: None,
        };
        for i in 0..sim.nodes.len() {
            sim.nodes[i].keeper = sim.new_keeper(i);
        }
        sim
    }

    /// The store's model, for a mutation test that breaks it.
    pub fn store_mut_for_test(&mut self) -> Option<&mut store::Store> {
        self.store.as_mut()
    }

    /// Installs a mutator that tampers with every router's actions.
    pub fn with_mutator(mut self, m: Mutator) -> Sim {
        self.mutator = Some(m);
        self
    }

    /// Installs a filter that drops some inputs before they reach a router.
    pub fn with_filter(mut self, f: Filter) -> Sim {
        self.filter = Some(f);
        self
    }

    /// The virtual time now.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The cluster's shape.
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// Feeds an input to node `i` now (ignored if it has crashed).
    pub fn input(&mut self, i: usize, input: Input) {
        if !self.nodes[i].alive {
            return;
        }
        if self.nodes[i].frozen {
            self.nodes[i]
                .backlog
                .push_back(arbiter::Backlog::Router(input));
            return;
        }
        self.read(i, input);
    }

    /// Node `i`'s router handles `input`, dated `at` (earlier than now for an advert read
    /// late), unless the filter drops it.
    fn hand(&mut self, i: usize, at: Duration, input: Input) {
        if self.filter.is_some_and(|f| !f(i, &input)) {
            return;
        }
        let traced = self.trace && !matches!(input, Input::Health { .. });
        let shown = traced.then(|| format!("{input:?}"));
        let stall_from = self.nodes[i].stall_from.filter(|from| *from <= at);
        let mut actions = match stall_from {
            Some(from) if input == Input::Timer => {
                self.nodes[i].stall_from = None;
                let stall = Stall {
                    from: self.t0 + from,
                    to: self.t0 + at,
                };
                let mut out = Vec::new();
                self.nodes[i]
                    .router
                    .timer_after_stall_into(self.t0 + at, stall, &mut out);
                out
            }
            _ => self.nodes[i].router.handle(self.t0 + at, input),
        };
        if let Some(m) = self.mutator {
            m(i, &mut actions);
        }
        if let Some(input) = shown {
            let arrived = (at != self.now).then(|| format!(" (arrived {at:?})"));
            let arrived = arrived.unwrap_or_default();
            eprintln!("{:?} router {i}{arrived} {input} -> {actions:?}", self.now);
        }
        self.dated = (at != self.now).then_some(at);
        self.apply(i, actions);
        self.dated = None;
    }

    /// Reports, with node `i`'s next timer, that the thread serving it was set to wake at
    /// `from` (another instance's deadline, say) and stood still until it ran, as the
    /// daemon's shared timer does.
    pub fn report_stall(&mut self, i: usize, from: Duration) {
        self.nodes[i].stall_from = Some(from);
    }

    /// Starts every router.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.input(i, Input::Start);
        }
    }

    /// Kills node `i` the way SIGKILL plus a cut cable would: it stops at once and says
    /// nothing; its addresses go with it, and so does its keeper (its lease then expires in
    /// the store).
    pub fn crash(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.alive = false;
        node.holds_vips = false;
        node.keeper = None;
        node.frozen = false;
        node.backlog.clear();
        node.unread.clear();
        node.incarnation += 1;
        if let Some(store) = self.store.as_mut() {
            store.unwatch(i);
        }
    }

    /// Brings a crashed node back as a fresh process with the file as it is now, and starts
    /// it; its checks report their first results a moment later.
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].alive {
            return;
        }
        let node = &mut self.nodes[i];
        node.router = Router::new(node.config.clone());
        node.alive = true;
        node.holds_vips = false;
        node.incarnation += 1;
        node.shell_at = [self.now; 2];
        node.started = self.now;
        node.fence_asked = None;
        self.nodes[i].keeper = self.new_keeper(i);
        self.input(i, Input::Start);
        self.report_all(i, false);
    }

    /// When the first advert after `t` (strictly) was sent, by anyone.
    pub fn first_advert_after(&self, t: Duration) -> Option<Duration> {
        let i = self.sent.partition_point(|&at| at <= t);
        self.sent.get(i).copied()
    }

    /// Whether node `i`'s process runs (it has not crashed, or was restarted).
    pub fn alive(&self, i: usize) -> bool {
        self.nodes[i].alive
    }

    /// The router of node `i`.
    pub fn router(&self, i: usize) -> &Router {
        &self.nodes[i].router
    }

    /// When node `i` last sent an advert.
    pub fn last_advert_sent(&self, i: usize) -> Option<Duration> {
        self.nodes[i].last_advert_sent
    }

    /// How many adverts node `i` has sent.
    pub fn adverts_sent(&self, i: usize) -> u64 {
        self.nodes[i].adverts_sent
    }

    /// Whether node `i` runs and is not frozen.
    fn running(&self, i: usize) -> bool {
        self.nodes[i].alive && !self.nodes[i].frozen
    }

    /// The running (not frozen) nodes in Master state.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.running(i) && self.nodes[i].router.state() == State::Master)
            .collect()
    }

    /// Whether node `i` runs and holds the virtual addresses, frozen or not.
    pub fn holds_vips(&self, i: usize) -> bool {
        self.nodes[i].alive && self.nodes[i].holds_vips
    }

    /// The running (not frozen) nodes that hold the virtual addresses.
    pub fn holders(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.running(i) && self.nodes[i].holds_vips)
            .collect()
    }

    /// Master_Down_Interval of a router at priority `p` in this cluster.
    pub fn master_down(&self, p: u8) -> Duration {
        timing::master_down_interval(self.spec.version, p, self.spec.interval, 3)
    }

    /// Skew_Time of a router at priority `p` in this cluster.
    pub fn skew(&self, p: u8) -> Duration {
        timing::skew_time(self.spec.version, p, self.spec.interval)
    }
}
