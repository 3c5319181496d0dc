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
//! The sleep delays nothing that is due: it is taken only when no router deadline falls
//! within it (the shared timer's earliest, with a margin for the sleep's own lateness). An
//! advert it delays is judged at most [`PAUSE`] later, which moves a Backup's Master_Down
//! deadline at most that much later, never earlier; and a Backup whose deadline comes reads
//! what is queued before it acts (see `driver`), as before. A lone instance's adverts come one
//! per read and never cause a pause.

use std::time::{Duration, Instant};

/// How long the thread sleeps after a read that found a burst: longer than the burst of 50
/// adverts above, short against the shortest Master_Down_Interval (30 ms plus skew). There
/// the Backup then woke about 300 times a second (`perf stat -e context-switches`).
pub const PAUSE: Duration = Duration::from_millis(1);

/// How much later than asked a sleep may end (timer slack, scheduling): a deadline this
/// close after the pause forbids it.
const LATENESS: Duration = Duration::from_micros(500);

/// How long to sleep before reading again, after a read of `read` datagrams into a batch of
/// `slots` (a full batch means more are queued: read on at once), when the earliest router
/// deadline is `next_deadline`. `None`: wait for the poller as usual.
pub fn pause(
    read: usize,
    slots: usize,
    next_deadline: Option<Instant>,
    now: Instant,
) -> Option<Duration> {
    let burst = (2..slots).contains(&read);
    let clear = next_deadline.is_none_or(|at| at > now + PAUSE + LATENESS);
    (burst && clear).then_some(PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOTS: usize = 16;

    #[test]
    fn a_drained_burst_pauses_when_no_deadline_is_near() {
        let now = Instant::now();
        for read in 2..SLOTS {
            assert_eq!(pause(read, SLOTS, None, now), Some(PAUSE), "{read} read");
            let far = now + Duration::from_millis(30);
            assert_eq!(
                pause(read, SLOTS, Some(far), now),
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
        assert_eq!(pause(1, SLOTS, None, now), None);
        assert_eq!(pause(0, SLOTS, None, now), None);
        // A full batch: more are queued, read them now.
        assert_eq!(pause(SLOTS, SLOTS, None, now), None);
    }

    #[test]
    fn a_deadline_within_the_pause_and_its_lateness_forbids_it() {
        let now = Instant::now();
        for ahead in [0, 100, 1_000, 1_499, 1_500] {
            let at = now + Duration::from_micros(ahead);
            assert_eq!(
                pause(8, SLOTS, Some(at), now),
                None,
                "deadline in {ahead} µs"
            );
        }
        // Overdue deadlines too: the timer's task has yet to serve them.
        let past = now.checked_sub(Duration::from_millis(1)).unwrap_or(now);
        assert_eq!(pause(8, SLOTS, Some(past), now), None);
        let after = now + PAUSE + LATENESS + Duration::from_micros(1);
        assert_eq!(pause(8, SLOTS, Some(after), now), Some(PAUSE));
    }
}
