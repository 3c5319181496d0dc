//! The blocks instances refer to: global_defs, vrrp_script and track_file.

use super::model::OutCheck;
use super::values::{self, bool_arg, int, secs};
use super::{Ctx, Script, TrackFile, garp};
use crate::convert::tree::Node;

/// vipd's caps (see `vipd check`), in microseconds: keepalived accepts longer values, which
/// convert writes as the cap, with a note.
const MAX_STARTUP_DELAY_US: u64 = crate::config::MAX_STARTUP_DELAY.as_micros() as u64;
const MAX_CHECK_INTERVAL_US: u64 = crate::config::MAX_CHECK_INTERVAL.as_micros() as u64;

/// keepalived's `notify_fifo` / `vrrp_notify_fifo FIFO [USER [GROUP]]`: vipd's event log in
/// keepalived's line format. keepalived writes the same lines to both FIFOs; vipd has one
/// event log, so a second, different path cannot be kept.
fn notify_fifo(cx: &mut Ctx<'_>, n: &Node) {
    let Some(path) = n.args.first() else {
        return cx.bad_value(n, "a FIFO path");
    };
    match &cx.out.notify_fifo {
        Some(p) if p == path => {}
        Some(p) => {
            let why = format!("vipd writes one event log, already {p}");
            return cx.skip_node(n, why);
        }
        None => cx.out.notify_fifo = Some(path.clone()),
    }
    if n.args.len() > 1 {
        cx.skip_node(
            n,
            "FIFO owner: vipd creates a missing FIFO owned by its own user (mode 0600); create it beforehand with the owner the reader needs",
        );
    }
}

pub(super) fn global_defs(cx: &mut Ctx<'_>, block: &Node) {
    for n in block.children() {
        let name = n.name.as_str();
        match name {
            "router_id" => match n.arg() {
                Some(id) => cx.out.router_id = Some(id.to_owned()),
                None => cx.bad_value(n, "a name"),
            },
            "vrrp_version" => match int(n.arg(), 2, 3) {
                Some(v) => cx.globals.version = Some(v as u8),
                None => cx.bad_value(n, "2 or 3"),
            },
            _ if garp::global_keyword(cx, n) => {}
            "vrrp_higher_prio_send_advert" => match bool_arg(n.arg()) {
                Some(b) => cx.globals.yield_advert = Some(b),
                None => cx.bad_value(n, "a boolean"),
            },
            "vrrp_startup_delay" => match n.arg().and_then(secs) {
                Some(us) if us > MAX_STARTUP_DELAY_US => {
                    cx.globals.startup_delay = Some(MAX_STARTUP_DELAY_US);
                    cx.out.global_notes.push((
                        "",
                        format!(
                            "keepalived's vrrp_startup_delay ({}) is longer than vipd's cap; written as {} s",
                            n.loc,
                            MAX_STARTUP_DELAY_US / 1_000_000
                        ),
                    ));
                }
                Some(us) => cx.globals.startup_delay = Some(us),
                None => cx.bad_value(n, "seconds"),
            },
            "vrrp_rt_priority" => match int(n.arg(), 1, 99) {
                Some(p) => cx.out.realtime_priority = Some(p as u8),
                None => cx.bad_value(n, "1..=99"),
            },
            "vrrp_rlimit_rttime" => cx.skip_node(
                n,
                "vipd sets no RLIMIT_RTTIME; the kernel's realtime throttling (kernel.sched_rt_runtime_us) bounds its realtime thread",
            ),
            "vrrp_down_timer_adverts" => match int(n.arg(), 1, 100) {
                Some(v) => cx.globals.down_timer_adverts = Some(v as u32),
                None => cx.bad_value(n, "1..=100"),
            },
            "script_user" => match n.args.as_slice() {
                [user] => cx.out.script_user = Some(user.clone()),
                [user, _group] => {
                    cx.out.script_user = Some(user.clone());
                    cx.skip_node(n, "script group: vipd runs scripts with the user's own group");
                }
                _ => cx.bad_value(n, "USER [GROUP]"),
            },
            "enable_script_security" => cx.out.global_notes.push((
                "",
                format!(
                    "keepalived's enable_script_security ({}) is always on in vipd: when it runs as root or with capabilities, a command whose program, script or directories another user could change (mode bits or ACL) is refused",
                    n.loc
                ),
            )),
            "notification_email" | "notification_email_from" | "smtp_server" | "smtp_helo_name"
            | "smtp_connect_timeout" | "smtp_alert" | "smtp_alert_vrrp" | "smtp_alert_checker"
            | "email_faults" => cx.skip_node(
                n,
                "vipd sends no email; run a notify command (notify.any) that mails instead",
            ),
            "vrrp_strict" => {
                cx.globals.strict = true;
                cx.skip_node(
                    n,
                    "strict RFC mode (no accept mode, no authentication, no unicast) is not supported; vipd always accepts traffic to its VIPs",
                )
            }
            "vrrp_skip_check_adv_addr" => cx.skip_node(
                n,
                "vipd always compares the address list of received adverts (a mismatch is logged, not fatal)",
            ),
            "vrrp_mcast_group4" | "vrrp_mcast_group6" => cx.skip_node(
                n,
                "vipd uses the IANA VRRP groups 224.0.0.18 and ff02::12 only",
            ),
            "vrrp_garp_lower_prio_delay" | "vrrp_garp_lower_prio_repeat" => cx.skip_node(
                n,
                "vipd's Master answers a lower-priority Master with garp.initial GARPs/NAs (again 1.1 s later if garp.repeat is set), at most once per Master_Down_Interval; the delay and count are not set separately",
            ),
            "vrrp_iptables" | "vrrp_ipsets" | "nftables" | "nftables_priority" | "nftables_ifindex" => {
                cx.skip_node(n, "vipd manages no firewall rules (it has no no_accept mode)")
            }
            "dynamic_interfaces" => cx.skip_node(n, "vipd waits for a missing interface by itself"),
            "vrrp_notify_fifo" | "notify_fifo" => notify_fifo(cx, n),
            "vrrp_notify_fifo_script" | "notify_fifo_script" => cx.skip_node(
                n,
                "vipd runs no FIFO reader: run the reader as a service of its own, reading global.event_log",
            ),
            _ if name.starts_with("lvs_") || name.starts_with("checker_") || name.starts_with("bfd_") => {
                cx.skip_node(n, "load balancing and BFD are out of scope for vipd")
            }
            _ if name.starts_with("snmp") || name.starts_with("enable_snmp") || name.starts_with("enable_traps") => {
                cx.skip_node(n, "SNMP is not supported; vipd exports Prometheus metrics (global.metrics_listen)")
            }
            _ if name.starts_with("enable_dbus") || name == "dbus_service_name" => {
                cx.skip_node(n, "D-Bus is not supported")
            }
            _ => cx.skip_node(n, "no vipd equivalent"),
        }
    }
}

pub(super) fn script(cx: &mut Ctx<'_>, block: &Node) {
    let Some(name) = block.arg() else {
        cx.bad_value(block, "a script name");
        return;
    };
    let mut check = OutCheck {
        interval: 1_000_000,
        ..OutCheck::default()
    };
    let mut command = None;
    let mut weight = 0;
    for n in block.children() {
        match n.name.as_str() {
            "script" if !n.args.is_empty() => command = Some(values::command_line(&n.args)),
            "interval" | "timeout" => match n.arg().and_then(secs).filter(|&us| us > 0) {
                Some(us) => {
                    let capped = us.min(MAX_CHECK_INTERVAL_US);
                    if capped < us {
                        check.notes.push((
                            "",
                            format!(
                                "keepalived's {} ({}) is longer than vipd's cap; written as {} s",
                                n.name,
                                n.loc,
                                MAX_CHECK_INTERVAL_US / 1_000_000
                            ),
                        ));
                    }
                    if n.name == "interval" {
                        check.interval = capped;
                    } else {
                        check.timeout = Some(capped);
                    }
                }
                None => cx.bad_value(n, "seconds, more than 0"),
            },
            "rise" | "fall" => match int(n.arg(), 1, 1000) {
                Some(v) if n.name == "rise" => check.rise = Some(v as u32),
                Some(v) => check.fall = Some(v as u32),
                None => cx.bad_value(n, "a count 1..=1000"),
            },
            "weight" => match (int(n.arg(), -253, 253), n.args.get(1)) {
                (Some(w), None) => weight = w as i32,
                (Some(_), Some(_)) => cx.skip_node(n, "'reverse' weights are not supported"),
                (None, _) => cx.bad_value(n, "-253..=253"),
            },
            "user" => match n.args.as_slice() {
                [user] => check.user = Some(user.clone()),
                [user, _] => {
                    check.user = Some(user.clone());
                    cx.skip_node(
                        n,
                        "script group: vipd runs scripts with the user's own group",
                    );
                }
                _ => cx.bad_value(n, "USER [GROUP]"),
            },
            "init_fail" => cx.skip_node(
                n,
                "not converted: a vipd check has no result until its first probe (a weight-0 tracker is FAULT until then, a weighted one adds nothing), and that first result decides at once; there is no setting to start failed",
            ),
            _ => cx.skip_node(n, "no vipd equivalent in a check"),
        }
    }
    let Some(command) = command else {
        cx.skip_node(
            block,
            "vrrp_script without a 'script' line; keepalived ignores it too",
        );
        return;
    };
    if let Some(target) = dev_tcp(&command) {
        check.notes.push((
            "",
            format!("keepalived script '{command}' (a bash /dev/tcp connect) is vipd's tcp check"),
        ));
        check.kind = ("tcp", target);
    } else {
        if command.contains(['|', '&', ';', '<', '>', '$', '`', '*', '?']) {
            check.notes.push((
                "script",
                "vipd runs this with /bin/sh -c, so the shell syntax in it is interpreted by /bin/sh (dash on Debian, not bash)".to_owned(),
            ));
        }
        check.kind = ("script", command);
    }
    let out_name = cx.names.claim("checks", name);
    if out_name != name {
        check.notes.push(("", format!("keepalived name: {name}")));
    }
    cx.out.checks.push((out_name.clone(), check));
    cx.scripts
        .insert(name.to_owned(), Script { out_name, weight });
}

/// `</dev/tcp/HOST/PORT` (bash's connect test) as vipd's `HOST:PORT`.
fn dev_tcp(command: &str) -> Option<String> {
    let rest = command
        .trim()
        .strip_prefix('<')?
        .trim_start()
        .strip_prefix("/dev/tcp/")?;
    let (host, port) = rest.rsplit_once('/')?;
    let port: u16 = port.parse().ok().filter(|&p| p > 0)?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

pub(super) fn track_file(cx: &mut Ctx<'_>, block: &Node) {
    let Some(name) = block.arg() else {
        cx.bad_value(block, "a track_file name");
        return;
    };
    let mut path = None;
    // keepalived's default weight for a track_file is 1.
    let mut weight = 1;
    for n in block.children() {
        match n.name.as_str() {
            "file" => path = n.arg().map(str::to_owned),
            "weight" => match (int(n.arg(), -254, 254), n.args.get(1)) {
                (Some(w), None) => weight = w as i32,
                (Some(_), Some(_)) => cx.skip_node(n, "'reverse' weights are not supported"),
                (None, _) => cx.bad_value(n, "-254..=254"),
            },
            "init_file" => cx.skip_node(n, "vipd does not create tracked files; create it at boot"),
            _ => cx.skip_node(n, "no vipd equivalent"),
        }
    }
    match path {
        Some(path) => {
            cx.files.insert(name.to_owned(), TrackFile { path, weight });
        }
        None => cx.skip_node(block, "track_file without a 'file' line"),
    }
}
