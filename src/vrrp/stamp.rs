//! An `Instant` in eight bytes, for the times a router keeps.
//!
//! Every instance's router sits in one allocation with its I/O, and a router keeps a dozen
//! times (its timers, when it last heard its Master, when it entered Backup). An
//! `Option<Instant>` is 16 bytes; a [`Stamp`] and an `Option<Stamp>` are 8, which keeps the
//! router's allocation a whole jemalloc size class (128 bytes) smaller.

use std::fmt;
use std::num::NonZeroI64;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// An instant, as signed nanoseconds from a base fixed for the life of the process: exact,
/// and ordered as the instant is, for 292 years either side of the base. Zero is not a
/// value (so `Option<Stamp>` is eight bytes): offsets from 0 on are stored one higher.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp(NonZeroI64);

/// The base: the first instant any stamp was made from or of.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// `d` in nanoseconds, saturating: an instant 292 years away is not one a router keeps
/// (its farthest, a timer armed "forever", is 30 years off).
fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX - 1)
}

impl Stamp {
    /// The stamp of `at`.
    pub fn new(at: Instant) -> Stamp {
        let base = base();
        Stamp::from_offset(match at.checked_duration_since(base) {
            Some(after) => nanos(after),
            None => -nanos(base - at),
        })
    }

    /// `d` after this stamp, to the nanosecond. A router works its deadlines out from one
    /// stamp of the input's time: `Instant` arithmetic and a conversion for each of them
    /// cost a heard advert about a hundred instructions more.
    pub fn later(self, d: Duration) -> Stamp {
        Stamp::from_offset(self.offset().saturating_add(nanos(d)))
    }

    /// How long after `earlier` this is; zero if it is not after it.
    pub fn since(self, earlier: Stamp) -> Duration {
        let apart = self.offset().saturating_sub(earlier.offset());
        Duration::from_nanos(u64::try_from(apart).unwrap_or(0))
    }

    /// Nanoseconds from the base, negative before it.
    fn offset(self) -> i64 {
        let stored = self.0.get();
        if stored > 0 { stored - 1 } else { stored }
    }

    /// The stamp `offset` nanoseconds from the base. Never zero: 1 and up from the base on,
    /// -1 and down before it.
    fn from_offset(offset: i64) -> Stamp {
        let stored = if offset >= 0 {
            offset.saturating_add(1)
        } else {
            offset
        };
        Stamp(NonZeroI64::new(stored).unwrap_or(NonZeroI64::MIN))
    }

    /// The instant it stands for.
    pub fn get(self) -> Instant {
        let offset = self.offset();
        if offset >= 0 {
            base() + Duration::from_nanos(offset.unsigned_abs())
        } else {
            base() - Duration::from_nanos(offset.unsigned_abs())
        }
    }
}

impl From<Instant> for Stamp {
    fn from(at: Instant) -> Stamp {
        Stamp::new(at)
    }
}

impl fmt::Debug for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_exact_and_ordered_on_both_sides_of_the_base() {
        let base = base();
        let ns = Duration::from_nanos;
        // Instants before the base, built from it (CLOCK_MONOTONIC has run far longer).
        let before = |d| base.checked_sub(d).expect("the clock ran before the base");
        let around = [
            before(ns(1_500)),
            before(ns(1)),
            base,
            base + ns(1),
            base + ns(2),
            base + Duration::from_secs(30 * 365 * 24 * 3600),
        ];
        for pair in around.windows(2) {
            let (a, b) = (Stamp::new(pair[0]), Stamp::new(pair[1]));
            assert_eq!(a.get(), pair[0]);
            assert_eq!(b.get(), pair[1]);
            assert_eq!(a.cmp(&b), pair[0].cmp(&pair[1]), "{pair:?}");
        }
        assert_eq!(size_of::<Option<Stamp>>(), 8);
    }

    #[test]
    fn later_and_since_agree_with_instant_arithmetic_across_the_base() {
        let base = base();
        let ns = Duration::from_nanos;
        let starts = [
            base.checked_sub(ns(2_000))
                .expect("the clock ran before the base"),
            base.checked_sub(ns(1))
                .expect("the clock ran before the base"),
            base,
            base + ns(7),
        ];
        for start in starts {
            for d in [
                ns(0),
                ns(1),
                ns(1_999),
                ns(2_000),
                ns(2_001),
                Duration::from_millis(36),
            ] {
                let from = Stamp::new(start);
                assert_eq!(from.later(d), Stamp::new(start + d), "{start:?} + {d:?}");
                assert_eq!(from.later(d).get(), start + d);
                assert_eq!(from.later(d).since(from), d);
                assert_eq!(from.since(from.later(d)), Duration::ZERO, "never negative");
            }
        }
        // An unreachable instant saturates instead of wrapping around to the past.
        let far = Stamp::new(base).later(Duration::MAX);
        assert!(far > Stamp::new(base + Duration::from_secs(30 * 365 * 24 * 3600)));
    }
}
