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
mod net;
pub mod node;
pub mod store;
mod store_link;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use vipd::arbiter::StoreLoss;
use vipd::arbiter::keeper::{Keeper, KeeperInput};
use vipd::vrrp::health::Health;
use vipd::vrrp::router::{
    Action, GateKind, Input, Router, RouterConfig, TrackerConfig, Transition,
};
use vipd::vrrp::timing::{self, Centis};
use vipd::vrrp::{State, Version};

/// One router of the simulated cluster.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Base priority.
    pub priority: u8,
    /// Preempt mode.
    pub preempt: bool,
}

/// The shape of a simulated cluster: one VRID, every router on one LAN.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// Protocol version.
    pub version: Version,
    /// Advert interval of every router.
    pub interval: Centis,
    /// The routers; node `i` has address 10.c.0.(i+1) on channel c.
    pub nodes: Vec<NodeSpec>,
    /// Heartbeat channels per link, at least 1.
    pub channels: usize,
    /// Every router has the arbiter gate, with this policy, and a keeper of its own talking
    /// to the model of the store (see `arbiter.rs`).
    pub arbiter: Option<StoreLoss>,
    /// Every router has the fence gate, which the simulator answers by crashing the silent
    /// Master it names (a fence device powering it off).
    pub fence: bool,
    /// `None`: every channel orders the nodes alike. `Some(identities)`: channels other than
    /// 0 number them in the opposite order, and the routers know who each peer is (`true`)
    /// or not.
    pub opposite: Option<bool>,
}

impl ClusterSpec {
    /// The address of node `i` on `channel`.
    pub fn addr_on(&self, channel: usize, i: usize) -> IpAddr {
        match self.opposite {
            Some(_) if channel > 0 => addr_on(channel, self.nodes.len() - 1 - i),
            _ => addr_on(channel, i),
        }
    }
}

/// Network behaviour; probabilities in per-mille.
#[derive(Clone, Copy, Debug, Default)]
pub struct Conditions {
    /// Chance an advert copy is lost.
    pub loss: u32,
    /// Chance an advert copy is delivered twice.
    pub dup: u32,
    /// Delay range of each copy; random delays also reorder.
    pub min_delay: Duration,
    /// Upper end of the delay range.
    pub max_delay: Duration,
}

/// A transition a router made, with the virtual time it happened at.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Virtual time since the simulation started.
    pub at: Duration,
    /// Which router.
    pub node: usize,
    /// What it did.
    pub transition: Transition,
}

/// Rewrites the actions a router returned, to prove the invariants catch a broken router.
pub type Mutator = fn(node: usize, &mut Vec<Action>);

/// Decides whether an input reaches a router (false: dropped), to prove the properties catch
/// a router that mishandles some inputs.
pub type Filter = fn(node: usize, &Input) -> bool;

struct Node {
    router: Router,
    /// Its configuration as the file says now (reloads change it; a restart keeps it).
    config: RouterConfig,
    /// What each check would report now, whether or not it has reported it yet.
    truth: std::collections::BTreeMap<String, Health>,
    /// Crashed: the process is gone, it neither sends nor receives.
    alive: bool,
    holds_vips: bool,
    last_advert_sent: Option<Duration>,
    /// Adverts sent since the simulation started, across restarts.
    adverts_sent: u64,
    /// The arbiter's keeper of this run, under an arbiter.
    keeper: Option<Keeper>,
    /// Which run of the process this is; deliveries to an earlier run are dropped.
    incarnation: u64,
    /// Stopped (SIGSTOP): processes nothing, keeps its addresses.
    frozen: bool,
    /// What arrived while frozen, in order.
    backlog: VecDeque<arbiter::Backlog>,
    /// When the last hop between router and keeper is delivered, per direction
    /// (0: to the keeper, 1: to the router), so each direction stays in order.
    shell_at: [Duration; 2],
    /// When the process last started (a restart makes a new process).
    started: Duration,
    /// When it last asked the fence gate.
    fence_asked: Option<Duration>,
}

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
}

/// The primary address of node `i` (its address on channel 0).
pub fn addr(i: usize) -> IpAddr {
    addr_on(0, i)
}

/// The address of node `i` on `channel`. Every channel orders the nodes alike, as two hosts
/// numbered in the same order on each of their networks would.
pub fn addr_on(channel: usize, i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, channel as u8, 0, i as u8 + 1))
}

impl Sim {
    /// A cluster with every router in Initialize, at virtual time zero.
    pub fn new(spec: ClusterSpec, seed: u64) -> Sim {
        Sim::with_arbiter(spec, arbiter::ArbiterSpec::default(), seed)
    }

    /// A cluster whose arbiter (if it has one) has these settings.
    pub fn with_arbiter(spec: ClusterSpec, a: arbiter::ArbiterSpec, seed: u64) -> Sim {
        let nodes = (0..spec.nodes.len()).map(|i| Node::new(&spec, i)).collect();
        let store = spec.arbiter.map(|_| store::Store::new(a.rate_ppm));
        let mut sim = Sim {
            spec,
            t0: Instant::now(),
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
        if !self.nodes[i].alive || self.filter.is_some_and(|f| !f(i, &input)) {
            return;
        }
        if self.nodes[i].frozen {
            self.nodes[i]
                .backlog
                .push_back(arbiter::Backlog::Router(input));
            return;
        }
        let traced = self.trace && !matches!(input, Input::Health { .. });
        let shown = traced.then(|| format!("{input:?}"));
        let mut actions = self.nodes[i].router.handle(self.t0 + self.now, input);
        if let Some(m) = self.mutator {
            m(i, &mut actions);
        }
        if let Some(input) = shown {
            eprintln!("{:?} router {i} {input} -> {actions:?}", self.now);
        }
        self.apply(i, actions);
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

    /// Runs the network and the timers until virtual time `until`.
    pub fn run_until(&mut self, until: Duration) {
        let mut steps = 0u64;
        loop {
            steps += 1;
            assert!(
                steps < 5_000_000,
                "simulation does not progress at {:?}",
                self.now
            );
            let packet = self.queue.peek().map(|Reverse((at, _, _))| *at);
            let timer = self.earliest_timer();
            let timed = self.timed.peek().map(|Reverse((at, _, _))| *at);
            let event = self.next_event();
            let expiry = self.store.as_ref().and_then(|s| s.next_expiry());
            let next = [packet, timer.map(|(t, _, _)| t), timed, event, expiry]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else { break };
            if next > until {
                break;
            }
            self.now = next.max(self.now);
            if expiry == Some(next) {
                self.expire_leases();
                continue;
            }
            if event == Some(next) {
                self.fire_event();
                continue;
            }
            if timed == Some(next) && packet.is_none_or(|p| next < p) {
                self.fire_timed();
                continue;
            }
            match timer {
                // Packets first at equal times: an advert that arrives exactly when the
                // timer fires still counts, as it would on a real host more often than not.
                Some((t, i, false)) if packet.is_none_or(|p| t < p) => self.input(i, Input::Timer),
                Some((t, i, true)) if packet.is_none_or(|p| t < p) => {
                    self.keeper_input(i, KeeperInput::Timer)
                }
                _ => self.deliver_next(),
            }
        }
        self.now = until.max(self.now);
    }

    /// Runs for `d` more virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// The earliest router or keeper timer of a running node: (when, node, keeper's).
    fn earliest_timer(&self) -> Option<(Duration, usize, bool)> {
        let since = |at: Instant| at.saturating_duration_since(self.t0);
        (0..self.nodes.len())
            .filter(|&i| self.running(i))
            .flat_map(|i| {
                let node = &self.nodes[i];
                let router = node.router.next_deadline().map(|at| (since(at), i, false));
                let keeper = node.keeper.as_ref().and_then(|k| k.next_deadline());
                [router, keeper.map(|at| (since(at), i, true))]
            })
            .flatten()
            .min()
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendAdvert { priority } => self.broadcast(i, priority),
                Action::AddVips => self.nodes[i].holds_vips = true,
                Action::RemoveVips => self.nodes[i].holds_vips = false,
                Action::Announce { .. }
                | Action::Channel(_)
                | Action::Receipt { .. }
                | Action::Suppressed(_) => {}
                Action::Notify(transition) => {
                    self.fence_watch(i, &transition);
                    self.log.push(Logged {
                        at: self.now,
                        node: i,
                        transition,
                    })
                }
                Action::AskGate {
                    gate: GateKind::Fence,
                    attempt,
                    peer,
                    ..
                } if self.spec.fence => self.fence(i, attempt, peer),
                // The fence device has nothing to take back.
                Action::WithdrawGate {
                    gate: GateKind::Fence,
                    ..
                } if self.spec.fence => {}
                Action::AskGate { gate, .. } | Action::WithdrawGate { gate, .. }
                    if gate != GateKind::Arbiter || self.spec.arbiter.is_none() =>
                {
                    self.violations.push(format!(
                        "{:?}: node {i} used the {gate:?} gate, which it does not have",
                        self.now
                    ))
                }
                a @ (Action::AskGate { .. }
                | Action::WithdrawGate { .. }
                | Action::ReleaseLease) => self.router_to_keeper(i, a),
                // No simulated router here is in a sync group.
                Action::RefuseSyncOrder { .. } => self.violations.push(format!(
                    "{:?}: node {i} refused a sync order it cannot have had",
                    self.now
                )),
            }
        }
        self.check(i);
    }

    /// The invariants that hold at every instant, checked after every input.
    fn check(&mut self, i: usize) {
        let node = &self.nodes[i];
        let state = node.router.state();
        if node.holds_vips != (state == State::Master) {
            self.violations.push(format!(
                "{:?}: node {i} in {state} {} the VIPs",
                self.now,
                if node.holds_vips {
                    "holds"
                } else {
                    "does not hold"
                }
            ));
        }
        self.check_lease(i);
        if self.spec.arbiter.is_some() && self.holders().len() > 1 {
            self.violations.push(format!(
                "{:?}: two VIP holders under an arbiter: {:?}",
                self.now,
                self.holders()
            ));
        }
        let node = &self.nodes[i];
        if let Some(deadline) = node.router.next_deadline()
            && deadline < self.t0 + self.now
        {
            self.violations.push(format!(
                "{:?}: node {i} armed a timer in the past",
                self.now
            ));
        }
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

/// The trackers every simulated router starts with: an unweighted check (FAULT while it
/// fails) and a check that lowers the priority by 50 while it fails.
pub fn default_trackers() -> Vec<TrackerConfig> {
    vec![
        TrackerConfig {
            source: "check sim".into(),
            weight: 0,
            file: false,
        },
        TrackerConfig {
            source: "check w".into(),
            weight: -50,
            file: false,
        },
    ]
}

impl Node {
    fn new(spec: &ClusterSpec, i: usize) -> Node {
        let n = &spec.nodes[i];
        let config = RouterConfig {
            advert_interval: spec.interval,
            preempt: n.preempt,
            channel_addrs: (0..spec.channels).map(|c| spec.addr_on(c, i)).collect(),
            channel_names: (0..spec.channels).map(|c| format!("ch{c}")).collect(),
            peer_identities: match spec.opposite {
                // The file names one peer per channel (a pair): each peer's channel address
                // maps to its primary one.
                Some(true) => (0..spec.nodes.len())
                    .filter(|&j| j != i)
                    .flat_map(|j| (1..spec.channels).map(move |c| (c, j)))
                    .map(|(c, j)| (spec.addr_on(c, j), addr(j)))
                    .collect(),
                _ => Vec::new(),
            },
            arbiter: spec.arbiter,
            fence: spec.fence,
            vips: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
            trackers: default_trackers(),
            ..RouterConfig::with_defaults(&format!("vr{i}"), 51, spec.version, n.priority, addr(i))
        };
        let truth = config
            .trackers
            .iter()
            .map(|t| (t.source.clone(), Health::Ok))
            .collect();
        let mut router = Router::new(config.clone());
        // The checks' first results, before start (the daemon starts checks with routers).
        for t in &config.trackers {
            let (source, health) = (t.source.clone(), Health::Ok);
            router.handle(std::time::Instant::now(), Input::Health { source, health });
        }
        Node {
            router,
            config,
            truth,
            alive: true,
            holds_vips: false,
            last_advert_sent: None,
            adverts_sent: 0,
            keeper: None,
            incarnation: 0,
            frozen: false,
            backlog: VecDeque::new(),
            shell_at: [Duration::ZERO; 2],
            started: Duration::ZERO,
            fence_asked: None,
        }
    }
}
