//! Sync groups: members that change state together (keepalived's `vrrp_sync_group`).
//!
//! A group is pure bookkeeping: given what one member just did, it says which [`Input`]s
//! the other members get. The daemon routes them. Two rules keep the routing finite:
//!
//! - transitions made *because of* the group (reason [`Reason::Sync`], or a fault whose
//!   source is this group) produce no orders, so an order never echoes back, and neither
//!   do notifications that change no state (a Master re-asserting itself);
//! - the fault a member passes on is named after the member ("sync group lb: web"), raised
//!   while the member has a fault of its own and cleared when it has none.
//!
//! The second rule has a case that transitions alone cannot see: a member already in FAULT
//! because of the group gains a fault of its own, which changes no state. The daemon covers
//! it by calling [`SyncGroup::on_fault`] after every [`Input::Fault`] it feeds a member;
//! without that, the group could leave FAULT while that member is still faulted.

use super::State;
use super::router::{Input, Reason, SyncOrder, Transition};

/// A named set of virtual routers that change state together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroup {
    /// The group's name, as configured.
    pub name: String,
    /// The member instances' names.
    pub members: Vec<String>,
}

impl SyncGroup {
    /// A group of `members`.
    pub fn new(
        name: impl Into<String>,
        members: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        SyncGroup {
            name: name.into(),
            members: members.into_iter().map(Into::into).collect(),
        }
    }

    /// The fault source the other members carry while `member` is faulted.
    pub fn fault_source(&self, member: &str) -> String {
        format!("{}{member}", self.source_prefix())
    }

    /// The orders for the other members after `member` made transition `t`.
    pub fn on_transition(&self, member: &str, t: &Transition) -> Vec<(String, Input)> {
        // Master to Master (a re-assertion) is no state change for the group to follow.
        if !self.has(member) || t.from == t.to || matches!(t.reason, Reason::Sync { .. }) {
            return Vec::new();
        }
        let order = |make: fn(String, String) -> SyncOrder| {
            Input::Sync(make(self.name.clone(), member.to_owned()))
        };
        let input = match (t.from, t.to) {
            (_, State::Master) => order(|group, member| SyncOrder::Master { group, member }),
            (State::Master, State::Backup) => {
                order(|group, member| SyncOrder::Backup { group, member })
            }
            (from, State::Fault) if from != State::Fault => match &t.reason {
                Reason::Fault { source } if self.is_group_source(source) => return Vec::new(),
                _ => self.fault_input(member, true),
            },
            // Leaving FAULT means no source at all is left, the member's own included.
            (State::Fault, to) if to != State::Fault => self.fault_input(member, false),
            _ => return Vec::new(),
        };
        self.to_others(member, input)
    }

    /// The fault orders for the other members after `member` was fed a fault input from
    /// `source`, given its fault sources now: the member's group source is raised if it has
    /// a fault not caused by this group, cleared otherwise. Inputs that came from this group
    /// give no orders, so orders never ping-pong; the rest are idempotent.
    pub fn on_fault<'a>(
        &self,
        member: &str,
        source: &str,
        faults: impl IntoIterator<Item = &'a str>,
    ) -> Vec<(String, Input)> {
        if !self.has(member) || self.is_group_source(source) {
            return Vec::new();
        }
        let own = faults.into_iter().any(|s| !self.is_group_source(s));
        self.to_others(member, self.fault_input(member, own))
    }

    fn has(&self, member: &str) -> bool {
        self.members.iter().any(|m| m == member)
    }

    fn source_prefix(&self) -> String {
        format!("sync group {}: ", self.name)
    }

    fn is_group_source(&self, source: &str) -> bool {
        source.starts_with(&self.source_prefix())
    }

    fn fault_input(&self, member: &str, active: bool) -> Input {
        Input::Fault {
            source: self.fault_source(member),
            active,
        }
    }

    fn to_others(&self, member: &str, input: Input) -> Vec<(String, Input)> {
        self.members
            .iter()
            .filter(|m| *m != member)
            .map(|m| (m.clone(), input.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests;
