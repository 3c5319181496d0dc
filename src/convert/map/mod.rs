//! keepalived's VRRP keywords to vipd's configuration.
//!
//! Two passes: the first reads what instances refer to (global_defs, vrrp_script,
//! track_file, vrrp_sync_group, wherever they appear), the second maps each vrrp_instance.

mod instance;
pub mod model;
mod values;

use std::collections::HashMap;

use super::tree::Node;
use super::{Loc, Unsupported};
pub use model::Out;
use model::OutCheck;
use values::{bool_arg, int, secs};

/// A duration as vipd writes it (`"2s"`, `"1500ms"`), from microseconds.
pub fn values_duration(us: u64) -> String {
    values::duration(us)
}

/// Settings from global_defs that instances inherit.
#[derive(Debug, Default)]
struct Globals {
    version: Option<u8>,
    garp_delay: Option<u64>,
    garp_repeat: Option<u32>,
    yield_advert: Option<bool>,
    startup_delay: Option<u64>,
    down_timer_adverts: Option<u32>,
}

/// A vrrp_script, by its keepalived name.
#[derive(Debug)]
struct Script {
    /// Its name in `checks`.
    out_name: String,
    /// Default tracking weight.
    weight: i32,
}

/// A track_file block.
#[derive(Debug)]
struct TrackFile {
    path: String,
    weight: i32,
}

/// A tracker as written in keepalived, before weights are resolved.
#[derive(Debug, Clone)]
struct RawTrack {
    kind: TrackKind,
    name: String,
    weight: Option<i32>,
    loc: Loc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackKind {
    Script,
    Interface,
    File,
}

/// A vrrp_sync_group.
#[derive(Debug)]
struct Group {
    out_name: String,
    members: Vec<String>,
    tracks: Vec<RawTrack>,
    /// `sync_group_tracking_weight` (or the deprecated `global_tracking`): members keep
    /// their weighted trackers.
    keep_weights: bool,
    /// Comments for the output.
    notes: Vec<String>,
}

/// Everything the mapping reads and produces.
struct Ctx<'a> {
    unsupported: &'a mut Vec<Unsupported>,
    globals: Globals,
    scripts: HashMap<String, Script>,
    files: HashMap<String, TrackFile>,
    groups: Vec<Group>,
    names: Names,
    /// `(keepalived instance name, vipd instance name)`; a split instance has two.
    origins: Vec<(String, String)>,
    out: Out,
}

impl Ctx<'_> {
    fn skip(&mut self, loc: &Loc, keyword: impl Into<String>, reason: impl Into<String>) {
        self.unsupported.push(Unsupported {
            loc: loc.clone(),
            keyword: keyword.into(),
            reason: reason.into(),
        });
    }

    fn skip_node(&mut self, n: &Node, reason: impl Into<String>) {
        self.skip(&n.loc, n.name.clone(), reason);
    }

    /// Reports a keyword whose value could not be read; keepalived would have rejected it.
    fn bad_value(&mut self, n: &Node, expected: &str) {
        let got = n.args.join(" ");
        self.skip_node(n, format!("invalid value '{got}': expected {expected}"));
    }
}

/// Names used in vipd's maps: letters, digits, `-` and `_`, unique per map.
#[derive(Debug, Default)]
struct Names {
    taken: HashMap<&'static str, Vec<String>>,
}

impl Names {
    /// A valid, unused name in `space` for keepalived's `name`.
    fn claim(&mut self, space: &'static str, name: &str) -> String {
        let mut base: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if base.is_empty() {
            base.push('_');
        }
        let taken = self.taken.entry(space).or_default();
        let mut candidate = base.clone();
        let mut n = 2;
        while taken.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        taken.push(candidate.clone());
        candidate
    }
}

/// Why a top-level keyword has no place in vipd.
fn top_level_reason(name: &str) -> &'static str {
    match name {
        "virtual_server" | "virtual_server_group" => {
            "load balancing (LVS/IPVS) is out of scope for vipd; keep keepalived's checker or use a load balancer such as HAProxy"
        }
        "static_ipaddress" | "static_routes" | "static_rules" => {
            "static addresses, routes and rules are not VRRP; configure them in the host's network configuration"
        }
        "bfd_instance" => "BFD is not supported; use a check (script, tcp, http) instead",
        "vrrp_track_process" => {
            "process tracking is not supported; use a script check such as 'pidof NAME'"
        }
        "garp_group" => "per-interface GARP/NA rate limits are not supported",
        "linkbeat_interfaces" => "vipd always follows link state through netlink",
        "net_namespace" | "net_namespace_ipvs" | "namespace_with_ipsets" => {
            "run vipd itself in the namespace (ip netns exec NAME vipd run ...)"
        }
        "instance" | "use_pid_dir" | "child_wait_time" => {
            "process management: vipd is one process; use the service manager"
        }
        _ => "no vipd equivalent",
    }
}

/// Maps the tree; what cannot be mapped is appended to `unsupported`.
pub fn map(nodes: &[Node], unsupported: &mut Vec<Unsupported>) -> Out {
    let mut cx = Ctx {
        unsupported,
        globals: Globals::default(),
        scripts: HashMap::new(),
        files: HashMap::new(),
        groups: Vec::new(),
        names: Names::default(),
        origins: Vec::new(),
        out: Out::default(),
    };
    for n in nodes {
        match n.name.as_str() {
            "global_defs" => global_defs(&mut cx, n),
            "vrrp_script" => script(&mut cx, n),
            "track_file" | "vrrp_track_file" => track_file(&mut cx, n),
            "vrrp_sync_group" => sync_group(&mut cx, n),
            "vrrp_instance" => {}
            other => {
                let reason = top_level_reason(other);
                cx.skip_node(n, reason);
            }
        }
    }
    for n in nodes.iter().filter(|n| n.name == "vrrp_instance") {
        instance::map(&mut cx, n);
    }
    groups_out(&mut cx);
    if cx
        .out
        .instances
        .iter()
        .any(|(_, i)| i.yield_advert.is_none())
    {
        cx.out.header.push("keepalived sends no last advert before yielding to a higher priority unless vrrp_higher_prio_send_advert is set; vipd's yield_advert (default true) does, which helps a healed split brain converge and is harmless to keepalived peers.".to_owned());
    }
    cx.out
}

fn global_defs(cx: &mut Ctx<'_>, block: &Node) {
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
            "vrrp_garp_master_delay" => match int(n.arg(), 0, 1000) {
                Some(v) => cx.globals.garp_delay = Some(v as u64 * 1_000_000),
                None => cx.bad_value(n, "whole seconds"),
            },
            "vrrp_garp_master_repeat" => match int(n.arg(), 1, 100) {
                Some(v) => cx.globals.garp_repeat = Some(v as u32),
                None => cx.bad_value(n, "a count 1..=100"),
            },
            "vrrp_garp_master_refresh" | "vrrp_garp_interval" | "vrrp_gna_interval"
                if n.arg().and_then(secs) == Some(0) =>
            {
                // 0 is keepalived's default and vipd's only behaviour: nothing to write.
            }
            "vrrp_garp_master_refresh" => {
                cx.skip_node(n, "periodic GARP refresh while Master is not supported")
            }
            "vrrp_garp_interval" | "vrrp_gna_interval" => cx.skip_node(
                n,
                "vipd sends each burst of GARPs/NAs back to back; spacing them is not supported",
            ),
            "vrrp_higher_prio_send_advert" => match bool_arg(n.arg()) {
                Some(b) => cx.globals.yield_advert = Some(b),
                None => cx.bad_value(n, "a boolean"),
            },
            "vrrp_startup_delay" => match n.arg().and_then(secs) {
                Some(us) => cx.globals.startup_delay = Some(us),
                None => cx.bad_value(n, "seconds"),
            },
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
                    "keepalived's enable_script_security ({}) refused scripts writable by non-root users; vipd does not check script permissions, so keep them root-owned yourself",
                    n.loc
                ),
            )),
            "notification_email" | "notification_email_from" | "smtp_server" | "smtp_helo_name"
            | "smtp_connect_timeout" | "smtp_alert" | "smtp_alert_vrrp" | "smtp_alert_checker"
            | "email_faults" => cx.skip_node(
                n,
                "vipd sends no email; run a notify command (notify.any) that mails instead",
            ),
            "vrrp_strict" => cx.skip_node(
                n,
                "strict RFC mode (no accept mode, no authentication, no unicast) is not supported; vipd always accepts traffic to its VIPs",
            ),
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
                "vipd does not re-send GARPs when a Master hears a lower priority",
            ),
            "vrrp_iptables" | "vrrp_ipsets" | "nftables" | "nftables_priority" | "nftables_ifindex" => {
                cx.skip_node(n, "vipd manages no firewall rules (it has no no_accept mode)")
            }
            "dynamic_interfaces" => cx.skip_node(n, "vipd waits for a missing interface by itself"),
            "vrrp_notify_fifo" | "vrrp_notify_fifo_script" | "notify_fifo" | "notify_fifo_script" => {
                cx.skip_node(n, "notify FIFOs are not supported; use notify commands (notify.any gets the same four arguments)")
            }
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

fn script(cx: &mut Ctx<'_>, block: &Node) {
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
                Some(us) if n.name == "interval" => check.interval = us,
                Some(us) => check.timeout = Some(us),
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
                "vipd starts every check as healthy; init_fail is not supported",
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

fn track_file(cx: &mut Ctx<'_>, block: &Node) {
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

fn sync_group(cx: &mut Ctx<'_>, block: &Node) {
    let Some(name) = block.arg() else {
        cx.bad_value(block, "a group name");
        return;
    };
    let mut group = Group {
        out_name: cx.names.claim("groups", name),
        members: Vec::new(),
        tracks: Vec::new(),
        keep_weights: false,
        notes: Vec::new(),
    };
    for n in block.children() {
        match n.name.as_str() {
            "group" => group
                .members
                .extend(n.children().iter().map(|m| m.name.clone())),
            "track_interface" | "track_script" | "track_file" => {
                group.tracks.extend(instance::tracks(cx, n))
            }
            "sync_group_tracking_weight" | "global_tracking" => group.keep_weights = true,
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => cx
                .skip_node(
                    n,
                    "vipd has no sync-group notify commands; put the command on one member's notify",
                ),
            "smtp_alert" => cx.skip_node(n, "vipd sends no email"),
            _ if n.args.is_empty() && n.block.is_none() => cx.skip_node(
                n,
                "not a sync-group keyword; if it is an instance name, list it inside 'group { }'",
            ),
            _ => cx.skip_node(n, "no vipd equivalent in a sync group"),
        }
    }
    cx.groups.push(group);
}

/// Writes `groups`, renaming members to their vipd instance names.
fn groups_out(cx: &mut Ctx<'_>) {
    let groups = std::mem::take(&mut cx.groups);
    for g in groups {
        let mut members = Vec::new();
        for m in &g.members {
            // A split instance is two members (NAME and NAME_v6).
            let mapped = cx
                .origins
                .iter()
                .filter(|(k, _)| k == m)
                .map(|(_, v)| v.clone());
            members.extend(mapped);
        }
        if members.is_empty() {
            continue;
        }
        cx.out.groups.push((g.out_name, members, g.notes));
    }
}
