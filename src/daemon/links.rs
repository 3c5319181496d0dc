//! Link state to faults: an instance whose interface goes down is in FAULT until it comes back.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tracing::info;

use crate::daemon::router_inbox::RouterInbox;
use crate::net::LinkEvents;
use crate::vrrp::router::{FaultSource, Input};

/// The routers to tell about each interface (by index); changes with reloads.
pub type Watchers = Arc<RwLock<HashMap<u32, Vec<(Arc<str>, RouterInbox)>>>>;

/// The fault source for a link.
pub fn fault_source(iface: &str) -> FaultSource {
    FaultSource::Link(iface.to_owned())
}

/// Feeds link changes of the watched interfaces (by index) to the routers that depend on them.
pub async fn run(mut events: LinkEvents, watchers: Watchers) {
    while let Some(ev) = events.next().await {
        let routers = match watchers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ev.index)
        {
            Some(list) if !list.is_empty() => list.clone(),
            _ => continue,
        };
        info!(interface = %ev.name, up = ev.up, "link {}", if ev.up { "up" } else { "down" });
        for (_, inbox) in &routers {
            let input = Input::Fault {
                source: fault_source(&ev.name),
                active: !ev.up,
            };
            let _ = inbox.send(input).await;
        }
    }
}
