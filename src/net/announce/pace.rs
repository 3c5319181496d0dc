//! Which frames of announcement bursts go out when: keepalived's `vrrp_garp_interval` and
//! `vrrp_gna_interval`, decided without a socket or a clock (the caller passes `now`).
//!
//! As in keepalived, gratuitous ARPs and unsolicited NAs are paced separately: the gap is
//! between two frames of one kind on the interface, so an IPv6 VIP's NA does not wait for an
//! IPv4 VIP's ARP. The gap counts from when a frame was actually sent, so a frame that went
//! late never brings the next one closer than the gap. A burst asked for while an earlier one
//! is still going out queues behind it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Which kind of announcement a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A gratuitous ARP (IPv4 VIP).
    Arp,
    /// An unsolicited neighbour advertisement (IPv6 VIP).
    Na,
}

/// The least time between two frames of one kind; zero sends back to back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pacing {
    /// Between two gratuitous ARPs.
    pub arp: Duration,
    /// Between two unsolicited NAs.
    pub na: Duration,
}

/// The queue of announcement frames (by index into the prepared frames), paced per kind.
///
/// Every instance's address worker keeps one for its life, and frames wait in it only for
/// the moments of a burst: the queues are boxed while frames wait and dropped when drained,
/// and only the time of each kind's last frame stays (the gap counts from it).
#[derive(Clone, Debug, Default)]
pub struct Pacer {
    /// The least gap between two frames of each kind, by [`lane`], in whole microseconds
    /// (rounded up; gaps are at most [`crate::config::MAX_GARP_GAP`]). Two `Duration`s here
    /// put every instance's address worker in jemalloc's next size class, 32 bytes up.
    gaps_us: [u32; 2],
    /// When the last frame of each kind went out, by [`lane`].
    last_sent: [Option<Instant>; 2],
    /// The frames of each kind still to send, by [`lane`]; `None` when there are none.
    queued: Option<Box<[VecDeque<usize>; 2]>>,
}

/// The index of `kind`'s queue and last-sent time.
fn lane(kind: Kind) -> usize {
    match kind {
        Kind::Arp => 0,
        Kind::Na => 1,
    }
}

const KINDS: [Kind; 2] = [Kind::Arp, Kind::Na];

impl Pacer {
    /// An empty queue that paces by `pacing` until a push says otherwise.
    pub fn new(pacing: Pacing) -> Self {
        Pacer {
            gaps_us: gaps_us(pacing),
            ..Pacer::default()
        }
    }

    /// The pacing of the last push (or the first one given), to the microsecond.
    pub fn pacing(&self) -> Pacing {
        Pacing {
            arp: self.gap(Kind::Arp),
            na: self.gap(Kind::Na),
        }
    }

    /// Queues a burst of `count` rounds over `frames` (one kind per prepared frame, in their
    /// order) behind what is still queued, paced by `pacing` from now on.
    pub fn push(&mut self, frames: &[Kind], count: usize, pacing: Pacing) {
        self.gaps_us = gaps_us(pacing);
        if count == 0 || frames.is_empty() {
            return;
        }
        let queued = self.queued.get_or_insert_with(Box::default);
        for _ in 0..count {
            for (index, kind) in frames.iter().enumerate() {
                queued[lane(*kind)].push_back(index);
            }
        }
    }

    /// When the next frame is due, if any is queued: `now` for a kind with nothing sent
    /// yet (or unpaced), else a gap after the last one of its kind.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        let queued = self.queued.as_deref()?;
        KINDS
            .into_iter()
            .filter(|kind| !queued[lane(*kind)].is_empty())
            .map(|kind| self.due_at(kind, now))
            .min()
    }

    /// Takes the frames that may go at `now`, in sending order, and counts them as sent at
    /// `now`: of each kind, every queued frame when unpaced, else at most one.
    pub fn take_due(&mut self, now: Instant) -> Vec<usize> {
        let mut out = Vec::new();
        let due = KINDS.map(|kind| self.due_at(kind, now) <= now);
        let unpaced = KINDS.map(|kind| self.gap(kind).is_zero());
        let Some(queued) = self.queued.as_deref_mut() else {
            return out;
        };
        for kind in KINDS {
            let frames = &mut queued[lane(kind)];
            if !due[lane(kind)] || frames.is_empty() {
                continue;
            }
            let take = if unpaced[lane(kind)] { frames.len() } else { 1 };
            out.extend(frames.drain(..take));
            self.last_sent[lane(kind)] = Some(now);
        }
        if queued.iter().all(VecDeque::is_empty) {
            self.queued = None;
        }
        out
    }

    /// When a frame of `kind` may go: `now` with nothing sent yet (or unpaced), else a gap
    /// after the last one.
    fn due_at(&self, kind: Kind, now: Instant) -> Instant {
        let gap = self.gap(kind);
        match self.last_sent[lane(kind)] {
            Some(t) if !gap.is_zero() => t.checked_add(gap).unwrap_or(t),
            _ => now,
        }
    }

    /// The least time between two frames of `kind`.
    fn gap(&self, kind: Kind) -> Duration {
        Duration::from_micros(self.gaps_us[lane(kind)].into())
    }

    /// Forgets the queue: what was queued will not be sent (the VIPs were released, or their
    /// frames changed). When the last frames went out is kept, so the gap still holds.
    pub fn clear(&mut self) {
        self.queued = None;
    }
}

/// `pacing`'s gaps by [`lane`], as a [`Pacer`] keeps them.
fn gaps_us(pacing: Pacing) -> [u32; 2] {
    [micros(pacing.arp), micros(pacing.na)]
}

/// `gap` in whole microseconds, rounded up so that no frame goes early; a gap too long for
/// 32 bits (71 minutes, far past any configurable one) keeps the longest that fits.
fn micros(gap: Duration) -> u32 {
    u32::try_from(gap.as_nanos().div_ceil(1000)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const PACED: Pacing = Pacing {
        arp: Duration::from_millis(100),
        na: Duration::from_millis(30),
    };

    #[test]
    fn gaps_are_kept_to_the_microsecond_and_never_shortened() {
        let mut pacer = Pacer::new(PACED);
        assert_eq!(pacer.pacing(), PACED);
        let odd = Pacing {
            arp: Duration::from_nanos(1_500),
            na: Duration::from_nanos(999),
        };
        pacer.push(&[], 0, odd);
        assert_eq!(
            pacer.pacing(),
            Pacing {
                arp: Duration::from_micros(2),
                na: Duration::from_micros(1),
            }
        );
        // Longer than 32 bits of microseconds (no configuration allows it): the longest
        // that fits, not a wrap to a short gap.
        let huge = Duration::from_secs(5_000);
        pacer.push(
            &[],
            0,
            Pacing {
                arp: huge,
                na: huge,
            },
        );
        assert_eq!(pacer.pacing().arp, Duration::from_micros(u32::MAX.into()));
    }

    #[test]
    fn unpaced_every_round_goes_at_once() {
        let t = Instant::now();
        let mut p = Pacer::default();
        p.push(&[Kind::Arp, Kind::Arp], 2, Pacing::default());
        assert_eq!(p.take_due(t), vec![0, 1, 0, 1]);
        assert_eq!(p.next_due(t), None);
        assert!(p.queued.is_none(), "a drained pacer keeps no queues");
    }

    #[test]
    fn arps_and_nas_are_paced_each_by_their_own_gap() {
        let t = Instant::now();
        let mut p = Pacer::default();
        p.push(&[Kind::Arp, Kind::Arp, Kind::Na], 2, PACED);
        // One of each kind at once.
        assert_eq!(p.next_due(t), Some(t));
        assert_eq!(p.take_due(t), vec![0, 2]);
        // Then the NA gap, then the ARP gap.
        assert_eq!(p.next_due(t), Some(t + ms(30)));
        assert_eq!(p.take_due(t + ms(30)), vec![2]);
        assert_eq!(p.next_due(t), Some(t + ms(100)));
        assert_eq!(p.take_due(t + ms(99)), Vec::<usize>::new());
        assert_eq!(p.take_due(t + ms(100)), vec![1]);
        assert_eq!(p.take_due(t + ms(200)), vec![0]);
        assert_eq!(p.take_due(t + ms(300)), vec![1]);
        assert_eq!(p.next_due(t), None);
    }

    #[test]
    fn the_gap_counts_from_a_late_send() {
        let t = Instant::now();
        let mut p = Pacer::default();
        p.push(&[Kind::Arp], 3, PACED);
        p.take_due(t);
        // The second ARP went 40 ms late: the third is a full gap after it, not on the grid.
        assert_eq!(p.take_due(t + ms(140)), vec![0]);
        assert_eq!(p.next_due(t), Some(t + ms(240)));
    }

    #[test]
    fn a_burst_asked_for_during_another_queues_behind_it() {
        let t = Instant::now();
        let mut p = Pacer::default();
        p.push(&[Kind::Arp], 2, PACED);
        p.take_due(t);
        p.push(&[Kind::Arp], 1, PACED);
        assert_eq!(p.take_due(t + ms(100)), vec![0]);
        assert_eq!(p.take_due(t + ms(150)), Vec::<usize>::new());
        assert_eq!(p.take_due(t + ms(200)), vec![0]);
    }

    #[test]
    fn clearing_drops_the_queue_but_keeps_the_gap() {
        let t = Instant::now();
        let mut p = Pacer::default();
        p.push(&[Kind::Arp], 5, PACED);
        p.take_due(t);
        p.clear();
        assert_eq!(p.next_due(t), None);
        p.push(&[Kind::Arp], 1, PACED);
        assert_eq!(p.next_due(t), Some(t + ms(100)));
    }
}
