//! The typed configuration, with defaults applied. A [`Config`] returned by
//! [`Config::load`] has passed every check in this module's siblings, so the daemon can use
//! it without re-checking.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::vrrp::packet;

pub use super::channel_model::{Channel, ChannelKind, NetPath, SealedPort, SerialLine};
use crate::vrrp::router::{AnnounceSchedule, RouterConfig};
use crate::vrrp::timing::Centis;
use crate::vrrp::{Family, V3Checksum, Version};

/// A whole configuration file.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Daemon-wide settings.
    pub global: Global,
    /// Reusable health checks, by name; instances refer to them from `track`.
    pub checks: BTreeMap<String, Check>,
    /// Virtual routers, by name. Never empty.
    pub instances: BTreeMap<String, Instance>,
    /// Sync groups: members change state together. Each instance is in at most one group.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Notify commands of sync groups (`groups: {NAME: {members, notify}}`), by group name;
    /// called as `GROUP <name> <STATE>` when the group as a whole changes state.
    pub group_notify: BTreeMap<String, Notify>,
    /// The consensus store whose leases decide who may be Master, for instances with
    /// `arbiter: true`.
    pub arbiter: Option<super::ArbiterStore>,
}

impl Config {
    /// The sync group `instance` belongs to, by name, with its members.
    pub fn group_of(&self, instance: &str) -> Option<(&str, &[String])> {
        self.groups
            .iter()
            .find(|(_, members)| members.iter().any(|m| m == instance))
            .map(|(group, members)| (group.as_str(), members.as_slice()))
    }
}

/// The `global` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// A name for this host in logs and events; `None` means use the hostname.
    pub router_id: Option<String>,
    /// Unix socket for `vipd status` and friends.
    pub control_socket: PathBuf,
    /// Where to serve Prometheus metrics; `None` disables them.
    pub metrics_listen: Option<SocketAddr>,
    /// The user scripts run as when vipd runs as root; `None` keeps root.
    pub script_user: Option<String>,
    /// A file or FIFO that gets one JSON line per state change; `None` disables it.
    pub event_log: Option<PathBuf>,
    /// The line format of `event_log` (default JSON).
    pub event_log_format: EventLogFormat,
    /// A group whose members may use the control socket (mode 0660); `None`: root only (0600).
    pub control_group: Option<String>,
    /// The SCHED_RR priority (1..=99) of the thread that runs the routers; 0 leaves it at
    /// normal priority (keepalived's `vrrp_rt_priority`).
    pub realtime_priority: u8,
}

/// Realtime by default, unlike keepalived: on a host whose cores are saturated, a thread at
/// normal priority waits tens of milliseconds for its turn, longer than Master_Down_Interval
/// at 10 ms adverts, and a Backup takes over from a healthy Master. 10 is above every
/// normal thread and below the kernel's interrupt threads (50).
pub const DEFAULT_REALTIME_PRIORITY: u8 = 10;

/// How `global.event_log` writes a transition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EventLogFormat {
    /// One JSON object per line, the same line `vipd events` prints.
    #[default]
    Json,
    /// keepalived's `notify_fifo` line, `INSTANCE "VI_1" MASTER 100`, so FIFO readers
    /// written for keepalived keep working.
    Keepalived,
}

/// The default control socket path.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/vipd/vipd.sock";

impl Default for Global {
    fn default() -> Self {
        Global {
            router_id: None,
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            metrics_listen: None,
            script_user: None,
            event_log: None,
            event_log_format: EventLogFormat::Json,
            control_group: None,
            realtime_priority: DEFAULT_REALTIME_PRIORITY,
        }
    }
}

/// A named health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What is probed.
    pub kind: CheckKind,
    /// Time between probes (at most [`MAX_CHECK_INTERVAL`]).
    pub interval: Duration,
    /// How long one probe may take before it counts as failed (default: the interval; at
    /// most [`MAX_CHECK_INTERVAL`]).
    pub timeout: Duration,
    /// Consecutive successes needed to go from failed to healthy.
    pub rise: u32,
    /// Consecutive failures needed to go from healthy to failed.
    pub fall: u32,
    /// Run a script check as this user instead of `global.script_user`.
    pub user: Option<String>,
}

/// The one kind of probe a check performs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// A command line, split as a shell would but run without one (no expansion, no
    /// pipes); exit status 0 is healthy.
    Script(String),
    /// A TCP connect to `host:port` succeeds.
    Tcp {
        /// Host name or address (IPv6 without brackets).
        host: String,
        /// TCP port, non-zero.
        port: u16,
    },
    /// An HTTP GET returns the expected status (and body substring).
    Http(HttpCheck),
    /// A network interface is up with carrier.
    Interface(String),
    /// An integer read from a file (keepalived's `track_file`); see [`Track::weight`].
    File(PathBuf),
    /// A count of matching processes within a quorum (keepalived's `vrrp_track_process`).
    Process(super::ProcessCheck),
}

/// An HTTP health probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCheck {
    /// `http://` URL (TLS is not supported).
    pub url: String,
    /// The status that means healthy (default 200).
    pub expect_status: u16,
    /// A substring the body must contain, if set.
    pub expect_body: Option<String>,
}

/// One virtual router.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// The interface adverts go out on and VIPs are added to.
    pub interface: String,
    /// Virtual router ID, 1..=255.
    pub vrid: u8,
    /// VRRP version (default 3).
    pub version: Version,
    /// Base priority 1..=255 (default 100); 255 is the address owner.
    pub priority: u8,
    /// Advert interval, valid for `version`.
    pub advert_interval: Centis,
    /// Whether a higher priority takes over from a lower-priority Master (default true).
    pub preempt: bool,
    /// With `preempt`, wait this long before preempting a lower-priority Master, counted
    /// from start and from the first lower-priority advert of each episode, as keepalived
    /// counts it (at most [`MAX_PREEMPT_DELAY`]).
    pub preempt_delay: Duration,
    /// Stay Backup this long after start before becoming Master (at most
    /// [`MAX_STARTUP_DELAY`]).
    pub startup_delay: Duration,
    /// Missed adverts before the Master is declared down (default 3).
    pub down_timer_adverts: u32,
    /// The virtual addresses, all of one family. Empty only in election-only mode
    /// (`vips: []`): the instance elects a Master and runs its notify commands, and adds
    /// no address anywhere. Shared: the daemon keeps every running instance's
    /// configuration, and its address worker, settings and status view hold this same list.
    pub vips: Arc<[Vip]>,
    /// Unicast adverts instead of multicast, if set. The rarely set parts of an instance
    /// are boxed: the daemon keeps every instance's configuration for as long as it runs.
    pub unicast: Option<Box<Unicast>>,
    /// Extra heartbeat paths besides `interface`. Boxed slices here and for `track`: 16
    /// bytes each where a `Vec` takes 24, in a record every instance keeps while it runs.
    pub channels: Box<[Channel]>,
    /// Before taking over because every channel went silent, check that this node can still
    /// reach something; if not, go to FAULT instead of MASTER.
    pub isolation_check: Option<Box<IsolationCheck>>,
    /// Before taking over from a silent Master, fence it with this command.
    pub fence: Option<Box<super::Fence>>,
    /// What lowers the priority or forces FAULT.
    pub track: Box<[Track]>,
    /// Commands run on state changes; `None` for the default (no command, the default
    /// timeout), which most instances have. Read it with [`Instance::notify`].
    pub notify: Option<Box<Notify>>,
    /// VRRPv3-over-IPv4 checksum form to send.
    pub v3_checksum: V3Checksum,
    /// VRRPv2 simple-text authentication, if set (v2 only).
    pub auth: Option<Box<Auth>>,
    /// Use a VRRP virtual MAC (macvlan) instead of the interface's own MAC.
    pub use_vmac: bool,
    /// Gratuitous ARP / unsolicited NA schedule on becoming Master; `None` for the default,
    /// which most instances have (80 bytes in every kept configuration otherwise). Read it
    /// with [`Instance::garp`].
    pub garp: Option<Box<AnnounceSchedule>>,
    /// Send one last advert when yielding to a higher priority.
    pub yield_advert: bool,
    /// Require TTL / hop limit 255 on raw adverts from unicast peers.
    pub unicast_ttl_check: bool,
    /// Only adverts in sealed (`type: udp`) frames decide anything.
    pub authenticated_decisions: bool,
    /// Every takeover needs the lease of the top-level `arbiter` store.
    pub arbiter: bool,
}

/// Longest `preempt_delay`: keepalived's own cap on it (1000 s), so a converted
/// keepalived.conf means the same here. Every bounded duration below is one the daemon adds
/// to the monotonic clock; an absurd value ("100000000y") would overflow it and panic the
/// task that adds it, so each is refused at load instead.
pub const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);
/// Longest `startup_delay`: an hour. keepalived takes `vrrp_startup_delay` up to about
/// 71 minutes (its microsecond count is 32 bits) and logs anything from a minute on as very
/// large; a node that must wait longer than an hour should not be started yet.
pub const MAX_STARTUP_DELAY: Duration = Duration::from_secs(3600);
/// Longest `garp.repeat_after`: an hour (keepalived's `garp_master_delay` stops at 1000 s).
pub const MAX_GARP_REPEAT_AFTER: Duration = Duration::from_secs(3600);
/// Longest `garp.refresh`: a day. A refresh rarer than that refreshes no ARP cache.
pub const MAX_GARP_REFRESH: Duration = Duration::from_secs(24 * 3600);
/// Shortest `garp.refresh` other than off: a second, keepalived's resolution for
/// `garp_master_refresh`; more often only floods the segment.
pub const MIN_GARP_REFRESH: Duration = Duration::from_secs(1);
/// Longest `garp.arp_interval` / `garp.na_interval`: a second (keepalived logs anything from
/// a second on as very large); a burst of five per VIP then already outlasts several adverts.
pub const MAX_GARP_GAP: Duration = Duration::from_secs(1);
/// Longest `interval` and `timeout` of a check: an hour. A check probed less often cannot
/// guard a failover, and the probe timer adds the interval to the clock.
pub const MAX_CHECK_INTERVAL: Duration = Duration::from_secs(3600);
/// Longest `isolation_check.timeout`: a minute. A takeover from silence waits for this
/// answer, and a minute is already far longer than a failover should take.
pub const MAX_ISOLATION_TIMEOUT: Duration = Duration::from_secs(60);

/// The priority that marks the address owner.
pub const OWNER_PRIORITY: u8 = 255;

impl Instance {
    /// The address family of the VIPs (validation guarantees they all agree). An
    /// election-only instance (`vips: []`) takes its unicast peers' family, else IPv4.
    pub fn family(&self) -> Family {
        let unicast = self.unicast.as_ref().and_then(|u| u.peers.first());
        match (self.advertised().next().map(|v| v.addr), unicast) {
            (Some(IpNet::V6(_)), _) | (None, Some(IpAddr::V6(_))) => Family::V6,
            _ => Family::V4,
        }
    }

    /// The VIPs that adverts list, in order.
    pub fn advertised(&self) -> impl Iterator<Item = &Vip> {
        self.vips.iter().filter(|v| v.advertise)
    }

    /// The advertised addresses, in order, in a list sized exactly: every instance keeps
    /// two (its router's configuration and its advert template) for as long as it runs, and
    /// a filtered collect reserves room for four.
    pub fn advertised_addrs(&self) -> Vec<IpAddr> {
        let mut addrs: Vec<IpAddr> = self.advertised().map(|v| v.addr.addr()).collect();
        addrs.shrink_to_fit();
        addrs
    }

    /// Whether this router owns the addresses (priority 255: starts Master, never adjusted).
    pub fn is_address_owner(&self) -> bool {
        self.priority == OWNER_PRIORITY
    }

    /// The state machine's view of this instance. The daemon supplies `primary_addr`, the
    /// interface's own address, once it has read it from the kernel.
    /// `channel_addrs` are our addresses on the heartbeat channels, primary first.
    pub fn router_config(
        &self,
        name: impl Into<Arc<str>>,
        primary_addr: IpAddr,
        channel_addrs: &[IpAddr],
    ) -> RouterConfig {
        RouterConfig {
            name: name.into(),
            vrid: self.vrid,
            version: self.version,
            priority: self.priority,
            advert_interval: self.advert_interval,
            // The daemon sets its own start here.
            advert_origin: None,
            preempt: self.preempt,
            preempt_delay: self.preempt_delay,
            startup_delay: self.startup_delay,
            down_timer_adverts: self.down_timer_adverts,
            announce: self.garp.clone(),
            yield_advert: self.yield_advert,
            unicast_ttl_check: self.unicast_ttl_check,
            authenticated_decisions: self.authenticated_decisions,
            primary_addr,
            channel_addrs: channel_addrs.into(),
            peer_identities: self.peer_identities().into(),
            channel_names: std::iter::once(self.interface.clone())
                .chain(self.channels.iter().map(Channel::label))
                .collect(),
            isolation_guard: self.isolation_check.is_some(),
            sync_group: None,
            fence: self.fence.is_some(),
            arbiter: None,
            // Long enough for the isolation probe and the fence to answer on their own
            // timeouts; a gate that has not answered by then is asked again (a second fence
            // while the first still ran would fence twice).
            gate_patience: self
                .isolation_check
                .as_ref()
                .map_or(Duration::ZERO, |c| c.timeout)
                .max(self.fence.as_ref().map_or(Duration::ZERO, |f| f.timeout))
                .saturating_add(Duration::from_secs(1))
                .max(Duration::from_secs(2)),
            vips: self.advertised_addrs().into(),
            auth: self.advert_auth(),
            checksum: self.v3_checksum,
            // Trackers and the sync group are filled in from the whole config by the daemon.
            trackers: Box::default(),
        }
    }
}

impl Instance {
    /// The VRRPv2 authentication this instance sends and expects.
    pub fn advert_auth(&self) -> packet::Auth {
        match (&self.auth, self.version) {
            (Some(a), Version::V2) => {
                packet::Auth::simple(a.password.as_bytes()).unwrap_or(packet::Auth::None)
            }
            _ => packet::Auth::None,
        }
    }

    /// Where the file says who a peer is: with one unicast peer on the primary interface and
    /// one peer on a `vrrp` channel, both are the same node (a pair), and the primary one is
    /// its identity in ties.
    pub fn peer_identities(&self) -> Vec<(IpAddr, IpAddr)> {
        let Some([identity]) = self.unicast.as_ref().map(|u| u.peers.as_slice()) else {
            return Vec::new();
        };
        self.channels
            .iter()
            .filter_map(|c| match &c.kind {
                ChannelKind::Vrrp(net) => Some(net.peers.as_slice()),
                _ => None,
            })
            .filter_map(|peers| match peers {
                [peer] => Some((*peer, *identity)),
                _ => None,
            })
            .collect()
    }
}

/// A virtual address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    /// Address and prefix length (/32 or /128 when the config omitted it).
    pub addr: IpNet,
    /// Interface label for the address (`eth0:vip`), IPv4 only.
    pub label: Option<String>,
    /// Whether adverts list it. An address held with the VIPs but not advertised is
    /// keepalived's `virtual_ipaddress_excluded`: peers that compare address lists (keepalived
    /// up to 2.3.2 drops adverts whose address count differs) never see it.
    pub advertise: bool,
}

/// Unicast peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unicast {
    /// Source address for adverts; `None` uses the interface's primary address.
    pub source: Option<IpAddr>,
    /// Where adverts are sent. Never empty.
    pub peers: Vec<IpAddr>,
}

/// What an isolated node must still reach before it may take over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsolationCheck {
    /// The target.
    pub target: IsolationTarget,
    /// How long the check may take (default 1 s, at most [`MAX_ISOLATION_TIMEOUT`]).
    pub timeout: Duration,
}

/// The target of an isolation check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IsolationTarget {
    /// An ICMP echo is answered.
    Ping(IpAddr),
    /// A TCP connect succeeds.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A named entry of `checks` (script, tcp or http) passes when run once.
    Check(String),
}

/// One tracked condition of an instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// What is tracked.
    pub target: TrackTarget,
    /// -253..=253. A negative weight is added while the tracker fails, a positive one while
    /// it is healthy; 0 means FAULT while it fails. For a file: its value times the weight
    /// is added (with weight 0, any non-zero value is a FAULT).
    pub weight: i16,
}

/// What a tracker follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackTarget {
    /// A named entry of `checks`.
    Check(String),
    /// A network interface's link state.
    Interface(String),
    /// An integer in a file (missing or empty reads as 0).
    File(PathBuf),
}

/// Commands run on state changes. Each is a command line; vipd appends
/// `INSTANCE <name> <STATE> <priority>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    /// On becoming Master.
    pub master: Option<String>,
    /// On becoming Backup.
    pub backup: Option<String>,
    /// On entering FAULT.
    pub fault: Option<String>,
    /// On stop.
    pub stop: Option<String>,
    /// On every change, after the specific one.
    pub any: Option<String>,
    /// A command still running after this is killed.
    pub timeout: Duration,
}

impl Default for Notify {
    fn default() -> Self {
        NO_NOTIFY
    }
}

/// No command, the default timeout.
const NO_NOTIFY: Notify = Notify {
    master: None,
    backup: None,
    fault: None,
    stop: None,
    any: None,
    timeout: Duration::from_secs(10),
};

impl Instance {
    /// Its announcement schedule (the default where none is configured).
    pub fn garp(&self) -> AnnounceSchedule {
        self.garp.as_deref().copied().unwrap_or_default()
    }

    /// Its notify commands (the default where none are configured).
    pub fn notify(&self) -> &Notify {
        static DEFAULT: Notify = NO_NOTIFY;
        self.notify.as_deref().unwrap_or(&DEFAULT)
    }
}

impl Notify {
    /// The configured commands with their event names, in a fixed order.
    pub fn commands(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("master", &self.master),
            ("backup", &self.backup),
            ("fault", &self.fault),
            ("stop", &self.stop),
            ("any", &self.any),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }
}

/// VRRPv2 simple-text authentication (RFC 2338; obsolete, for interoperability only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// The shared password, 1..=8 bytes.
    pub password: String,
}
