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
        if let Some(f) = &i.last_fence {
            let _ = writeln!(out, "  last fence: {f}");
        }
        if let Some(a) = &i.arbiter {
            let _ = writeln!(out, "  arbiter: {}", arbiter_line(a));
        }
    }
    out
}

/// `key /vipd/instance/web: held here, 1.62s left; grants 3, denials 0, renew 1.2ms`
fn arbiter_line(a: &crate::arbiter::board::ArbiterStatus) -> String {
    let holder = match (&a.holder, a.held_here) {
        (_, true) => match a.lease_left_ms {
            Some(ms) => format!("held here, {:.2}s left", ms as f64 / 1000.0),
            None => "held here".to_owned(),
        },
        (Some(h), false) => format!("held by {h}"),
        (None, false) => "not held".to_owned(),
    };
    let reach = if a.reachable { "" } else { "UNREACHABLE, " };
    let renew = a
        .renew_latency_ms
        .map_or(String::new(), |ms| format!(", renew {ms:.1}ms"));
    let error = a
        .last_error
        .as_ref()
        .filter(|_| !a.reachable)
        .map_or(String::new(), |e| format!(" ({e})"));
    format!(
        "key {}: {reach}{holder}; grants {}, denials {}{renew}{error}",
        a.key, a.grants, a.denials
    )
}
