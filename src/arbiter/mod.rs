//! The arbiter: a lease in a consensus store (etcd) decides which node may be Master.
//!
//! VRRP alone cannot tell a dead Master from one it cannot hear. With an arbiter, the
//! takeover gate grants only to the node whose lease owns the unit's key, and a Master leaves
//! before its lease can expire by its own clock. [`keeper`] holds the decisions and does no
//! I/O; the daemon carries its requests to etcd.

pub mod board;
pub mod etcd;
pub mod keeper;
#[cfg(test)]
mod keeper_tests;

use std::fmt;
use std::time::Instant;

/// A lease in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseId(pub i64);

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// Why a request to the store failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No endpoint answered (refused, timed out, broken stream, TLS failure).
    #[error("etcd unreachable: {0}")]
    Unreachable(String),
    /// A member answered that the cluster cannot decide now: no leader, proposal timed out.
    #[error("etcd has no quorum: {0}")]
    NoQuorum(String),
    /// etcd refused the request itself; retrying elsewhere would not help.
    #[error("etcd refused the request: {0}")]
    Rejected(String),
}

/// What a Master does while the store cannot be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreLoss {
    /// Leave Master when the lease can no longer be proven (safe: never two holders).
    #[default]
    Release,
    /// Keep the addresses while VRRP is healthy; nobody can take over without a grant, so a
    /// store outage costs nothing, but a Master cut from both its peer and the store keeps
    /// them while the peer, if it reaches the store, takes over after the TTL.
    Keep,
}

/// What a keeper tells its routers about the lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseView {
    /// The lease owns the key and is surely alive until `until` by this node's clock.
    Held { until: Instant },
    /// The last renewal failed; the lease may still be alive.
    Unreachable { detail: String },
    /// The key is not ours any more.
    Lost { detail: String },
}
