//! Whole nodes around the routers: checks whose health flips and report a moment later,
//! reloads that change the trackers, and an arbiter (a lease) answering the takeover gate.
//!
//! The shell's work is modelled, not the shell's code: a check reports its health within one
//! check interval of a change, of a reload (a restarted check reports its first result) and of
//! a restart; the arbiter grants the lease to one node at a time and takes it back when that
//! node leaves Master, withdraws its request, or crashes.

use std::cmp::Reverse;
use std::net::IpAddr;
use std::time::Duration;

use vipd::vrrp::State;
use vipd::vrrp::health::{Health, Tracker, evaluate};
use vipd::vrrp::router::{FaultSource, GateAnswer, GateKind, Input, RouterConfig, Transition};

use super::Sim;

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
        self.input(i, Input::Configure(Box::new(config)));
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

    /// The arbiter answers: the lease goes to one node at a time. The fence gate crashes
    /// the node it names.
    pub(super) fn ask_gate(
        &mut self,
        i: usize,
        gate: GateKind,
        attempt: u64,
        peer: Option<IpAddr>,
    ) {
        if gate == GateKind::Fence && self.spec.fence {
            self.fence(i, attempt, peer);
            return;
        }
        if gate != GateKind::Arbiter {
            self.violations.push(format!(
                "{:?}: node {i} asked the {gate:?} gate, which it does not have",
                self.now
            ));
            return;
        }
        let granted = self.arbiter_grants_all || self.lease.is_none_or(|h| h == i);
        if granted {
            self.lease = Some(i);
            self.nodes[i].granted.insert(attempt);
        }
        // One round trip to the store.
        let at = self.now + Duration::from_millis(1 + self.next_u64() % 5);
        let answer = GateAnswer {
            gate,
            attempt,
            granted,
            detail: String::new(),
            fenced: false,
        };
        if granted {
            // This model's lease never runs out: only who holds it matters here.
            let until = self.t0 + at + Duration::from_secs(3600 * 24 * 365);
            self.schedule(
                at,
                i,
                Input::Lease(vipd::arbiter::LeaseView::Held { until }),
            );
        }
        self.schedule(at, i, Input::Gate(answer));
    }

    /// A withdrawn request gives back a lease its node is not using.
    pub(super) fn withdraw_gate(&mut self, i: usize) {
        if self.lease == Some(i) && self.nodes[i].router.state() != State::Master {
            self.lease = None;
        }
    }

    /// Follows the lease through node `i`'s transitions, and checks that a node became
    /// Master only while it held the lease (and, with fencing, not while the node it fenced
    /// still holds the addresses).
    pub(super) fn gate_watch(&mut self, i: usize, t: &Transition) {
        self.fence_watch(i, t);
        if !self.spec.arbiter {
            return;
        }
        if t.to == State::Master && t.from != State::Master && self.lease != Some(i) {
            self.violations.push(format!(
                "{:?}: node {i} became Master ({}) without the lease (held by {:?})",
                self.now, t.reason, self.lease
            ));
        }
        if t.from == State::Master && t.to != State::Master && self.lease == Some(i) {
            self.lease = None;
        }
    }

    /// A crashed holder's lease expires (immediately here: it holds no addresses any more).
    pub(super) fn crash_releases(&mut self, i: usize) {
        if self.lease == Some(i) {
            self.lease = None;
        }
    }
}
