//! The arbiter's lease as a Master lives with it: held until a deadline by this node's own
//! clock, which the keeper moves on with every renewal. A Master leaves at that deadline
//! unless a renewal moved it, and at once when the keeper says the key is gone. With
//! `on_store_loss: keep`, a Master that cannot reach the store keeps its addresses while
//! VRRP is healthy; the keeper gets the key back, or says it is lost, once the store answers.

use crate::vrrp::stamp::Stamp;
use std::time::Instant;

use super::{Action, Reason, Router};
use crate::arbiter::{LeaseView, StoreLoss};
use crate::vrrp::State;

impl Router {
    pub(super) fn lease_view(&mut self, now: Instant, view: LeaseView, out: &mut Vec<Action>) {
        let Some(policy) = self.config.arbiter else {
            return;
        };
        match view {
            LeaseView::Held { until } => {
                self.lease_until = Some(Stamp::new(until));
                self.lease_unproven = false;
                if self.state == State::Master {
                    self.arm_lease(Some(until), now, out);
                }
            }
            LeaseView::Unreachable { .. } => {
                if policy == StoreLoss::Keep {
                    self.lease_unproven = true;
                    self.timers.lease = None;
                }
            }
            LeaseView::Lost { detail } => {
                self.lease_until = None;
                self.lease_unproven = false;
                if self.state == State::Master {
                    self.leave_for_lease(now, detail, out);
                }
            }
        }
    }

    /// Arms a Master's lease deadline. One that has passed already (a renewal delivered
    /// late, queued while the process was frozen) runs out at once, as its timer would,
    /// rather than be left armed in the past.
    pub(super) fn arm_lease(
        &mut self,
        until: Option<Instant>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        self.timers.lease = until.map(Stamp::new);
        if until.is_some_and(|until| until <= now) {
            self.lease_expired(now, out);
        }
    }

    /// The lease deadline passed with no renewal that moved it.
    pub(super) fn lease_expired(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.timers.lease = None;
        if self.state == State::Master && self.config.arbiter == Some(StoreLoss::Keep) {
            // A renewal still unanswered at the deadline is a store that cannot be reached:
            // its failure may come later (every endpoint is given the request timeout, and
            // a silently dropped request uses all of it). Under `keep` only the store saying
            // the key is gone ends mastership.
            self.lease_unproven = true;
            return;
        }
        if self.state == State::Master {
            let detail = "not renewed in time: it ran out by this node's clock (margin included)";
            self.leave_for_lease(now, detail.into(), out);
        }
    }

    /// Whether a Master yields to another Master's advert. Without an arbiter, by priority
    /// (RFC 9568 §6.4.3). With one, the lease decides, as it does every takeover: a Master
    /// whose lease is proven stays (the other is a node that has not yet learned it lost
    /// the key, such as one just thawed from a freeze) and answers it; one whose lease is
    /// not proven (`keep` while the store is unreachable) yields to any other Master, which
    /// can only have become one by a grant.
    pub(super) fn yields_to(&self, now: Instant, advert: &super::Advert) -> bool {
        match self.config.arbiter {
            None => self.loses_to(advert),
            Some(_) => !self.lease_proven(now),
        }
    }

    /// Whether the keeper has proven the lease ours past `now` (or, with `keep`, the store
    /// is unreachable and the lease was ours).
    pub(super) fn lease_proven(&self, now: Instant) -> bool {
        self.lease_until.is_some_and(|t| t.get() > now)
    }

    /// The Master deadline to arm on becoming Master.
    pub(super) fn lease_deadline(&self) -> Option<Instant> {
        if self.config.arbiter.is_none() || self.lease_unproven {
            return None;
        }
        self.lease_until.map(Stamp::get)
    }

    /// Priority 0 first, so a peer the store grants takes over within Skew_Time.
    fn leave_for_lease(&mut self, now: Instant, detail: String, out: &mut Vec<Action>) {
        self.release(0, out);
        self.enter_backup(now, Reason::LeaseLost { detail }, None, out);
    }
}
