//! The group simulator's main loop: adverts and routed inputs in time order, a host's
//! routing between its routers and its sync group, and the group property checked after
//! every transition to Master.

use std::cmp::Reverse;
use std::time::Duration;

use vipd::vrrp::State;
use vipd::vrrp::router::{Action, Advert, GateAnswer, GateKind, Input, Transition};

use super::{Event, GroupSim, addr, member_name};

impl GroupSim {
    /// Runs until virtual time `until`.
    pub fn run_until(&mut self, until: Duration) {
        for _ in 0..5_000_000 {
            let event = self.queue.peek().map(|Reverse((at, _))| *at);
            let timer = self.earliest_timer();
            let next = [event, timer.map(|(t, _, _)| t)]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|t| *t <= until) else {
                self.now = until.max(self.now);
                return;
            };
            self.now = next.max(self.now);
            match timer {
                Some((t, n, k)) if event.is_none_or(|e| t < e) => self.input(n, k, Input::Timer),
                _ => self.fire_event(),
            }
        }
        panic!("group simulation does not progress at {:?}", self.now);
    }

    /// Runs for `d` more.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    fn earliest_timer(&self) -> Option<(Duration, usize, usize)> {
        let mut best = None;
        for (n, h) in self.hosts.iter().enumerate().filter(|(_, h)| h.alive) {
            for (k, r) in h.routers.iter().enumerate() {
                if let Some(at) = r.next_deadline() {
                    let at = at.saturating_duration_since(self.t0);
                    if best.is_none_or(|(b, _, _)| at < b) {
                        best = Some((at, n, k));
                    }
                }
            }
        }
        best
    }

    fn fire_event(&mut self) {
        let Some(Reverse((_, seq))) = self.queue.pop() else {
            return;
        };
        match self.events.remove(&seq) {
            Some(Event::Advert {
                lan,
                from,
                to,
                priority,
            }) => {
                if !self.hosts[to].alive {
                    return;
                }
                // A router in FAULT (or not started) does not listen: it hears nothing.
                if matches!(
                    self.hosts[to].routers[lan].state(),
                    State::Backup | State::Master
                ) {
                    self.hosts[to].heard[lan].insert(from, (priority, self.now));
                }
                let advert = Advert {
                    from: addr(lan, from),
                    channel: 0,
                    priority,
                    interval: self.interval,
                };
                self.input(to, lan, Input::Advert(advert));
            }
            Some(Event::Input {
                node,
                epoch,
                member,
                input,
            }) if self.hosts[node].epoch == epoch => self.input(node, member, input),
            // An order of a dead incarnation, or nothing left.
            Some(Event::Input { .. }) | None => {}
        }
    }

    /// Feeds `input` to member `k` of host `n` and routes what comes out.
    pub fn input(&mut self, n: usize, k: usize, input: Input) {
        if !self.hosts[n].alive {
            return;
        }
        let now = self.t0 + self.now;
        let before = self.hosts[n].routers[k].faults();
        let actions = self.hosts[n].routers[k].handle(now, input);
        let me = member_name(k);
        let mut orders = Vec::new();
        for action in actions {
            match action {
                Action::SendAdvert { priority } => self.send(k, n, priority),
                Action::Notify(t) => {
                    if t.to == State::Master && t.from != State::Master {
                        self.check_not_hearing_a_winner(n, k, &t);
                    }
                    if matches!(t.to, State::Fault | State::Initialize) {
                        self.hosts[n].heard[k].clear();
                    }
                    orders.extend(self.hosts[n].group.on_transition(&me, &t));
                    self.log.push((self.now, n, k, t));
                }
                Action::AskGate {
                    gate: GateKind::SyncGroup,
                    attempt,
                    ..
                } => {
                    if self.eager {
                        let answer = GateAnswer {
                            gate: GateKind::SyncGroup,
                            attempt,
                            granted: true,
                            detail: String::new(),
                            fenced: false,
                        };
                        orders.push((me.clone(), Input::Gate(answer)));
                    } else {
                        orders.extend(self.hosts[n].group.ask(&me, attempt));
                    }
                }
                Action::WithdrawGate { attempt, .. } => self.hosts[n].group.withdraw(&me, attempt),
                Action::RefuseSyncOrder { .. } => {
                    orders.extend(self.hosts[n].group.on_refused(&me))
                }
                _ => {}
            }
        }
        let after = self.hosts[n].routers[k].faults();
        if after != before {
            orders.extend(self.hosts[n].group.on_faults(&me, &after));
        }
        self.route(n, orders);
    }

    /// Delivers a group's orders to host `n`'s members a moment later, in the order given.
    pub(super) fn route(&mut self, n: usize, orders: Vec<(String, Input)>) {
        for (member, input) in orders {
            let member = (0..self.lans())
                .find(|k| member_name(*k) == member)
                .unwrap();
            // The group task and the router tasks share a thread: a moment later, and in the
            // order sent (one channel per router inbox).
            let at = self.now + self.jitter(Duration::from_micros(500));
            let last = self.last_order.entry((n, member)).or_default();
            *last = at.max(*last);
            let at = *last;
            self.schedule(
                at,
                Event::Input {
                    node: n,
                    epoch: self.hosts[n].epoch,
                    member,
                    input,
                },
            );
        }
    }

    fn send(&mut self, lan: usize, from: usize, priority: u8) {
        for to in 0..self.nodes() {
            if to == from || self.cut.contains(&(lan, from, to)) {
                continue;
            }
            if self.loss > 0 && self.next_u64() % 1000 < u64::from(self.loss) {
                continue;
            }
            let at = self.now + self.jitter(self.max_delay);
            self.schedule(
                at,
                Event::Advert {
                    lan,
                    from,
                    to,
                    priority,
                },
            );
        }
    }

    /// The group property, at a transition to Master.
    fn check_not_hearing_a_winner(&mut self, n: usize, k: usize, t: &Transition) {
        let router = &self.hosts[n].routers[k];
        let (mine, mdi) = (router.priority(), router.master_down_interval());
        for (&from, &(priority, at)) in &self.hosts[n].heard[k] {
            let beats = priority > mine || (priority == mine && from > n);
            // A yielding Master's last advert is not a live Master: only one that is Master
            // now counts.
            let sender = &self.hosts[from];
            let live = sender.alive && sender.routers[k].state() == State::Master;
            if priority != 0 && beats && live && self.now.saturating_sub(at) < mdi {
                self.violations.push(format!(
                    "{:?}: node {n} member {k} became Master ({}) while hearing node {from} \
                     at priority {priority} {:?} ago",
                    self.now,
                    t.reason,
                    self.now - at
                ));
            }
        }
    }
}
