//! What `vipd convert` tells a user about keywords it leaves out must be true of vipd: where
//! vipd has the feature under another name, the reason names it.

use std::path::Path;

use vipd::convert::{Options, convert_str};

/// The reason given for each reported keyword, by keyword.
fn reasons(text: &str) -> Vec<(String, String)> {
    let c = convert_str(text, "ka.conf", Path::new("."), &Options::default()).expect("converts");
    c.unsupported
        .into_iter()
        .map(|u| (u.keyword, u.reason))
        .collect()
}

fn reason_for<'a>(all: &'a [(String, String)], keyword: &str) -> &'a str {
    all.iter()
        .find(|(k, _)| k == keyword)
        .map(|(_, r)| r.as_str())
        .unwrap_or_else(|| panic!("{keyword} not reported: {all:#?}"))
}

const BASE: &str = "vrrp_instance web {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress { 10.0.0.100/24 }\n}\n";

#[test]
fn sync_group_notify_points_to_group_notify() {
    let text = format!(
        "{BASE}vrrp_sync_group lb {{\n  group {{ web }}\n  notify_master /etc/keepalived/up.sh\n}}\n"
    );
    let all = reasons(&text);
    let reason = reason_for(&all, "notify_master");
    // vipd has group notify commands (groups.NAME.notify), called with GROUP NAME STATE.
    assert!(
        reason.contains("groups.NAME") && reason.contains("notify"),
        "{reason}"
    );
    assert!(!reason.contains("no sync-group notify"), "{reason}");
}

#[test]
fn notify_fifo_points_to_the_event_stream() {
    let text = format!("global_defs {{\n  vrrp_notify_fifo /run/keepalived.fifo\n}}\n{BASE}");
    let all = reasons(&text);
    let reason = reason_for(&all, "vrrp_notify_fifo");
    // global.event_log writes to a file or a FIFO; the line format is what differs.
    assert!(reason.contains("global.event_log"), "{reason}");
    assert!(!reason.contains("FIFOs are not supported"), "{reason}");
}
