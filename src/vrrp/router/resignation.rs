//! Doubting resignations. A Backup that hears priority 0 takes over after Skew_Time
//! (RFC 9568 §6.4.2), and VRRP adverts carry no proof of origin: anyone on the LAN can
//! resign for the Master, and each forged resignation that lands more than Skew_Time before
//! the Master's next advert is a takeover and a yield, with the clients' ARP caches pointed
//! at the wrong node in between. A real Master that resigns goes quiet; one whose
//! resignation is followed by its own adverts within Master_Down_Interval did not send it.
//! From then on, for [`DOUBT`] after the last such proof, its resignations are ignored
//! (counted): the Backup waits for its silence as after a crash, so a real resignation in
//! that minute costs Master_Down_Interval instead of Skew_Time. A forgery can cost at most
//! one flap, not one per packet.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::Router;
use super::timers::later;

/// How long resignations from a sender stay doubted after the last proof of forgery.
pub(super) const DOUBT: Duration = Duration::from_secs(60);

impl Router {
    /// A priority-0 advert from `from`.
    pub(super) fn heard_resignation(&mut self, from: IpAddr, now: Instant) {
        self.episodes_mut().resignation = Some((from, now));
    }

    /// An advert from `from` with a priority: if `from` resigned within the last
    /// Master_Down_Interval, that resignation was not its own.
    pub(super) fn heard_alive(&mut self, from: IpAddr, now: Instant) {
        // Nearly every advert finds no resignation noted: the window is worked out only for
        // one that does.
        let Some((who, at)) = self.episodes().and_then(|e| e.resignation) else {
            return;
        };
        let window = self
            .master_down_interval()
            .max(self.own_master_down_interval());
        let forged = who == from && now < later(at, window);
        if forged {
            let episodes = self.episodes_mut();
            episodes.resignation = None;
            episodes.doubted = Some((from, later(now, DOUBT)));
        }
    }

    /// Whether a resignation from `from` now is doubted (and so ignored).
    pub(super) fn doubts(&self, from: IpAddr, now: Instant) -> bool {
        self.episodes()
            .and_then(|e| e.doubted)
            .is_some_and(|(who, until)| who == from && now < until)
    }
}
