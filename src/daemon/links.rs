//! Link state to faults: an instance whose interface goes down is in FAULT until it comes back.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tracing::info;

use crate::net::LinkEvents;
use crate::vrrp::router::Input;

/// The fault source name for a link.
pub fn fault_source(iface: &str) -> String {
    format!("link {iface} down")
}

/// Feeds link changes of the watched interfaces (by index) to the routers that depend on them.
pub async fn run(
    mut events: LinkEvents,
    watchers: HashMap<u32, Vec<(String, mpsc::Sender<Input>)>>,
) {
    while let Some(ev) = events.next().await {
        let Some(routers) = watchers.get(&ev.index) else {
            continue;
        };
        info!(interface = %ev.name, up = ev.up, "link {}", if ev.up { "up" } else { "down" });
        for (_, inbox) in routers {
            let input = Input::Fault {
                source: fault_source(&ev.name),
                active: !ev.up,
            };
            let _ = inbox.send(input).await;
        }
    }
}
