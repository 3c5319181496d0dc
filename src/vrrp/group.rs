//! Sync groups: members that change state together (keepalived's `vrrp_sync_group`).
//!
//! A group is pure bookkeeping: given what one member just did or asked, it says which
//! [`Input`]s the members get. The daemon routes them. Three rules:
//!
//! - **Takeover, keepalived's rule**: a member goes Master on its own (silence, a resigned
//!   Master, preemption) only when every member wants to ("prefer backup to avoid
//!   thrashing"). The group is a takeover gate: a member's request waits until every other
//!   running member also asks or is already Master, then every waiting member is granted at
//!   once. A member that still hears its Master never asks, so one-way loss on one LAN moves
//!   nothing.
//! - **Following**: a member that becomes Master orders the others to Master, one that falls
//!   back from Master to Backup orders them to Backup. Transitions made *because of* the
//!   group (reason [`Reason::Sync`], or a fault whose source is this group) produce no
//!   orders, so an order never echoes back; nor do re-assertions, which change no state.
//! - **Faults**: the fault a member passes on is named after the member
//!   ([`FaultSource::Group`]), raised while the member has a fault of its own and cleared when
//!   it has none. The daemon reports a member's faults after every change of them
//!   ([`SyncGroup::on_faults`]), which also covers a member already in FAULT because of the
//!   group gaining a fault of its own (no state change).

use std::collections::BTreeMap;

use super::State;
use super::router::{FaultSource, GateAnswer, GateKind, Input, Reason, SyncOrder, Transition};

/// A named set of virtual routers that change state together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroup {
    /// The group's name, as configured.
    pub name: String,
    /// The member instances' names.
    pub members: Vec<String>,
    /// Members waiting for the gate, with their attempt.
    wants: BTreeMap<String, u64>,
    /// Each member's state as last reported.
    states: BTreeMap<String, State>,
}

impl SyncGroup {
    /// A group of `members`, all in Initialize as far as it knows.
    pub fn new(
        name: impl Into<String>,
        members: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let members: Vec<String> = members.into_iter().map(Into::into).collect();
        let states = members
            .iter()
            .map(|m| (m.clone(), State::Initialize))
            .collect();
        SyncGroup {
            name: name.into(),
            members,
            wants: BTreeMap::new(),
            states,
        }
    }

    /// Records that `member` is in `state` (a group rebuilt by a reload learns where its
    /// members are).
    pub fn seed(&mut self, member: &str, state: State) {
        if let Some(s) = self.states.get_mut(member) {
            *s = state;
        }
    }

    /// The state of the group as a whole, as keepalived reports it to group notify commands:
    /// FAULT if any member is, MASTER when all are, INIT when all are stopped, BACKUP
    /// otherwise.
    pub fn state(&self) -> State {
        let states: Vec<State> = self.states.values().copied().collect();
        if states.contains(&State::Fault) {
            State::Fault
        } else if states.iter().all(|s| *s == State::Master) {
            State::Master
        } else if states.iter().all(|s| *s == State::Initialize) {
            State::Initialize
        } else {
            State::Backup
        }
    }

    /// The fault source the other members carry while `member` is faulted.
    pub fn fault_source(&self, member: &str) -> FaultSource {
        FaultSource::Group {
            group: self.name.clone(),
            member: member.to_owned(),
        }
    }

    /// `member` asks the gate for takeover `attempt`. Returns the grants: none while another
    /// running member neither wants to be Master nor is one; otherwise one for every member
    /// waiting, this one included.
    pub fn ask(&mut self, member: &str, attempt: u64) -> Vec<(String, Input)> {
        if !self.has(member) {
            return Vec::new();
        }
        self.wants.insert(member.to_owned(), attempt);
        let ready = self.members.iter().all(|m| {
            self.wants.contains_key(m)
                || matches!(self.states.get(m), Some(State::Master | State::Initialize))
        });
        if !ready {
            return Vec::new();
        }
        let detail = format!(
            "every member of sync group {} wants to be Master",
            self.name
        );
        std::mem::take(&mut self.wants)
            .into_iter()
            .map(|(m, attempt)| {
                let answer = GateAnswer {
                    gate: GateKind::SyncGroup,
                    attempt,
                    granted: true,
                    detail: detail.clone(),
                    fenced: false,
                };
                (m, Input::Gate(answer))
            })
            .collect()
    }

    /// The orders that bring a group rebuilt by a reload back together. Faults the group
    /// passed on for members that are not in FAULT are cleared. When some members are
    /// Master and others Backup (a membership change joined them that way), the Backups are
    /// ordered to Master. Each either follows or, hearing its Master, refuses, and a refusal
    /// takes the group back to Backup: either way the members agree again.
    pub fn reconcile(&self) -> Vec<(String, Input)> {
        let state = |m: &String| self.states.get(m).copied();
        // Members not in FAULT have their group fault cleared on the others, in case the
        // group task that raised it is gone.
        let mut orders: Vec<(String, Input)> = self
            .members
            .iter()
            .filter(|m| matches!(state(m), Some(State::Backup | State::Master)))
            .flat_map(|m| self.to_others(m, self.fault_input(m, false)))
            .collect();
        if let Some(master) = self
            .members
            .iter()
            .find(|m| state(m) == Some(State::Master))
        {
            let order = SyncOrder::Master {
                group: self.name.clone(),
                member: master.clone(),
            };
            orders.extend(
                self.members
                    .iter()
                    .filter(|m| state(m) == Some(State::Backup))
                    .map(|m| (m.clone(), Input::Sync(order.clone()))),
            );
        }
        orders
    }

    /// `member` refused an order to Master (it hears a Master it would not preempt): the
    /// other members go back to Backup, as they would had it become Master and been
    /// preempted at once, without the moment of two Masters on its LAN.
    pub fn on_refused(&self, member: &str) -> Vec<(String, Input)> {
        if !self.has(member) {
            return Vec::new();
        }
        let order = SyncOrder::Backup {
            group: self.name.clone(),
            member: member.to_owned(),
        };
        self.to_others(member, Input::Sync(order))
    }

    /// `member` no longer wants the takeover `attempt`.
    pub fn withdraw(&mut self, member: &str, attempt: u64) {
        if self.wants.get(member) == Some(&attempt) {
            self.wants.remove(member);
        }
    }

    /// The orders for the other members after `member` made transition `t`.
    pub fn on_transition(&mut self, member: &str, t: &Transition) -> Vec<(String, Input)> {
        if !self.has(member) {
            return Vec::new();
        }
        self.states.insert(member.to_owned(), t.to);
        if t.to != State::Backup {
            self.wants.remove(member);
        }
        // Master to Master (a re-assertion) is no state change for the group to follow.
        if t.from == t.to || matches!(t.reason, Reason::Sync { .. }) {
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
                Reason::Fault { source } if self.is_ours(source) => return Vec::new(),
                _ => self.fault_input(member, true),
            },
            // Leaving FAULT means no source at all is left, the member's own included; a
            // member starting without a fault (restarted by a reload) clears what its
            // previous self passed on. A member that comes back as Backup beside a member
            // that is Master (it faulted, or started, before the group was there to take the
            // others along) is ordered to Master too, as a rebuilt group orders its Backups:
            // it follows, or refuses and takes the group back to Backup.
            (State::Fault | State::Initialize, to) if to != State::Fault => {
                let mut orders = self.to_others(member, self.fault_input(member, false));
                if to == State::Backup {
                    orders.extend(self.follow_a_master(member));
                }
                return orders;
            }
            _ => return Vec::new(),
        };
        self.to_others(member, input)
    }

    /// The fault orders for the other members after `member`'s fault sources changed to
    /// `faults`: the member's group source is raised if it has a fault not caused by this
    /// group, cleared otherwise. The orders are idempotent, so repeating them is harmless.
    pub fn on_faults<'a>(
        &self,
        member: &str,
        faults: impl IntoIterator<Item = &'a FaultSource>,
    ) -> Vec<(String, Input)> {
        if !self.has(member) {
            return Vec::new();
        }
        let own = faults.into_iter().any(|s| !self.is_ours(s));
        self.to_others(member, self.fault_input(member, own))
    }

    /// An order to Master for `member` when another member is Master.
    fn follow_a_master(&self, member: &str) -> Option<(String, Input)> {
        let master = self
            .members
            .iter()
            .find(|m| *m != member && self.states.get(*m) == Some(&State::Master))?;
        let order = SyncOrder::Master {
            group: self.name.clone(),
            member: master.clone(),
        };
        Some((member.to_owned(), Input::Sync(order)))
    }

    fn has(&self, member: &str) -> bool {
        self.members.iter().any(|m| m == member)
    }

    fn is_ours(&self, source: &FaultSource) -> bool {
        matches!(source, FaultSource::Group { group, .. } if *group == self.name)
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
