//! Per-instance counters, and the rate limit on log lines about rejected packets.
//!
//! Counters are statistics, not protocol state: the receive loop and the router task both
//! write them, so they sit behind a short lock rather than inside the router.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smallvec::SmallVec;

use super::log_budget::LogBudget;
use crate::vrrp::packet::ChecksumKind;

/// What happened to one instance's packets.
#[derive(Debug, Default)]
pub struct Stats {
    /// The [`Hot`] counters, each at its own index.
    hot: [AtomicU64; Hot::ALL.len()],
    /// Microseconds since the Unix epoch of the last valid advert; 0: none yet. An atomic, so
    /// the receive path takes no lock for it.
    last_advert_us: AtomicU64,
    /// Everything else, made at the first rare event. A channel's counters (one set per
    /// channel of every instance) mostly never have one: 72 bytes instead of 184.
    rare: Mutex<Option<Box<Rare>>>,
}

#[derive(Debug, Default)]
struct Rare {
    /// A list, not a map: the first entry of a map took a 280-byte node, and an instance
    /// bumps a few rare counters. With no inline room this is a `Vec` (24 bytes), in the
    /// type [`count_in`] counts in, as it does in `transitions`.
    counts: SmallVec<[(&'static str, u64); 0]>,
    /// A list, not a map: an instance sees a handful of kinds of transition, and the first
    /// entry of a map reserved room for eleven (800 bytes per instance). Each kind by its
    /// one shared copy ([`interned`]): an entry takes 16 bytes, not 56. The first two kinds
    /// (every instance's start, a Master's takeover) inline.
    transitions: SmallVec<[(&'static TransitionKey, u64); 2]>,
    /// What only fenced instances and channels with links have: kept out, every instance
    /// has a rare part (every instance changes state), in the 80-byte class.
    rarer: Option<Box<Rarer>>,
}

#[derive(Debug, Default)]
struct Rarer {
    /// The last fence's outcome, time and detail, for `vipd status`.
    last_fence: Option<String>,
    /// Channels with a link per peer (a TCP connection, a serial line): per peer, the link
    /// that owns the entry and whether it is up now.
    links: BTreeMap<IpAddr, (u64, bool)>,
}

impl Rare {
    fn rarer(&mut self) -> &mut Rarer {
        self.rarer.get_or_insert_with(Box::default)
    }
}

/// A counter bumped for every advert sent or received (a checksum kind names each received
/// one): an atomic, so the advert path takes no lock and searches no map, and counts by this
/// name, with no text compared. Every other counter is rare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hot {
    AdvertsReceived,
    AdvertsSent,
    /// Every instance changes state at least once, at its start.
    Transitions,
    V2,
    V3Ipv6,
    V3Ipv4PseudoHeader,
    V3Ipv4Rfc9568,
}

impl Hot {
    /// Every hot counter; each one's counter is at its own index (`hot as usize`).
    const ALL: [Hot; 7] = [
        Hot::AdvertsReceived,
        Hot::AdvertsSent,
        Hot::Transitions,
        Hot::V2,
        Hot::V3Ipv6,
        Hot::V3Ipv4PseudoHeader,
        Hot::V3Ipv4Rfc9568,
    ];

    /// The counter of adverts received with `kind`'s checksum.
    pub fn checksum(kind: ChecksumKind) -> Hot {
        match kind {
            ChecksumKind::V2 => Hot::V2,
            ChecksumKind::V3Ipv6 => Hot::V3Ipv6,
            ChecksumKind::V3Ipv4PseudoHeader => Hot::V3Ipv4PseudoHeader,
            ChecksumKind::V3Ipv4Rfc9568 => Hot::V3Ipv4Rfc9568,
        }
    }

    /// Its label, as metrics and the status show it; a checksum kind's own.
    fn label(self) -> &'static str {
        match self {
            Hot::AdvertsReceived => "adverts_received",
            Hot::AdvertsSent => "adverts_sent",
            Hot::Transitions => "transitions",
            Hot::V2 => ChecksumKind::V2.label(),
            Hot::V3Ipv6 => ChecksumKind::V3Ipv6.label(),
            Hot::V3Ipv4PseudoHeader => ChecksumKind::V3Ipv4PseudoHeader.label(),
            Hot::V3Ipv4Rfc9568 => ChecksumKind::V3Ipv4Rfc9568.label(),
        }
    }
}

/// `"{prefix}_{rest}"` as a `&'static str` (counter labels are), made once per pair: the
/// pairs are a transport's prefix (its `type:` word) and a reason or event named in the
/// code, so they are few.
pub fn prefixed(prefix: &'static str, rest: &'static str) -> &'static str {
    type Names = HashMap<(&'static str, &'static str), &'static str>;
    static NAMES: std::sync::OnceLock<Mutex<Names>> = std::sync::OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    names
        .entry((prefix, rest))
        .or_insert_with(|| Box::leak(format!("{prefix}_{rest}").into_boxed_str()))
}

/// The one shared copy of `key`. The code names a few dozen kinds of transition (states,
/// and reason kinds), so the copies made over a run are few and live as long as the process.
fn interned(key: TransitionKey) -> &'static TransitionKey {
    static KNOWN: Mutex<Vec<&'static TransitionKey>> = Mutex::new(Vec::new());
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = known.iter().find(|k| ***k == key) {
        return k;
    }
    let k: &'static TransitionKey = Box::leak(Box::new(key));
    known.push(k);
    k
}

/// The events of a sealed channel's link to a peer (a connection, a serial line), counted
/// as `{type}_{event}` (`tcp_reconnects`, `serial_queue_dropped`), with their `event`
/// label in the metrics.
pub const LINK_EVENTS: [(&str, &str); 4] = [
    ("reconnects", "reconnect"),
    ("connect_failures", "connect_failure"),
    ("queue_dropped", "queue_dropped"),
    ("write_timeouts", "write_timeout"),
];

/// The `event` label of counter `name` if it counts a link event of some transport.
pub fn link_event(name: &str) -> Option<&'static str> {
    let (_, rest) = name.split_once('_')?;
    LINK_EVENTS
        .iter()
        .find(|(counter, _)| *counter == rest)
        .map(|(_, event)| *event)
}

/// What every fence counter's name starts with (`fence_fenced`, `fence_failed`,
/// `fence_no_peer`); the metrics export them as `vipd_fence_runs_total{outcome}`.
pub const FENCE_COUNTER_PREFIX: &str = "fence_";

/// (from, to, reason kind) of a counted transition. The state names are static: two
/// strings per entry made a transition cost three allocations.
pub type TransitionKey = (&'static str, &'static str, &'static str);

impl Stats {
    /// The size of the rare part every instance's counters make at its first transition,
    /// for the daemon's size budget.
    #[cfg(test)]
    pub fn rare_size() -> usize {
        size_of::<Rare>()
    }

    /// Counts a transition by its from/to states and reason kind.
    pub fn transition(&self, key: TransitionKey) {
        let key = interned(key);
        self.write(|rare| count_in(&mut rare.transitions, key, 1));
    }

    /// A copy of the transition counters.
    pub fn transitions(&self) -> BTreeMap<TransitionKey, u64> {
        self.read(|rare| rare.transitions.iter().map(|(k, n)| (**k, *n)).collect())
    }

    /// `f` of the rare part, made first if there is none yet.
    fn write<R>(&self, f: impl FnOnce(&mut Rare) -> R) -> R {
        let mut rare = self.rare.lock().unwrap_or_else(|e| e.into_inner());
        f(rare.get_or_insert_with(Box::default))
    }

    /// `f` of the rare part, or its default if there is none yet (nothing is made).
    fn read<R: Default>(&self, f: impl FnOnce(&Rare) -> R) -> R {
        let rare = self.rare.lock().unwrap_or_else(|e| e.into_inner());
        rare.as_deref().map(f).unwrap_or_default()
    }

    /// Records that a valid advert arrived now (per channel: "last advert seen"). Read from
    /// the coarse clock (as of the last tick, a few milliseconds at most, finer than a
    /// status shown to an operator needs): a copy out of the vDSO's page, where the precise
    /// clock reads the CPU's counter and, in a virtual machine, scales it, for every advert.
    pub fn advert_seen(&self) {
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME_COARSE)
            .map_or(1, |t| (Duration::from(t).as_micros() as u64).max(1));
        self.last_advert_us.store(now, Ordering::Relaxed);
    }

    /// When the last valid advert arrived, if ever.
    pub fn last_advert(&self) -> Option<std::time::SystemTime> {
        match self.last_advert_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(std::time::UNIX_EPOCH + Duration::from_micros(us)),
        }
    }

    /// Records whether the connection `link` keeps to `peer` is up now.
    pub fn link(&self, peer: IpAddr, link: u64, connected: bool) {
        self.write(|rare| rare.rarer().links.insert(peer, (link, connected)));
    }

    /// Forgets `peer`'s connection state, if `link` still owns it (a link that replaced it
    /// keeps its own).
    pub fn forget_link(&self, peer: IpAddr, link: u64) {
        let mut rare = self.rare.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rarer) = rare.as_deref_mut().and_then(|r| r.rarer.as_deref_mut())
            && rarer
                .links
                .get(&peer)
                .is_some_and(|(owner, _)| *owner == link)
        {
            rarer.links.remove(&peer);
        }
    }

    /// Per peer, whether its connection is up; empty for a channel without connections.
    pub fn links(&self) -> BTreeMap<IpAddr, bool> {
        self.read(|rare| {
            rare.rarer.as_ref().map_or_else(BTreeMap::new, |rarer| {
                rarer
                    .links
                    .iter()
                    .map(|(peer, (_, up))| (*peer, *up))
                    .collect()
            })
        })
    }

    /// Adds one to the hot counter `hot`.
    pub fn count(&self, hot: Hot) {
        self.hot[hot as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Adds one to the counter `name` (a stable snake_case label).
    pub fn bump(&self, name: &'static str) {
        self.bump_by(name, 1);
    }

    /// Counts `n` at once under `name`.
    pub fn bump_by(&self, name: &'static str, n: u64) {
        if let Some(hot) = Hot::ALL.into_iter().find(|hot| hot.label() == name) {
            self.hot[hot as usize].fetch_add(n, Ordering::Relaxed);
            return;
        }
        self.write(|rare| count_in(&mut rare.counts, name, n));
    }

    /// Records the last fence's outcome for the status.
    pub fn set_last_fence(&self, line: String) {
        self.write(|rare| rare.rarer().last_fence = Some(line));
    }

    /// The last fence's outcome, time and detail, if a fence gate was ever answered.
    pub fn last_fence(&self) -> Option<String> {
        self.read(|rare| rare.rarer.as_ref().and_then(|r| r.last_fence.clone()))
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        let mut counts: BTreeMap<&'static str, u64> =
            self.read(|rare| rare.counts.iter().copied().collect());
        // As in the map, a counter is there once it was bumped.
        for hot in Hot::ALL {
            match self.hot[hot as usize].load(Ordering::Relaxed) {
                0 => {}
                n => {
                    counts.insert(hot.label(), n);
                }
            }
        }
        counts
    }
}

/// Lets through one log line per (source, reason) per `every`, and says how many were held
/// back, so a flood of bad packets costs a counter each, not a log line each. Every line let
/// through also takes a token from the process's `LogBudget`, so a flood from ever new
/// (spoofed) sources is held to the budget as well.
#[derive(Debug)]
pub struct LogLimiter {
    every: Duration,
    last: HashMap<(IpAddr, &'static str), (Instant, u64)>,
    budget: Arc<LogBudget>,
    swept_at: Option<Instant>,
}

/// Keys a limiter remembers. When they are all recent, a line for a new key is held back
/// (counted by the budget) rather than the table grown: spoofed sources are endless.
pub const MAX_KEYS: usize = 1024;

impl LogLimiter {
    /// A limiter that logs each (source, reason) at most once per `every`, within the
    /// process's budget.
    pub fn new(every: Duration) -> Self {
        LogLimiter::with_budget(every, LogBudget::global())
    }

    /// The same, with a budget of its own (for tests).
    pub fn with_budget(every: Duration, budget: Arc<LogBudget>) -> Self {
        LogLimiter {
            every,
            last: HashMap::new(),
            budget,
            swept_at: None,
        }
    }

    /// `Some(suppressed)` when a line may be logged now, with the number held back for this
    /// key since the last one; `None` when it must be held back.
    pub fn allow(&mut self, now: Instant, src: IpAddr, reason: &'static str) -> Option<u64> {
        let every = self.every;
        match self.last.get_mut(&(src, reason)) {
            Some((at, held)) if now.saturating_duration_since(*at) < every => {
                *held += 1;
                None
            }
            Some((at, held)) => {
                // Over budget, the key stays due: its next packet may be the one logged.
                if !self.budget.take(now) {
                    return None;
                }
                *at = now;
                Some(std::mem::take(held))
            }
            None => {
                if self.last.len() >= MAX_KEYS {
                    self.sweep(now);
                }
                if self.last.len() >= MAX_KEYS {
                    self.budget.held_back(1);
                    return None;
                }
                if !self.budget.take(now) {
                    return None;
                }
                self.last.insert((src, reason), (now, 0));
                Some(0)
            }
        }
    }

    /// Forgets keys not logged for `every` (their held-back count goes to the budget's
    /// summary), at most once a second: under a flood each sweep walks the whole table.
    fn sweep(&mut self, now: Instant) {
        if self
            .swept_at
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.swept_at = Some(now);
        let (every, budget) = (self.every, &self.budget);
        self.last.retain(|_, (at, held)| {
            let keep = now.saturating_duration_since(*at) < every;
            if !keep {
                budget.held_back(*held);
            }
            keep
        });
    }
}

/// A [`LogLimiter`] made at its first line: most routers never log a rejected advert, and
/// a limiter kept in every router task was 88 bytes per instance. One line per source and
/// reason every [`LazyLogLimiter::EVERY`], as the receive loops' limiters; a constant, not
/// a field, as every router task holds one.
#[derive(Debug, Default)]
pub struct LazyLogLimiter {
    made: Option<Box<LogLimiter>>,
}

impl LazyLogLimiter {
    /// The period.
    pub const EVERY: Duration = Duration::from_secs(10);

    /// [`LogLimiter::allow`].
    pub fn allow(&mut self, now: Instant, src: IpAddr, reason: &'static str) -> Option<u64> {
        self.made
            .get_or_insert_with(|| Box::new(LogLimiter::new(Self::EVERY)))
            .allow(now, src, reason)
    }
}

/// Adds `by` to `key`'s count in a short list of counters, appending it at `by` the first time.
/// Grown one entry at a time: a doubling list kept room for four.
fn count_in<K: PartialEq, A: smallvec::Array<Item = (K, u64)>>(
    list: &mut SmallVec<A>,
    key: K,
    by: u64,
) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += by,
        None => {
            list.reserve_exact(1);
            list.push((key, by));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn a_count_of_many_adds_them_all_to_a_hot_or_rare_counter() {
        let stats = Stats::default();
        stats.bump_by("queue_full", 40);
        stats.bump("queue_full");
        stats.bump_by("adverts_received", 7);
        let counts = stats.snapshot();
        assert_eq!(counts.get("queue_full"), Some(&41));
        assert_eq!(counts.get("adverts_received"), Some(&7));
    }

    #[test]
    fn hot_and_rare_counters_snapshot_alike_and_only_once_bumped() {
        let stats = Stats::default();
        assert!(stats.snapshot().is_empty());
        for _ in 0..3 {
            stats.bump("adverts_received");
        }
        stats.bump("v3_ipv4_pseudo_header");
        stats.bump("bad_ttl");
        stats.bump("bad_ttl");
        let snap = stats.snapshot();
        assert_eq!(
            snap.into_iter().collect::<Vec<_>>(),
            [
                ("adverts_received", 3),
                ("bad_ttl", 2),
                ("v3_ipv4_pseudo_header", 1)
            ]
        );
    }

    #[test]
    fn last_advert_is_none_until_one_is_seen_then_its_time() {
        let stats = Stats::default();
        assert_eq!(stats.last_advert(), None);
        let coarse_us = || {
            let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME_COARSE);
            Duration::from(t.expect("the coarse clock")).as_micros()
        };
        let before = std::time::SystemTime::now();
        let coarse_before = coarse_us();
        stats.advert_seen();
        let coarse_after = coarse_us();
        let seen = stats.last_advert().expect("recorded");
        // Read from the coarse clock itself: between two reads of it, to the microsecond.
        let seen_us = seen
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros();
        assert!(
            (coarse_before..=coarse_after).contains(&seen_us),
            "{seen_us} µs outside the coarse clock's {coarse_before}..={coarse_after}"
        );
        // The coarse clock is as of the last tick the kernel served, which on a loaded or
        // virtual machine can lag well past the clock's nominal resolution: allow a second.
        assert!(
            seen + Duration::from_secs(1) >= before,
            "{seen:?} more than a second before {before:?}"
        );
        assert!(seen <= std::time::SystemTime::now());
    }

    #[test]
    fn limiter_holds_back_repeats_and_reports_them() {
        let budget = Arc::new(LogBudget::new(100, 100));
        let mut l = LogLimiter::with_budget(Duration::from_secs(10), budget);
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

    fn spoofed(k: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + k))
    }

    #[test]
    fn a_flood_from_spoofed_sources_is_held_to_the_budget_and_summed_up() {
        let budget = Arc::new(LogBudget::new(10, 50));
        let mut l = LogLimiter::with_budget(Duration::from_secs(10), budget.clone());
        let t0 = Instant::now();
        // 20,000 packets from 20,000 sources over two seconds.
        let logged = (0..20_000u32)
            .filter(|k| {
                let at = t0 + Duration::from_micros(u64::from(*k) * 100);
                l.allow(at, spoofed(*k), "ttl_not_255").is_some()
            })
            .count();
        // The burst, then ten a second.
        assert!((50..=71).contains(&logged), "{logged} lines");
        assert_eq!(budget.take_held_back(), 20_000 - logged as u64);
        assert!(l.last.len() <= MAX_KEYS);
    }

    #[test]
    fn the_key_table_stays_bounded_and_old_keys_make_room() {
        let budget = Arc::new(LogBudget::new(1_000_000, 1_000_000));
        let every = Duration::from_secs(10);
        let mut l = LogLimiter::with_budget(every, budget.clone());
        let t0 = Instant::now();
        for k in 0..MAX_KEYS as u32 {
            assert_eq!(l.allow(t0, spoofed(k), "bad_checksum"), Some(0));
        }
        // Repeats of a known key are held back per key, as before.
        assert_eq!(l.allow(t0, spoofed(0), "bad_checksum"), None);
        // Full of recent keys: a new one is held back, not added.
        let new = spoofed(1_000_000);
        assert_eq!(
            l.allow(t0 + Duration::from_secs(1), new, "bad_checksum"),
            None
        );
        assert_eq!(l.last.len(), MAX_KEYS);
        assert_eq!(budget.take_held_back(), 1);
        // Once the keys are old, a sweep forgets them; their held-back lines are counted.
        assert_eq!(l.allow(t0 + every, new, "bad_checksum"), Some(0));
        assert_eq!(l.last.len(), 1);
        assert_eq!(budget.take_held_back(), 1, "the repeat of key 0");
    }

    #[test]
    fn a_due_key_over_budget_stays_due() {
        let budget = Arc::new(LogBudget::new(1, 1));
        let mut l = LogLimiter::with_budget(Duration::from_secs(10), budget);
        let t0 = Instant::now();
        let (a, b) = (spoofed(1), spoofed(2));
        assert_eq!(l.allow(t0, a, "bad_ttl"), Some(0));
        // b comes while the bucket is empty: held back, and not marked as logged.
        assert_eq!(l.allow(t0, b, "bad_ttl"), None);
        assert_eq!(l.allow(t0 + Duration::from_secs(1), b, "bad_ttl"), Some(0));
    }

    #[test]
    fn transitions_count_by_their_states_and_reason() {
        let s = Stats::default();
        s.transition(("BACKUP", "MASTER", "master_down"));
        s.transition(("MASTER", "BACKUP", "preempted"));
        s.transition(("BACKUP", "MASTER", "master_down"));
        let counted: Vec<_> = s.transitions().into_iter().collect();
        assert_eq!(
            counted,
            vec![
                (("BACKUP", "MASTER", "master_down"), 2),
                (("MASTER", "BACKUP", "preempted"), 1)
            ]
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

    /// A hot counter counted by its position is the one its label names: the metrics and
    /// the status show counters by label.
    #[test]
    fn hot_counters_counted_by_position_show_under_their_labels() {
        use ChecksumKind::*;
        let kinds = [V2, V3Ipv6, V3Ipv4PseudoHeader, V3Ipv4Rfc9568];
        let named = [
            (Hot::AdvertsReceived, "adverts_received"),
            (Hot::AdvertsSent, "adverts_sent"),
            (Hot::Transitions, "transitions"),
        ]
        .into_iter()
        .chain(kinds.map(|k| (Hot::checksum(k), k.label())));
        for (n, (hot, label)) in named.enumerate() {
            let s = Stats::default();
            for _ in 0..=n {
                s.count(hot);
            }
            // Bumped by label, the same counter.
            s.bump(label);
            assert_eq!(
                s.snapshot(),
                BTreeMap::from([(label, n as u64 + 2)]),
                "{hot:?}"
            );
        }
    }
}
