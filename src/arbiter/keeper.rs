//! The lease keeper: what a node does with one key in the consensus store, without doing
//! any I/O itself (the shell carries [`StoreOp`]s to etcd and replies back; the simulator
//! carries them to a model of the store).
//!
//! One keeper serves one arbitrated unit (an instance, or every member of a sync group) on
//! one node. Its routers ask it through the takeover gate; it answers only once this node's
//! lease owns the unit's key, created in one transaction. From then on it renews the lease
//! and tells its routers until when the lease is surely still theirs by this node's own
//! monotonic clock: from when the renewal was *sent* (the store restarted the TTL no earlier),
//! shortened by the worst clock-rate difference allowed and by a margin for removing the
//! addresses. A router leaves Master at that instant unless a later renewal moved it, so a
//! node that cannot renew (or was frozen) never holds the addresses past its lease.
//!
//! A Backup that finds the key held waits for its deletion (a watch, not polling): a crashed
//! Master's lease expires after its TTL, a stopping one revokes its lease at once.
//!
//! A lease is renewed from its grant on, whatever the key's state, and a renewal comes before
//! any other request: an acquire that keeps failing (its reply perhaps lost after the store
//! created the key) never outlives its lease unnoticed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{LeaseId, LeaseView, StoreError, StoreLoss};

/// What a keeper needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeeperConfig {
    /// The unit's key in the store.
    pub key: String,
    /// What this node writes as the key's value: its identity, shown as the holder.
    pub holder: String,
    /// The lease TTL asked for (the store may grant more, never less).
    pub ttl: Duration,
    /// Subtracted from every validity, to cover removing the addresses and a late timer.
    pub margin: Duration,
    /// The largest clock-rate difference between this node and the store, in parts per
    /// million: a TTL of T may pass in T × (1 − skew) of our time.
    pub skew_ppm: u32,
    /// What a Master does while the store cannot be reached.
    pub on_store_loss: StoreLoss,
}

impl KeeperConfig {
    /// How often a held lease is renewed: four chances within the TTL.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 4
    }

    /// How soon a failed request is tried again.
    pub fn retry_after(&self) -> Duration {
        (self.ttl / 10).max(Duration::from_millis(50))
    }

    /// Until when a lease whose TTL `ttl` was (re)started no earlier than `sent` is surely
    /// still ours.
    pub fn valid_until(&self, sent: Instant, ttl: Duration) -> Instant {
        let slack = ttl.mul_f64(f64::from(self.skew_ppm) / 1e6);
        let keep = ttl.saturating_sub(slack).saturating_sub(self.margin);
        sent + keep
    }
}

/// A request to the store, answered by one [`Reply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// Grant a lease of this TTL.
    Grant(Duration),
    /// Restart the lease's TTL.
    KeepAlive(LeaseId),
    /// One transaction: create the key with this lease if it does not exist, else read it.
    Acquire(LeaseId),
    /// One transaction: move the key from lease `old` (a fenced node, or this node's
    /// previous run) to lease `id`.
    TakeOver { id: LeaseId, old: LeaseId },
    /// Revoke the lease, deleting the key with it.
    Revoke(LeaseId),
}

/// The store's answer to a [`StoreOp`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A lease with the TTL the store granted.
    Granted(LeaseId, Duration),
    /// The TTL restarted, or `None` if the lease no longer exists.
    KeptAlive(Option<Duration>),
    /// The key is ours.
    Won,
    /// The key exists, owned by `lease` and written by `holder`, as of `revision`.
    Held {
        holder: String,
        lease: LeaseId,
        revision: i64,
    },
    /// Whether a take-over transaction moved the key.
    TookOver(bool),
    /// The lease is revoked (or was gone).
    Revoked,
    /// The request failed.
    Failed(StoreError),
}

/// What the keeper wants done, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeeperAction {
    /// Send this request now; its reply comes back as [`KeeperInput::Reply`].
    Store(StoreOp),
    /// Watch the key and report [`KeeperInput::Deleted`] once it is deleted after `revision`.
    Watch(i64),
    /// The watch is no longer needed.
    Unwatch,
    /// Answer a member's gate request.
    Answer {
        member: String,
        attempt: u64,
        granted: bool,
        detail: String,
    },
    /// Tell every member what the lease looks like now.
    View(LeaseView),
}

/// Everything that can happen to a keeper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeeperInput {
    /// A member's takeover gate asks; `after_fence`: the silent Master was fenced, so its
    /// key may be taken at once.
    Ask {
        member: String,
        attempt: u64,
        after_fence: bool,
    },
    /// A member no longer wants the answer to `attempt`.
    Withdraw { member: String, attempt: u64 },
    /// A member left Master (stop, maintenance, resignation, a higher priority, a fault).
    Release { member: String },
    /// The reply to the request in flight.
    Reply(Reply),
    /// The watched key was deleted.
    Deleted,
    /// The watch broke; it is set up again after a pause.
    WatchFailed(StoreError),
    /// `next_deadline` has passed.
    Timer,
}

/// Where the keeper stands with the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// Not ours, not being watched.
    Idle,
    /// The key is ours, with our lease.
    Ours,
    /// Held by another node's lease; watching for its deletion.
    Waiting,
}

/// One key's keeper. See the module docs.
#[derive(Debug)]
pub struct Keeper {
    config: KeeperConfig,
    lease: Option<LeaseId>,
    /// Until when our lease is surely alive, by our clock.
    valid_until: Option<Instant>,
    key: Key,
    /// Members waiting for an answer: attempt and whether their Master was fenced.
    wants: BTreeMap<String, (u64, bool)>,
    /// Members granted (Master, or about to be), by the attempt granted.
    masters: BTreeMap<String, u64>,
    /// The request in flight and when it was sent.
    inflight: Option<(StoreOp, Instant)>,
    /// When the lease is renewed next.
    renew_at: Option<Instant>,
    /// A renewal fell due while another request was in flight: it goes next.
    renew_owed: bool,
    /// After a failed grant or acquire: not before this.
    retry_at: Option<Instant>,
    /// Whether the last renewal failed (the store is unreachable).
    unreachable: bool,
    /// A Master's lease vanished while it could not reach the store (`keep`): get a new one
    /// and the key back before anyone else can.
    reacquiring: bool,
    /// Who holds the key, as last seen.
    holder: Option<String>,
}

impl Keeper {
    /// A keeper holding nothing.
    pub fn new(config: KeeperConfig) -> Keeper {
        Keeper {
            config,
            lease: None,
            valid_until: None,
            key: Key::Idle,
            wants: BTreeMap::new(),
            masters: BTreeMap::new(),
            inflight: None,
            renew_at: None,
            renew_owed: false,
            retry_at: None,
            unreachable: false,
            reacquiring: false,
            holder: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &KeeperConfig {
        &self.config
    }

    /// Whether this node's lease owns the key.
    pub fn holds(&self) -> bool {
        self.key == Key::Ours
    }

    /// Until when the held lease is surely ours.
    pub fn valid_until(&self) -> Option<Instant> {
        self.valid_until.filter(|_| self.holds())
    }

    /// The lease in use, if any.
    pub fn lease(&self) -> Option<LeaseId> {
        self.lease
    }

    /// Who holds the key, as last seen (this node's identity when it does).
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }

    /// Whether the last renewal failed.
    pub fn unreachable(&self) -> bool {
        self.unreachable
    }

    /// When [`KeeperInput::Timer`] must be fed next.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.renew_at, self.retry_at].into_iter().flatten().min()
    }

    /// Replaces the settings; a new TTL or margin applies from the next renewal.
    pub fn configure(&mut self, config: KeeperConfig) {
        self.config = config;
    }

    /// Feeds one input at `now` and returns what to do, in order.
    pub fn handle(&mut self, now: Instant, input: KeeperInput) -> Vec<KeeperAction> {
        let mut out = Vec::new();
        let mut renew_due = false;
        match input {
            KeeperInput::Ask {
                member,
                attempt,
                after_fence,
            } => {
                if self.holds() && self.valid_until.is_some_and(|t| t > now) {
                    self.grant(member, attempt, &mut out);
                    return out;
                }
                self.wants.insert(member, (attempt, after_fence));
                if self.key == Key::Waiting && after_fence {
                    // The fenced Master cannot renew any more: take its key now.
                    self.key = Key::Idle;
                    out.push(KeeperAction::Unwatch);
                }
            }
            KeeperInput::Withdraw { member, attempt } => {
                if self.wants.get(&member).is_some_and(|w| w.0 == attempt) {
                    self.wants.remove(&member);
                }
                if self.masters.get(&member) == Some(&attempt) {
                    self.masters.remove(&member);
                }
            }
            KeeperInput::Release { member } => {
                self.masters.remove(&member);
            }
            KeeperInput::Reply(reply) => self.reply(now, reply, &mut out),
            KeeperInput::Deleted => {
                if self.key == Key::Waiting {
                    self.key = Key::Idle;
                    self.holder = None;
                }
            }
            KeeperInput::WatchFailed(_) => {
                if self.key == Key::Waiting {
                    // Read the key afresh after a pause: it may have gone meanwhile.
                    self.key = Key::Idle;
                    self.retry_at = Some(now + self.config.retry_after());
                }
            }
            KeeperInput::Timer => {
                if self.retry_at.is_some_and(|t| t <= now) {
                    self.retry_at = None;
                }
                if self.renew_at.is_some_and(|t| t <= now) {
                    self.renew_at = None;
                    renew_due = true;
                }
            }
        }
        self.step(now, renew_due, &mut out);
        out
    }

    /// Takes the next step towards what the members need, unless a request is in flight:
    /// a lease, then the key, then renewals; or, when nobody needs the key, gives the lease
    /// back at once, so a waiting Backup takes over within one round trip.
    fn step(&mut self, now: Instant, renew_due: bool, out: &mut Vec<KeeperAction>) {
        if self.inflight.is_some() {
            self.renew_owed |= renew_due;
            return;
        }
        let renew_due = renew_due || std::mem::take(&mut self.renew_owed);
        let needed = !self.wants.is_empty() || !self.masters.is_empty() || self.reacquiring;
        let backing_off = self.retry_at.is_some();
        let op = match (needed, self.lease, self.key) {
            (false, Some(id), key) => {
                if key == Key::Waiting {
                    out.push(KeeperAction::Unwatch);
                }
                self.key = Key::Idle;
                self.lease = None;
                self.valid_until = None;
                self.renew_at = None;
                if key == Key::Ours {
                    self.holder = None;
                }
                StoreOp::Revoke(id)
            }
            (false, None, _) => {
                self.key = Key::Idle;
                self.renew_at = None;
                return;
            }
            (true, None, _) if !backing_off => StoreOp::Grant(self.config.ttl),
            // Renewed before anything else, and whether or not the key is ours: an acquire
            // whose reply was lost (it may have created the key) and that keeps failing
            // must not let the lease expire unseen, or every later acquire names a lease
            // the store no longer has ("requested lease not found") for ever.
            (true, Some(id), _) if renew_due => StoreOp::KeepAlive(id),
            (true, Some(id), Key::Idle) if !backing_off => StoreOp::Acquire(id),
            _ => return,
        };
        self.inflight = Some((op.clone(), now));
        out.push(KeeperAction::Store(op));
    }

    fn reply(&mut self, now: Instant, reply: Reply, out: &mut Vec<KeeperAction>) {
        let Some((op, sent)) = self.inflight.take() else {
            return;
        };
        match (op, reply) {
            (StoreOp::Grant(_), Reply::Granted(id, ttl)) => {
                self.lease = Some(id);
                self.valid_until = Some(self.config.valid_until(sent, ttl));
                // From when the TTL (re)started, not from the reply: a reply that took
                // longer than `renew_every` leaves the renewal due at once, where counting
                // from the reply would spend the lease's slack twice.
                self.renew_at = Some(sent + self.config.renew_every());
            }
            (StoreOp::KeepAlive(_), Reply::KeptAlive(Some(ttl))) => {
                let until = self.config.valid_until(sent, ttl);
                self.valid_until = Some(until);
                self.unreachable = false;
                if self.key == Key::Ours {
                    out.push(KeeperAction::View(LeaseView::Held { until }));
                    // A member that asked while the lease could not be proven (a Master
                    // that left at its deadline while the store had no leader, and asks
                    // again) is answered now, not after its gate patience runs out.
                    if until > now {
                        for (member, (attempt, _)) in std::mem::take(&mut self.wants) {
                            self.masters.insert(member.clone(), attempt);
                            out.push(self.answer_granted(member, attempt));
                        }
                    }
                }
                self.renew_at = Some(sent + self.config.renew_every());
            }
            (StoreOp::KeepAlive(_), Reply::KeptAlive(None)) => self.lease_gone(out),
            (
                StoreOp::Acquire(id) | StoreOp::TakeOver { id, .. },
                Reply::Won | Reply::TookOver(true),
            ) => self.won(now, id, out),
            (
                StoreOp::Acquire(id),
                Reply::Held {
                    holder,
                    lease,
                    revision,
                },
            ) => {
                let fenced = self.wants.values().any(|w| w.1);
                if lease == id {
                    self.won(now, id, out);
                } else if fenced || holder == self.config.holder {
                    // A fenced node cannot renew; this node's own previous run is gone.
                    let op = StoreOp::TakeOver { id, old: lease };
                    self.inflight = Some((op.clone(), now));
                    out.push(KeeperAction::Store(op));
                } else {
                    self.holder = Some(holder);
                    self.key = Key::Waiting;
                    self.reacquiring = false;
                    out.push(KeeperAction::Watch(revision));
                    self.lost_if_master("the key is held by another node", out);
                }
            }
            (StoreOp::TakeOver { .. }, Reply::TookOver(false)) => {
                // The key changed hands meanwhile: read it again, without force.
                self.wants.values_mut().for_each(|w| w.1 = false);
            }
            (StoreOp::Revoke(_), _) => {}
            (op, Reply::Failed(e)) => self.failed(now, op, e, out),
            (op, reply) => {
                // A reply that does not fit the request: treat the store as broken.
                let e = StoreError::Rejected(format!("unexpected reply {reply:?} to {op:?}"));
                self.failed(now, op, e, out);
            }
        }
    }

    fn won(&mut self, now: Instant, id: LeaseId, out: &mut Vec<KeeperAction>) {
        self.key = Key::Ours;
        self.holder = Some(self.config.holder.clone());
        self.lease = Some(id);
        self.reacquiring = false;
        self.unreachable = false;
        if self.renew_at.is_none() {
            self.renew_at = Some(now + self.config.renew_every());
        }
        if let Some(until) = self.valid_until {
            out.push(KeeperAction::View(LeaseView::Held { until }));
        }
        for (member, (attempt, _)) in std::mem::take(&mut self.wants) {
            self.masters.insert(member.clone(), attempt);
            out.push(self.answer_granted(member, attempt));
        }
    }

    fn grant(&mut self, member: String, attempt: u64, out: &mut Vec<KeeperAction>) {
        if let Some(until) = self.valid_until {
            out.push(KeeperAction::View(LeaseView::Held { until }));
        }
        self.masters.insert(member.clone(), attempt);
        out.push(self.answer_granted(member, attempt));
    }

    fn answer_granted(&self, member: String, attempt: u64) -> KeeperAction {
        let lease = self.lease.map_or("none".into(), |l| l.to_string());
        KeeperAction::Answer {
            member,
            attempt,
            granted: true,
            detail: format!("lease {lease} holds {}", self.config.key),
        }
    }

    /// The store says our lease is gone: a Master must go, unless (`keep`) the lease
    /// expired while the store was unreachable and the key can be had back before anyone
    /// takes it.
    fn lease_gone(&mut self, out: &mut Vec<KeeperAction>) {
        let was_ours = self.key == Key::Ours;
        let keep = self.config.on_store_loss == StoreLoss::Keep;
        self.lease = None;
        self.valid_until = None;
        self.renew_at = None;
        if self.key == Key::Waiting {
            out.push(KeeperAction::Unwatch);
        }
        self.key = Key::Idle;
        // Under `keep`, a lease lost again while getting the key back is replaced the same way.
        let cut_off = (was_ours && self.unreachable) || self.reacquiring;
        if cut_off && keep && !self.masters.is_empty() {
            self.reacquiring = true;
            self.unreachable = false;
            return;
        }
        self.unreachable = false;
        self.lost_if_master("the lease expired in the store", out);
    }

    fn lost_if_master(&mut self, why: &str, out: &mut Vec<KeeperAction>) {
        if !self.masters.is_empty() || self.reacquiring {
            self.masters.clear();
            self.reacquiring = false;
            out.push(KeeperAction::View(LeaseView::Lost {
                detail: why.to_owned(),
            }));
        }
    }

    fn failed(&mut self, now: Instant, op: StoreOp, e: StoreError, out: &mut Vec<KeeperAction>) {
        match op {
            StoreOp::KeepAlive(_) => {
                self.renew_at = Some(now + self.config.retry_after());
                if !self.unreachable {
                    self.unreachable = true;
                    if self.key == Key::Ours {
                        out.push(KeeperAction::View(LeaseView::Unreachable {
                            detail: e.to_string(),
                        }));
                    }
                }
            }
            // It expires on its own; nothing here holds it any more.
            StoreOp::Revoke(_) => {}
            StoreOp::Grant(_) | StoreOp::Acquire(_) | StoreOp::TakeOver { .. } => {
                self.retry_at = Some(now + self.config.retry_after());
                for (member, (attempt, _)) in std::mem::take(&mut self.wants) {
                    out.push(KeeperAction::Answer {
                        member,
                        attempt,
                        granted: false,
                        detail: format!("store: {e}"),
                    });
                }
            }
        }
    }
}
