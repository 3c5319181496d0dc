//! The network between the nodes' keepers and the store's model.
//!
//! A request to the store takes a random one-way delay each way. It fails after the client's
//! request timeout when its node is cut from the store on the way there or back, or when the
//! cluster has no leader; a request cut on the way back was applied all the same. A cut breaks
//! the node's watch (reported after the request timeout, as a client notices a dead stream).
//! The store's deletions reach each watcher one way later.

use std::time::Duration;

use vipd::arbiter::StoreError;
use vipd::arbiter::keeper::{KeeperInput, Reply, StoreOp};

use super::Sim;
use super::arbiter::Event;
use super::store::Store;

impl Sim {
    /// Sends a watch for deletions after `revision` from node `i`.
    /// Run `inc` of node `i`'s keeper hears its watch failed one request timeout from now, as
    /// the etcd client reports a store it cannot reach.
    fn watch_unreachable(&mut self, i: usize, inc: u64) {
        let input = KeeperInput::WatchFailed(StoreError::Unreachable("cut".into()));
        let at = self.now + self.arbiter_spec.request_timeout;
        self.push_event(
            at,
            Event::Keeper {
                node: i,
                inc,
                input,
            },
        );
    }

    pub(super) fn send_watch(&mut self, i: usize, revision: i64) {
        let (inc, at) = (self.nodes[i].incarnation, self.now + self.one_way());
        if self.store_cut.contains(&i) {
            self.watch_unreachable(i, inc);
        } else {
            let watch = Event::Watch {
                node: i,
                inc,
                revision,
            };
            self.push_event(at, watch);
        }
    }

    /// One way between a node and the store: 1 ms up to the spec's bound.
    pub(super) fn one_way(&mut self) -> Duration {
        let span = self.arbiter_spec.one_way.as_micros() as u64;
        Duration::from_micros(1000 + self.next_u64() % span.saturating_sub(999).max(1))
    }

    /// The store (an arbiter cluster always has one).
    pub(super) fn store_mut(&mut self) -> &mut Store {
        self.store.as_mut().expect("an arbiter cluster has a store")
    }

    /// Sends node `i`'s request; its reply (or failure) comes back as a keeper input.
    pub(super) fn send_request(&mut self, i: usize, op: StoreOp) {
        let (inc, sent) = (self.nodes[i].incarnation, self.now);
        if self.store_cut.contains(&i) {
            self.fail_at(i, inc, sent, StoreError::Unreachable("cut".into()));
            return;
        }
        let at = self.now + self.one_way();
        self.push_event(
            at,
            Event::Arrive {
                node: i,
                inc,
                op,
                sent,
            },
        );
    }

    /// The request sent at `sent` fails when the client gives up on it.
    pub(super) fn fail_at(&mut self, node: usize, inc: u64, sent: Duration, e: StoreError) {
        let at = sent + self.arbiter_spec.request_timeout;
        let input = KeeperInput::Reply(Reply::Failed(e));
        self.push_event(at, Event::Keeper { node, inc, input });
    }

    /// A request reaches the store: applied unless the node is cut or there is no leader.
    pub(super) fn arrive(&mut self, node: usize, inc: u64, op: StoreOp, sent: Duration) {
        if self.store_cut.contains(&node) {
            return self.fail_at(node, inc, sent, StoreError::Unreachable("cut".into()));
        }
        if !self.store_mut().has_quorum() {
            return self.fail_at(node, inc, sent, StoreError::NoQuorum("no leader".into()));
        }
        // Applied even if the node died meanwhile: the request was on the wire.
        let holder = self.keeper_config(node).holder;
        let now = self.now;
        let (reply, deleted) = self.store_mut().apply(now, &op, &holder);
        if self.trace {
            eprintln!("{now:?} store: {holder} {op:?} -> {reply:?}");
        }
        if deleted {
            self.deleted();
        }
        let at = self.now + self.one_way();
        self.push_event(
            at,
            Event::Back {
                node,
                inc,
                reply,
                sent,
            },
        );
    }

    /// A watch reaches the store: reports at once a deletion that already happened.
    pub(super) fn watch_arrives(&mut self, node: usize, inc: u64, revision: i64) {
        if !self.current(node, inc) {
            return;
        }
        if self.store_cut.contains(&node) {
            let input = KeeperInput::WatchFailed(StoreError::Unreachable("cut".into()));
            let at = self.now + self.arbiter_spec.request_timeout;
            return self.push_event(at, Event::Keeper { node, inc, input });
        }
        if self.store_mut().watch(node, inc, revision) {
            let at = self.now + self.one_way();
            let input = KeeperInput::Deleted;
            self.push_event(at, Event::Keeper { node, inc, input });
        }
    }

    /// The key was deleted: every watcher hears it one way later.
    fn deleted(&mut self) {
        for (node, inc) in self.store_mut().take_watchers() {
            let at = self.now + self.one_way();
            let input = KeeperInput::Deleted;
            self.push_event(at, Event::Keeper { node, inc, input });
        }
    }

    /// Expires the store's leases due now.
    pub(super) fn expire_leases(&mut self) {
        let now = self.now;
        if self.store_mut().expire(now) {
            self.deleted();
        }
    }

    /// Cuts node `i` from the store: its requests fail, its watch breaks.
    pub fn cut_store(&mut self, i: usize) {
        if !self.store_cut.insert(i) {
            return;
        }
        if let Some(inc) = self.store_mut().unwatch(i) {
            self.watch_unreachable(i, inc);
        }
    }

    /// Reconnects every node to the store.
    pub fn heal_store(&mut self) {
        self.store_cut.clear();
    }

    /// The store's cluster loses (false) or regains (true) its leader.
    pub fn set_quorum(&mut self, quorum: bool) {
        let now = self.now;
        let store = self.store_mut();
        if quorum {
            store.regain_quorum(now);
        } else {
            store.lose_quorum();
        }
    }

    /// Under `release`, a running node holds the addresses only while its own lease owns the
    /// key in the store.
    pub(super) fn check_lease(&mut self, i: usize) {
        let node = &self.nodes[i];
        let release = self.spec.arbiter == Some(vipd::arbiter::StoreLoss::Release);
        if !release || !node.alive || node.frozen || !node.holds_vips {
            return;
        }
        let lease = node.keeper.as_ref().and_then(|k| k.lease());
        let store = self.store.as_ref().expect("an arbiter cluster has a store");
        let owner = store.key().map(|k| k.lease);
        if lease.is_none() || owner != lease || !lease.is_some_and(|l| store.lease_alive(l)) {
            self.violations.push(format!(
                "{:?}: node {i} holds the VIPs, but its lease {lease:?} does not own the key \
                 (owned by {owner:?})",
                self.now
            ));
        }
    }

    /// Whether node `i`'s current lease is alive in the store and owns the key.
    pub fn owns_key(&self, i: usize) -> bool {
        let lease = self.nodes[i].keeper.as_ref().and_then(|k| k.lease());
        let Some(store) = self.store.as_ref() else {
            return false;
        };
        lease.is_some_and(|l| store.lease_alive(l) && store.key().is_some_and(|k| k.lease == l))
    }
}
