//! The takeover gate: every path to Master passes here, and nowhere else.
//!
//! A takeover (address owner start, master-down, a resigned Master, preemption, a sync-group
//! order) is first named by its [`Takeover`] kind. Each configured gate says which kinds it
//! questions:
//! - the isolation guard questions silence only: a resigning or preemptable Master was
//!   *heard*, which already proves the channel works;
//! - a sync group questions what a member decides on its own (silence, resignation,
//!   preemption), so a member goes Master only when every member wants to (keepalived's
//!   "prefer backup to avoid thrashing");
//! - a fence questions silence only, like the isolation guard and after it (an isolated
//!   node must not fence the healthy Master): a silent Master may be alive and unheard, so
//!   it is fenced (Pacemaker's STONITH) before its addresses are taken. A Master that
//!   resigned or is preempted was heard, and fencing it would be wrong;
//! - an arbiter (a lease in a consensus store) questions every takeover, last, so a fenced
//!   peer's lease can be taken at once.
//!
//! Questioned gates are asked one after the other with [`Action::AskGate`]; each answer
//! ([`Input::Gate`]) carries the attempt it belongs to, so a late answer to an abandoned
//! attempt is ignored. The core owns the deadline: an attempt nobody answered within
//! `gate_patience` is withdrawn and asked again, so a gate task lost to a reload cannot leave
//! the router waiting for ever. While a takeover waits, the master-down timer is off: an
//! advert, a control input or the answer moves the router on.

use crate::vrrp::stamp::Stamp;
use std::net::IpAddr;
use std::time::Instant;

use super::timers::{DownCause, DownTimer, later, next_periodic, refresh_deadline};
use super::{Action, Reason, Router};
use super::{FaultSource, GateAnswer, GateKind, Takeover};
use crate::vrrp::State;

/// A takeover held back until its gates answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PendingTakeover {
    /// This attempt; answers for any other are ignored.
    pub attempt: u64,
    /// The reason the takeover would give, used as is once every gate has granted.
    pub reason: Reason,
    /// The gates still to ask, the one being asked first.
    pub gates: Vec<GateKind>,
    /// The master-down timer that fired, if one did. A lower-priority advert arriving during
    /// the wait resumes it, so the takeover becomes the preemption it would have been had the
    /// advert come a moment earlier.
    pub down: Option<DownTimer>,
    /// The fence gate has fenced the silent Master in this attempt; later gates are told.
    pub fenced: bool,
}

/// The Master a takeover for `reason` replaces, as last heard: the node a fence gate must
/// fence. None when no Master was heard (a startup silence) or the reason names none.
fn replaced_master(reason: &Reason) -> Option<IpAddr> {
    match reason {
        Reason::MasterDown { last_master, .. } => *last_master,
        Reason::MasterResigned { from } => Some(*from),
        Reason::Preempting { master, .. } => Some(*master),
        _ => None,
    }
}

impl Router {
    /// The gates configured for this router, in the order they are asked.
    fn gates(&self) -> Vec<GateKind> {
        let mut gates = Vec::new();
        if self.config.isolation_guard {
            gates.push(GateKind::Isolation);
        }
        if self.config.sync_group.is_some() {
            gates.push(GateKind::SyncGroup);
        }
        if self.config.fence {
            gates.push(GateKind::Fence);
        }
        if self.config.arbiter.is_some() {
            gates.push(GateKind::Arbiter);
        }
        gates
    }

    /// The one way to Master: becomes Master now if no gate questions `reason`, or asks the
    /// first gate that does and waits (as a Backup) for the answers.
    pub(super) fn take_over(
        &mut self,
        now: Instant,
        reason: Reason,
        down: Option<DownTimer>,
        out: &mut Vec<Action>,
    ) {
        let kind = Takeover::of(&reason);
        let gates: Vec<GateKind> = self
            .gates()
            .into_iter()
            .filter(|g| g.questions(kind))
            .collect();
        if gates.is_empty() {
            self.become_master(now, reason, out);
            return;
        }
        if self.state == State::Initialize {
            // The address owner under an arbiter: listen while the answer comes.
            self.enter_backup(now, Reason::Startup, None, out);
        }
        self.timers.down = None;
        let pending = PendingTakeover {
            attempt: self.new_attempt(),
            reason,
            gates,
            down,
            fenced: false,
        };
        self.ask(now, &pending, out);
        self.pending = Some(Box::new(pending));
    }

    /// Asks the first remaining gate of `pending`, and arms the patience deadline.
    fn ask(&mut self, now: Instant, pending: &PendingTakeover, out: &mut Vec<Action>) {
        out.push(Action::AskGate {
            gate: pending.gates[0],
            attempt: pending.attempt,
            takeover: Takeover::of(&pending.reason),
            peer: replaced_master(&pending.reason),
            after_fence: pending.fenced,
        });
        self.timers.gate = Some(Stamp::new(later(now, self.config.gate_patience)));
    }

    /// Drops a waiting takeover (an advert, a fault, a drain or a stop ended the wait) and
    /// tells the gate being asked, so a sync group stops counting this member as willing.
    pub(super) fn cancel_takeover(&mut self, out: &mut Vec<Action>) -> Option<PendingTakeover> {
        let pending = self.pending.take()?;
        self.timers.gate = None;
        out.push(Action::WithdrawGate {
            gate: pending.gates[0],
            attempt: pending.attempt,
        });
        Some(*pending)
    }

    /// Nobody answered in time: ask the same gate again as a new attempt, then withdraw the
    /// old one. In that order, a gate that is still working on it (an arbiter watching a
    /// held key) sees the new attempt replace the old and keeps its lease and its watch.
    pub(super) fn gate_expired(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.timers.gate = None;
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        let old = (pending.gates[0], pending.attempt);
        pending.attempt = self.new_attempt();
        self.ask(now, &pending, out);
        self.pending = Some(pending);
        out.push(Action::WithdrawGate {
            gate: old.0,
            attempt: old.1,
        });
    }

    pub(super) fn gate_answer(&mut self, now: Instant, answer: GateAnswer, out: &mut Vec<Action>) {
        let recheck = self.episodes().and_then(|e| e.recheck);
        if answer.gate == GateKind::Isolation && recheck == Some(answer.attempt) {
            self.episodes_mut().recheck = None;
            if answer.granted && self.state == State::Fault {
                self.timers.isolation = None;
                self.clear_fault(now, FaultSource::Isolation, out);
            }
            return;
        }
        let Some(mut pending) = self
            .pending
            .take_if(|p| p.attempt == answer.attempt && p.gates[0] == answer.gate)
        else {
            return;
        };
        self.timers.gate = None;
        let mut answer = answer;
        if answer.granted && answer.gate == GateKind::Arbiter && !self.lease_proven(now) {
            // A grant is worth only as long as the lease that backs it.
            answer.granted = false;
            answer.detail = format!("granted without a lease proven ours ({})", answer.detail);
        }
        if !answer.granted {
            self.denied(now, answer, *pending, out);
            return;
        }
        if pending.gates.remove(0) == GateKind::Fence {
            pending.fenced = answer.fenced;
        }
        if pending.gates.is_empty() {
            self.become_master(now, pending.reason, out);
        } else {
            self.ask(now, &pending, out);
            self.pending = Some(pending);
        }
    }

    /// A gate said no. The isolation guard's no means this node is cut off: FAULT, asking
    /// again every Master_Down_Interval. Any other gate's no (a fence that failed under
    /// `on_failure: retry` among them) leaves the router a Backup that
    /// tries again when its master-down timer next fires.
    fn denied(
        &mut self,
        now: Instant,
        answer: GateAnswer,
        pending: PendingTakeover,
        out: &mut Vec<Action>,
    ) {
        if answer.gate == GateKind::Isolation {
            self.set_external(FaultSource::Isolation, true);
            self.enter_fault(
                Reason::Isolated {
                    detail: answer.detail,
                },
                out,
            );
            self.timers.isolation = Some(Stamp::new(later(now, self.own_master_down_interval())));
        } else {
            // Listen again as if the Master had just been heard: a takeover that had no
            // timer of its own (the owner starting, a group's order) must not be left without
            // one.
            // A takeover deferred once because this router ran late waits a whole
            // Master_Down_Interval again, as any silence does (a priority change re-bases it so).
            let cause = match pending.down.map(|d| d.cause) {
                Some(DownCause::Relistening { .. }) | None => DownCause::Silence,
                Some(cause) => cause,
            };
            let at = Stamp::new(now);
            self.arm_down(at, at.later(self.master_down_interval()), cause);
        }
    }

    /// The isolation re-check timer fired: ask again, and again one interval later.
    pub(super) fn recheck_isolation(
        &mut self,
        deadline: Instant,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let attempt = self.new_attempt();
        self.episodes_mut().recheck = Some(attempt);
        out.push(Action::AskGate {
            gate: GateKind::Isolation,
            attempt,
            takeover: Takeover::Silence,
            peer: None,
            after_fence: false,
        });
        let period = self.own_master_down_interval();
        self.timers.isolation = Some(Stamp::new(next_periodic(deadline, period, now)));
    }

    /// Becomes Master from Initialize or Backup. Private to the gate, so every path to Master
    /// passes it.
    fn become_master(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        out.push(Action::AddVips);
        self.announce(self.config.announce().initial, out);
        self.state = State::Master;
        self.held = false;
        self.pending = None;
        self.timers.gate = None;
        self.heard = None;
        self.followed.clear();
        self.preempt_since = None;
        // Becoming Master has just announced. A lower Master heard within the next
        // Master_Down_Interval is the old Master's yield advert after a takeover or a
        // preemption, not a healed split brain: no second burst, no re-assertion event.
        self.last_reannounce = Some(Stamp::new(now));
        if let Some(episodes) = self.episodes.as_deref_mut() {
            episodes.lower_heard = None;
        }
        self.master_adver_interval = self.config.advert_interval;
        let schedule = self.config.announce();
        self.timers = Default::default();
        self.timers.advert = Some(Stamp::new(self.next_advert_after(now)));
        self.timers.announce =
            (schedule.repeat > 0).then(|| Stamp::new(later(now, schedule.repeat_after)));
        self.timers.refresh = refresh_deadline(&schedule, now).map(Stamp::new);
        self.notify(from, reason, Some(self.config.primary_addr), out);
        // After the notification: a lease that has run out already ends this mastership
        // at once, and its transition must come second.
        self.arm_lease(self.lease_deadline(), now, out);
    }
}
