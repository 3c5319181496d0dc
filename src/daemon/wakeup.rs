//! When a router task wakes up for its next deadline.
//!
//! tokio's timers tick in whole milliseconds and round a deadline up to the next tick, which
//! made every takeover about a millisecond late (measured: Master_Down_Interval + 1.2 to
//! 1.8 ms, where keepalived is within 0.2 ms). A timerfd armed with the exact remaining time
//! wakes the task within microseconds of the RFC deadline.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Instant;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::{Instant as TokioInstant, sleep_until};

/// How a router task waits for its next deadline.
pub enum Wakeup {
    /// tokio's timer: millisecond ticks, but follows tokio's paused clock in tests.
    Tokio,
    /// A timerfd on CLOCK_MONOTONIC (the clock of `std::time::Instant`): exact. The flag
    /// says a wait was cancelled while the timer was armed, so an expiry may be pending.
    Precise(AsyncFd<Fd>, bool),
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
            Ok(fd) => Wakeup::Precise(fd, false),
            Err(e) => {
                tracing::warn!(error = %e, "no timerfd: timers fall back to millisecond precision");
                Wakeup::Tokio
            }
        }
    }

    /// Returns at `deadline` (at once if it has passed); never, for `None`.
    pub async fn until(&mut self, deadline: Option<Instant>) {
        let Some(deadline) = deadline else {
            return std::future::pending().await;
        };
        match self {
            Wakeup::Tokio => sleep_until(TokioInstant::from_std(deadline)).await,
            Wakeup::Precise(fd, armed) => {
                let now = Instant::now();
                if deadline <= now {
                    return;
                }
                let timer = &fd.get_ref().0;
                if *armed {
                    // An expiry left unread by a cancelled wait must not end this one.
                    let _ = timer.wait();
                }
                let left = TimeSpec::from_duration(deadline - now);
                if timer
                    .set(Expiration::OneShot(left), TimerSetTimeFlags::empty())
                    .is_err()
                {
                    return sleep_until(TokioInstant::from_std(deadline)).await;
                }
                // Until the read below succeeds, a cancellation leaves the timer armed.
                *armed = true;
                loop {
                    let Ok(mut guard) = fd.readable().await else {
                        return sleep_until(TokioInstant::from_std(deadline)).await;
                    };
                    // `wait` reads the expiry count; EAGAIN means a spurious wakeup.
                    match guard.try_io(|inner| inner.get_ref().0.wait().map_err(io::Error::from)) {
                        Ok(_) => {
                            // The count is read, so the fd is not readable now: saying so
                            // saves the next wait a poll that would find nothing.
                            guard.clear_ready();
                            *armed = false;
                            return;
                        }
                        Err(_would_block) => continue,
                    }
                }
            }
        }
    }
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
        w.until(Some(deadline)).await;
        let late = Instant::now().duration_since(deadline);
        assert!(Instant::now() >= deadline);
        // Generous: a loaded machine may schedule late, but never early.
        assert!(late < Duration::from_millis(50), "{late:?}");
        // A past deadline returns at once.
        w.until(Some(Instant::now() - Duration::from_millis(1)))
            .await;
        // A cancelled wait that expired later does not end the next one early.
        let _ = tokio::time::timeout(
            Duration::from_millis(5),
            w.until(Some(Instant::now() + Duration::from_millis(10))),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(15)).await;
        let deadline = Instant::now() + Duration::from_millis(30);
        w.until(Some(deadline)).await;
        assert!(Instant::now() >= deadline);
    }
}
