//! The router's vocabulary: its configuration, what goes in and what comes out.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    FaultSource, GateAnswer, GateKind, SyncMembership, Takeover, TrackerConfig, Transition,
};

use crate::arbiter::{LeaseView, StoreLoss};
#[cfg(doc)]
use crate::vrrp::channels::ChannelHealth;
use crate::vrrp::channels::HealthChange;
use crate::vrrp::health::Health;
use crate::vrrp::packet::{Auth, ChecksumKind, Received, Reject};
use crate::vrrp::timing::Centis;
use crate::vrrp::{V3Checksum, Version};

/// What a router needs to know about itself. Built from the config by the daemon, which
/// keeps one per instance: its lists are boxed slices (no spare capacity, a pointer and a
/// length) and its name is the instance's one shared copy, which puts it in jemalloc's
/// 320-byte class rather than the 384 it took with vectors and a name of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// The instance name, for reasons and notifications.
    pub name: Arc<str>,
    /// Virtual router ID, 1..=255.
    pub vrid: u8,
    /// Protocol version.
    pub version: Version,
    /// Base priority 1..=255; 255 means address owner (starts as Master, never adjusted).
    pub priority: u8,
    /// The interval this router advertises at when Master.
    pub advert_interval: Centis,
    /// A common origin of the Masters' advert deadlines (the daemon's start). Set, a router
    /// that starts advertising sends its next advert at the last multiple of its interval
    /// after this origin that is at most one interval away, so the Masters of one host with
    /// the same interval advertise together: one wake-up serves all of them, and all their
    /// Backups. Never later than the Adver_Timer of RFC 9568 §6.4.3 asks, once a little
    /// earlier. `None`: one full interval later.
    pub advert_origin: Option<Instant>,
    /// Whether a higher-priority Backup takes over from a lower-priority Master.
    pub preempt: bool,
    /// With `preempt`, how long before preempting a lower-priority Master: from start, and
    /// from the first lower-priority advert after a Master we would not preempt (keepalived's
    /// count).
    pub preempt_delay: Duration,
    /// How long after start to stay in Backup before anything may make this router Master
    /// (keepalived's `startup_delay`).
    pub startup_delay: Duration,
    /// Missed adverts before the Master is declared down (RFC: 3).
    pub down_timer_adverts: u32,
    /// Gratuitous ARP / unsolicited NA schedule on becoming Master; `None` for the default
    /// (read it with [`RouterConfig::announce`]). Boxed: most instances keep the default,
    /// and 80 bytes inline put every router's configuration a size class higher.
    pub announce: Option<Box<AnnounceSchedule>>,
    /// Send one last advert of our own before yielding to a higher priority, so a healed
    /// partition's winner hears the loser and re-announces (keepalived's
    /// `vrrp_higher_prio_send_advert`, on by default here).
    pub yield_advert: bool,
    /// Our primary address on the interface: the advert source and the tie-breaker between
    /// equal priorities.
    pub primary_addr: IpAddr,
    /// The address we compare with an advert's `from` on each heartbeat channel, indexed like
    /// [`Advert::channel`]: index 0 is the primary interface and equals `primary_addr`; a
    /// `vrrp` channel has our source address there (its adverts come from the sender's
    /// address there); a `udp` channel has `primary_addr` (its frames carry the sender's
    /// identity).
    pub channel_addrs: Box<[IpAddr]>,
    /// Each heartbeat channel's name for logs and status, in index order (the primary
    /// interface first).
    pub channel_names: Box<[String]>,
    /// Peers' addresses on heartbeat channels, each with the address that is that peer's
    /// identity in ties (its primary address), where the configuration tells (a pair: one
    /// unicast peer on the primary interface and one on the channel). With it, an advert on
    /// any channel is tie-broken between the same two identities.
    pub peer_identities: Box<[(IpAddr, IpAddr)]>,
    /// Before taking over because every channel went silent, ask the isolation gate whether
    /// this node can still reach the outside; an isolated node goes to FAULT instead of
    /// grabbing the addresses.
    pub isolation_guard: bool,
    /// The sync group this router belongs to, if any: its gate questions every takeover the
    /// member decides on its own, and its faults are the group's members' faults. Boxed:
    /// most routers are in none, and the daemon keeps every router's configuration.
    pub sync_group: Option<Box<SyncMembership>>,
    /// A fence gate questions a takeover from silence: the silent Master is fenced (a
    /// command powers it off or cuts it off) before this router takes its addresses.
    pub fence: bool,
    /// An arbiter gate (a lease in a consensus store) questions every takeover, and what a
    /// Master does while the store is unreachable. A Master leaves when its lease can no
    /// longer be proven ours ([`Input::Lease`]), and preemption does not take a held lease
    /// away: the holder keeps it until it leaves Master.
    pub arbiter: Option<StoreLoss>,
    /// How long a takeover waits for a gate's answer before withdrawing and asking again.
    pub gate_patience: Duration,
    /// The virtual addresses, in the order adverts list them.
    pub vips: Box<[IpAddr]>,
    /// VRRPv2 authentication, sent and expected.
    pub auth: Auth,
    /// The VRRPv3-over-IPv4 checksum convention this router sends.
    pub checksum: V3Checksum,
    /// The trackers, in config order: the router adds their weights to the base priority
    /// from the health last reported for each.
    pub trackers: Box<[TrackerConfig]>,
    /// Require TTL / hop limit 255 on raw adverts from unicast peers too, as on multicast
    /// (the unicast VRRP draft requires it): a host elsewhere cannot forge one. Off for
    /// peers reached through routers.
    pub unicast_ttl_check: bool,
    /// Only adverts in sealed frames may change anything: reset a down timer, make a Master
    /// yield or answer, start a preemption or a takeover after a resignation. Raw VRRP is
    /// still sent, and what is heard raw is counted. For vipd pairs that share an
    /// authenticated channel, against forged adverts from the LAN.
    pub authenticated_decisions: bool,
}

impl RouterConfig {
    /// The announcement schedule (the default where none is configured).
    pub fn announce(&self) -> AnnounceSchedule {
        self.announce.as_deref().copied().unwrap_or_default()
    }

    /// A router on one channel with keepalived's defaults: a 1 s interval, preempt on, no
    /// delays, three missed adverts, the default announce schedule, the yield advert, no
    /// gates, no trackers, no VIPs; the rest to set with struct update syntax.
    pub fn with_defaults(
        name: &str,
        vrid: u8,
        version: Version,
        priority: u8,
        primary_addr: IpAddr,
    ) -> RouterConfig {
        RouterConfig {
            name: name.into(),
            vrid,
            version,
            priority,
            advert_interval: Centis::ONE_SECOND,
            advert_origin: None,
            preempt: true,
            preempt_delay: Duration::ZERO,
            startup_delay: Duration::ZERO,
            down_timer_adverts: 3,
            announce: None,
            yield_advert: true,
            primary_addr,
            channel_addrs: Box::new([primary_addr]),
            channel_names: Box::new(["primary".into()]),
            peer_identities: Box::default(),
            isolation_guard: false,
            sync_group: None,
            fence: false,
            arbiter: None,
            gate_patience: Duration::from_secs(2),
            vips: Box::default(),
            auth: Auth::None,
            checksum: V3Checksum::default(),
            trackers: Box::default(),
            unicast_ttl_check: true,
            authenticated_decisions: false,
        }
    }
}

/// When to send gratuitous ARPs / unsolicited NAs while Master, and how far apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnounceSchedule {
    /// Sent back to back on becoming Master (keepalived: 5).
    pub initial: u32,
    /// Sent again `repeat_after` later, if still Master (keepalived: 5).
    pub repeat: u32,
    /// Delay before the repeat burst (keepalived: 5 s).
    pub repeat_after: Duration,
    /// While Master, announce again this often; zero is off (keepalived's
    /// `garp_master_refresh`, off by default). Counted from becoming Master.
    pub refresh: Duration,
    /// Announcements per VIP at each refresh (keepalived's `garp_master_refresh_repeat`: 1).
    pub refresh_count: u32,
    /// The sender's gap between two gratuitous ARPs on the interface (keepalived's
    /// `vrrp_garp_interval`: none). The router does not use it; the address worker does.
    pub arp_interval: Duration,
    /// The sender's gap between two unsolicited NAs (keepalived's `vrrp_gna_interval`).
    pub na_interval: Duration,
}

impl Default for AnnounceSchedule {
    fn default() -> Self {
        AnnounceSchedule {
            initial: 5,
            repeat: 5,
            repeat_after: Duration::from_secs(5),
            refresh: Duration::ZERO,
            refresh_count: 1,
            arp_interval: Duration::ZERO,
            na_interval: Duration::ZERO,
        }
    }
}

/// A validated advert from another router, as the state machine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advert {
    /// Source address of the IP packet.
    pub from: IpAddr,
    /// Which heartbeat channel it arrived on (0 is the primary interface).
    pub channel: usize,
    /// The advertised priority (0 means the Master is resigning).
    pub priority: u8,
    /// The advertised interval (v3 Backups adopt it; v2 validation has already checked it).
    pub interval: Centis,
}

/// Everything that can happen to a router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Leave Initialize: Master at once for the address owner, Backup otherwise.
    Start,
    /// Shut down: a Master sends priority 0 and releases its addresses; ends in Initialize.
    Stop,
    /// A validated advert arrived.
    Advert(Advert),
    /// A well-formed advert for our VRID arrived on a channel: the router checks it against
    /// its own configuration (RFC 9568 §6.4 order), reports a [`Action::Receipt`], and handles
    /// it as [`Input::Advert`] if it passes.
    Packet(Box<Packet>),
    /// `next_deadline()` has passed; the router handles every timer that is due.
    Timer,
    /// A tracker's health changed (or is reported afresh after a reload). The router
    /// derives its effective priority and tracker faults from its current configuration and
    /// the latest health of each tracker.
    Health {
        /// The tracker's source name.
        source: String,
        /// What it says now.
        health: Health,
    },
    /// A fault source other than a tracker became active or cleared. The router is in FAULT
    /// while any source is active.
    Fault {
        /// Which link or group raised it.
        source: FaultSource,
        /// Raised (true) or cleared (false).
        active: bool,
    },
    /// Maintenance drain on or off: while on, a Master gives up with priority 0 and the
    /// router never becomes Master.
    Drain(bool),
    /// A sync-group order: another member changed state, follow it.
    Sync(SyncOrder),
    /// A gate's answer to [`Action::AskGate`]; ignored unless it answers the attempt waiting.
    Gate(GateAnswer),
    /// What the arbiter's keeper says about this node's lease (see [`LeaseView`]).
    Lease(LeaseView),
    /// New settings (configuration reload); the state does not change. The VRID, the version
    /// and address ownership (priority 255) cannot change this way: the daemon restarts the
    /// router for those. Trackers, sync-group membership and VIPs take effect at once:
    /// priority and faults are recomputed from the new settings and the current health.
    Configure(Arc<RouterConfig>),
}

/// When the thread that runs a router's timers stood still: it was due to run at `from` (a
/// deadline it was set to wake for) and ran only at `to` (a paused virtual machine, a
/// starved thread). The shell measures it once per wake-up, the same for every router that
/// thread serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    pub from: Instant,
    pub to: Instant,
}

/// A received advert as the receive loop hands it over: parsed, not yet judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The advert and the IP header fields that matter.
    pub received: Received,
    /// The channel it came in on (0 is the primary interface).
    pub channel: usize,
    /// The path it came in on, which decides what it must prove.
    pub arrival: Arrival,
}

/// How a [`Packet`] reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Raw VRRP to the multicast group: TTL / hop limit must be 255 (RFC 9568 §7.1).
    Multicast,
    /// Raw VRRP from a listed unicast peer: TTL / hop limit 255 unless the configuration
    /// says the peers are routed.
    Unicast,
    /// Inside a frame sealed with the channel's key: its origin is proven, its hop count
    /// means nothing.
    Sealed,
}

/// What became of a [`Packet`], for counters and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Accepted.
    Accepted {
        /// The checksum convention it carried.
        checksum: ChecksumKind,
        /// Set when it lists other virtual addresses than ours: still processed (RFC 9568
        /// §6.4; dropping it is how keepalived 2.2 makes two Masters during a rolling
        /// change), but worth a warning.
        other_addresses: Option<Vec<IpAddr>>,
    },
    /// Dropped, with the reason.
    Rejected(Reject),
    /// Valid, but raw VRRP while only sealed adverts may decide
    /// ([`RouterConfig::authenticated_decisions`]): heard, counted, nothing more.
    Unauthenticated,
}

/// What a limit held back (see [`Action::Suppressed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suppressed {
    /// An immediate advert answering a lower Master or a resignation: one was already sent
    /// within the last advert interval.
    Answer,
    /// A resignation from a sender whose earlier resignation its own adverts contradicted:
    /// ignored, the Backup waits for its silence instead (see `resignation.rs`).
    Resignation,
    /// A takeover for silence: this Backup ran more than a quarter interval past its
    /// Master_Down deadline, or the deadline came while its thread stood still or just after
    /// (a stalled host or thread), and it listens longer first: one Master_Adver_Interval,
    /// or as long as a shorter stall lasted.
    Takeover,
}

impl Suppressed {
    /// The counter it is counted under.
    pub fn label(self) -> &'static str {
        match self {
            Suppressed::Answer => "answers_suppressed",
            Suppressed::Resignation => "resignations_doubted",
            Suppressed::Takeover => "takeovers_deferred",
        }
    }
}

/// What a sync group tells its other members to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncOrder {
    /// A member became Master: a Backup member becomes Master too.
    Master {
        /// The group's name.
        group: String,
        /// The member that moved first.
        member: String,
    },
    /// A member left Master for Backup: a Master member follows (priority-0 advert, release),
    /// and the router does not preempt on its own until it is ordered to Master again.
    Backup {
        /// The group's name.
        group: String,
        /// The member that moved first.
        member: String,
    },
}

/// Something the router wants done, in the order returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an advert with this priority (0 when resigning) on every channel.
    SendAdvert {
        /// Advertised priority.
        priority: u8,
    },
    /// Add the virtual addresses to the interface.
    AddVips,
    /// Remove the virtual addresses from the interface.
    RemoveVips,
    /// Send `count` gratuitous ARPs / unsolicited NAs for every virtual address, now.
    Announce {
        /// Packets per address, back to back.
        count: u32,
    },
    /// The router changed state (or, Master to Master, re-asserted its mastership).
    Notify(Transition),
    /// A Backup's heartbeat channel was lost or recovered (see [`ChannelHealth`]); the
    /// router's `channel_health()` describes it.
    Channel(HealthChange),
    /// A limit held back an answer to something heard; counted, nothing sent.
    Suppressed(Suppressed),
    /// A [`Packet`] was judged.
    Receipt {
        /// The channel it came in on.
        channel: usize,
        /// Its source.
        from: IpAddr,
        /// Accepted or why not.
        receipt: Receipt,
    },
    /// Ask `gate` whether this takeover may go ahead; the answer comes back as
    /// [`Input::Gate`] with the same attempt. The isolation gate is also asked by a node in
    /// FAULT because of isolation, every Master_Down_Interval.
    AskGate {
        /// The gate.
        gate: GateKind,
        /// This attempt's number.
        attempt: u64,
        /// What kind of takeover it is.
        takeover: Takeover,
        /// The Master this takeover replaces, as last heard (the node a fence gate fences),
        /// or None if no Master was heard since this router last entered Backup.
        peer: Option<IpAddr>,
        /// An earlier gate of this attempt fenced `peer`: an arbiter may take its lease at
        /// once instead of waiting for it to expire.
        after_fence: bool,
    },
    /// Left Master under an arbiter: give the lease back at once, so a waiting Backup is
    /// granted within one round trip to the store.
    ReleaseLease,
    /// A sync-group order to Master was refused: this router hears a Master it would not
    /// preempt. The group takes its other members back to Backup, so the group is not left
    /// split across hosts.
    RefuseSyncOrder {
        /// The group.
        group: String,
    },
    /// The attempt no longer wants an answer (the router heard a Master, faulted, drained or
    /// stopped, or asks again as a new attempt).
    WithdrawGate {
        /// The gate.
        gate: GateKind,
        /// The attempt withdrawn.
        attempt: u64,
    },
}
