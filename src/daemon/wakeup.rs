//! When a router task wakes up for its next deadline.
//!
//! tokio's timers tick in whole milliseconds and round a deadline up to the next tick, which
//! made every takeover about a millisecond late (measured: Master_Down_Interval + 1.2 to
//! 1.8 ms, where keepalived is within 0.2 ms). A timerfd armed with the exact time wakes the
//! task within microseconds of the RFC deadline; one timerfd serves every router
//! ([`shared`]), so a deadline that moves later costs no system call.
//!
//! A Master's advert timer alone may be served late, on a shared grid ([`advert_grid`]):
//! every instance's advert deadline is rounded up to the same instants, so one expiry and
//! one wake-up of the thread serve all of them, and the Backups receive them together too.
//! Each advert deadline is counted from the previous deadline (not from when it was served),
//! and the grid step divides every advert interval (whole centiseconds), so the rounding
//! shifts an instance's adverts by a constant below one step and never changes the interval
//! between two of them (RFC 9568 §6.4.3). The step is at most a fifth of the interval:
//! served up to a step late, the next deadline must still be well ahead, or a wake-up a
//! little later than that finds it passed and the router counts the next advert from then,
//! a skipped advert (a 10 ms step at 10 ms adverts did that: a 40.8 ms gap in a 10-minute
//! run, over the 36.1 ms Master_Down_Interval). A Backup's Master_Down timer, and every
//! other timer, stays exact. A router that has no task waiting leaves its deadline to the
//! shared timer as a call on its cell ([`Wakeup::call_at`]); a Master's adverts are always
//! served that way.

mod shared;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::time::{Instant as TokioInstant, Sleep, sleep_until};

pub use shared::{Expiry, SharedTimer, Slot, before_park, last_stall};

/// The grid step of a Master's advert timer for adverts every `interval`: the largest of
/// 10, 5, 2 and 1 ms (each divides a centisecond, so every interval) that is at most a fifth
/// of the interval. Instances with the same interval share grid points; 2 and 5 ms grids
/// meet every 10 ms.
pub fn advert_grid(interval: Duration) -> Duration {
    [10, 5, 2]
        .into_iter()
        .map(Duration::from_millis)
        .find(|step| *step * 5 <= interval)
        .unwrap_or(Duration::from_millis(1))
}

/// How exactly a deadline must be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slack {
    /// At the deadline (Master_Down, gates, leases, announcements).
    Exact,
    /// At the next point of a grid of this step from the deadline on (a Master's next
    /// advert; see [`advert_grid`]).
    Grid(Duration),
}

/// How a router task waits for its next deadline.
pub enum Wakeup {
    /// tokio's timer: millisecond ticks, but follows tokio's paused clock in tests. Holds
    /// the sleep of the wait in progress, moved rather than made anew.
    Tokio(Option<Pin<Box<Sleep>>>),
    /// The daemon's shared timerfd: exact.
    Precise(Slot),
}

impl Wakeup {
    /// A precise wakeup in `timer`, or tokio's if the daemon has no timerfd.
    pub fn precise(timer: Option<&SharedTimer>) -> Wakeup {
        timer.map_or_else(Wakeup::tokio, |t| Wakeup::Precise(t.slot()))
    }

    /// A wakeup on tokio's timer.
    pub fn tokio() -> Wakeup {
        Wakeup::Tokio(None)
    }

    /// The runtime a task waiting on this wakeup runs on: the shared timer's, whichever
    /// thread asks; on tokio's timer, the caller's (a task on it is started once, when
    /// its router is installed, from inside the runtime).
    pub fn runtime(&self) -> Handle {
        match self {
            Wakeup::Tokio(_) => Handle::current(),
            Wakeup::Precise(slot) => slot.runtime().clone(),
        }
    }

    /// Whether a deadline can be left to call its owner ([`Wakeup::call_at`]): then a
    /// router needs no task while it waits.
    pub fn calls_owners(&self) -> bool {
        matches!(self, Wakeup::Precise(_))
    }

    /// Returns at `deadline` (at once if it has passed), or with [`Slack::Grid`] at the
    /// next grid point from it on; never, for `None`. Router tasks poll
    /// ([`Wakeup::poll_until`]); the tests wait with this.
    #[cfg(test)]
    pub async fn until(&mut self, deadline: Option<Instant>, slack: Slack) {
        std::future::poll_fn(|cx| self.poll_until(cx, deadline, slack)).await;
    }

    /// [`Wakeup::until`] as a poll: ready once `deadline` (kept as `slack` says) has come;
    /// until then the task of `cx` is woken when it comes.
    pub fn poll_until(
        &mut self,
        cx: &mut Context<'_>,
        deadline: Option<Instant>,
        slack: Slack,
    ) -> Poll<()> {
        let Some(deadline) = deadline else {
            match self {
                Wakeup::Tokio(sleep) => *sleep = None,
                Wakeup::Precise(slot) => slot.clear(),
            }
            return Poll::Pending;
        };
        match self {
            Wakeup::Tokio(sleep) => {
                let at = TokioInstant::from_std(deadline);
                match sleep {
                    Some(s) if s.deadline() == at => {}
                    Some(s) => s.as_mut().reset(at),
                    None => *sleep = Some(Box::pin(sleep_until(at))),
                }
                sleep
                    .as_mut()
                    .map_or(Poll::Pending, |s| s.as_mut().poll(cx))
            }
            Wakeup::Precise(slot) => {
                let at = kept_at(slot, deadline, slack);
                slot.poll_until(cx, at)
            }
        }
    }

    /// Has the shared timer call `owner` when `deadline` comes (kept as `slack` says),
    /// instead of waking the task, after the routine sockets were read if `after_reads`
    /// (see [`Slot::call_at`]). Returns `false`, having done nothing, where it cannot: on
    /// tokio's timer, or once the deadline has come (the task acts on it now).
    pub fn call_at(
        &mut self,
        deadline: Instant,
        slack: Slack,
        after_reads: bool,
        owner: impl FnOnce() -> std::sync::Weak<dyn Expiry>,
    ) -> bool {
        let Wakeup::Precise(slot) = self else {
            return false;
        };
        let at = kept_at(slot, deadline, slack);
        if Instant::now() >= at {
            return false;
        }
        slot.call_at(at, owner(), after_reads);
        true
    }

    /// The deadline moved while its task was not polling (a receive loop handed the router
    /// an advert): the shared timer moves the wait itself, keeping the task asleep, which is
    /// what a Backup needs for every advert it hears. Returns whether the task must be woken
    /// to wait afresh instead (tokio's timer, or no wait in the shared timer to move).
    /// `next_move` is how soon the deadline will move again if all goes well, when that is
    /// known (a Backup's next advert; see [`Slot::reschedule`]); `now`, the time the router
    /// moved it at.
    #[must_use]
    pub fn moved(
        &mut self,
        deadline: Option<Instant>,
        slack: Slack,
        next_move: Option<Duration>,
        now: Instant,
    ) -> bool {
        match (self, deadline) {
            (Wakeup::Precise(slot), None) => {
                slot.clear();
                false
            }
            (Wakeup::Precise(slot), Some(deadline)) => {
                let at = kept_at(slot, deadline, slack);
                slot.reschedule(at, next_move, now)
            }
            (Wakeup::Tokio(..), _) => true,
        }
    }
}

/// When the shared timer serves `deadline`, kept as `slack` says.
fn kept_at(slot: &Slot, deadline: Instant, slack: Slack) -> Instant {
    match slack {
        Slack::Grid(step) => slot.grid_point(deadline, step),
        Slack::Exact => deadline,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn precise_wakeup_is_on_time_and_handles_past_and_cancelled_deadlines() {
        let timer = SharedTimer::start().unwrap();
        let mut w = Wakeup::precise(Some(&timer));
        assert!(matches!(w, Wakeup::Precise(..)));
        let deadline = Instant::now() + Duration::from_millis(20);
        w.until(Some(deadline), Slack::Exact).await;
        let late = Instant::now().duration_since(deadline);
        assert!(Instant::now() >= deadline);
        // Generous: a loaded machine may schedule late, but never early.
        assert!(late < Duration::from_millis(50), "{late:?}");
        // A past deadline returns at once.
        w.until(
            Some(Instant::now() - Duration::from_millis(1)),
            Slack::Exact,
        )
        .await;
        // A cancelled wait that expired later does not end the next one early.
        let _ = tokio::time::timeout(
            Duration::from_millis(5),
            w.until(
                Some(Instant::now() + Duration::from_millis(10)),
                Slack::Exact,
            ),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(15)).await;
        let deadline = Instant::now() + Duration::from_millis(30);
        w.until(Some(deadline), Slack::Exact).await;
        assert!(Instant::now() >= deadline);
    }

    #[tokio::test]
    async fn a_cancelled_wait_does_not_disturb_later_and_earlier_deadlines() {
        let timer = SharedTimer::start().unwrap();
        let mut w = Wakeup::precise(Some(&timer));
        // Armed for 20 ms, then cancelled: the timer stays armed for 20 ms.
        let _ = tokio::time::timeout(
            Duration::from_millis(2),
            w.until(
                Some(Instant::now() + Duration::from_millis(20)),
                Slack::Exact,
            ),
        )
        .await;
        // A later deadline (a Backup hearing an advert): the early expiry must not end it.
        let later = Instant::now() + Duration::from_millis(40);
        w.until(Some(later), Slack::Exact).await;
        assert!(Instant::now() >= later);
        // Armed for 200 ms and cancelled; an earlier deadline must not wait for it.
        let _ = tokio::time::timeout(
            Duration::from_millis(2),
            w.until(
                Some(Instant::now() + Duration::from_millis(200)),
                Slack::Exact,
            ),
        )
        .await;
        let sooner = Instant::now() + Duration::from_millis(10);
        w.until(Some(sooner), Slack::Exact).await;
        let late = Instant::now().duration_since(sooner);
        // Generous for a loaded machine, and far below the 190 ms of a missed re-arm.
        assert!(late < Duration::from_millis(100), "{late:?}");
    }

    #[test]
    fn advert_grids_divide_every_interval_and_leave_five_steps_per_advert() {
        let ms = Duration::from_millis;
        assert_eq!(advert_grid(ms(10)), ms(2));
        assert_eq!(advert_grid(ms(30)), ms(5));
        assert_eq!(advert_grid(ms(100)), ms(10));
        assert_eq!(advert_grid(ms(1)), ms(1));
    }

    #[tokio::test]
    async fn a_grid_deadline_is_served_at_its_grid_point() {
        let timer = SharedTimer::start().unwrap();
        let mut w = Wakeup::precise(Some(&timer));
        let step = Duration::from_millis(10);
        let first = Instant::now() + Duration::from_millis(15);
        let Wakeup::Precise(slot) = &w else {
            unreachable!()
        };
        let point = slot.grid_point(first, step);
        assert!(point >= first && point - first < step);
        w.until(Some(first), Slack::Grid(step)).await;
        assert!(Instant::now() >= point);
    }
}
