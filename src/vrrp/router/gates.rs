//! The words of trackers, faults and the takeover gate.

use std::fmt;

use super::Reason;

/// One tracker as the router weighs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerConfig {
    /// The name health reports use ("check haproxy", "interface eth2", "file /run/x").
    pub source: String,
    /// The configured weight; 0 means FAULT while failed.
    pub weight: i16,
    /// Follows a file (keepalived's track_file semantics for values and read errors).
    pub file: bool,
}

/// A router's sync group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncMembership {
    /// The group's name.
    pub group: String,
    /// Every member, this router included.
    pub members: Vec<String>,
}

/// Why a router is held in FAULT, other than its own trackers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultSource {
    /// The instance's interface is down.
    Link(String),
    /// Another member of the sync group is in FAULT.
    Group {
        /// The group.
        group: String,
        /// The faulted member.
        member: String,
    },
    /// The isolation gate found this node cut off.
    Isolation,
    /// A tracker (computed by the router from health; never fed as a fault input).
    Tracker(String),
}

impl fmt::Display for FaultSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultSource::Link(iface) => write!(f, "link {iface} down"),
            FaultSource::Group { group, member } => write!(f, "sync group {group}: {member}"),
            FaultSource::Isolation => f.write_str("isolation"),
            FaultSource::Tracker(source) => f.write_str(source),
        }
    }
}

/// The kinds of takeover a gate may question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Takeover {
    /// The address owner starting.
    Owner,
    /// The Master went silent for Master_Down_Interval.
    Silence,
    /// The Master resigned (priority 0).
    Resigned,
    /// Preempting a lower-priority Master.
    Preempt,
    /// A sync-group order.
    Sync,
}

impl Takeover {
    /// The kind of takeover a reason for becoming Master names.
    pub fn of(reason: &Reason) -> Takeover {
        match reason {
            Reason::AddressOwner => Takeover::Owner,
            Reason::MasterResigned { .. } => Takeover::Resigned,
            Reason::Preempting { .. } => Takeover::Preempt,
            Reason::Sync { .. } => Takeover::Sync,
            _ => Takeover::Silence,
        }
    }
}

/// Who may say no to a takeover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GateKind {
    /// Can this node still reach the outside?
    Isolation,
    /// Does every member of the sync group want to be Master?
    SyncGroup,
    /// Has the silent Master been fenced (powered off, cut off) so it cannot still hold the
    /// addresses unheard?
    Fence,
    /// Does this node hold the lease?
    Arbiter,
}

impl GateKind {
    /// Whether this gate questions a takeover of `kind`.
    pub fn questions(self, kind: Takeover) -> bool {
        match self {
            // Only a silent Master may still be alive and unheard; a resigning or preempted
            // Master was heard, and fencing it would kill a node that is doing its job.
            GateKind::Isolation | GateKind::Fence => kind == Takeover::Silence,
            GateKind::SyncGroup => matches!(
                kind,
                Takeover::Silence | Takeover::Resigned | Takeover::Preempt
            ),
            GateKind::Arbiter => true,
        }
    }
}

/// A gate's answer to [`super::Action::AskGate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateAnswer {
    /// The gate that answers.
    pub gate: GateKind,
    /// The attempt it answers.
    pub attempt: u64,
    /// Yes or no.
    pub granted: bool,
    /// What was checked and what happened, for the reason given on a refusal.
    pub detail: String,
    /// The fence gate's yes after its command really fenced the silent Master (not a yes
    /// without a peer to fence, nor `on_failure: proceed` after a failed fence). Every
    /// other gate answers false.
    pub fenced: bool,
}
