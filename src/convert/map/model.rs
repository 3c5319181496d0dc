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
    /// `global.event_log`, from keepalived's notify FIFO, written in keepalived's format.
    pub notify_fifo: Option<String>,
    /// Comments on the `global` section.
    pub global_notes: Notes,
    /// `checks`, in input order.
    pub checks: Vec<(String, OutCheck)>,
    /// `instances`, in input order.
    pub instances: Vec<(String, OutInstance)>,
    /// `groups`: name, members, comments.
    pub groups: Vec<(String, Vec<String>, Vec<String>)>,
}

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
    /// `(address, label)`.
    pub vips: Vec<(String, Option<String>)>,
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
    /// `(initial, repeat, repeat_after µs)`.
    pub garp: Option<(u32, u32, u64)>,
    /// `yield_advert`, when keepalived's config said something.
    pub yield_advert: Option<bool>,
    /// False when keepalived's config shows unicast peers behind routers.
    pub unicast_ttl_check: bool,
    /// Comments.
    pub notes: Notes,
}
