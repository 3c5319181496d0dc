//! Reading a burst of adverts in one go.
//!
//! A Master of many instances sends their adverts one after another: at 50 instances and
//! 10 ms adverts, a burst about 0.4 ms long (tcpdump in the Backup's namespace of the scale
//! bench). A Backup's receive loop that drains its socket and waits for the poller again is
//! woken for the next advert of the same burst: every datagram that arrives while the thread
//! sleeps in `epoll_wait` wakes it. There the Backup woke about 1,700 times a second, 17
//! times per burst, and read three adverts per wake-up; the wake-ups, not the adverts, were
//! most of its CPU. NIC drivers meet the same problem with interrupt moderation.
//!
//! So a read that found a burst in progress (more than one advert queued, and the queue ran
//! dry) is followed by a short sleep of the thread, not of the task: a task's sleep parks the
//! thread in the same `epoll_wait` that every datagram wakes. The rest of the burst queues
//! meanwhile and is read in one or two batches.
//!
//! The sleep delays nothing that is due: it is taken only after the tasks already runnable
//! have run (a router its deadline woke is in no timer any more), and only when no router
//! deadline falls within it (the shared timer's earliest, with a margin for the sleep's own
//! lateness). An
//! advert it delays is judged at most [`PAUSE`] later, which moves a Backup's Master_Down
//! deadline at most that much later, never earlier; and a Backup whose deadline comes reads
//! what is queued before it acts (see `driver`), as before. A lone instance's adverts come one
//! per read and never cause a pause.

use std::time::{Duration, Instant};

/// How long the thread sleeps after a read that found a burst: about the burst of 50
/// adverts above, short against the shortest Master_Down_Interval (30 ms plus skew). Every
/// advert read after a pause is judged up to this much later, so its Master_Down deadline
/// is too: with 1 ms, the medians of sampled takeovers at 1,000 instances came about 0.5 ms
/// later than without a pause (fourteen runs against twelve).
pub const PAUSE: Duration = Duration::from_micros(500);

/// How much later than asked a sleep may end (timer slack, scheduling): a deadline this
/// close after the pause forbids it.
const LATENESS: Duration = Duration::from_micros(500);

/// What a pause is decided by, read only after a read that found a burst.
pub struct Clock {
    /// The earliest deadline any router of the thread waits for.
    pub next_deadline: Option<Instant>,
    /// When the thread's last pause ended, whichever receive loop took it.
    pub last_pause_end: Option<Instant>,
    pub now: Instant,
}

/// How long to sleep before reading again, after a read of `read` datagrams into a batch of
/// `slots` (a full batch means more are queued: read on at once). `clock` is asked only
/// after a burst, so a lone instance's reads pay for none of it. `None`: wait for the
/// poller as usual.
///
/// One pause serves every socket of the thread: the bursts a Master sends on its
/// interfaces arrive together and queue together. So a loop does not pause again right after
/// the thread's last pause ended: at 1,000 instances four receive loops, each pausing after
/// its own socket's burst, kept the adverts of the others waiting up to 4 ms.
pub fn pause(read: usize, slots: usize, clock: impl FnOnce() -> Clock) -> Option<Duration> {
    if !(2..slots).contains(&read) {
        return None;
    }
    let Clock {
        next_deadline,
        last_pause_end,
        now,
    } = clock();
    let clear = next_deadline.is_none_or(|at| at > now + PAUSE + LATENESS);
    let apart = last_pause_end.is_none_or(|end| now >= end + PAUSE);
    (clear && apart).then_some(PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOTS: usize = 16;

    fn at(next_deadline: Option<Instant>, now: Instant) -> impl FnOnce() -> Clock {
        move || Clock {
            next_deadline,
            last_pause_end: None,
            now,
        }
    }

    #[test]
    fn a_drained_burst_pauses_when_no_deadline_is_near() {
        let now = Instant::now();
        for read in 2..SLOTS {
            assert_eq!(
                pause(read, SLOTS, at(None, now)),
                Some(PAUSE),
                "{read} read"
            );
            let far = now + Duration::from_millis(30);
            assert_eq!(
                pause(read, SLOTS, at(Some(far), now)),
                Some(PAUSE),
                "{read} read"
            );
        }
    }

    #[test]
    fn a_lone_advert_or_a_full_batch_reads_on_without_a_pause() {
        let now = Instant::now();
        // One advert: a lone instance, or the first of a burst; a pause per advert would
        // double the wake-ups of every small node.
        assert_eq!(
            pause(1, SLOTS, || unreachable!("a lone advert asks no clock")),
            None
        );
        assert_eq!(pause(0, SLOTS, at(None, now)), None);
        // A full batch: more are queued, read them now.
        assert_eq!(pause(SLOTS, SLOTS, at(None, now)), None);
    }

    #[test]
    fn a_deadline_within_the_pause_and_its_lateness_forbids_it() {
        let now = Instant::now();
        for ahead in [0, 100, 500, 999, 1_000] {
            let deadline = now + Duration::from_micros(ahead);
            assert_eq!(
                pause(8, SLOTS, at(Some(deadline), now)),
                None,
                "deadline in {ahead} µs"
            );
        }
        // Overdue deadlines too: the timer's task has yet to serve them.
        let past = now.checked_sub(Duration::from_millis(1)).unwrap_or(now);
        assert_eq!(pause(8, SLOTS, at(Some(past), now)), None);
        let after = now + PAUSE + LATENESS + Duration::from_micros(1);
        assert_eq!(pause(8, SLOTS, at(Some(after), now)), Some(PAUSE));
    }

    #[test]
    fn a_pause_is_not_taken_again_right_after_the_threads_last() {
        // Later than the clock, so that times before it exist however new the boot.
        let now = Instant::now() + Duration::from_secs(1);
        let clock = |last_pause_end| {
            move || Clock {
                next_deadline: None,
                last_pause_end,
                now,
            }
        };
        // Another loop's pause just ended: this loop's burst queued during it.
        for ago in [0, 10, 250, 499] {
            let end = now - Duration::from_micros(ago);
            assert_eq!(pause(8, SLOTS, clock(Some(end))), None, "{ago} µs ago");
        }
        assert_eq!(pause(8, SLOTS, clock(Some(now - PAUSE))), Some(PAUSE));
    }
}
