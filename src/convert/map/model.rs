//! The converted configuration, as the emitter writes it: vipd's keys plus the comments
//! that explain each rewrite. Durations are in microseconds, keepalived's resolution.

use std::net::IpAddr;

/// Comments attached to a key: `(key, text)`; key `""` is the entry's header.
pub type Notes = Vec<(&'static str, String)>;

/// The whole output.
#[derive(Debug, Default)]
pub struct Out {
    /// Comments at the top of the file.
    pub header: Vec<String>,
    /// `global.router_id`.
    pub router_id: Option<String>,
    /// `global.script_user`.
    pub script_user: Option<String>,
    /// `global.realtime_priority`, from keepalived's `vrrp_rt_priority`.
    pub realtime_priority: Option<u8>,
    /// `global.event_log`, from keepalived's notify FIFO, written in keepalived's format.
    pub notify_fifo: Option<String>,
    /// Comments on the `global` section.
    pub global_notes: Notes,
    /// `checks`, in input order.
    pub checks: Vec<(String, OutCheck)>,
    /// `instances`, in input order.
    pub instances: Vec<(String, OutInstance)>,
    /// `groups`: name, members, comments, notify commands.
    pub groups: Vec<(String, Vec<String>, Vec<String>, NotifyCommands)>,
}

/// `(event, command)` pairs of a `notify` map (`("master", "/etc/vipd/up.sh")`).
pub type NotifyCommands = Vec<(&'static str, String)>;

/// A `checks` entry, from a vrrp_script.
#[derive(Debug, Default)]
pub struct OutCheck {
    /// `("script", command line)`, or `("tcp", "host:port")` for a bash `/dev/tcp` script.
    pub kind: (&'static str, String),
    /// Microseconds between runs.
    pub interval: u64,
    /// Microseconds a run may take.
    pub timeout: Option<u64>,
    /// Successes to become healthy.
    pub rise: Option<u32>,
    /// Failures to become failed.
    pub fall: Option<u32>,
    /// User to run as.
    pub user: Option<String>,
    /// `process:` fields, already in YAML form, for a process check (then `kind`,
    /// `interval` and the rest are not written).
    pub process: Vec<(&'static str, String)>,
    /// Comments.
    pub notes: Notes,
}

/// A `track` entry.
#[derive(Debug, Clone)]
pub struct OutTrack {
    /// `check`, `interface` or `file`.
    pub kind: &'static str,
    /// The check name, interface or path.
    pub target: String,
    /// vipd weight.
    pub weight: i32,
    /// A comment for this entry.
    pub note: Option<String>,
}

/// An `instances` entry.
#[derive(Debug, Default, Clone)]
pub struct OutInstance {
    /// Interface name.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// 2 or 3; always written.
    pub version: u8,
    /// Base priority.
    pub priority: u8,
    /// Advert interval in microseconds (a multiple of 10 ms).
    pub advert: u64,
    /// Whether to preempt.
    pub preempt: bool,
    /// Preempt delay in microseconds.
    pub preempt_delay: Option<u64>,
    /// Startup delay in microseconds.
    pub startup_delay: Option<u64>,
    /// Missed adverts before Master down.
    pub down_timer_adverts: Option<u32>,
    /// `(address, label, advertised)`.
    pub vips: Vec<(String, Option<String>, bool)>,
    /// `(source, peers)`.
    pub unicast: Option<(Option<IpAddr>, Vec<IpAddr>)>,
    /// Trackers.
    pub track: Vec<OutTrack>,
    /// `(event, command)`.
    pub notify: Vec<(&'static str, String)>,
    /// VRRPv2 password.
    pub auth: Option<String>,
    /// Virtual MAC.
    pub use_vmac: bool,
    /// `garp:`; empty leaves vipd's defaults.
    pub garp: OutGarp,
    /// `yield_advert`, when keepalived's config said something.
    pub yield_advert: Option<bool>,
    /// False when keepalived's config shows unicast peers behind routers.
    pub unicast_ttl_check: bool,
    /// Comments.
    pub notes: Notes,
}

/// What an instance's `garp:` says; `None` leaves vipd's default, which is keepalived's.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OutGarp {
    /// `(initial, repeat, repeat_after µs)`.
    pub bursts: Option<(u32, u32, u64)>,
    /// `(refresh µs, refresh_count)`.
    pub refresh: Option<(u64, u32)>,
    /// `arp_interval`, µs.
    pub arp_interval: Option<u64>,
    /// `na_interval`, µs.
    pub na_interval: Option<u64>,
}

impl OutGarp {
    /// Whether there is anything to write.
    pub fn is_empty(&self) -> bool {
        *self == OutGarp::default()
    }
}
