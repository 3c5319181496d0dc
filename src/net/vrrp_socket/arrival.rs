//! When a datagram arrived, by the monotonic clock the routers keep time with.
//!
//! The kernel stamps each datagram as it is received (`SO_TIMESTAMPNS`), by the wall clock.
//! A Backup that reads its Master's adverts at its deadline rather than as they come must
//! judge each by when it arrived, not by when it was read: read late and stamped with the
//! reading time, an advert would push Master_Down later than the Master's silence allows.
//!
//! The wall clock can be stepped. A stamp is trusted only within what is certain anyway:
//! a datagram arrived after the socket was last found empty (`floor`) and before now; and
//! when the wall clock moved against the monotonic one since the thread's last read, the stamps of
//! this read are not trusted at all and the reading time stands (later, never earlier: a
//! deadline moves later, never towards a false takeover).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How far the two clocks may drift apart between two reads before a step is assumed:
/// slewing moves them by at most 0.5 ms a second.
const STEP: Duration = Duration::from_millis(2);

thread_local! {
    /// The wall clock less the monotonic one at the thread's last read, in nanoseconds.
    static OFFSET: Cell<Option<i128>> = const { Cell::new(None) };
}

/// The clocks as one read found them.
#[derive(Clone, Copy, Debug)]
pub(super) struct ArrivalClock {
    now: Instant,
    wall_ns: i128,
    floor: Instant,
    trusted: bool,
}

impl ArrivalClock {
    /// Reads both clocks for datagrams queued since `floor`.
    pub(super) fn read(floor: Instant) -> Self {
        let now = Instant::now();
        let wall_ns = clock_ns(libc::CLOCK_REALTIME);
        // Read back to back with `now`: tens of nanoseconds apart.
        let offset = wall_ns - clock_ns(libc::CLOCK_MONOTONIC);
        let before = OFFSET.replace(Some(offset));
        let trusted = before.is_none_or(|b| (offset - b).unsigned_abs() <= STEP.as_nanos());
        ArrivalClock {
            now,
            wall_ns,
            floor: floor.min(now),
            trusted,
        }
    }

    /// When a datagram stamped `stamp` (the wall clock, in nanoseconds) arrived; the reading
    /// time when it carries no stamp or the stamps are not trusted.
    pub(super) fn arrival(&self, stamp: Option<i128>) -> Instant {
        match stamp {
            Some(stamp) if self.trusted => arrival_of(self.now, self.wall_ns, self.floor, stamp),
            _ => self.now,
        }
    }
}

/// `now` less the stamp's age by the wall clock, kept within `[floor, now]`.
fn arrival_of(now: Instant, wall_now_ns: i128, floor: Instant, stamp_ns: i128) -> Instant {
    let age = u64::try_from(wall_now_ns - stamp_ns).unwrap_or(0);
    now.checked_sub(Duration::from_nanos(age))
        .unwrap_or(floor)
        .clamp(floor, now)
}

/// A `timespec` of the wall clock, in nanoseconds.
pub(super) fn timespec_ns(t: &libc::timespec) -> i128 {
    i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
}

/// A clock's time now, in nanoseconds.
fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write, and both clocks used here always exist.
    unsafe { libc::clock_gettime(clock, &mut t) };
    timespec_ns(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i128 = 1_000_000;

    #[test]
    fn a_stamp_dates_the_arrival_back_by_its_age() {
        let now = Instant::now();
        let floor = now - Duration::from_millis(50);
        let at = arrival_of(now, 1_000 * MS, floor, 970 * MS);
        assert_eq!(now - at, Duration::from_millis(30));
    }

    #[test]
    fn a_stamp_outside_the_window_is_kept_within_it() {
        let now = Instant::now();
        let floor = now - Duration::from_millis(50);
        // Older than the last time the queue was found empty: it cannot be.
        assert_eq!(arrival_of(now, 1_000 * MS, floor, 100 * MS), floor);
        // From the future: a wall clock stepped back.
        assert_eq!(arrival_of(now, 1_000 * MS, floor, 2_000 * MS), now);
    }

    #[test]
    fn a_wall_clock_step_between_reads_distrusts_the_stamps() {
        let floor = Instant::now();
        OFFSET.set(None);
        let first = ArrivalClock::read(floor);
        assert!(first.trusted, "nothing to compare the first read with");
        let second = ArrivalClock::read(floor);
        assert!(second.trusted, "no step between two reads");
        OFFSET.set(OFFSET.get().map(|o| o + 10 * MS));
        let stepped = ArrivalClock::read(floor);
        assert!(!stepped.trusted);
        assert_eq!(stepped.arrival(Some(0)), stepped.now);
        assert_eq!(stepped.arrival(None), stepped.now);
    }
}
