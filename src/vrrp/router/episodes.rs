//! What a router remembers only once something out of the ordinary has happened: a
//! lower-priority Master heard or answered, a resignation heard, a gate asked. A router in
//! steady state (Master advertising, Backup following) never needs any of it, and kept
//! inline it made every router 120 bytes larger, its daemon cell a whole allocation class
//! larger, for each of a thousand instances.

use std::net::IpAddr;
use std::time::Instant;

use super::Router;

/// The rare part of a router's state; see the module docs.
#[derive(Debug, Default)]
pub(super) struct Episodes {
    /// Master: when we last heard a lower-priority Master, and whether this episode (lower
    /// adverts less than our Master_Down_Interval apart) has had its re-assertion.
    pub lower_heard: Option<(Instant, bool)>,
    /// Master: when we last answered a heard advert at once, for the answer rate limit.
    pub last_answer: Option<Instant>,
    /// The last resignation (priority 0) heard, by sender and time.
    pub resignation: Option<(IpAddr, Instant)>,
    /// A sender whose resignation was followed by its own adverts (a forged one), and until
    /// when its resignations are doubted.
    pub doubted: Option<(IpAddr, Instant)>,
    /// FAULT because isolated: the re-check attempt waiting for the isolation gate.
    pub recheck: Option<u64>,
    /// The last gate attempt number handed out.
    pub last_attempt: u64,
}

impl Router {
    /// The rare part, for reading; `None` until something made it.
    pub(super) fn episodes(&self) -> Option<&Episodes> {
        self.episodes.as_deref()
    }

    /// The rare part, made now if it was not yet.
    pub(super) fn episodes_mut(&mut self) -> &mut Episodes {
        self.episodes.get_or_insert_with(Box::default)
    }

    /// A gate attempt number never handed out before.
    pub(super) fn new_attempt(&mut self) -> u64 {
        let episodes = self.episodes_mut();
        episodes.last_attempt += 1;
        episodes.last_attempt
    }
}
