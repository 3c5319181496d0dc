//! Sync groups at run time: a task per group turns one member's changes into orders for the
//! others (the rules are in [`crate::vrrp::group`]).

use std::collections::HashMap;

use tokio::sync::mpsc;
use tracing::debug;

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

/// Routes `group`'s orders to its members' inboxes until every member has gone.
pub async fn run(
    group: SyncGroup,
    inboxes: HashMap<String, mpsc::Sender<Input>>,
    mut events: mpsc::UnboundedReceiver<GroupEvent>,
) {
    while let Some(event) = events.recv().await {
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
