//! What the arbiter task shows: written by the daemon's task, read by `vipd status` and the
//! metrics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One key's arbiter, as `vipd status` prints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArbiterStatus {
    /// The key in the store.
    pub key: String,
    /// Whether the store answered the last request.
    pub reachable: bool,
    /// Who holds the key as last seen: this node's identity or another's.
    pub holder: Option<String>,
    /// Whether this node's lease owns the key.
    pub held_here: bool,
    /// Milliseconds until the held lease can no longer be proven ours.
    pub lease_left_ms: Option<u64>,
    /// Takeovers granted and refused.
    pub grants: u64,
    /// Takeovers refused (the store could not be asked).
    pub denials: u64,
    /// Renewals that succeeded and failed.
    pub renewals: u64,
    /// Renewals that failed.
    pub renew_failures: u64,
    /// Round trip of the last successful renewal, in milliseconds.
    pub renew_latency_ms: Option<f64>,
    /// The last error the store gave.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Seen {
    reachable: bool,
    holder: Option<String>,
    held_here: bool,
    valid_until: Option<Instant>,
    renew_latency: Option<Duration>,
    last_error: Option<String>,
}

/// The live figures of one key's arbiter.
#[derive(Debug)]
pub struct ArbiterBoard {
    key: String,
    seen: Mutex<Seen>,
    /// Takeovers granted.
    pub grants: AtomicU64,
    /// Takeovers refused.
    pub denials: AtomicU64,
    /// Successful renewals.
    pub renewals: AtomicU64,
    /// Failed renewals.
    pub renew_failures: AtomicU64,
}

impl ArbiterBoard {
    /// A board for `key`, nothing seen yet.
    pub fn new(key: String) -> ArbiterBoard {
        ArbiterBoard {
            key,
            seen: Mutex::new(Seen::default()),
            grants: AtomicU64::new(0),
            denials: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
            renew_failures: AtomicU64::new(0),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store answered (`Ok`) or not.
    pub fn answered(&self, result: Result<(), String>) {
        let mut s = self.seen();
        s.reachable = result.is_ok();
        if let Err(e) = result {
            s.last_error = Some(e);
        }
    }

    /// Who holds the key now, and whether that is us with a lease proven until `until`.
    pub fn holder(&self, holder: Option<String>, held_here: bool, until: Option<Instant>) {
        let mut s = self.seen();
        s.holder = holder;
        s.held_here = held_here;
        s.valid_until = until.filter(|_| held_here);
    }

    /// A renewal came back after `latency`.
    pub fn renewed(&self, latency: Duration) {
        self.renewals.fetch_add(1, Ordering::Relaxed);
        self.seen().renew_latency = Some(latency);
    }

    /// The status now.
    pub fn status(&self, now: Instant) -> ArbiterStatus {
        let s = self.seen();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ArbiterStatus {
            key: self.key.clone(),
            reachable: s.reachable,
            holder: s.holder.clone(),
            held_here: s.held_here,
            lease_left_ms: s
                .valid_until
                .map(|t| t.saturating_duration_since(now).as_millis() as u64),
            grants: load(&self.grants),
            denials: load(&self.denials),
            renewals: load(&self.renewals),
            renew_failures: load(&self.renew_failures),
            renew_latency_ms: s.renew_latency.map(|d| d.as_secs_f64() * 1000.0),
            last_error: s.last_error.clone(),
        }
    }
}
