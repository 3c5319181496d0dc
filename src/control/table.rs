//! `vipd status` as a table for people.

use std::fmt::Write;

use super::protocol::Status;

/// Renders `status` as aligned text: one line per instance, then its details.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    if let Some(id) = &status.router_id {
        let _ = writeln!(out, "router {id}");
    }
    let _ = writeln!(
        out,
        "{:<16} {:>4} {:<7} {:>9} {:<16} {:<10} VIPS",
        "INSTANCE", "VRID", "STATE", "PRIORITY", "MASTER", "FOR"
    );
    for i in &status.instances {
        let prio = if i.base_priority == i.effective_priority {
            i.effective_priority.to_string()
        } else {
            format!("{}/{}", i.effective_priority, i.base_priority)
        };
        let held = if i.vips_held { "held" } else { "not held" };
        let _ = writeln!(
            out,
            "{:<16} {:>4} {:<7} {:>9} {:<16} {:<10} {} ({held})",
            i.name,
            i.vrid,
            i.state,
            prio,
            i.master.as_deref().unwrap_or("-"),
            format!("{:.1}s", i.seconds_in_state),
            i.vips.join(" "),
        );
        let _ = writeln!(out, "  reason: {}", i.last_reason);
        let _ = writeln!(
            out,
            "  interface {} v{}, advert interval {} ms (master's {} ms){}",
            i.interface,
            i.version,
            i.advert_interval_ms,
            i.master_advert_interval_ms,
            if i.maintenance { ", MAINTENANCE" } else { "" }
        );
        if !i.trackers.is_empty() {
            let list: Vec<String> = i
                .trackers
                .iter()
                .map(|t| format!("{} ({}, weight {})", t.name, t.state, t.weight))
                .collect();
            let _ = writeln!(out, "  trackers: {}", list.join("; "));
        }
        if !i.faults.is_empty() {
            let _ = writeln!(out, "  faults: {}", i.faults.join("; "));
        }
        let counters: Vec<String> = i.counters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !counters.is_empty() {
            let _ = writeln!(out, "  counters: {}", counters.join(" "));
        }
        if i.channels.len() > 1 {
            for c in &i.channels {
                let seen = c.last_advert_ms_ago.map_or("never".to_owned(), |ms| {
                    format!("{:.1}s ago", ms as f64 / 1000.0)
                });
                let get = |k: &str| c.counters.get(k).copied().unwrap_or(0);
                let links: Vec<String> = c
                    .connections
                    .iter()
                    .map(|(peer, state)| format!(", {peer} {state}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "  channel {}: {}last advert {seen}, in {}, out {}{}",
                    c.name,
                    if c.lost { "LOST, " } else { "" },
                    get("adverts_received"),
                    get("adverts_sent"),
                    links.concat()
                );
            }
        }
        if let Some(w) = &i.heartbeat_warning {
            let _ = writeln!(out, "  heartbeat: {w}");
        }
    }
    out
}
