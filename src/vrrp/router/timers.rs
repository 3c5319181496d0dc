//! The router's internal timers, and which of them is due.
//!
//! At most one role's timers are armed at a time: the master-down timer (or, while a takeover
//! waits for a gate, the gate's patience deadline) in Backup, the
//! advert, announce-repeat and announce-refresh timers in Master, the isolation re-check in FAULT (only when
//! the isolation check put the router there). The startup delay and the preempt delay are
//! not timers of their own: the startup delay re-arms the master-down timer to its end
//! (see `Router::master_down_expired`), and the preempt delay only changes how a Backup treats
//! a lower-priority advert, which needs no wake-up.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::AnnounceSchedule;
use crate::vrrp::stamp::Stamp;

/// The deadlines a router has armed, for status output. `None` means not armed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadlines {
    /// Backup: when the Master is declared down (or, after a priority-0 advert, when this
    /// router takes over).
    pub master_down: Option<Instant>,
    /// Master: when the next advert goes out.
    pub advert: Option<Instant>,
    /// Master: when the repeat burst of gratuitous ARPs / NAs goes out.
    pub announce_repeat: Option<Instant>,
    /// Master: when the next periodic refresh of gratuitous ARPs / NAs goes out.
    pub announce_refresh: Option<Instant>,
    /// FAULT because of isolation: when reachability is checked again.
    pub isolation_recheck: Option<Instant>,
    /// Backup waiting for a gate: when the attempt is withdrawn and asked again.
    pub gate: Option<Instant>,
    /// Master under an arbiter: when the lease can no longer be proven ours.
    pub lease: Option<Instant>,
}

impl Deadlines {
    /// The least armed deadline of the snapshot.
    pub fn least(&self) -> Option<Instant> {
        [
            self.master_down,
            self.advert,
            self.announce_repeat,
            self.announce_refresh,
            self.isolation_recheck,
            self.gate,
            self.lease,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Why the master-down timer is running; decides the reason given if it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DownCause {
    /// Waiting out Master_Down_Interval since the last accepted advert (or since entering
    /// Backup).
    Silence,
    /// The Master resigned with priority 0; waiting out Skew_Time only.
    Resigned(IpAddr),
    /// Silence, but this router ran late past its deadline: listening one more
    /// Master_Adver_Interval from when it ran (see `Router::master_down_expired`).
    /// `silence_from` is when the silence being listened out began (the wait's last
    /// reset): a lower-priority Master heard since then is being preempted, whether or not
    /// it speaks again while this router listens.
    Relistening { silence_from: Stamp },
}

/// The master-down timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DownTimer {
    /// When it fires.
    pub deadline: Stamp,
    /// When it was last reset: a priority change re-bases the deadline on this instant.
    pub reset_at: Stamp,
    pub cause: DownCause,
}

impl DownTimer {
    /// When the silence it waits out began: its last reset, or, listened out after a stall,
    /// the reset of the wait that was listened out. A lower-priority Master heard since is
    /// being preempted.
    pub fn silence_from(&self) -> Stamp {
        match self.cause {
            DownCause::Relistening { silence_from } => silence_from,
            _ => self.reset_at,
        }
    }
}

/// Which timer is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Due {
    MasterDown,
    /// The advert timer, with the deadline it was armed for (re-arming counts from it).
    Advert(Instant),
    AnnounceRepeat,
    /// The announce refresh, with the deadline it was armed for (re-arming counts from it).
    AnnounceRefresh(Instant),
    /// The isolation re-check, with the deadline it was armed for.
    IsolationRecheck(Instant),
    /// A gate did not answer in time.
    Gate,
    /// The lease can no longer be proven ours.
    Lease,
}

/// Every timer a router can have armed, as [`Stamp`]s: half the size of `Instant`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Timers {
    pub down: Option<DownTimer>,
    pub advert: Option<Stamp>,
    pub announce: Option<Stamp>,
    pub refresh: Option<Stamp>,
    pub isolation: Option<Stamp>,
    pub gate: Option<Stamp>,
    pub lease: Option<Stamp>,
}

impl Timers {
    /// The earliest armed deadline. Stamps order as their instants do, so only the least
    /// is turned into an `Instant`: a Backup asks twice for every advert it hears.
    pub fn earliest(&self) -> Option<Instant> {
        self.earliest_stamp().map(Stamp::get)
    }

    /// [`Timers::earliest`] as its stamp.
    pub fn earliest_stamp(&self) -> Option<Stamp> {
        [
            self.down.map(|d| d.deadline),
            self.advert,
            self.announce,
            self.refresh,
            self.isolation,
            self.gate,
            self.lease,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The earliest timer whose deadline is not after `now`, except that an overdue lease
    /// comes before everything (nothing may be sent as Master past it). On a tie: the
    /// master-down timer, then the advert, then the announce repeat, then the announce
    /// refresh, then the isolation re-check, so the order is deterministic.
    pub fn next_due(&self, now: Instant) -> Option<Due> {
        // An overdue lease goes first whatever fell due before it: after a pause (a frozen
        // process, a stalled host) the advert timer is overdue too, and an advert sent as
        // Master past the lease would make the peer that now holds it yield.
        let d = self.deadlines();
        if d.lease.is_some_and(|t| t <= now) {
            return Some(Due::Lease);
        }
        let candidates = [
            d.lease.map(|t| (t, Due::Lease)),
            d.master_down.map(|t| (t, Due::MasterDown)),
            d.advert.map(|t| (t, Due::Advert(t))),
            d.announce_repeat.map(|t| (t, Due::AnnounceRepeat)),
            d.announce_refresh.map(|t| (t, Due::AnnounceRefresh(t))),
            d.isolation_recheck.map(|t| (t, Due::IsolationRecheck(t))),
            d.gate.map(|t| (t, Due::Gate)),
        ];
        candidates
            .into_iter()
            .flatten()
            .filter(|(t, _)| *t <= now)
            // min_by_key keeps the first of equal keys: the tie order above.
            .min_by_key(|(t, _)| *t)
            .map(|(_, due)| due)
    }

    /// A snapshot for status output.
    pub fn deadlines(&self) -> Deadlines {
        Deadlines {
            master_down: self.down.map(|d| d.deadline.get()),
            advert: self.advert.map(Stamp::get),
            announce_repeat: self.announce.map(Stamp::get),
            announce_refresh: self.refresh.map(Stamp::get),
            isolation_recheck: self.isolation.map(Stamp::get),
            gate: self.gate.map(Stamp::get),
            lease: self.lease.map(Stamp::get),
        }
    }
}

/// `now + wait`, or a time too far away to matter when the sum would overflow: no setting
/// can make a router task panic.
pub(super) fn later(now: Instant, wait: Duration) -> Instant {
    now.checked_add(wait)
        .or_else(|| now.checked_add(FOREVER))
        .unwrap_or(now)
}

/// Far enough that a timer armed this far away never fires in practice (about 30 years).
const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// The deadline of a periodic timer (the advert, the announce refresh, the isolation re-check) after one that fired
/// at `now`: one interval after the old deadline so a slightly late wake-up does not drift
/// the grid, but never at or before `now`, which would fire again at once and send a burst
/// after a long stall.
pub(super) fn next_periodic(deadline: Instant, interval: Duration, now: Instant) -> Instant {
    let next = later(deadline, interval);
    if next > now {
        next
    } else {
        later(now, interval)
    }
}

/// The first refresh of the announcements, one refresh period after `now`; none when the
/// refresh is off (a zero period).
pub(super) fn refresh_deadline(schedule: &AnnounceSchedule, now: Instant) -> Option<Instant> {
    (!schedule.refresh.is_zero()).then(|| later(now, schedule.refresh))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The earliest deadline read from the stamps is the least of every armed timer's
    /// instant, whichever timers are armed and on whichever side of the stamps' base.
    #[test]
    fn the_earliest_deadline_is_the_least_armed_instant() {
        let origin = Instant::now();
        // Instants 10 s either side of the first one stamped.
        let at = |k: u64| Stamp::new(origin - Duration::from_secs(10) + Duration::from_millis(k));
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut draw = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..2_000 {
            let mut arm = || (draw(3) > 0).then(|| at(draw(20_000)));
            let t = Timers {
                down: arm().map(|deadline| DownTimer {
                    deadline,
                    reset_at: deadline,
                    cause: DownCause::Silence,
                }),
                advert: arm(),
                announce: arm(),
                refresh: arm(),
                isolation: arm(),
                gate: arm(),
                lease: arm(),
            };
            assert_eq!(t.earliest(), t.deadlines().least(), "{t:?}");
        }
    }
}
