//! Late reads, as the daemon reads a Backup's socket: an advert other than a resignation, from
//! the Master a router follows while it reads late (`late_source()`), waits unread until just
//! before that router's next input of any kind (its deadline's timer among them), and then
//! goes in dated by its arrival. Resignations, adverts from anyone else, and everything to a
//! router that does not read late, go in at once.
//!
//! A crash drops what was unread with the process. A frozen node's arrivals take the backlog
//! path as before; what it had left unread before the freeze goes in first when it resumes,
//! as the daemon reads its socket before its overdue deadline.

use std::time::Duration;

use vipd::vrrp::router::{Advert, Input};

use super::Sim;

/// How adverts reach the routers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reads {
    /// Each as it arrives.
    #[default]
    AtOnce,
    /// Late where the router allows it, dated by arrival.
    Late,
    /// Late, but dated by the reading: a driver that ignores the kernel's receive stamp
    /// (a mutant, to prove the equivalence property catches it).
    LateDatedWhenRead,
    /// Late, but the timer handled before the adverts that arrived ahead of it (a mutant).
    LateAfterTimer,
}

impl Sim {
    /// Node `i`'s router gets `input` now, unless it is a routine advert it reads later.
    pub(super) fn read(&mut self, i: usize, input: Input) {
        if let Input::Advert(advert) = input
            && self.reads != Reads::AtOnce
            && advert.priority != 0
            && self.nodes[i].router.late_source() == Some(advert.from)
        {
            self.nodes[i].unread.push_back((self.now, advert));
            return;
        }
        let timer_first = self.reads == Reads::LateAfterTimer && input == Input::Timer;
        if !timer_first {
            self.flush(i);
        }
        let deadline = self.nodes[i].router.next_deadline();
        let at = match deadline {
            Some(d) if self.timer_dated_by_deadline && input == Input::Timer => {
                d.saturating_duration_since(self.t0).min(self.now)
            }
            _ => self.now,
        };
        self.hand(i, at, input);
        if timer_first {
            self.flush(i);
        }
    }

    /// Hands node `i`'s router every advert it left unread, in order of arrival.
    pub(super) fn flush(&mut self, i: usize) {
        while let Some((arrived, advert)) = self.nodes[i].unread.pop_front() {
            let at = match self.reads {
                Reads::LateDatedWhenRead => self.now,
                _ => arrived,
            };
            self.read_late += 1;
            self.hand(i, at, Input::Advert(advert));
        }
    }

    /// Node `i`'s router deadline has come (or passed, for a node resuming): the socket is
    /// read first, and the timer goes in only if the deadline still stands after that.
    pub(super) fn router_timer(&mut self, i: usize) {
        if self.reads != Reads::LateAfterTimer {
            self.flush(i);
        }
        let now = self.t0 + self.now;
        if self.nodes[i]
            .router
            .next_deadline()
            .is_some_and(|t| t <= now)
        {
            self.input(i, Input::Timer);
        }
    }

    /// How many adverts node `i` holds unread now.
    pub fn unread(&self, i: usize) -> usize {
        self.nodes[i].unread.len()
    }

    /// When node `i`'s master-down timer fires, as its router has it now (unread adverts
    /// not counted).
    pub fn master_down_at(&self, i: usize) -> Option<Duration> {
        let at = self.nodes[i].router.master_down_deadline()?;
        Some(at.saturating_duration_since(self.t0))
    }
}

/// An advert waiting in a node's socket, with its arrival time.
pub(super) type Unread = (Duration, Advert);
