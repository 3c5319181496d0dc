//! Channel health: which heartbeat channels still carry the Master's adverts.
//!
//! A Backup's master-down timer is reset by an advert on any channel, so losing one channel
//! changes nothing the router does; it is the warning that comes before a split brain.
//! [`ChannelHealth`] notices it: while a Backup listens, a channel that stays silent for
//! Master_Down_Interval while another still carries the Master is reported lost, once, and
//! recovered when an advert arrives on it again.
//!
//! It is pure bookkeeping like the router: the caller passes the time in, feeds it the
//! Master's accepted adverts and logs what comes back.

use crate::vrrp::stamp::Stamp;
use std::time::{Duration, Instant};

/// One channel as status output shows it. Its name is the router configuration's (by
/// index): a copy here cost every instance an allocation, and its state 48 bytes, not 16.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelState {
    last_seen: Option<Stamp>,
    /// Reported lost and not recovered since.
    pub lost: bool,
}

impl ChannelState {
    /// When the Master's last advert arrived on it, if ever.
    pub fn last_seen(&self) -> Option<Instant> {
        self.last_seen.map(Stamp::get)
    }
}

/// A change worth a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthChange {
    /// The channel has been silent while another carried the Master.
    Lost {
        /// Index into [`ChannelHealth::channels`].
        channel: usize,
        /// Since its last advert, or since watching started if it had none since.
        silent_for: Duration,
    },
    /// An advert arrived again on a channel reported lost.
    Recovered {
        /// Index into [`ChannelHealth::channels`].
        channel: usize,
    },
}

/// The health of one instance's heartbeat channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelHealth {
    channels: Box<[ChannelState]>,
    /// When watching (re)started; `None` while not a Backup, when there is nothing to watch.
    watching_since: Option<Stamp>,
}

impl ChannelHealth {
    /// `count` channels (index 0 is the primary interface), watched from `now`: a router
    /// starts as a Backup, and [`watch`](Self::watch) on entering Backup again only restarts
    /// the grace period.
    pub fn new(count: usize, now: Instant) -> Self {
        let mut health = ChannelHealth::idle(count);
        health.watching_since = Some(Stamp::new(now));
        health
    }

    /// `count` channels, not watched yet (a router not started).
    pub fn idle(count: usize) -> Self {
        let unseen = ChannelState {
            last_seen: None,
            lost: false,
        };
        ChannelHealth {
            channels: vec![unseen; count].into_boxed_slice(),
            watching_since: None,
        }
    }

    /// (Re)starts watching, on entering Backup. Every channel gets a grace period from `now`:
    /// a silence that began while we were Master (and heard nobody) is not a loss.
    pub fn watch(&mut self, now: Instant) {
        self.watching_since = Some(Stamp::new(now));
    }

    /// Stops watching (Master, FAULT, Initialize): nothing is expected on any channel, so
    /// nothing is lost either.
    pub fn stop(&mut self) {
        self.watching_since = None;
        for c in &mut self.channels {
            c.lost = false;
        }
    }

    /// The Master's advert arrived on `channel` at `now`. Marks it seen (recovered if it was
    /// lost), then reports every other channel silent for more than `silence` (the caller's
    /// Master_Down_Interval) as lost, once. Changes come in channel order, a recovery before
    /// the losses. Nothing happens while not watching, or for an unknown channel.
    pub fn advert(
        &mut self,
        channel: usize,
        now: impl Into<Stamp>,
        silence: Duration,
    ) -> Vec<HealthChange> {
        let mut changes = Vec::new();
        let Some(since) = self.watching_since else {
            return changes;
        };
        let Some(seen) = self.channels.get_mut(channel) else {
            return changes;
        };
        let now = now.into();
        seen.last_seen = Some(now);
        if seen.lost {
            seen.lost = false;
            changes.push(HealthChange::Recovered { channel });
        }
        for (i, c) in self.channels.iter_mut().enumerate() {
            if i == channel || c.lost {
                continue;
            }
            let from = c.last_seen.map_or(since, |seen| seen.max(since));
            let silent_for = now.since(from);
            if silent_for > silence {
                c.lost = true;
                changes.push(HealthChange::Lost {
                    channel: i,
                    silent_for,
                });
            }
        }
        changes
    }

    /// Every channel, in index order.
    pub fn channels(&self) -> &[ChannelState] {
        &self.channels
    }

    /// How many channels are not lost.
    pub fn carrying(&self) -> usize {
        self.channels.iter().filter(|c| !c.lost).count()
    }

    /// The log line for `change`, with the channel counts as they are now; `names` are the
    /// channels', in index order.
    pub fn describe(&self, change: &HealthChange, names: &[String]) -> String {
        let (channel, what) = match *change {
            HealthChange::Lost {
                channel,
                silent_for,
            } => (
                channel,
                format!("lost (silent for {:.2}s)", silent_for.as_secs_f64()),
            ),
            HealthChange::Recovered { channel } => (channel, "recovered".to_owned()),
        };
        let name = names
            .get(channel)
            .map_or_else(|| format!("channel {channel}"), Clone::clone);
        format!(
            "heartbeat over {name} {what}; running on {} of {} channels",
            self.carrying(),
            self.channels.len()
        )
    }
}

#[cfg(test)]
mod tests;
