//! keepalived's VRRP keywords to vipd's configuration.
//!
//! Two passes: the first reads what instances refer to (global_defs, vrrp_script,
//! track_file, vrrp_sync_group, wherever they appear), the second maps each vrrp_instance.

mod garp;
mod globals;
mod instance;
mod keywords;
pub mod model;
mod track;
mod track_process;
mod values;

use std::collections::HashMap;

use super::tree::Node;
use super::{Loc, Unsupported};
pub use model::Out;

/// A duration as vipd writes it (`"2s"`, `"1500ms"`), from microseconds.
pub fn values_duration(us: u64) -> String {
    values::duration(us)
}

/// Settings from global_defs that instances inherit.
#[derive(Debug, Default)]
struct Globals {
    version: Option<u8>,
    garp: garp::Global,
    yield_advert: Option<bool>,
    startup_delay: Option<u64>,
    down_timer_adverts: Option<u32>,
    /// `vrrp_strict`.
    strict: bool,
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
    Process,
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
    /// vrrp_track_process blocks, by keepalived name.
    processes: HashMap<String, Script>,
    files: HashMap<String, TrackFile>,
    groups: Vec<Group>,
    names: Names,
    /// `(keepalived instance name, vipd instance name)`; a split instance has two.
    origins: Vec<(String, String)>,
    /// `(event, command)` notify commands of sync groups, by vipd group name.
    group_notify: HashMap<String, Vec<(&'static str, String)>>,
    out: Out,
}

impl Ctx<'_> {
    fn skip(&mut self, loc: &Loc, keyword: impl Into<String>, reason: impl Into<String>) {
        self.unsupported.push(Unsupported {
            loc: loc.clone(),
            keyword: keyword.into(),
            reason: reason.into(),
            on_wire: false,
        });
    }

    /// Reports what the converted node cannot keep exactly: it would behave differently on
    /// the network than the keepalived node it replaces.
    fn differs(&mut self, loc: &Loc, keyword: impl Into<String>, reason: impl Into<String>) {
        self.skip(loc, keyword, reason);
        if let Some(u) = self.unsupported.last_mut() {
            u.on_wire = true;
        }
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
/// keepalived's top-level keywords (keepalived.conf(5)); a file whose statements are not
/// among them is not keepalived configuration.
const TOP_LEVEL_KEYWORDS: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "track_file",
    "vrrp_track_file",
    "vrrp_track_process",
    "vrrp_sync_group",
    "vrrp_instance",
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "bfd_instance",
    "garp_group",
    "linkbeat_interfaces",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
];

/// Whether `name` can start a statement at the top level of keepalived.conf.
pub fn is_top_level_keyword(name: &str) -> bool {
    TOP_LEVEL_KEYWORDS.contains(&name)
}

fn top_level_reason(name: &str) -> &'static str {
    match name {
        "virtual_server" | "virtual_server_group" => {
            "load balancing (LVS/IPVS) is out of scope for vipd; keep keepalived's checker or use a load balancer such as HAProxy"
        }
        "static_ipaddress" | "static_routes" | "static_rules" => {
            "static addresses, routes and rules are not VRRP; configure them in the host's network configuration"
        }
        "bfd_instance" => "BFD is not supported; use a check (script, tcp, http) instead",
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
        processes: HashMap::new(),
        files: HashMap::new(),
        groups: Vec::new(),
        names: Names::default(),
        origins: Vec::new(),
        group_notify: HashMap::new(),
        out: Out::default(),
    };
    for n in nodes {
        match n.name.as_str() {
            "global_defs" => globals::global_defs(&mut cx, n),
            "vrrp_script" => globals::script(&mut cx, n),
            "track_file" | "vrrp_track_file" => globals::track_file(&mut cx, n),
            "vrrp_track_process" => track_process::read(&mut cx, n),
            "vrrp_sync_group" => sync_group(&mut cx, n),
            "garp_group" => garp::group(&mut cx, n),
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
    if cx
        .out
        .instances
        .iter()
        .any(|(_, i)| i.unicast.is_some() && i.unicast_ttl_check)
    {
        cx.out.header.push("vipd requires unicast adverts to arrive with TTL 255, as they do from a peer on the same link (keepalived sends 255 unless unicast_ttl says otherwise), so no host further away can forge one; for peers reached through routers, set unicast_ttl_check: false.".to_owned());
    }
    cx.out
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
            "track_interface" | "track_script" | "track_file" | "track_process" => {
                group.tracks.extend(track::read(cx, n))
            }
            "sync_group_tracking_weight" | "global_tracking" => group.keep_weights = true,
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                group_notify(cx, &mut group, n)
            }
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

/// A sync group's notify command, as `groups.NAME.notify`: vipd runs it when the group as a
/// whole changes state, as keepalived does.
fn group_notify(cx: &mut Ctx<'_>, group: &mut Group, n: &Node) {
    let Some((event, cmd)) = keywords::notify_command(cx, n) else {
        return;
    };
    let notify = cx.group_notify.entry(group.out_name.clone()).or_default();
    if notify.is_empty() {
        group.notes.push("vipd appends 'GROUP <name> <STATE>' to every group notify command; keepalived did so only for 'notify' (notify.any)".to_owned());
    }
    notify.push((event, cmd));
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
        let notify = cx.group_notify.remove(&g.out_name).unwrap_or_default();
        cx.out.groups.push((g.out_name, members, g.notes, notify));
    }
}
