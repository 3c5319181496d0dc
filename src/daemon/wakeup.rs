//! When a router task wakes up for its next deadline.
//!
//! tokio's timers tick in whole milliseconds and round a deadline up to the next tick, which
//! made every takeover about a millisecond late (measured: Master_Down_Interval + 1.2 to
//! 1.8 ms, where keepalived is within 0.2 ms). A timerfd armed with the exact remaining time
//! wakes the task within microseconds of the RFC deadline.
//!
//! The timer is set only when the time it must fire changes, and never read before it is
//! set: `timerfd_settime` discards an expiry not yet read. A Backup's Master_Down timer moves
//! with every advert it hears (RFC 9568 §6.4.2), and reading the old expiry first cost a
//! system call per advert. (Leaving the timer armed for the earlier time instead, to be
//! re-armed when it fires, measured worse: a wake-up of the thread costs more than the
//! `timerfd_settime` it saves.)
//!
//! A Master's advert timer alone may be served late, on a shared grid ([`advert_grid`]):
//! every instance's advert deadline is rounded up to the same instants, so the kernel
//! expires their timers together and one wake-up of the thread serves all of them, and
//! the Backups receive them together too. Each advert deadline is counted from the previous
//! deadline (not from when it was served), and the grid step divides every advert interval
//! (whole centiseconds), so the rounding shifts an instance's adverts by a constant below one
//! step and never changes the interval between two of them (RFC 9568 §6.4.3). The step is
//! at most a fifth of the interval: served up to a step late, the next deadline must still be
//! well ahead, or a wake-up a little later than that finds it passed and the router counts
//! the next advert from then, a skipped advert (a 10 ms step at 10 ms adverts did that: a
//! 40.8 ms gap in a 10-minute run, over the 36.1 ms Master_Down_Interval). A Backup's
//! Master_Down timer, and every other timer, stays exact.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::{Instant as TokioInstant, sleep_until};

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
    /// tokio's timer: millisecond ticks, but follows tokio's paused clock in tests.
    Tokio,
    /// A timerfd on CLOCK_MONOTONIC (the clock of `std::time::Instant`): exact. The time
    /// is when the armed timer expires, if it is armed and its expiry has not been read.
    Precise(AsyncFd<Fd>, Option<Instant>),
}

/// A timerfd that tokio can poll.
pub struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Wakeup {
    /// A precise wakeup, or tokio's if no timerfd can be had (then it says so once).
    pub fn precise() -> Wakeup {
        let made = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)
        .and_then(|fd| {
            // SAFETY: `Fd` owns the timerfd, keeps it open until it is dropped together with
            // the `AsyncFd`, and always returns that same descriptor.
            unsafe { AsyncFd::register_with_interest(Fd(fd), Interest::READABLE) }
                .map_err(|e| e.into_parts().1)
        });
        match made {
            Ok(fd) => Wakeup::Precise(fd, None),
            Err(e) => {
                tracing::warn!(error = %e, "no timerfd: timers fall back to millisecond precision");
                Wakeup::Tokio
            }
        }
    }

    /// Returns at `deadline` (at once if it has passed), or with [`Slack::Grid`] at the
    /// next grid point from it on; never, for `None`.
    pub async fn until(&mut self, deadline: Option<Instant>, slack: Slack) {
        let Some(deadline) = deadline else {
            return std::future::pending().await;
        };
        match self {
            Wakeup::Tokio => sleep_until(TokioInstant::from_std(deadline)).await,
            Wakeup::Precise(fd, armed) => loop {
                let now = Instant::now();
                if deadline <= now {
                    return;
                }
                // Setting a timerfd discards an expiry not yet read; a readiness tokio still
                // holds from it is found stale below (the read would block) and cleared.
                let (expiry, flags, target) = match slack {
                    Slack::Grid(step) => {
                        match monotonic().map(|mono| grid_point(deadline, now, mono, step)) {
                            Some((abs, at)) => (abs, TimerSetTimeFlags::TFD_TIMER_ABSTIME, at),
                            None => exact(deadline, now),
                        }
                    }
                    Slack::Exact => exact(deadline, now),
                };
                if *armed != Some(target) {
                    let set = fd.get_ref().0.set(Expiration::OneShot(expiry), flags);
                    if set.is_err() {
                        *armed = None;
                        return sleep_until(TokioInstant::from_std(deadline)).await;
                    }
                    *armed = Some(target);
                }
                let Ok(mut guard) = fd.readable().await else {
                    return sleep_until(TokioInstant::from_std(deadline)).await;
                };
                // `wait` reads the expiry count; EAGAIN means the timer has not expired yet
                // (a stale readiness), so wait again. Woken early (never expected), the loop
                // arms the timer again.
                if guard
                    .try_io(|inner| inner.get_ref().0.wait().map_err(io::Error::from))
                    .is_ok()
                {
                    // The count is read, so the fd is not readable now: saying so saves the
                    // next wait a poll that would find nothing.
                    guard.clear_ready();
                    *armed = None;
                }
            },
        }
    }
}

/// A relative expiry at `deadline`.
fn exact(deadline: Instant, now: Instant) -> (TimeSpec, TimerSetTimeFlags, Instant) {
    let left = TimeSpec::from_duration(deadline - now);
    (left, TimerSetTimeFlags::empty(), deadline)
}

/// CLOCK_MONOTONIC now, the clock of `Instant` and of the timerfd.
fn monotonic() -> Option<Duration> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).ok()?;
    Some(Duration::new(
        u64::try_from(t.tv_sec()).ok()?,
        u32::try_from(t.tv_nsec()).ok()?,
    ))
}

/// The first multiple of `step` at or after `deadline`, as an absolute CLOCK_MONOTONIC time
/// (the same instant for every task that rounds to it) and as an `Instant`; `mono` is
/// CLOCK_MONOTONIC read at `now`.
fn grid_point(
    deadline: Instant,
    now: Instant,
    mono: Duration,
    step: Duration,
) -> (TimeSpec, Instant) {
    let abs = mono + deadline.saturating_duration_since(now);
    let step = step.as_nanos().max(1);
    // Nanoseconds of CLOCK_MONOTONIC fit a u64 for 584 years of uptime.
    let rounded = Duration::from_nanos((abs.as_nanos().div_ceil(step) * step) as u64);
    (TimeSpec::from_duration(rounded), now + (rounded - mono))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn precise_wakeup_is_on_time_and_handles_past_and_cancelled_deadlines() {
        let mut w = Wakeup::precise();
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
        let mut w = Wakeup::precise();
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

    #[tokio::test]
    async fn advert_deadlines_meet_on_the_grid() {
        let mut w = Wakeup::precise();
        // Two deadlines less than a grid step apart wake at the same grid point.
        let now = Instant::now();
        // CLOCK_MONOTONIC 3 ms past a grid point at `now`.
        let mono = Duration::from_millis(1_000_003);
        let step = Duration::from_millis(10);
        let (abs, a) = grid_point(now + Duration::from_millis(5), now, mono, step);
        assert_eq!((abs.tv_sec(), abs.tv_nsec()), (1000, 10_000_000));
        assert_eq!(a, now + Duration::from_millis(7));
        let (_, b) = grid_point(now + Duration::from_micros(6_999), now, mono, step);
        assert_eq!(a, b, "deadlines within one step meet");
        // A period of whole centiseconds keeps its offset to the grid.
        let (_, q) = grid_point(now + Duration::from_millis(105), now, mono, step);
        assert_eq!(q - a, Duration::from_millis(100));
        // A 2 ms grid: 1,000,008 ms is on it already.
        let (_, c) = grid_point(
            now + Duration::from_millis(5),
            now,
            mono,
            Duration::from_millis(2),
        );
        assert_eq!(c, now + Duration::from_millis(5));
        assert_eq!(
            advert_grid(Duration::from_millis(10)),
            Duration::from_millis(2)
        );
        assert_eq!(
            advert_grid(Duration::from_millis(30)),
            Duration::from_millis(5)
        );
        assert_eq!(
            advert_grid(Duration::from_millis(100)),
            Duration::from_millis(10)
        );
        assert_eq!(
            advert_grid(Duration::from_millis(1)),
            Duration::from_millis(1)
        );
        let first = Instant::now() + Duration::from_millis(15);
        w.until(Some(first), Slack::Grid(step)).await;
        assert!(Instant::now() >= first);
    }
}
