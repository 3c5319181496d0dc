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

/// The frames of one kind still to send, and when the next may go.
#[derive(Clone, Debug, Default)]
struct Lane {
    frames: VecDeque<usize>,
    /// When the last frame of this kind went out.
    last_sent: Option<Instant>,
}

impl Lane {
    /// Gives a drained queue's room back: every Master's address worker keeps its pacer
    /// between bursts, which are seconds or hours apart.
    fn release_if_empty(&mut self) {
        if self.frames.is_empty() {
            self.frames = VecDeque::new();
        }
    }

    fn next(&self, gap: Duration, now: Instant) -> Option<Instant> {
        self.frames.front()?;
        Some(match self.last_sent {
            Some(t) if !gap.is_zero() => t.checked_add(gap).unwrap_or(t),
            // Nothing sent yet, or unpaced: due at once.
            _ => now,
        })
    }
}

/// The queue of announcement frames (by index into the prepared frames), paced per kind.
#[derive(Clone, Debug, Default)]
pub struct Pacer {
    pacing: Pacing,
    arp: Lane,
    na: Lane,
}

impl Pacer {
    /// An empty queue that paces by `pacing` until a push says otherwise.
    pub fn new(pacing: Pacing) -> Self {
        Pacer {
            pacing,
            ..Pacer::default()
        }
    }

    /// The pacing of the last push (or the first one given).
    pub fn pacing(&self) -> Pacing {
        self.pacing
    }

    /// Queues a burst of `count` rounds over `frames` (one kind per prepared frame, in their
    /// order) behind what is still queued, paced by `pacing` from now on.
    pub fn push(&mut self, frames: &[Kind], count: usize, pacing: Pacing) {
        self.pacing = pacing;
        for _ in 0..count {
            for (index, kind) in frames.iter().enumerate() {
                self.lane(*kind).frames.push_back(index);
            }
        }
    }

    /// When the next frame is due, if any is queued: `now` for a kind with nothing sent
    /// yet (or unpaced), else a gap after the last one of its kind.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        let arp = self.arp.next(self.pacing.arp, now);
        let na = self.na.next(self.pacing.na, now);
        arp.into_iter().chain(na).min()
    }

    /// Takes the frames that may go at `now`, in sending order, and counts them as sent at
    /// `now`: of each kind, every queued frame when unpaced, else at most one.
    pub fn take_due(&mut self, now: Instant) -> Vec<usize> {
        let mut out = Vec::new();
        for kind in [Kind::Arp, Kind::Na] {
            let gap = self.gap(kind);
            let lane = self.lane(kind);
            let due = lane
                .last_sent
                .is_none_or(|t| gap.is_zero() || now >= t.checked_add(gap).unwrap_or(t));
            if !due {
                continue;
            }
            let take = if gap.is_zero() { lane.frames.len() } else { 1 };
            let before = out.len();
            out.extend(lane.frames.drain(..take.min(lane.frames.len())));
            if out.len() > before {
                lane.last_sent = Some(now);
            }
            lane.release_if_empty();
        }
        out
    }

    /// Forgets the queue: what was queued will not be sent (the VIPs were released, or their
    /// frames changed). When the last frames went out is kept, so the gap still holds.
    pub fn clear(&mut self) {
        self.arp.frames.clear();
        self.na.frames.clear();
        self.arp.release_if_empty();
        self.na.release_if_empty();
    }

    fn gap(&self, kind: Kind) -> Duration {
        match kind {
            Kind::Arp => self.pacing.arp,
            Kind::Na => self.pacing.na,
        }
    }

    fn lane(&mut self, kind: Kind) -> &mut Lane {
        match kind {
            Kind::Arp => &mut self.arp,
            Kind::Na => &mut self.na,
        }
    }
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
    fn unpaced_every_round_goes_at_once() {
        let t = Instant::now();
        let mut p = Pacer::default();
        p.push(&[Kind::Arp, Kind::Arp], 2, Pacing::default());
        assert_eq!(p.take_due(t), vec![0, 1, 0, 1]);
        assert_eq!(p.next_due(t), None);
        assert_eq!(p.arp.frames.capacity(), 0, "a drained lane keeps no room");
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
