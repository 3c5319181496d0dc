//! Sync groups at run time: a task per group turns one member's changes into orders for the
//! others, and answers its takeover gate (the rules are in [`crate::vrrp::group`]).

use std::collections::HashMap;

use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::daemon::router_inbox::RouterInbox;
use crate::notify::Notifier;
use crate::vrrp::group::SyncGroup;
use crate::vrrp::router::{FaultSource, Transition};

/// What a member's router task tells its group.
#[derive(Debug)]
pub enum GroupEvent {
    /// The member changed state.
    Transition {
        /// The member.
        member: String,
        /// The change.
        transition: Transition,
    },
    /// The member's fault sources changed.
    Faults {
        /// The member.
        member: String,
        /// Its active fault sources now.
        faults: Vec<FaultSource>,
    },
    /// The member asks the group gate for a takeover.
    Ask {
        /// The member.
        member: String,
        /// Its attempt.
        attempt: u64,
    },
    /// The member refused an order to Master.
    Refused {
        /// The member.
        member: String,
    },
    /// The member no longer waits for that attempt.
    Withdraw {
        /// The member.
        member: String,
        /// The attempt.
        attempt: u64,
    },
}

/// Routes `group`'s orders and gate answers to its members' inboxes until every member has
/// gone, and tells `notifier` when the group as a whole changes state. `group` arrives
/// seeded with its members' current states, so a group rebuilt by a reload neither forgets
/// where it stands nor notifies a change that did not happen.
pub async fn run(
    mut group: SyncGroup,
    inboxes: HashMap<String, RouterInbox>,
    mut events: mpsc::UnboundedReceiver<GroupEvent>,
    notifier: Option<Notifier>,
) {
    let mut current = group.state();
    for (member, input) in group.reconcile() {
        debug!(group = %group.name, %member, ?input, "sync group order on rebuild");
        if let Some(inbox) = inboxes.get(&member) {
            let _ = inbox.send(input).await;
        }
    }
    while let Some(event) = events.recv().await {
        let orders = match &event {
            GroupEvent::Transition { member, transition } => {
                let orders = group.on_transition(member, transition);
                let next = group.state();
                if next != current {
                    info!(group = %group.name, from = %current, to = %next, "sync group {}: {current} -> {next}", group.name);
                    if let Some(n) = &notifier {
                        n.group(
                            current,
                            next,
                            &format!("member {member}: {}", transition.reason),
                        );
                    }
                    current = next;
                }
                orders
            }
            GroupEvent::Faults { member, faults } => group.on_faults(member, faults),
            GroupEvent::Ask { member, attempt } => {
                let grants = group.ask(member, *attempt);
                if grants.is_empty() {
                    debug!(group = %group.name, %member, "takeover waits for the other members");
                }
                grants
            }
            GroupEvent::Refused { member } => {
                info!(group = %group.name, %member, "member refused to become Master: it hears its Master; the group stays Backup");
                group.on_refused(member)
            }
            GroupEvent::Withdraw { member, attempt } => {
                group.withdraw(member, *attempt);
                Vec::new()
            }
        };
        for (member, input) in orders {
            debug!(group = %group.name, %member, ?input, "sync group order");
            if let Some(inbox) = inboxes.get(&member) {
                let _ = inbox.send(input).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::vrrp::State;
    use crate::vrrp::group::SyncGroup;

    #[test]
    fn the_group_is_master_only_when_every_member_is_and_fault_when_any_is() {
        use State::*;
        let of = |states: &[State]| {
            let mut g = SyncGroup::new("lb", ["a", "b"]);
            for (m, s) in ["a", "b"].iter().zip(states) {
                g.seed(m, *s);
            }
            g.state()
        };
        assert_eq!(of(&[Master, Master]), Master);
        assert_eq!(of(&[Master, Backup]), Backup);
        assert_eq!(of(&[Master, Fault]), Fault);
        assert_eq!(of(&[Initialize, Initialize]), Initialize);
        assert_eq!(of(&[Initialize, Backup]), Backup);
    }
}
