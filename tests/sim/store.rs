//! The consensus store (etcd) as a model: leases with a TTL on the store's own clock, one key
//! per arbitrated unit written in transactions, a revision counter and watchers.
//!
//! What the keeper relies on is modelled as etcd behaves:
//! - a lease expires TTL after its last grant or keep-alive *by the store's clock*, which may
//!   run up to `rate_ppm` faster or slower than the nodes' (so TTL / rate of simulated time);
//!   expiry deletes the keys attached to it, with a new revision;
//! - the key is created only if absent (`create_revision == 0` in one transaction), and a put
//!   with a lease that no longer exists fails ("requested lease not found");
//! - while the cluster has no leader no lease expires, and the leader elected when quorum
//!   returns restarts every lease's TTL from then (etcd's lessor `Promote`);
//! - a watch from a revision reports a deletion that happened after it, even one that
//!   happened before the watch was set up.
//!
//! Delivery (round trips, timeouts, partitions) is the simulator's business, not this file's.

use std::collections::BTreeMap;
use std::time::Duration;

use vipd::arbiter::LeaseId;
use vipd::arbiter::StoreError;
use vipd::arbiter::keeper::{Reply, StoreOp};

/// A lease in the store.
#[derive(Clone, Debug)]
struct Lease {
    ttl: Duration,
    /// When it expires, in simulated time.
    expires: Duration,
}

/// The unit's key.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Who wrote it (the keeper's `holder`).
    pub holder: String,
    /// The lease it is attached to.
    pub lease: LeaseId,
    /// The revision that created it.
    pub create_rev: i64,
}

/// The store. See the module docs.
#[derive(Clone, Debug)]
pub struct Store {
    /// How much faster the store's clock runs than the nodes', in parts per million
    /// (negative: slower).
    pub rate_ppm: i32,
    /// Whether the cluster has a leader.
    quorum: bool,
    leases: BTreeMap<LeaseId, Lease>,
    key: Option<Entry>,
    revision: i64,
    next_lease: i64,
    /// Who watches the key, from which revision: node → (incarnation, revision).
    watchers: BTreeMap<usize, (u64, i64)>,
    /// A broken store that creates the key whether or not it exists (to prove the
    /// properties catch one).
    pub grants_without_checking: bool,
}

impl Store {
    /// An empty store whose clock runs `rate_ppm` off the nodes'.
    pub fn new(rate_ppm: i32) -> Store {
        Store {
            rate_ppm,
            quorum: true,
            leases: BTreeMap::new(),
            key: None,
            revision: 1,
            next_lease: 0x7000,
            watchers: BTreeMap::new(),
            grants_without_checking: false,
        }
    }

    /// How much simulated time a TTL of the store's clock lasts.
    fn lasts(&self, ttl: Duration) -> Duration {
        ttl.div_f64(1.0 + f64::from(self.rate_ppm) / 1e6)
    }

    /// Whether the cluster has a leader.
    pub fn has_quorum(&self) -> bool {
        self.quorum
    }

    /// The key, if it exists.
    pub fn key(&self) -> Option<&Entry> {
        self.key.as_ref()
    }

    /// Whether lease `id` exists.
    pub fn lease_alive(&self, id: LeaseId) -> bool {
        self.leases.contains_key(&id)
    }

    /// Applies one request at `now` for `holder`; returns the reply and whether the key was
    /// deleted (the watchers must hear of it).
    pub fn apply(&mut self, now: Duration, op: &StoreOp, holder: &str) -> (Reply, bool) {
        let not_found = || Reply::Failed(StoreError::Rejected("requested lease not found".into()));
        match *op {
            StoreOp::Grant(ttl) => {
                self.next_lease += 1;
                let id = LeaseId(self.next_lease);
                let expires = now + self.lasts(ttl);
                self.leases.insert(id, Lease { ttl, expires });
                (Reply::Granted(id, ttl), false)
            }
            StoreOp::KeepAlive(id) => {
                let lasts = self.leases.get(&id).map(|l| self.lasts(l.ttl));
                let reply = match (self.leases.get_mut(&id), lasts) {
                    (Some(lease), Some(lasts)) => {
                        lease.expires = now + lasts;
                        Reply::KeptAlive(Some(lease.ttl))
                    }
                    _ => Reply::KeptAlive(None),
                };
                (reply, false)
            }
            StoreOp::Acquire(id) => {
                let existing = self.key.as_ref().filter(|_| !self.grants_without_checking);
                if let Some(entry) = existing {
                    let reply = Reply::Held {
                        holder: entry.holder.clone(),
                        lease: entry.lease,
                        revision: self.revision,
                    };
                    return (reply, false);
                }
                if !self.lease_alive(id) {
                    return (not_found(), false);
                }
                self.revision += 1;
                self.key = Some(Entry {
                    holder: holder.to_owned(),
                    lease: id,
                    create_rev: self.revision,
                });
                (Reply::Won, false)
            }
            StoreOp::TakeOver { id, old } => match &mut self.key {
                Some(entry) if entry.lease == old => {
                    if !self.leases.contains_key(&id) {
                        return (not_found(), false);
                    }
                    self.revision += 1;
                    entry.lease = id;
                    entry.holder = holder.to_owned();
                    (Reply::TookOver(true), false)
                }
                _ => (Reply::TookOver(false), false),
            },
            StoreOp::Revoke(id) => {
                self.leases.remove(&id);
                let deleted = self.drop_key_of(&[id]);
                (Reply::Revoked, deleted)
            }
        }
    }

    /// Deletes the key if one of `leases` owns it; returns whether it did.
    fn drop_key_of(&mut self, leases: &[LeaseId]) -> bool {
        if self.key.as_ref().is_some_and(|k| leases.contains(&k.lease)) {
            self.key = None;
            self.revision += 1;
            return true;
        }
        false
    }

    /// When the next lease expires (never while the cluster has no leader).
    pub fn next_expiry(&self) -> Option<Duration> {
        self.quorum
            .then(|| self.leases.values().map(|l| l.expires).min())
            .flatten()
    }

    /// Expires every lease due by `now`; returns whether the key went with one.
    pub fn expire(&mut self, now: Duration) -> bool {
        if !self.quorum {
            return false;
        }
        let gone: Vec<LeaseId> = (self.leases.iter())
            .filter(|(_, l)| l.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            self.leases.remove(id);
        }
        self.drop_key_of(&gone)
    }

    /// The cluster loses its leader: nothing expires until it has one again.
    pub fn lose_quorum(&mut self) {
        self.quorum = false;
    }

    /// A leader again: every lease's TTL restarts now, as etcd's new leader does.
    pub fn regain_quorum(&mut self, now: Duration) {
        if self.quorum {
            return;
        }
        self.quorum = true;
        let rate = 1.0 + f64::from(self.rate_ppm) / 1e6;
        for lease in self.leases.values_mut() {
            lease.expires = now + lease.ttl.div_f64(rate);
        }
    }

    /// Node `node` (run `incarnation`) watches for a deletion after `revision`; returns true
    /// if one already happened (the key is gone or was created again since).
    pub fn watch(&mut self, node: usize, incarnation: u64, revision: i64) -> bool {
        match &self.key {
            Some(k) if k.create_rev <= revision => {
                self.watchers.insert(node, (incarnation, revision));
                false
            }
            _ => true,
        }
    }

    /// Node `node` no longer watches (cancelled, broken, or its process died).
    pub fn unwatch(&mut self, node: usize) -> Option<u64> {
        self.watchers.remove(&node).map(|w| w.0)
    }

    /// The key was deleted: every watcher hears it once, by (node, incarnation).
    pub fn take_watchers(&mut self) -> Vec<(usize, u64)> {
        std::mem::take(&mut self.watchers)
            .into_iter()
            .map(|(node, (inc, _))| (node, inc))
            .collect()
    }
}
