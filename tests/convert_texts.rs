//! What `vipd convert` tells a user about keywords it leaves out must be true of vipd: where
//! vipd has the feature, it is converted, or the reason names it.

use std::path::Path;

use vipd::config::Config;
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
fn sync_group_notify_becomes_group_notify() {
    let text = format!(
        "{BASE}vrrp_sync_group lb {{\n  group {{ web }}\n  notify_master /etc/keepalived/up.sh\n  notify \"/etc/keepalived/any.sh x\"\n}}\n"
    );
    let c = convert_str(&text, "ka.conf", Path::new("."), &Options::default()).expect("converts");
    assert!(c.unsupported.is_empty(), "{:#?}", c.unsupported);
    let yaml = c.yaml.expect("an instance");
    let config = Config::parse(&yaml, "out.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let notify = &config.group_notify["lb"];
    assert_eq!(
        notify.master.as_deref(),
        Some("/etc/keepalived/up.sh"),
        "{yaml}"
    );
    assert_eq!(
        notify.any.as_deref(),
        Some("/etc/keepalived/any.sh x"),
        "{yaml}"
    );
    assert_eq!(config.groups["lb"], ["web"], "{yaml}");
    // keepalived appends GROUP NAME STATE only to `notify`; vipd to every command.
    assert!(yaml.contains("appends 'GROUP <name> <STATE>'"), "{yaml}");
}

#[test]
fn notify_fifo_becomes_the_event_stream_in_keepalived_format() {
    // global.event_log writes to a file or a FIFO, in keepalived's line format when asked.
    let text = format!("global_defs {{\n  vrrp_notify_fifo /run/keepalived.fifo\n}}\n{BASE}");
    let c = convert_str(&text, "ka.conf", Path::new("."), &Options::default()).expect("converts");
    assert!(c.unsupported.is_empty(), "{:#?}", c.unsupported);
    let yaml = c.yaml.expect("an instance");
    assert!(
        yaml.contains("event_log: \"/run/keepalived.fifo\""),
        "{yaml}"
    );
    assert!(yaml.contains("event_log_format: keepalived"), "{yaml}");
}

#[test]
fn lower_priority_garps_and_notify_say_what_vipd_does() {
    let text = "global_defs {\n  vrrp_garp_lower_prio_repeat 2\n}\nvrrp_instance web {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress { 10.0.0.100/24 }\n  garp_lower_prio_repeat 3\n  notify_master_rx_lower_pri /etc/keepalived/lower.sh\n}\n";
    let all = reasons(text);
    // A Master hearing a lower-priority Master re-announces its VIPs and runs notify.master
    // again (a healed split brain); saying vipd never does is false.
    let global = reason_for(&all, "vrrp_garp_lower_prio_repeat");
    assert!(!global.contains("does not re-send"), "{global}");
    assert!(global.contains("lower-priority Master"), "{global}");
    let instance = reason_for(&all, "garp_lower_prio_repeat");
    assert!(!instance.contains("only on becoming Master"), "{instance}");
    let notify = reason_for(&all, "notify_master_rx_lower_pri");
    assert!(notify.contains("notify.master"), "{notify}");
}

#[test]
fn init_fail_says_how_a_check_starts() {
    let text = "vrrp_script chk {\n  script \"/bin/true\"\n  init_fail\n}\nvrrp_instance web {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress { 10.0.0.100/24 }\n  track_script { chk }\n}\n";
    let all = reasons(text);
    let reason = reason_for(&all, "init_fail");
    // A check starts with no result (crate::track::priority::Hysteresis), not healthy.
    assert!(!reason.contains("as healthy"), "{reason}");
    assert!(reason.contains("first"), "{reason}");
}
