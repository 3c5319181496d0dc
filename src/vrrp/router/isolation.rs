//! The isolation guard: a Backup whose every channel went silent first asks whether it can
//! still reach the outside, and an isolated node waits in FAULT, asking again every
//! Master_Down_Interval, instead of grabbing the addresses.
//!
//! Only silence is questioned. A resigning Master (priority 0) or a lower-priority Master we
//! preempt was *heard*, which already proves the channel works.

use std::time::Instant;

use super::api::ISOLATION_FAULT;
use super::timers::{DownTimer, next_periodic};
use super::{Action, Reason, Router};
use crate::vrrp::State;

/// A takeover held back until the isolation check answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PendingTakeover {
    /// The reason the takeover would have given, used as is if the check passes.
    pub reason: Reason,
    /// The master-down timer that fired. A lower-priority advert arriving during the wait
    /// resumes it, so the takeover becomes the preemption it would have been had the
    /// advert come a moment earlier.
    pub down: DownTimer,
}

impl Router {
    /// Called when the master-down timer fired for `reason`: gives the reason back if the
    /// takeover may go ahead now, or asks for an isolation check and holds it.
    pub(super) fn guard_takeover(
        &mut self,
        down: DownTimer,
        reason: Reason,
        out: &mut Vec<Action>,
    ) -> Option<Reason> {
        if !self.config.isolation_guard || !matches!(reason, Reason::MasterDown { .. }) {
            return Some(reason);
        }
        // No timer while waiting: the answer, an advert or a control input moves us on.
        self.timers.down = None;
        self.pending = Some(PendingTakeover { reason, down });
        out.push(Action::CheckIsolation);
        None
    }

    pub(super) fn isolation(
        &mut self,
        now: Instant,
        reachable: bool,
        detail: String,
        out: &mut Vec<Action>,
    ) {
        match self.state {
            State::Backup => {
                // A late answer to a wait an advert or drain already ended is ignored.
                let Some(pending) = self.pending.take() else {
                    return;
                };
                if reachable {
                    self.become_master(now, pending.reason, out);
                } else {
                    self.isolate(now, detail, out);
                }
            }
            State::Fault if reachable && self.faults.contains(ISOLATION_FAULT) => {
                self.timers.isolation = None;
                self.fault(now, ISOLATION_FAULT.to_owned(), false, out);
            }
            _ => {}
        }
    }

    /// The isolation re-check timer fired: ask again, and again one interval later.
    pub(super) fn recheck_isolation(
        &mut self,
        deadline: Instant,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::CheckIsolation);
        let period = self.own_master_down_interval();
        self.timers.isolation = Some(next_periodic(deadline, period, now));
    }

    /// Backup to FAULT because the isolation check failed. A Backup has no other fault, so
    /// this one alone holds the router in FAULT, until a re-check passes.
    fn isolate(&mut self, now: Instant, detail: String, out: &mut Vec<Action>) {
        self.faults.insert(ISOLATION_FAULT.to_owned());
        self.enter_fault(Reason::Isolated { detail }, out);
        self.timers.isolation = Some(now + self.own_master_down_interval());
    }
}
