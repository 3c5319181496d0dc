//! Transitions and their reasons, as logs, notify commands and metrics see them.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::FaultSource;
use crate::vrrp::State;

/// A state change, with the reason and the numbers behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// Effective priority at the time.
    pub priority: u8,
    /// The Master as far as this router knows (itself when it became Master).
    pub master: Option<IpAddr>,
}

/// Why a router changed state. `Display` gives the sentence the logs and notify scripts see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Started as address owner (priority 255).
    AddressOwner,
    /// Started: waiting to hear a Master.
    Startup,
    /// No advert from the Master for the Master_Down_Interval.
    MasterDown {
        /// The last Master heard, if any.
        last_master: Option<IpAddr>,
        /// How long since its last advert (or since entering Backup).
        silent_for: Duration,
    },
    /// The Master sent priority 0; took over after Skew_Time.
    MasterResigned {
        /// The resigning Master.
        from: IpAddr,
    },
    /// Took over from a lower-priority Master (preempt).
    Preempting {
        /// The lower-priority Master.
        master: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// Heard a higher priority (or an equal one from a higher address) while Master.
    PreemptedBy {
        /// The winner.
        from: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// Stopped.
    Stop,
    /// A fault source became active.
    Fault {
        /// The source.
        source: FaultSource,
    },
    /// Every fault source cleared.
    FaultCleared,
    /// Maintenance drain switched on.
    Drain,
    /// Ordered by a sync group.
    Sync {
        /// The group.
        group: String,
        /// The member that moved first.
        member: String,
    },
    /// Every channel went silent, but the isolation check failed: this node is cut off,
    /// not the Master.
    Isolated {
        /// The check's own account of what failed.
        detail: String,
    },
    /// Left Master: the arbiter's lease could not be proven ours any longer.
    LeaseLost {
        /// What the keeper said, or that the lease ran out by our clock.
        detail: String,
    },
    /// Master to Master: a lower-priority Master was heard (a healed split brain), so this
    /// one advertised and announced its addresses again.
    Reasserted {
        /// The lower-priority Master.
        over: IpAddr,
        /// Its priority.
        priority: u8,
    },
}

impl Reason {
    /// A stable snake_case name for the kind of reason, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::AddressOwner => "address_owner",
            Reason::Startup => "startup",
            Reason::MasterDown { .. } => "master_down",
            Reason::MasterResigned { .. } => "master_resigned",
            Reason::Preempting { .. } => "preempting",
            Reason::PreemptedBy { .. } => "preempted",
            Reason::Stop => "stop",
            Reason::Fault { .. } => "fault",
            Reason::FaultCleared => "fault_cleared",
            Reason::Drain => "maintenance",
            Reason::Sync { .. } => "sync_group",
            Reason::Isolated { .. } => "isolated",
            Reason::LeaseLost { .. } => "lease_lost",
            Reason::Reasserted { .. } => "reasserted",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::AddressOwner => f.write_str("address owner (priority 255)"),
            Reason::Startup => f.write_str("started"),
            Reason::MasterDown {
                last_master: Some(m),
                silent_for,
            } => write!(
                f,
                "master down timer expired: no advert from {m} for {:.2}s",
                silent_for.as_secs_f64()
            ),
            Reason::MasterDown {
                last_master: None,
                silent_for,
            } => write!(
                f,
                "master down timer expired: no advert heard for {:.2}s",
                silent_for.as_secs_f64()
            ),
            Reason::MasterResigned { from } => write!(f, "master {from} resigned (priority 0)"),
            Reason::Preempting { master, priority } => {
                write!(
                    f,
                    "preempting lower-priority master {master} (priority {priority})"
                )
            }
            Reason::PreemptedBy { from, priority } => {
                write!(f, "preempted by {from} priority {priority}")
            }
            Reason::Stop => f.write_str("stopped"),
            Reason::Fault { source } => write!(f, "fault: {source}"),
            Reason::FaultCleared => f.write_str("all faults cleared"),
            Reason::Drain => f.write_str("maintenance drain"),
            Reason::Sync { group, member } => write!(f, "sync group {group}: member {member}"),
            Reason::Isolated { detail } => write!(f, "isolated: {detail}; not taking over"),
            Reason::LeaseLost { detail } => write!(f, "arbiter lease lost: {detail}"),
            Reason::Reasserted { over, priority } => write!(
                f,
                "mastership re-asserted after a split brain: lower-priority master {over} \
                 (priority {priority}) heard"
            ),
        }
    }
}
