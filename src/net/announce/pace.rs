//! When each frame of an announcement burst goes out: keepalived's `vrrp_garp_interval` and
//! `vrrp_gna_interval`, computed without a socket or a clock.
//!
//! As in keepalived, gratuitous ARPs and unsolicited NAs are paced separately: the gap is
//! between two frames of one kind on the interface, so an IPv6 VIP's NA does not wait for an
//! IPv4 VIP's ARP. A burst asked for while an earlier one is still going out queues behind
//! it rather than sending two frames closer than the gap.

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

/// Remembers when the next frame of each kind may go, across bursts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pacer {
    next_arp: Option<Instant>,
    next_na: Option<Instant>,
}

impl Pacer {
    /// The send times of a burst of `count` rounds over `frames` (one kind per prepared
    /// frame, in their order), asked for at `now`: `(when, frame index)`, in time order, a
    /// round's frames in frame order where times are equal.
    pub fn plan(
        &mut self,
        frames: &[Kind],
        count: usize,
        pacing: Pacing,
        now: Instant,
    ) -> Vec<(Instant, usize)> {
        let mut out = Vec::with_capacity(frames.len() * count);
        for _ in 0..count {
            for (index, kind) in frames.iter().enumerate() {
                let (next, gap) = match kind {
                    Kind::Arp => (&mut self.next_arp, pacing.arp),
                    Kind::Na => (&mut self.next_na, pacing.na),
                };
                let at = next.filter(|t| *t > now).unwrap_or(now);
                *next = Some(at.checked_add(gap).unwrap_or(at));
                out.push((at, index));
            }
        }
        // Stable: equal times keep round and frame order.
        out.sort_by_key(|(at, _)| *at);
        out
    }

    /// Forgets the queue: what was planned will not be sent (the VIPs were released).
    pub fn reset(&mut self) {
        *self = Pacer::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_pacing_sends_every_round_at_once_in_order() {
        let t = Instant::now();
        let plan = Pacer::default().plan(&[Kind::Arp, Kind::Na], 2, Pacing::default(), t);
        assert_eq!(plan, vec![(t, 0), (t, 1), (t, 0), (t, 1)]);
    }

    #[test]
    fn arps_and_nas_are_paced_each_by_their_own_gap() {
        let t = Instant::now();
        let pacing = Pacing {
            arp: ms(100),
            na: ms(30),
        };
        let frames = [Kind::Arp, Kind::Arp, Kind::Na];
        let plan = Pacer::default().plan(&frames, 2, pacing, t);
        assert_eq!(
            plan,
            vec![
                (t, 0),
                (t, 2),
                (t + ms(30), 2),
                (t + ms(100), 1),
                (t + ms(200), 0),
                (t + ms(300), 1),
            ]
        );
    }

    #[test]
    fn a_burst_asked_for_during_another_queues_behind_it() {
        let t = Instant::now();
        let pacing = Pacing {
            arp: ms(100),
            na: ms(100),
        };
        let mut pacer = Pacer::default();
        pacer.plan(&[Kind::Arp], 3, pacing, t);
        // The first burst's last ARP goes at +200 ms; the next may not go before +300 ms.
        let plan = pacer.plan(&[Kind::Arp], 1, pacing, t + ms(50));
        assert_eq!(plan, vec![(t + ms(300), 0)]);
        // Once the queue has drained, a burst starts when asked.
        let plan = pacer.plan(&[Kind::Arp], 1, pacing, t + ms(1000));
        assert_eq!(plan, vec![(t + ms(1000), 0)]);
    }

    #[test]
    fn a_reset_forgets_the_queue() {
        let t = Instant::now();
        let pacing = Pacing {
            arp: ms(100),
            na: ms(0),
        };
        let mut pacer = Pacer::default();
        pacer.plan(&[Kind::Arp], 5, pacing, t);
        pacer.reset();
        assert_eq!(pacer.plan(&[Kind::Arp], 1, pacing, t), vec![(t, 0)]);
    }
}
