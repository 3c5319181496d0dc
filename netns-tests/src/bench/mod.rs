//! The failover benchmark behind the `failover_bench` binary: vipd against keepalived, same
//! lab, same settings (priorities 150/100, one VIP), timed from packet captures.
//!
//! [`failover`] runs one fault (SIGKILL plus a cut cable, or SIGTERM) and measures it from a
//! capture in the client namespace; [`analyze`] turns the captured frames into numbers;
//! [`idle`] measures memory and CPU of an idle Master; [`report`] prints the Markdown.

pub mod agent;
pub mod analyze;
pub mod arbiter;
pub mod args;
pub mod failover;
pub mod flood;
pub mod heal;
pub mod idle;
pub mod report;
pub mod rng;
pub mod scale;
pub mod session;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use vipd::vrrp::Version;
use vipd::vrrp::timing::{Centis, DEFAULT_DOWN_ADVERTS, master_down_interval, skew_time};

use crate::error::HarnessError;

/// Priority of the node that starts as Master.
pub const MASTER_PRIORITY: u8 = 150;
/// Priority of the Backup that takes over.
pub const BACKUP_PRIORITY: u8 = 100;

/// The agent under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agent {
    /// This project's daemon (`vipd run`).
    Vipd,
    /// keepalived, VRRP only (`-P`).
    Keepalived,
}

impl Agent {
    /// Both agents, in table order.
    pub const ALL: [Agent; 2] = [Agent::Vipd, Agent::Keepalived];
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Agent::Vipd => "vipd",
            Agent::Keepalived => "keepalived",
        })
    }
}

/// How the Master is made to go away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// SIGKILL of every process of the agent, and its switch port cut at the same moment:
    /// a dead host. Without the cut its kernel would keep answering for the stale VIP.
    Kill,
    /// SIGTERM: a clean stop, which should send a priority-0 advert.
    Term,
}

impl Fault {
    /// Both faults, in table order.
    pub const ALL: [Fault; 2] = [Fault::Kill, Fault::Term];
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::Kill => "SIGKILL+cut",
            Fault::Term => "SIGTERM",
        })
    }
}

/// A protocol version and advert interval, identical for both agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Profile {
    /// VRRP version.
    pub version: Version,
    /// Advert interval.
    pub interval: Centis,
}

impl Profile {
    /// VRRPv2, 1 s adverts.
    pub const V2_1S: Profile = Profile {
        version: Version::V2,
        interval: Centis::ONE_SECOND,
    };
    /// VRRPv3, 100 ms adverts.
    pub const V3_100MS: Profile = Profile {
        version: Version::V3,
        interval: Centis::new(10),
    };

    /// The version as a number, for configuration files.
    pub fn version_number(&self) -> u8 {
        match self.version {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The advert interval.
    pub fn advert(&self) -> Duration {
        self.interval.as_duration()
    }

    /// The RFC's Master_Down_Interval of the Backup (priority [`BACKUP_PRIORITY`]).
    pub fn master_down(&self) -> Duration {
        master_down_interval(
            self.version,
            BACKUP_PRIORITY,
            self.interval,
            DEFAULT_DOWN_ADVERTS,
        )
    }

    /// The RFC's Skew_Time of the Backup: its wait after a priority-0 advert.
    pub fn skew(&self) -> Duration {
        skew_time(self.version, BACKUP_PRIORITY, self.interval)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{} {}", self.version_number(), self.interval)
    }
}

/// Everything one benchmark invocation does.
#[derive(Debug, Clone)]
pub struct Options {
    /// Runs per (agent, profile, fault).
    pub runs: usize,
    /// Failover profiles, in table order.
    pub profiles: Vec<Profile>,
    /// Agents, in column order.
    pub agents: Vec<Agent>,
    /// Faults, in table order.
    pub faults: Vec<Fault>,
    /// Length of each idle measurement; zero skips them.
    pub idle: Duration,
    /// Instance counts for the idle measurement.
    pub idle_instances: Vec<usize>,
    /// Profiles for the idle measurement (the first is the headline).
    pub idle_profiles: Vec<Profile>,
    /// The vipd binary.
    pub vipd: PathBuf,
    /// The keepalived binary.
    pub keepalived: PathBuf,
    /// The pinger binary.
    pub pinger: PathBuf,
    /// Where to copy the logs and capture of a failed run.
    pub keep_failed: Option<PathBuf>,
    /// Seed of the fault phases (printed, so a run can be repeated).
    pub seed: u64,
}

/// Why the benchmark as a whole could not run (a failed takeover is a result, not this).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad command line.
    #[error("{0}")]
    Usage(String),
    /// The lab or a tool failed.
    #[error(transparent)]
    Harness(#[from] HarnessError),
}
