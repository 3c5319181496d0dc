//! Sync groups at run time: a task per group turns one member's changes into orders for the
//! others (the rules are in [`crate::vrrp::group`]).

use std::collections::HashMap;

use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::notify::Notifier;
use crate::vrrp::State;
use crate::vrrp::group::SyncGroup;
use crate::vrrp::router::{Input, Transition};

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
    /// A fault source of the member was raised or cleared.
    Fault {
        /// The member.
        member: String,
        /// The source that changed.
        source: String,
        /// The member's active fault sources now.
        faults: Vec<String>,
    },
}

/// The state of a group as a whole, as keepalived reports it to group notify commands: FAULT
/// if any member is, MASTER when all are, INIT (notified as STOP) when all are stopped,
/// BACKUP otherwise.
pub fn group_state<'a>(members: impl IntoIterator<Item = &'a State>) -> State {
    let states: Vec<State> = members.into_iter().copied().collect();
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

/// Routes `group`'s orders to its members' inboxes until every member has gone, and tells
/// `notifier` when the group as a whole changes state.
pub async fn run(
    group: SyncGroup,
    inboxes: HashMap<String, mpsc::Sender<Input>>,
    mut events: mpsc::UnboundedReceiver<GroupEvent>,
    notifier: Option<Notifier>,
) {
    let mut states: HashMap<String, State> = group
        .members
        .iter()
        .map(|m| (m.clone(), State::Initialize))
        .collect();
    let mut current = State::Initialize;
    while let Some(event) = events.recv().await {
        if let (GroupEvent::Transition { member, transition }, Some(n)) = (&event, &notifier) {
            states.insert(member.clone(), transition.to);
            let next = group_state(states.values());
            if next != current {
                info!(group = %group.name, from = %current, to = %next, "sync group {}: {current} -> {next}", group.name);
                n.group(
                    current,
                    next,
                    &format!("member {member}: {}", transition.reason),
                );
                current = next;
            }
        }
        let orders = match &event {
            GroupEvent::Transition { member, transition } => {
                group.on_transition(member, transition)
            }
            GroupEvent::Fault {
                member,
                source,
                faults,
            } => group.on_fault(member, source, faults.iter().map(String::as_str)),
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
    use super::*;

    #[test]
    fn the_group_is_master_only_when_every_member_is_and_fault_when_any_is() {
        use State::*;
        assert_eq!(group_state(&[Master, Master]), Master);
        assert_eq!(group_state(&[Master, Backup]), Backup);
        assert_eq!(group_state(&[Master, Fault]), Fault);
        assert_eq!(group_state(&[Initialize, Initialize]), Initialize);
        assert_eq!(group_state(&[Initialize, Backup]), Backup);
    }
}
