//! The top-level `arbiter:` section of a test configuration (the etcd store that instances
//! with `arbiter: true` ask before any takeover).

use std::fmt::Write;
use std::time::Duration;

use super::checks::ms;

/// What a Master does when it cannot renew its lease (`on_store_loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreLoss {
    /// Leave Master when the lease can no longer be proven (vipd's default).
    Release,
    /// Keep the VIP while the store is unreachable.
    Keep,
}

impl StoreLoss {
    /// The configuration value.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreLoss::Release => "release",
            StoreLoss::Keep => "keep",
        }
    }
}

/// `arbiter:` as a test writes it.
#[derive(Debug, Clone)]
pub struct ArbiterSpec {
    /// etcd client URLs.
    pub endpoints: Vec<String>,
    /// Lease TTL (whole seconds).
    pub ttl: Duration,
    /// How long before its lease could expire a Master leaves.
    pub margin: Duration,
    /// `on_store_loss`.
    pub on_store_loss: StoreLoss,
}

impl ArbiterSpec {
    /// Plain-HTTP endpoints, `ttl`, a 200 ms margin, `on_store_loss`.
    pub fn new(endpoints: Vec<String>, ttl: Duration, on_store_loss: StoreLoss) -> ArbiterSpec {
        ArbiterSpec {
            endpoints,
            ttl,
            margin: Duration::from_millis(200),
            on_store_loss,
        }
    }

    pub(super) fn render(&self, out: &mut String) {
        let _ = writeln!(out, "arbiter:");
        let _ = writeln!(out, "  endpoints: [{}]", self.endpoints.join(", "));
        // etcd leases are whole seconds.
        let _ = writeln!(out, "  ttl: {}s", self.ttl.as_secs());
        let _ = writeln!(out, "  margin: {}", ms(self.margin));
        let _ = writeln!(out, "  on_store_loss: {}", self.on_store_loss.as_str());
    }
}
