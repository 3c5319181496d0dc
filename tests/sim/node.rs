//! Whole nodes around the routers: checks whose health flips and report a moment later, and
//! reloads that change the trackers (the arbiter's keeper is in `arbiter.rs`).
//!
//! The shell's work is modelled, not the shell's code: a check reports its health within one
//! check interval of a change, of a reload (a restarted check reports its first result) and of
//! a restart.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use vipd::arbiter::keeper::Keeper;
use vipd::vrrp::health::{Health, Tracker, evaluate};
use vipd::vrrp::router::{FaultSource, Input, Router, RouterConfig};

use super::{ClusterSpec, Sim, addr, arbiter, default_trackers, late};

pub(super) struct Node {
    pub(super) router: Router,
    /// Its configuration as the file says now (reloads change it; a restart keeps it).
    pub(super) config: RouterConfig,
    /// What each check would report now, whether or not it has reported it yet.
    pub(super) truth: BTreeMap<String, Health>,
    /// Crashed: the process is gone, it neither sends nor receives.
    pub(super) alive: bool,
    pub(super) holds_vips: bool,
    pub(super) last_advert_sent: Option<Duration>,
    /// Adverts sent since the simulation started, across restarts.
    pub(super) adverts_sent: u64,
    /// The arbiter's keeper of this run, under an arbiter.
    pub(super) keeper: Option<Keeper>,
    /// Which run of the process this is; deliveries to an earlier run are dropped.
    pub(super) incarnation: u64,
    /// Stopped (SIGSTOP): processes nothing, keeps its addresses.
    pub(super) frozen: bool,
    /// When the thread serving this router was set to wake, if a stall it stood still
    /// through is to be reported with its next timer (see [`super::Sim::report_stall`]).
    pub(super) stall_from: Option<std::time::Duration>,
    /// What arrived while frozen, in order.
    pub(super) backlog: VecDeque<arbiter::Backlog>,
    /// Adverts that arrived and wait to be read (late reads only).
    pub(super) unread: VecDeque<late::Unread>,
    /// When the last hop between router and keeper is delivered, per direction
    /// (0: to the keeper, 1: to the router), so each direction stays in order.
    pub(super) shell_at: [Duration; 2],
    /// When the process last started (a restart makes a new process).
    pub(super) started: Duration,
    /// When it last asked the fence gate.
    pub(super) fence_asked: Option<Duration>,
}

impl Node {
    /// Node `i` of `spec`, whose daemon's advert grid starts at `origin`.
    pub(super) fn new(spec: &ClusterSpec, i: usize, origin: Instant) -> Node {
        let n = &spec.nodes[i];
        let config = RouterConfig {
            advert_interval: spec.interval,
            advert_origin: Some(origin),
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
                _ => Box::default(),
            },
            arbiter: spec.arbiter,
            fence: spec.fence,
            vips: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))].into(),
            trackers: default_trackers().into(),
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
            stall_from: None,
            backlog: VecDeque::new(),
            unread: VecDeque::new(),
            shell_at: [Duration::ZERO; 2],
            started: Duration::ZERO,
            fence_asked: None,
        }
    }
}

impl Sim {
    /// Feeds `input` to node `i` at virtual time `at` (not before now).
    pub fn schedule(&mut self, at: Duration, i: usize, input: Input) {
        self.seq += 1;
        self.timed.push(Reverse((at.max(self.now), self.seq, i)));
        self.timed_inputs.insert(self.seq, input);
    }

    pub(super) fn fire_timed(&mut self) {
        let Some(Reverse((_, seq, i))) = self.timed.pop() else {
            return;
        };
        if let Some(input) = self.timed_inputs.remove(&seq) {
            self.input(i, input);
        }
    }

    /// How long a check may take to report a change: its interval.
    pub fn check_interval(&self) -> Duration {
        self.spec.interval.as_duration()
    }

    /// When check `source` of node `i` reports next: within a check interval, and never
    /// before its previous report (a check task reports in order).
    fn report_time(&mut self, i: usize, source: &str) -> Duration {
        let span = self.check_interval().as_micros() as u64;
        let at = self.now + Duration::from_micros(self.next_u64() % (span + 1));
        let last = self.last_report.entry((i, source.to_owned())).or_default();
        *last = at.max(*last);
        *last
    }

    /// Check `source` of node `i` now says `health`; it reports within a check interval.
    pub fn set_health(&mut self, i: usize, source: &str, health: Health) {
        self.nodes[i].truth.insert(source.to_owned(), health);
        let at = self.report_time(i, source);
        let source = source.to_owned();
        self.schedule(at, i, Input::Health { source, health });
    }

    /// Check `source` of node `i` would now say `health`; nothing reports it until the check
    /// next runs (a reload restarts it).
    pub fn set_truth(&mut self, i: usize, source: &str, health: Health) {
        self.nodes[i].truth.insert(source.to_owned(), health);
    }

    /// Node `i` reloads a file that now says `config`: the router is reconfigured at once,
    /// and every check of the new file reports its current health within a check interval.
    pub fn reload(&mut self, i: usize, config: RouterConfig) {
        self.nodes[i].config = config.clone();
        self.input(i, Input::Configure(config.into()));
        self.report_all(i, true);
    }

    /// Every tracker of node `i`'s file reports what its check says now.
    pub(super) fn report_all(&mut self, i: usize, after_reload: bool) {
        let trackers = self.nodes[i].config.trackers.clone();
        for t in trackers {
            let health = *self.nodes[i]
                .truth
                .entry(t.source.clone())
                .or_insert(Health::Ok);
            // The defect this property exists for: after a reload the tracker task sent
            // only differences from an "untracked" baseline, so a healthy result that
            // added nothing was never sent.
            let adds_nothing = health == Health::Ok && t.weight <= 0;
            if after_reload && self.report_differences_only && adds_nothing {
                continue;
            }
            let at = self.report_time(i, &t.source);
            let source = t.source.clone();
            self.schedule(at, i, Input::Health { source, health });
        }
    }

    /// The configuration node `i` runs with now.
    pub fn config(&self, i: usize) -> &RouterConfig {
        &self.nodes[i].config
    }

    /// The priority and tracker faults node `i`'s file and its checks' health imply.
    pub fn expected(&self, i: usize) -> (u8, Vec<String>) {
        let node = &self.nodes[i];
        let trackers: Vec<Tracker> = node
            .config
            .trackers
            .iter()
            .map(|t| Tracker {
                source: t.source.clone(),
                weight: t.weight,
                file: t.file,
                health: node.truth.get(&t.source).copied().unwrap_or(Health::Ok),
            })
            .collect();
        let v = evaluate(node.config.priority, &trackers);
        (v.priority, v.faults.into_iter().collect())
    }

    /// The priority and tracker faults node `i`'s router has derived.
    pub fn derived(&self, i: usize) -> (u8, Vec<String>) {
        let r = &self.nodes[i].router;
        let faults = r
            .faults()
            .into_iter()
            .filter_map(|f| match f {
                FaultSource::Tracker(s) => Some(s),
                _ => None,
            })
            .collect();
        (r.priority(), faults)
    }
}
