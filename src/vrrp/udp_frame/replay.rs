//! Stamping frames on the sending side and judging them against replay on the receiving
//! side. Pure: the caller passes both clocks in.
//!
//! Three things decide, none of which a single frame can poison:
//! - **Freshness, on every frame**: its time must be within the window of our wall clock,
//!   either way. A future-dated frame is refused, not remembered, so it raises no bar.
//! - **Order, within one run of the sender**: the sequence number must rise within an
//!   (origin, epoch). It is a counter, not a clock, so a sender whose clock steps keeps its
//!   order.
//! - **Restarts**: a new epoch is a new run, with an order of its own, taken at once if
//!   fresh. Runs are judged apart, so a run a key holder invents blocks no other.
//!
//! A key holder can still send a run's sequence number far ahead; the guard forgets a run
//! once nothing of it was accepted for [`forget_after`] its window, so the real sender is
//! heard again within that bound. Forgetting opens no door to replays: by then every frame of that run
//! we accepted is older than the window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{FrameReject, Stamp};

/// How long after its last accepted frame a run is forgotten, for a freshness `window`: more
/// than twice the window (the sender's clock may be a window ahead of ours, and a frame a
/// window behind), so any frame of it we accepted is stale by the time it is forgotten.
/// 121 s for the daemon's 60 s window.
pub const fn forget_after(window: Duration) -> Duration {
    window
        .saturating_mul(2)
        .saturating_add(Duration::from_secs(1))
}

/// Runs remembered per guard, the least recently heard dropped first. Only frames whose tag
/// checked reach the guard, so this bounds what a key holder inventing origins and epochs
/// can make it hold; a pair has one peer with one run.
pub const MAX_RUNS: usize = 256;

/// A sender's stamps: one random epoch per run, a counter within it, and the time.
#[derive(Clone, Debug)]
pub struct Stamper {
    epoch: u64,
    seq: u64,
}

impl Stamper {
    /// A sender whose run is `epoch` (drawn at random by the caller when it starts).
    pub fn new(epoch: u64) -> Self {
        Stamper { epoch, seq: 0 }
    }

    /// The stamp of the next frame, given the wall-clock time since the Unix epoch.
    pub fn next(&mut self, now_unix: Duration) -> Stamp {
        self.seq = self.seq.saturating_add(1);
        Stamp {
            epoch: self.epoch,
            seq: self.seq,
            time_us: micros(now_unix),
        }
    }
}

/// What the guard knows of one run of one sender.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// The highest sequence number accepted.
    highest: u64,
    /// When a frame of it was last accepted, by the monotonic clock.
    accepted_at: Instant,
}

/// The receiver's replay defence.
///
/// Call [`check`](Self::check) only on frames [`open`](super::open) accepted: origins are
/// then authenticated, so only key holders can add to the table, and it is bounded anyway.
#[derive(Clone, Debug)]
pub struct ReplayGuard {
    window: Duration,
    forget_after: Duration,
    runs: HashMap<(IpAddr, u64), Run>,
}

impl ReplayGuard {
    /// A guard accepting frames whose time is within `window` of ours.
    pub fn new(window: Duration) -> Self {
        ReplayGuard {
            window,
            forget_after: forget_after(window),
            runs: HashMap::new(),
        }
    }

    /// Judges a frame stamped `stamp` from `origin`, and remembers it if accepted.
    /// `now_unix` is our wall clock (for freshness), `now` our monotonic clock (for
    /// forgetting).
    pub fn check(
        &mut self,
        origin: IpAddr,
        stamp: Stamp,
        now_unix: Duration,
        now: Instant,
    ) -> Result<(), FrameReject> {
        let ours = micros(now_unix);
        let ahead = Duration::from_micros(stamp.time_us.saturating_sub(ours));
        if ahead > self.window {
            return Err(FrameReject::Ahead { ahead });
        }
        let age = Duration::from_micros(ours.saturating_sub(stamp.time_us));
        if age > self.window {
            return Err(FrameReject::Stale { age });
        }
        let key = (origin, stamp.epoch);
        let known = self
            .runs
            .get(&key)
            .filter(|r| now.saturating_duration_since(r.accepted_at) < self.forget_after);
        if let Some(run) = known
            && stamp.seq <= run.highest
        {
            return Err(FrameReject::Replayed {
                seq: stamp.seq,
                highest: run.highest,
            });
        }
        if !self.runs.contains_key(&key) && self.runs.len() >= MAX_RUNS {
            self.forget_oldest();
        }
        self.runs.insert(
            key,
            Run {
                highest: stamp.seq,
                accepted_at: now,
            },
        );
        Ok(())
    }

    fn forget_oldest(&mut self) {
        let oldest = self
            .runs
            .iter()
            .min_by_key(|(_, r)| r.accepted_at)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.runs.remove(&k);
        }
    }
}

fn micros(t: Duration) -> u64 {
    u64::try_from(t.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 8));
    /// 2024-01-01T00:00:00Z, a plausible "now".
    const NOW: Duration = Duration::from_secs(1_704_067_200);
    const WINDOW: Duration = Duration::from_secs(60);

    #[test]
    fn the_daemon_window_forgets_after_121_seconds() {
        assert_eq!(forget_after(WINDOW), Duration::from_secs(121));
    }

    /// Both clocks of the receiver, `after` past the start.
    struct Clock {
        t0: Instant,
    }
    impl Clock {
        fn at(&self, after: Duration) -> (Duration, Instant) {
            (NOW + after, self.t0 + after)
        }
    }

    fn stamp(epoch: u64, seq: u64, time: Duration) -> Stamp {
        Stamp {
            epoch,
            seq,
            time_us: micros(time),
        }
    }

    fn setup() -> (ReplayGuard, Clock) {
        (ReplayGuard::new(WINDOW), Clock { t0: Instant::now() })
    }

    fn check(g: &mut ReplayGuard, c: &Clock, after: Duration, s: Stamp) -> Result<(), FrameReject> {
        let (unix, mono) = c.at(after);
        g.check(A, s, unix, mono)
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn stamps_count_within_a_run_and_carry_the_time() {
        let mut st = Stamper::new(7);
        assert_eq!(st.next(NOW), stamp(7, 1, NOW));
        // The clock steps back an hour: the count goes on regardless.
        assert_eq!(st.next(NOW - 3600 * S), stamp(7, 2, NOW - 3600 * S));
    }

    #[test]
    fn a_replayed_or_reordered_frame_is_refused() {
        let (mut g, c) = setup();
        assert_eq!(check(&mut g, &c, S, stamp(1, 5, NOW + S)), Ok(()));
        let again = check(&mut g, &c, 2 * S, stamp(1, 5, NOW + S));
        assert_eq!(again, Err(FrameReject::Replayed { seq: 5, highest: 5 }));
        let older = check(&mut g, &c, 2 * S, stamp(1, 4, NOW));
        assert_eq!(older, Err(FrameReject::Replayed { seq: 4, highest: 5 }));
        assert_eq!(check(&mut g, &c, 2 * S, stamp(1, 6, NOW + 2 * S)), Ok(()));
        // Another origin is tracked apart.
        let (unix, mono) = c.at(2 * S);
        assert_eq!(g.check(B, stamp(9, 1, unix), unix, mono), Ok(()));
    }

    #[test]
    fn an_old_capture_is_stale_on_every_frame_not_only_the_first() {
        let (mut g, c) = setup();
        assert_eq!(check(&mut g, &c, S, stamp(1, 1, NOW + S)), Ok(()));
        // A frame of a run we never saw, captured two minutes ago.
        let old = check(&mut g, &c, 2 * S, stamp(2, 1, NOW - 118 * S));
        assert_eq!(old, Err(FrameReject::Stale { age: 120 * S }));
        assert_eq!(check(&mut g, &c, 2 * S, stamp(1, 2, NOW + 2 * S)), Ok(()));
    }

    #[test]
    fn a_future_dated_frame_is_refused_and_normal_frames_after_it_are_accepted() {
        let (mut g, c) = setup();
        assert_eq!(check(&mut g, &c, S, stamp(1, 1, NOW + S)), Ok(()));
        let future = check(&mut g, &c, 2 * S, stamp(1, 2, NOW + 3600 * S));
        assert_eq!(future, Err(FrameReject::Ahead { ahead: 3598 * S }));
        for n in 2..10 {
            let t = n * S;
            assert_eq!(
                check(&mut g, &c, t, stamp(1, n.into(), NOW + t)),
                Ok(()),
                "{n}"
            );
        }
        // Dated ahead but within the window: accepted, and it raises no bar either.
        assert_eq!(
            check(&mut g, &c, 10 * S, stamp(1, 10, NOW + 69 * S)),
            Ok(())
        );
        assert_eq!(
            check(&mut g, &c, 11 * S, stamp(1, 11, NOW + 11 * S)),
            Ok(())
        );
    }

    #[test]
    fn a_sender_whose_clock_steps_is_accepted_when_it_is_back_within_the_window() {
        let (mut g, c) = setup();
        assert_eq!(check(&mut g, &c, S, stamp(1, 1, NOW + S)), Ok(()));
        // Small steps either way change nothing: order is the counter's.
        assert_eq!(check(&mut g, &c, 2 * S, stamp(1, 2, NOW - 50 * S)), Ok(()));
        assert_eq!(check(&mut g, &c, 3 * S, stamp(1, 3, NOW + 55 * S)), Ok(()));
        // An hour back, then corrected: refused while wrong, accepted at once after.
        let back = check(&mut g, &c, 4 * S, stamp(1, 4, NOW - 3600 * S));
        assert!(matches!(back, Err(FrameReject::Stale { .. })), "{back:?}");
        assert_eq!(check(&mut g, &c, 5 * S, stamp(1, 5, NOW + 5 * S)), Ok(()));
        // An hour ahead, then corrected: the same.
        let ahead = check(&mut g, &c, 6 * S, stamp(1, 6, NOW + 3600 * S));
        assert!(matches!(ahead, Err(FrameReject::Ahead { .. })), "{ahead:?}");
        assert_eq!(check(&mut g, &c, 7 * S, stamp(1, 7, NOW + 7 * S)), Ok(()));
    }

    #[test]
    fn a_restarted_sender_is_accepted_and_what_we_had_of_its_old_run_stays_refused() {
        let (mut g, c) = setup();
        assert_eq!(check(&mut g, &c, S, stamp(1, 900, NOW + S)), Ok(()));
        // Restarted: a new epoch, counting from 1 again.
        assert_eq!(check(&mut g, &c, 2 * S, stamp(2, 1, NOW + 2 * S)), Ok(()));
        let replay = check(&mut g, &c, 3 * S, stamp(1, 900, NOW + S));
        assert_eq!(
            replay,
            Err(FrameReject::Replayed {
                seq: 900,
                highest: 900
            })
        );
        assert_eq!(check(&mut g, &c, 3 * S, stamp(2, 2, NOW + 3 * S)), Ok(()));
    }

    #[test]
    fn a_run_a_key_holder_invents_blocks_no_other() {
        let (mut g, c) = setup();
        assert_eq!(check(&mut g, &c, S, stamp(1, 1, NOW + S)), Ok(()));
        for epoch in 100..100 + MAX_RUNS as u64 / 2 {
            assert_eq!(
                check(&mut g, &c, 2 * S, stamp(epoch, u64::MAX, NOW + 50 * S)),
                Ok(())
            );
        }
        assert_eq!(check(&mut g, &c, 3 * S, stamp(1, 2, NOW + 3 * S)), Ok(()));
    }

    #[test]
    fn a_sequence_number_pushed_ahead_blocks_the_sender_for_a_bounded_time_only() {
        let (mut g, c) = setup();
        assert_eq!(check(&mut g, &c, S, stamp(1, 1, NOW + S)), Ok(()));
        // A key holder sends the sender's epoch with the highest sequence number there is.
        assert_eq!(
            check(&mut g, &c, 2 * S, stamp(1, u64::MAX, NOW + 2 * S)),
            Ok(())
        );
        let mut t = 3 * S;
        let mut n = 2;
        while t < 2 * S + forget_after(WINDOW) {
            let r = check(&mut g, &c, t, stamp(1, n, NOW + t));
            assert!(
                matches!(r, Err(FrameReject::Replayed { .. })),
                "{t:?}: {r:?}"
            );
            t += S;
            n += 1;
        }
        assert_eq!(
            check(&mut g, &c, t, stamp(1, n, NOW + t)),
            Ok(()),
            "heard again"
        );
        assert_eq!(
            check(&mut g, &c, t + S, stamp(1, n + 1, NOW + t + S)),
            Ok(())
        );
    }

    #[test]
    fn a_forgotten_run_cannot_be_replayed() {
        let (mut g, c) = setup();
        assert_eq!(check(&mut g, &c, S, stamp(1, 1, NOW + S)), Ok(()));
        // By the time the run is forgotten its frames are stale, even from a clock that ran
        // a whole window ahead of ours.
        let ahead = stamp(1, 2, NOW + S + WINDOW);
        assert_eq!(check(&mut g, &c, S, ahead), Ok(()));
        let later = S + forget_after(WINDOW);
        let replay = check(&mut g, &c, later, ahead);
        assert!(
            matches!(replay, Err(FrameReject::Stale { .. })),
            "{replay:?}"
        );
    }

    #[test]
    fn the_table_of_runs_is_bounded() {
        let (mut g, c) = setup();
        for k in 0..(MAX_RUNS as u32 + 50) {
            let origin = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + k));
            let (unix, mono) = c.at(Duration::from_millis(k.into()));
            assert_eq!(g.check(origin, stamp(1, 1, unix), unix, mono), Ok(()));
            assert!(g.runs.len() <= MAX_RUNS);
        }
        // The most recent ones are kept.
        let last = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + MAX_RUNS as u32 + 49));
        assert!(g.runs.contains_key(&(last, 1)));
    }
}
