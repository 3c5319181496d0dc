//! The arbiter in the simulator: each node's real `Keeper`, wired to its router the way the
//! daemon's shell wires them, and to the model of the store (`store.rs`) over a network with
//! round trips, request timeouts and partitions.
//!
//! The shell's wiring, exactly: `AskGate(Arbiter)` → `Ask`, `WithdrawGate(Arbiter)` →
//! `Withdraw`, `ReleaseLease` → `Release`; the keeper's `Answer` → `Input::Gate`, `View` →
//! `Input::Lease`, `Store(op)` → a request whose reply comes back as `Reply`, `Watch` → a watch
//! that reports `Deleted` (or `WatchFailed` once it breaks). Each direction between a router
//! and its keeper is a FIFO channel with a small random delay. The requests' way to the store and back is in `store_link.rs`.
//!
//! A frozen node (SIGSTOP) processes nothing, router or keeper, and keeps its addresses. When
//! resumed it processes its overdue timers first (the router's lease deadline among them),
//! then what arrived meanwhile, in order.

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::time::Duration;

use vipd::arbiter::keeper::{Keeper, KeeperAction, KeeperConfig, KeeperInput, Reply, StoreOp};
use vipd::arbiter::{LeaseView, StoreError};
use vipd::vrrp::router::{Action, GateAnswer, GateKind, Input};

use super::Sim;

/// The arbiter's settings for a simulated cluster.
#[derive(Clone, Copy, Debug)]
pub struct ArbiterSpec {
    /// The lease TTL every keeper asks for.
    pub ttl: Duration,
    /// The keeper's margin.
    pub margin: Duration,
    /// The clock-rate difference the keeper allows for, in parts per million.
    pub skew_ppm: u32,
    /// How much faster the store's clock runs than the nodes' (negative: slower), in ppm.
    pub rate_ppm: i32,
    /// The client's request timeout.
    pub request_timeout: Duration,
    /// The one-way delay to and from the store ranges over 1 ms ..= this.
    pub one_way: Duration,
}

impl Default for ArbiterSpec {
    fn default() -> ArbiterSpec {
        ArbiterSpec {
            ttl: Duration::from_secs(1),
            margin: Duration::from_millis(150),
            skew_ppm: 10_000,
            rate_ppm: 0,
            request_timeout: Duration::from_millis(500),
            one_way: Duration::from_millis(10),
        }
    }
}

/// Rewrites what a keeper asked for, to prove the properties catch a broken keeper.
pub type KeeperMutator = fn(node: usize, &mut Vec<KeeperAction>);

/// Something that happens at a time, to one node's run (`inc`) or the store.
#[derive(Debug)]
pub(super) enum Event {
    Keeper {
        node: usize,
        inc: u64,
        input: KeeperInput,
    },
    Router {
        node: usize,
        inc: u64,
        input: Input,
    },
    /// A request reaches the store.
    Arrive {
        node: usize,
        inc: u64,
        op: StoreOp,
        sent: Duration,
    },
    /// The store's reply reaches the node.
    Back {
        node: usize,
        inc: u64,
        reply: Reply,
        sent: Duration,
    },
    /// A watch request reaches the store.
    Watch {
        node: usize,
        inc: u64,
        revision: i64,
    },
    Thaw {
        node: usize,
        inc: u64,
    },
}

/// What a frozen node finds waiting when it resumes.
#[derive(Debug)]
pub(super) enum Backlog {
    Router(Input),
    Keeper(KeeperInput),
}

/// The member name every router has towards its keeper.
const MEMBER: &str = "vr";

impl Sim {
    /// The keeper's settings on node `i`.
    pub fn keeper_config(&self, i: usize) -> KeeperConfig {
        let a = self.arbiter_spec;
        KeeperConfig {
            key: "/vipd/units/vr51".into(),
            holder: format!("node{i}"),
            ttl: a.ttl,
            margin: a.margin,
            skew_ppm: a.skew_ppm,
            on_store_loss: self.spec.arbiter.unwrap_or_default(),
        }
    }

    /// A new keeper for node `i`'s new run, if the cluster has an arbiter.
    pub(super) fn new_keeper(&self, i: usize) -> Option<Keeper> {
        self.spec
            .arbiter
            .map(|_| Keeper::new(self.keeper_config(i)))
    }

    pub(super) fn push_event(&mut self, at: Duration, event: Event) {
        self.seq += 1;
        self.events.push(Reverse((at.max(self.now), self.seq)));
        self.event_data.insert(self.seq, event);
    }

    pub(super) fn next_event(&self) -> Option<Duration> {
        self.events.peek().map(|Reverse((at, _))| *at)
    }

    pub(super) fn current(&self, node: usize, inc: u64) -> bool {
        self.nodes[node].alive && self.nodes[node].incarnation == inc
    }

    pub(super) fn fire_event(&mut self) {
        let Some(Reverse((_, seq))) = self.events.pop() else {
            return;
        };
        let Some(event) = self.event_data.remove(&seq) else {
            return;
        };
        match event {
            Event::Keeper { node, inc, input } if self.current(node, inc) => {
                self.keeper_input(node, input)
            }
            Event::Router { node, inc, input } if self.current(node, inc) => {
                self.input(node, input)
            }
            Event::Arrive {
                node,
                inc,
                op,
                sent,
            } => self.arrive(node, inc, op, sent),
            Event::Back {
                node,
                inc,
                reply,
                sent,
            } if self.current(node, inc) => {
                if self.store_cut.contains(&node) {
                    self.fail_at(node, inc, sent, StoreError::Unreachable("cut".into()));
                } else {
                    self.keeper_input(node, KeeperInput::Reply(reply));
                }
            }
            Event::Watch {
                node,
                inc,
                revision,
            } => self.watch_arrives(node, inc, revision),
            Event::Thaw { node, inc } if self.current(node, inc) => self.thaw(node),
            _ => {}
        }
    }

    /// Feeds `input` to node `i`'s keeper now (queued while frozen, dropped once it died).
    pub fn keeper_input(&mut self, i: usize, input: KeeperInput) {
        if !self.nodes[i].alive {
            return;
        }
        if self.nodes[i].frozen {
            self.nodes[i].backlog.push_back(Backlog::Keeper(input));
            return;
        }
        let now = self.t0 + self.now;
        let Some(keeper) = self.nodes[i].keeper.as_mut() else {
            return;
        };
        let shown = self.trace.then(|| format!("{input:?}"));
        let mut actions = keeper.handle(now, input);
        if let Some(m) = self.keeper_mutator {
            m(i, &mut actions);
        }
        if let Some(input) = shown {
            eprintln!("{:?} keeper {i} {input} -> {actions:?}", self.now);
        }
        for action in actions {
            match action {
                KeeperAction::Store(op) => self.send_request(i, op),
                KeeperAction::Watch(revision) => self.send_watch(i, revision),
                KeeperAction::Unwatch => {
                    self.store_mut().unwatch(i);
                }
                KeeperAction::Answer {
                    attempt,
                    granted,
                    detail,
                    ..
                } => {
                    let answer = GateAnswer {
                        gate: GateKind::Arbiter,
                        attempt,
                        granted,
                        detail,
                        fenced: false,
                    };
                    self.shell(i, true, Backlog::Router(Input::Gate(answer)));
                }
                KeeperAction::View(view) => {
                    self.shell(i, true, Backlog::Router(Input::Lease(view)))
                }
            }
        }
        self.check(i);
    }

    /// Carries a router's arbiter action to its keeper, as the shell does.
    pub(super) fn router_to_keeper(&mut self, i: usize, action: Action) {
        let input = match action {
            Action::AskGate {
                attempt,
                after_fence,
                ..
            } => KeeperInput::Ask {
                member: MEMBER.into(),
                attempt,
                after_fence,
            },
            Action::WithdrawGate { attempt, .. } => KeeperInput::Withdraw {
                member: MEMBER.into(),
                attempt,
            },
            Action::ReleaseLease => KeeperInput::Release {
                member: MEMBER.into(),
            },
            _ => return,
        };
        self.shell(i, false, Backlog::Keeper(input));
    }

    /// One hop between node `i`'s router and keeper: up to 1 ms, in order per direction.
    fn shell(&mut self, i: usize, to_router: bool, what: Backlog) {
        let at = self.now + Duration::from_micros(self.next_u64() % 1001);
        let last = &mut self.nodes[i].shell_at[usize::from(to_router)];
        *last = at.max(*last);
        let (at, inc) = (*last, self.nodes[i].incarnation);
        let event = match what {
            Backlog::Router(input) => Event::Router {
                node: i,
                inc,
                input,
            },
            Backlog::Keeper(input) => Event::Keeper {
                node: i,
                inc,
                input,
            },
        };
        self.push_event(at, event);
    }

    /// Stops node `i`'s process (SIGSTOP) for `pause`; its addresses stay.
    pub fn freeze(&mut self, i: usize, pause: Duration) {
        let node = &mut self.nodes[i];
        if !node.alive || node.frozen {
            return;
        }
        node.frozen = true;
        let inc = node.incarnation;
        self.push_event(self.now + pause, Event::Thaw { node: i, inc });
    }

    /// Whether node `i` is frozen now.
    pub fn frozen(&self, i: usize) -> bool {
        self.nodes[i].frozen
    }

    /// Node `i` resumes: overdue timers first, then what arrived meanwhile.
    fn thaw(&mut self, i: usize) {
        self.nodes[i].frozen = false;
        self.router_timer(i);
        let now = self.t0 + self.now;
        let keeper_due = self.nodes[i]
            .keeper
            .as_ref()
            .and_then(|k| k.next_deadline());
        if keeper_due.is_some_and(|t| t <= now) {
            self.keeper_input(i, KeeperInput::Timer);
        }
        let backlog: VecDeque<Backlog> = std::mem::take(&mut self.nodes[i].backlog);
        for what in backlog {
            match what {
                Backlog::Router(input) => self.input(i, input),
                Backlog::Keeper(input) => self.keeper_input(i, input),
            }
        }
    }

    /// Installs a keeper mutator.
    pub fn with_keeper_mutator(mut self, m: KeeperMutator) -> Sim {
        self.keeper_mutator = Some(m);
        self
    }
}

/// A keeper that claims its lease 300 ms longer than it proved (as one computing validity
/// from the reply's arrival, with no margin or skew, would).
#[allow(clippy::ptr_arg, reason = "the signature of every keeper mutator")]
pub fn late_views(_: usize, actions: &mut Vec<KeeperAction>) {
    for a in actions.iter_mut() {
        if let KeeperAction::View(LeaseView::Held { until }) = a {
            *until += Duration::from_millis(300);
        }
    }
}
