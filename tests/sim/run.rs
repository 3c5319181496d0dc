//! The simulator's main loop: the next packet, timer, timed input or arbiter event, in time
//! order; and what a router's actions do, followed by the invariants checked after each.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use vipd::arbiter::keeper::KeeperInput;
use vipd::vrrp::State;
use vipd::vrrp::router::{Action, GateKind};

use super::{Logged, Sim};

impl Sim {
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
                Some((t, i, false)) if packet.is_none_or(|p| t < p) => self.router_timer(i),
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

    pub(super) fn apply(&mut self, i: usize, actions: Vec<Action>) {
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
    pub(super) fn check(&mut self, i: usize) {
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
        let all = node.router.deadlines();
        // The driver reads these instead of the whole snapshot, at every advert.
        if node.router.next_deadline() != all.least()
            || node.router.advert_deadline() != all.advert
            || node.router.master_down_deadline() != all.master_down
        {
            self.violations.push(format!(
                "{:?}: node {i}'s deadline readers disagree with its deadlines: next {:?}, \
                 advert {:?}, master down {:?}, all {all:?}",
                self.now,
                node.router.next_deadline(),
                node.router.advert_deadline(),
                node.router.master_down_deadline(),
            ));
        }
        // The past is before the instant the input is dated: an advert read late after a
        // pause (SIGSTOP) may leave a deadline that passed during it, as reading it at once
        // would have; the timer then goes in at once.
        let dated = self.t0 + self.dated.unwrap_or(self.now);
        if let Some(deadline) = node.router.next_deadline()
            && deadline < dated
        {
            self.violations.push(format!(
                "{:?}: node {i} armed a timer in the past ({:?} before now: {:?})",
                self.now,
                dated - deadline,
                node.router.deadlines()
            ));
        }
    }
}
