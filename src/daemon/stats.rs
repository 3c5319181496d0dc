//! Per-instance counters, and the rate limit on log lines about rejected packets.
//!
//! Counters are statistics, not protocol state: the receive loop and the router task both
//! write them, so they sit behind a short lock rather than inside the router.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What happened to one instance's packets.
#[derive(Debug, Default)]
pub struct Stats {
    counts: Mutex<BTreeMap<&'static str, u64>>,
    transitions: Mutex<BTreeMap<TransitionKey, u64>>,
    /// Microseconds since the Unix epoch of the last valid advert; 0: none yet. An atomic, so
    /// the receive path takes no lock for it.
    last_advert_us: std::sync::atomic::AtomicU64,
}

/// (from, to, reason kind) of a counted transition.
pub type TransitionKey = (String, String, &'static str);

impl Stats {
    /// Counts a transition by its from/to states and reason kind.
    pub fn transition(&self, key: TransitionKey) {
        *self
            .transitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    /// A copy of the transition counters.
    pub fn transitions(&self) -> BTreeMap<TransitionKey, u64> {
        self.transitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records that a valid advert arrived now (per channel: "last advert seen").
    pub fn advert_seen(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_micros() as u64);
        self.last_advert_us
            .store(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// When the last valid advert arrived, if ever.
    pub fn last_advert(&self) -> Option<std::time::SystemTime> {
        match self
            .last_advert_us
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => None,
            us => Some(std::time::UNIX_EPOCH + Duration::from_micros(us)),
        }
    }

    /// Adds one to the counter `name` (a stable snake_case label).
    pub fn bump(&self, name: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_default() += 1;
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Lets through one log line per (source, reason) per `every`, and says how many were held
/// back, so a flood of bad packets costs a counter each, not a log line each.
#[derive(Debug)]
pub struct LogLimiter {
    every: Duration,
    last: HashMap<(IpAddr, &'static str), (Instant, u64)>,
}

impl LogLimiter {
    /// A limiter that logs each (source, reason) at most once per `every`.
    pub fn new(every: Duration) -> Self {
        LogLimiter {
            every,
            last: HashMap::new(),
        }
    }

    /// `Some(suppressed)` when a line may be logged now, with the number held back since the
    /// last one; `None` when it must be held back.
    pub fn allow(&mut self, now: Instant, src: IpAddr, reason: &'static str) -> Option<u64> {
        match self.last.get_mut(&(src, reason)) {
            Some((at, held)) if now.duration_since(*at) < self.every => {
                *held += 1;
                None
            }
            Some((at, held)) => {
                let suppressed = *held;
                *at = now;
                *held = 0;
                Some(suppressed)
            }
            None => {
                if self.last.len() > 4096 {
                    // Spoofed sources must not grow this map without bound.
                    self.last.clear();
                }
                self.last.insert((src, reason), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn last_advert_is_none_until_one_is_seen_then_its_time() {
        let stats = Stats::default();
        assert_eq!(stats.last_advert(), None);
        let before = std::time::SystemTime::now();
        stats.advert_seen();
        let seen = stats.last_advert().expect("recorded");
        // Microsecond resolution: within one of the clock read before.
        assert!(
            seen + Duration::from_micros(1) >= before,
            "{seen:?} < {before:?}"
        );
        assert!(seen <= std::time::SystemTime::now());
    }

    #[test]
    fn limiter_holds_back_repeats_and_reports_them() {
        let mut l = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(l.allow(t0, src, "bad_checksum"), Some(0));
        assert_eq!(
            l.allow(t0 + Duration::from_secs(1), src, "bad_checksum"),
            None
        );
        assert_eq!(
            l.allow(t0 + Duration::from_secs(2), src, "bad_checksum"),
            None
        );
        assert_eq!(
            l.allow(t0 + Duration::from_secs(2), src, "ttl_not_255"),
            Some(0)
        );
        assert_eq!(
            l.allow(t0 + Duration::from_secs(11), src, "bad_checksum"),
            Some(2)
        );
    }

    #[test]
    fn stats_count_by_label() {
        let s = Stats::default();
        s.bump("adverts_received");
        s.bump("adverts_received");
        s.bump("bad_checksum");
        let snap = s.snapshot();
        assert_eq!(snap["adverts_received"], 2);
        assert_eq!(snap["bad_checksum"], 1);
    }
}
