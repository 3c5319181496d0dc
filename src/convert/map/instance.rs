//! One vrrp_instance to one vipd instance (two when its addresses mix IPv4 and IPv6).

use std::net::IpAddr;

use ipnet::IpNet;

use super::model::{Notes, OutInstance, OutTrack};
use super::values::{bool_arg, duration, int, secs};
use super::{Ctx, Group, RawTrack, TrackKind};
use crate::convert::Loc;
use crate::convert::tree::Node;

/// A virtual address as written.
#[derive(Debug, Clone)]
struct RawVip {
    net: IpNet,
    label: Option<String>,
    /// From virtual_ipaddress_excluded: keepalived did not put it in adverts.
    excluded: bool,
}

/// What a vrrp_instance block says, before defaults and rewrites.
#[derive(Debug, Default)]
struct Raw {
    master: Option<Loc>,
    interface: Option<String>,
    vrid: Option<u8>,
    priority: Option<u8>,
    advert: Option<u64>,
    version: Option<u8>,
    nopreempt: bool,
    preempt_delay: Option<u64>,
    source: Option<IpAddr>,
    peers: Vec<IpAddr>,
    auth: Option<String>,
    vips: Vec<RawVip>,
    /// `(dev, loc)` of VIPs naming an interface, checked once `interface` is known.
    vip_devs: Vec<(String, Loc)>,
    tracks: Vec<RawTrack>,
    notify: Vec<(&'static str, String)>,
    use_vmac: bool,
    garp_delay: Option<u64>,
    garp_repeat: Option<u32>,
    down_timer_adverts: Option<u32>,
    yield_advert: Option<bool>,
    notes: Notes,
}

/// Maps one vrrp_instance block.
pub(super) fn map(cx: &mut Ctx<'_>, block: &Node) {
    let Some(name) = block.arg().map(str::to_owned) else {
        cx.bad_value(block, "an instance name");
        return;
    };
    let mut raw = Raw::default();
    for n in block.children() {
        keyword(cx, &mut raw, n);
    }
    let (Some(interface), Some(vrid)) = (raw.interface.clone(), raw.vrid) else {
        cx.skip_node(
            block,
            "instance without 'interface' or 'virtual_router_id'; vipd needs both, so it is left out",
        );
        return;
    };
    for (dev, loc) in std::mem::take(&mut raw.vip_devs) {
        if dev != interface {
            cx.skip(
                &loc,
                format!("virtual_ipaddress dev {dev}"),
                format!("vipd adds every VIP to the instance's interface ({interface}); this address goes there instead of {dev}"),
            );
        }
    }
    let (v4, v6): (Vec<RawVip>, Vec<RawVip>) = raw
        .vips
        .iter()
        .cloned()
        .partition(|v| v.net.addr().is_ipv4());
    if v4.is_empty() && v6.is_empty() {
        cx.skip_node(
            block,
            "instance without virtual_ipaddress; vipd needs at least one VIP",
        );
        return;
    }
    let group = cx.groups.iter().position(|g| g.members.contains(&name));
    let base = common(cx, &raw, &name, interface, vrid, group);
    let split = !v4.is_empty() && !v6.is_empty();
    for (vips, v6_part) in [(v4, false), (v6, true)] {
        if vips.is_empty() {
            continue;
        }
        let out_name = if split && v6_part {
            cx.names.claim("instances", &format!("{name}_v6"))
        } else {
            cx.names.claim("instances", &name)
        };
        let mut inst = base.clone();
        family_part(cx, &raw, &mut inst, &vips, v6_part);
        if split {
            let other = if v6_part { "IPv4" } else { "IPv6" };
            inst.notes.push((
                "",
                format!("keepalived instance {name} mixed IPv4 and IPv6 VIPs; one VRRP instance carries one family, so its {other} VIPs are in a sibling instance with the same VRID, kept in step by a sync group"),
            ));
        } else if out_name != name {
            inst.notes.push(("", format!("keepalived name: {name}")));
        }
        cx.origins.push((name.clone(), out_name.clone()));
        cx.out.instances.push((out_name, inst));
    }
    if split && group.is_none() {
        let out_name = cx.names.claim("groups", &name);
        cx.groups.push(Group {
            out_name,
            members: vec![name.clone()],
            tracks: Vec::new(),
            keep_weights: true,
            notes: vec![format!(
                "the two halves of keepalived instance {name} (IPv4 and IPv6) change state together"
            )],
        });
    }
}

/// Reads one keyword of the block into `raw`.
fn keyword(cx: &mut Ctx<'_>, raw: &mut Raw, n: &Node) {
    let arg = n.arg();
    match n.name.as_str() {
        "state" => match arg.map(str::to_ascii_uppercase).as_deref() {
            Some("MASTER") => raw.master = Some(n.loc.clone()),
            Some("BACKUP") => {}
            _ => cx.bad_value(n, "MASTER or BACKUP"),
        },
        "interface" => match arg {
            Some(i) if !i.is_empty() && i.len() <= 15 => raw.interface = Some(i.to_owned()),
            _ => cx.bad_value(n, "an interface name"),
        },
        "virtual_router_id" => match int(arg, 1, 255) {
            Some(v) => raw.vrid = Some(v as u8),
            None => cx.bad_value(n, "1..=255"),
        },
        "priority" => match int(arg, 1, 255) {
            Some(v) => raw.priority = Some(v as u8),
            None => cx.bad_value(n, "1..=255"),
        },
        "advert_int" => match arg.and_then(secs) {
            Some(us) => raw.advert = Some(us),
            None => cx.bad_value(n, "seconds"),
        },
        "version" => match int(arg, 2, 3) {
            Some(v) => raw.version = Some(v as u8),
            None => cx.bad_value(n, "2 or 3"),
        },
        "nopreempt" | "no_preempt" => raw.nopreempt = true,
        "preempt" => raw.nopreempt = false,
        "preempt_delay" => match arg.and_then(secs).filter(|&us| us <= 1_000_000_000) {
            Some(us) => raw.preempt_delay = Some(us),
            None => cx.bad_value(n, "seconds, 0..=1000"),
        },
        "unicast_src_ip" | "mcast_src_ip" => match arg.and_then(|a| a.parse().ok()) {
            Some(ip) => raw.source = Some(ip),
            None => cx.bad_value(n, "an IP address"),
        },
        "unicast_peer" => {
            for p in n.children() {
                match p.name.parse::<IpAddr>() {
                    Ok(ip) => raw.peers.push(ip),
                    Err(_) => cx.bad_value(p, "an IP address"),
                }
                if !p.args.is_empty() {
                    cx.skip(&p.loc, "unicast_peer min_ttl/max_ttl", "TTL checks on peers are not supported");
                }
            }
        }
        "authentication" => auth(cx, raw, n),
        "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
            let excluded = n.name == "virtual_ipaddress_excluded";
            for v in n.children() {
                vip(cx, raw, v, excluded);
            }
        }
        "track_interface" | "track_script" | "track_file" => raw.tracks.extend(tracks(cx, n)),
        "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
            let event = match n.name.as_str() {
                "notify_master" => "master",
                "notify_backup" => "backup",
                "notify_fault" => "fault",
                "notify_stop" => "stop",
                _ => "any",
            };
            match n.args.as_slice() {
                [] => cx.bad_value(n, "a command"),
                [cmd, rest @ ..] => {
                    if !rest.is_empty() {
                        cx.skip_node(n, "per-command user/group: vipd runs notify commands as global.script_user");
                    }
                    raw.notify.push((event, cmd.clone()));
                }
            }
        }
        "use_vmac" => {
            raw.use_vmac = true;
            if !n.args.is_empty() {
                cx.skip_node(n, "vipd names its macvlan and uses the standard virtual MAC itself; the interface name/MAC given here is dropped");
            }
        }
        "garp_master_delay" => match int(arg, 0, 1000) {
            Some(v) => raw.garp_delay = Some(v as u64 * 1_000_000),
            None => cx.bad_value(n, "whole seconds"),
        },
        "garp_master_repeat" => match int(arg, 1, 100) {
            Some(v) => raw.garp_repeat = Some(v as u32),
            None => cx.bad_value(n, "a count 1..=100"),
        },
        "garp_master_refresh" if arg.and_then(secs) == Some(0) => {}
        "down_timer_adverts" => match int(arg, 1, 100) {
            Some(v) => raw.down_timer_adverts = Some(v as u32),
            None => cx.bad_value(n, "1..=100"),
        },
        "higher_prio_send_advert" => match bool_arg(arg) {
            Some(b) => raw.yield_advert = Some(b),
            None => cx.bad_value(n, "a boolean"),
        },
        "accept" => raw.notes.push((
            "",
            "accept: vipd always accepts traffic to its VIPs (keepalived's default too)".to_owned(),
        )),
        "native_ipv6" => raw.notes.push((
            "",
            "native_ipv6: the VIPs decide the family in vipd, as in keepalived 2".to_owned(),
        )),
        "smtp_alert" if bool_arg(arg) == Some(false) => {}
        "smtp_alert" => cx.skip_node(n, "vipd sends no email; use a notify command"),
        "no_accept" => cx.skip_node(n, "vipd has no no_accept mode; it always accepts traffic to its VIPs"),
        "dont_track_primary" => cx.skip_node(n, "vipd always goes to FAULT when its interface goes down"),
        "strict_mode" if bool_arg(arg) == Some(false) => {}
        "strict_mode" => cx.skip_node(n, "strict RFC mode is not supported"),
        "virtual_routes" | "virtual_rules" => {
            cx.skip_node(n, "vipd manages addresses only; add routes/rules from a notify.master command")
        }
        "track_process" | "track_bfd" => cx.skip_node(n, "process and BFD tracking are not supported; use a script check"),
        "garp_master_refresh" | "garp_master_refresh_repeat" | "garp_lower_prio_delay"
        | "garp_lower_prio_repeat" | "garp_extra_if" => {
            cx.skip_node(n, "vipd sends GARPs/NAs only on becoming Master (initial and repeat bursts)")
        }
        "vmac_xmit_base" | "use_vmac_addr" | "use_ipvlan" => {
            cx.skip_node(n, "vipd's use_vmac sends and receives on the macvlan; other VMAC variants are not supported")
        }
        "mcast_dst_ip" => cx.skip_node(n, "vipd uses the IANA VRRP groups 224.0.0.18 and ff02::12 only"),
        "lvs_sync_daemon_interface" => cx.skip_node(n, "LVS is out of scope for vipd"),
        "notify_master_rx_lower_pri" | "notify_deleted" | "notify_priority_changes" => {
            cx.skip_node(n, "vipd runs notify commands on master, backup, fault, stop and any change only")
        }
        _ => cx.skip_node(n, "no vipd equivalent in an instance"),
    }
}

fn auth(cx: &mut Ctx<'_>, raw: &mut Raw, block: &Node) {
    let mut kind = None;
    let mut pass = None;
    for n in block.children() {
        match n.name.as_str() {
            "auth_type" => kind = n.arg().map(str::to_ascii_uppercase),
            "auth_pass" => pass = n.arg().map(str::to_owned),
            _ => cx.skip_node(n, "no vipd equivalent in authentication"),
        }
    }
    match (kind.as_deref(), pass) {
        (Some("PASS"), Some(p)) if !p.is_empty() => {
            if p.len() > 8 {
                raw.notes.push((
                    "auth",
                    format!("keepalived used only the first 8 characters of the {}-character password", p.len()),
                ));
            }
            let cut = p.char_indices().nth(8).map_or(p.len(), |(i, _)| i);
            raw.auth = Some(p[..cut].to_owned());
        }
        (Some("AH"), _) => cx.skip_node(block, "IPsec AH authentication is not supported (RFC 3768 removed authentication); drop it on both nodes"),
        _ => cx.skip_node(block, "authentication needs auth_type PASS and a non-empty auth_pass"),
    }
}

fn vip(cx: &mut Ctx<'_>, raw: &mut Raw, n: &Node, excluded: bool) {
    let net = n
        .name
        .parse::<IpNet>()
        .ok()
        .or_else(|| n.name.parse::<IpAddr>().ok().map(IpNet::from));
    let Some(net) = net else {
        cx.skip_node(n, "not an address with optional /prefix");
        return;
    };
    let mut label = None;
    let mut args = n.args.iter();
    while let Some(opt) = args.next() {
        let with_value = [
            "brd",
            "dev",
            "scope",
            "label",
            "peer",
            "preferred_lft",
            "track_group",
        ];
        let value = if with_value.contains(&opt.as_str()) {
            args.next()
        } else {
            None
        };
        match (opt.as_str(), value) {
            ("label", Some(l)) => label = Some(l.clone()),
            ("dev", Some(d)) => raw.vip_devs.push((d.clone(), n.loc.clone())),
            ("no_track", _) => {}
            _ => cx.skip(
                &n.loc,
                format!("virtual_ipaddress option {opt}"),
                "vipd adds VIPs with the prefix given and no other options",
            ),
        }
    }
    raw.vips.push(RawVip {
        net,
        label,
        excluded,
    });
}

/// Reads a track_interface / track_script / track_file block.
pub(super) fn tracks(cx: &mut Ctx<'_>, block: &Node) -> Vec<RawTrack> {
    let kind = match block.name.as_str() {
        "track_interface" => TrackKind::Interface,
        "track_script" => TrackKind::Script,
        _ => TrackKind::File,
    };
    let mut out = Vec::new();
    for n in block.children() {
        let weight = match n.args.as_slice() {
            [] => None,
            [w, v] if w == "weight" => match int(Some(v), -254, 254) {
                Some(v) => Some(v as i32),
                None => {
                    cx.bad_value(n, "weight -254..=254");
                    continue;
                }
            },
            [w, _, r] if w == "weight" && (r == "noreverse" || r == "no_reverse") => {
                int(n.args.get(1).map(String::as_str), -254, 254).map(|v| v as i32)
            }
            _ => {
                cx.skip_node(
                    n,
                    "only 'weight N' is supported on a tracker ('reverse' is not)",
                );
                continue;
            }
        };
        out.push(RawTrack {
            kind,
            name: n.name.clone(),
            weight,
            loc: n.loc.clone(),
        });
    }
    out
}

/// Settings shared by both families' instances: priority, preemption, timers, trackers.
fn common(
    cx: &mut Ctx<'_>,
    raw: &Raw,
    name: &str,
    interface: String,
    vrid: u8,
    group: Option<usize>,
) -> OutInstance {
    let mut o = OutInstance {
        interface,
        vrid,
        notes: raw.notes.clone(),
        ..OutInstance::default()
    };
    o.priority = match (raw.priority, &raw.master) {
        (Some(p), _) => p,
        (None, Some(loc)) => {
            o.notes.push(("priority", format!("keepalived: 'state MASTER' ({loc}) without a priority means 255, the address owner")));
            255
        }
        (None, None) => 100,
    };
    if let Some(loc) = &raw.master {
        o.notes.push((
            "",
            format!(
                "'state MASTER' ({loc}) has no vipd equivalent: the election decides, by priority"
            ),
        ));
    }
    let owner = o.priority == 255;
    o.preempt = !raw.nopreempt;
    if raw.nopreempt && owner {
        o.preempt = true;
        o.notes.push((
            "preempt",
            "keepalived ignores nopreempt on the address owner (priority 255)".to_owned(),
        ));
    } else if raw.nopreempt && raw.master.is_some() {
        o.preempt = true;
        o.notes.push((
            "preempt",
            "keepalived ignores nopreempt with 'state MASTER'".to_owned(),
        ));
    } else if raw.nopreempt {
        o.notes.push((
            "preempt",
            "nopreempt: keepalived's default is to preempt, like vipd's".to_owned(),
        ));
    }
    if let Some(d) = raw.preempt_delay.filter(|&d| d > 0) {
        if raw.master.is_some() {
            o.notes.push((
                "preempt",
                "keepalived ignores preempt_delay with 'state MASTER'".to_owned(),
            ));
        } else if !o.preempt {
            o.notes.push((
                "preempt",
                "keepalived ignores preempt_delay with nopreempt".to_owned(),
            ));
        } else {
            o.preempt_delay = Some(d);
        }
    }
    o.startup_delay = cx.globals.startup_delay.filter(|&d| d > 0);
    o.down_timer_adverts = raw.down_timer_adverts.or(cx.globals.down_timer_adverts);
    o.use_vmac = raw.use_vmac;
    o.yield_advert = raw.yield_advert.or(cx.globals.yield_advert);
    let delay = raw.garp_delay.or(cx.globals.garp_delay);
    let repeat = raw.garp_repeat.or(cx.globals.garp_repeat);
    if delay.is_some() || repeat.is_some() {
        let count = repeat.unwrap_or(5);
        o.garp = Some(match delay.unwrap_or(5_000_000) {
            0 => (count, 0, 5_000_000),
            d => (count, count, d),
        });
    }
    o.notify = raw.notify.clone();
    if !o.notify.is_empty() {
        o.notes.push(("notify", format!("vipd appends 'INSTANCE <name> <STATE> <priority>' to every command; keepalived did so only for 'notify' (notify.any); the instance name here may differ from keepalived's '{name}'")));
    }
    o.track = trackers(cx, raw, &mut o, group);
    o
}

/// Resolves trackers: default weights, sync-group and owner rules, positive weights.
fn trackers(
    cx: &mut Ctx<'_>,
    raw: &Raw,
    o: &mut OutInstance,
    group: Option<usize>,
) -> Vec<OutTrack> {
    let keep_weights = group.is_none_or(|g| cx.groups[g].keep_weights);
    let group_tracks: Vec<RawTrack> = group
        .map(|g| cx.groups[g].tracks.clone())
        .unwrap_or_default();
    let mut out: Vec<OutTrack> = Vec::new();
    let mut dropped_for_group = Vec::new();
    for (t, from_group) in raw
        .tracks
        .iter()
        .map(|t| (t, false))
        .chain(group_tracks.iter().map(|t| (t, true)))
    {
        let (kind, target, default) = match t.kind {
            TrackKind::Interface => ("interface", t.name.clone(), 0),
            TrackKind::Script => match cx.scripts.get(&t.name) {
                Some(s) => ("check", s.out_name.clone(), s.weight),
                None => {
                    cx.skip(
                        &t.loc,
                        format!("track_script {}", t.name),
                        "no vrrp_script of that name (keepalived ignores it too)",
                    );
                    continue;
                }
            },
            TrackKind::File => match cx.files.get(&t.name).map(|f| (f.path.clone(), f.weight)) {
                Some((path, weight)) => {
                    cx.skip(&t.loc, format!("track_file {}", t.name), format!("approximated: keepalived reads a number from {} (weight x value, or non-zero = fault); vipd's file tracker only tests that the file exists (healthy while present)", path));
                    ("file", path, weight)
                }
                None => {
                    cx.skip(
                        &t.loc,
                        format!("track_file {}", t.name),
                        "no track_file block of that name",
                    );
                    continue;
                }
            },
        };
        let weight = t.weight.unwrap_or(default);
        if weight != 0 && !from_group && !keep_weights {
            dropped_for_group.push(format!("{kind} {target} (weight {weight})"));
            continue;
        }
        out.push(OutTrack {
            kind,
            target,
            weight,
            note: None,
        });
    }
    if !dropped_for_group.is_empty() {
        o.notes.push(("track", format!("keepalived ignores weighted trackers of sync-group members (no sync_group_tracking_weight), so these are left out: {}", dropped_for_group.join(", "))));
    }
    if o.priority == 255 {
        let before = out.len();
        out.retain(|t| t.weight == 0);
        if out.len() != before {
            o.notes.push(("track", "keepalived never adjusts the address owner's priority, so its weighted trackers are left out".to_owned()));
        }
        return out;
    }
    // keepalived adds a positive weight while the tracked thing is up; vipd adds weights
    // while it is down. Raising the base by the weight and subtracting it while down gives
    // the same priorities.
    let raise: i32 = out.iter().map(|t| t.weight.max(0)).sum();
    if raise > 0 {
        let wanted = i32::from(o.priority) + raise;
        let base = wanted.min(254);
        o.notes.push(("priority", format!("keepalived priority {} plus positive tracker weights {raise} (added while up); vipd subtracts them while down instead", o.priority)));
        if wanted > 254 {
            o.notes.push(("priority", format!("keepalived capped the result at 254 while everything was up; {wanted} is written as 254")));
        }
        o.priority = base as u8;
        for t in out.iter_mut().filter(|t| t.weight > 0) {
            t.note = Some(format!("keepalived: weight +{}", t.weight));
            t.weight = -t.weight;
        }
    }
    out
}

/// The parts that depend on the address family: version, interval, VIPs, unicast, auth.
fn family_part(cx: &mut Ctx<'_>, raw: &Raw, o: &mut OutInstance, vips: &[RawVip], v6: bool) {
    o.version = match (raw.version, v6) {
        (Some(2), true) => {
            o.notes.push((
                "version",
                "keepalived ran non-standard VRRPv2 over IPv6; vipd speaks VRRPv3 for IPv6"
                    .to_owned(),
            ));
            3
        }
        (Some(v), _) => v,
        (None, true) => {
            o.notes.push((
                "version",
                "keepalived uses VRRPv3 for IPv6 instances".to_owned(),
            ));
            3
        }
        (None, false) => match cx.globals.version {
            Some(v) => {
                o.notes
                    .push(("version", format!("from global_defs vrrp_version {v}")));
                v
            }
            None => {
                o.notes.push(("version", "keepalived's default is VRRPv2, vipd's is 3: written explicitly so a keepalived peer still understands this node".to_owned()));
                2
            }
        },
    };
    let asked = raw.advert.filter(|&a| a > 0).unwrap_or(1_000_000);
    o.advert = if o.version == 2 {
        let secs = ((asked + 500_000) / 1_000_000).clamp(1, 255) * 1_000_000;
        if secs != asked {
            o.notes.push((
                "advert_interval",
                format!(
                    "VRRPv2 intervals are whole seconds: keepalived rounds {} to {}",
                    duration(asked),
                    duration(secs)
                ),
            ));
        }
        secs
    } else {
        let centis = ((asked + 5_000) / 10_000).clamp(1, 4095) * 10_000;
        if centis != asked {
            o.notes.push((
                "advert_interval",
                format!(
                    "VRRPv3 intervals come in 10ms steps up to 40.95s: keepalived uses {} for {}",
                    duration(centis),
                    duration(asked)
                ),
            ));
        }
        centis
    };
    if raw.vips.iter().any(|v| v.excluded) {
        o.notes.push(("vips", "virtual_ipaddress_excluded addresses are ordinary VIPs in vipd: they now appear in adverts, which a keepalived peer with the old list logs as an address-list mismatch".to_owned()));
    }
    o.vips = vips
        .iter()
        .map(|v| (v.net.to_string(), v.label.clone().filter(|_| !v6)))
        .collect();
    if v6 && vips.iter().any(|v| v.label.is_some()) {
        o.notes.push((
            "vips",
            "address labels exist only for IPv4; dropped".to_owned(),
        ));
    }
    let same = |ip: &IpAddr| ip.is_ipv6() == v6;
    let peers: Vec<IpAddr> = raw.peers.iter().copied().filter(same).collect();
    if !peers.is_empty() {
        o.unicast = Some((raw.source.filter(same), peers));
    } else if !raw.peers.is_empty() {
        o.notes.push((
            "",
            "no unicast peer of this family: this instance sends multicast adverts".to_owned(),
        ));
    } else if raw.source.is_some_and(|s| same(&s)) {
        o.notes.push(("", "mcast_src_ip/unicast_src_ip without unicast peers: vipd sends multicast adverts from the interface's own address".to_owned()));
    }
    if let Some(p) = &raw.auth {
        if o.version == 2 && !v6 {
            o.auth = Some(p.clone());
        } else {
            o.notes.push((
                "auth",
                "keepalived ignores authentication with VRRPv3 (RFC 9568 has none); dropped"
                    .to_owned(),
            ));
        }
    }
}
