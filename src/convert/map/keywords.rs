//! The keywords of a vrrp_instance block, read into [`Raw`] before defaults and rewrites.

use std::net::IpAddr;

use ipnet::IpNet;

use super::instance::{Raw, RawVip};
use super::values::{bool_arg, int, secs};
use super::{Ctx, garp, track};
use crate::convert::tree::Node;

/// keepalived's cap on preempt_delay (1000 s), which vipd shares, in microseconds.
const MAX_PREEMPT_DELAY_US: u64 = crate::config::MAX_PREEMPT_DELAY.as_micros() as u64;

/// Reads one keyword of the block into `raw`.
pub(super) fn keyword(cx: &mut Ctx<'_>, raw: &mut Raw, n: &Node) {
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
            Some(v) => {
                raw.version = Some(v as u8);
                raw.version_at = Some(n.loc.clone());
            }
            None => cx.bad_value(n, "2 or 3"),
        },
        "nopreempt" | "no_preempt" => raw.nopreempt = true,
        "preempt" => raw.nopreempt = false,
        "preempt_delay" => match arg.and_then(secs).filter(|&us| us <= MAX_PREEMPT_DELAY_US) {
            Some(us) => raw.preempt_delay = Some(us),
            None => cx.bad_value(
                n,
                "seconds, 0..=1000 (keepalived's cap and vipd's: keepalived reports a longer \
                 delay and runs without one, and so does the converted instance)",
            ),
        },
        "unicast_src_ip" | "mcast_src_ip" => match arg.and_then(host_addr) {
            Some(ip) => raw.source = Some(ip),
            None => {
                raw.bad_unicast |= n.name == "unicast_src_ip";
                cx.bad_value(n, "an IP address")
            }
        },
        "unicast_peer" => {
            for p in n.children() {
                match host_addr(&p.name) {
                    Some(ip) => raw.peers.push(ip),
                    None => {
                        raw.bad_unicast = true;
                        cx.bad_value(p, "an IP address")
                    }
                }
                if !p.args.is_empty() {
                    // keepalived checks a peer's TTL only in the range given; vipd
                    // requires 255 unless told the peers are routed.
                    raw.routed_peers = true;
                    raw.notes.push(("", "unicast_peer min_ttl/max_ttl: vipd has no TTL range per peer; unicast_ttl_check: false accepts any TTL from the listed peers".to_owned()));
                }
            }
        }
        "unicast_ttl" => match int(arg, 1, 255) {
            // A TTL below 255 is set for peers behind routers: their adverts arrive the
            // same way, so vipd must not require 255 from them.
            Some(255) => {}
            Some(_) => raw.routed_peers = true,
            None => cx.bad_value(n, "a TTL 1..=255"),
        },
        "authentication" => auth(cx, raw, n),
        "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
            let excluded = n.name == "virtual_ipaddress_excluded";
            for v in n.children() {
                vip(cx, raw, v, excluded);
            }
        }
        "track_interface" | "track_script" | "track_file" | "track_process" => {
            raw.tracks.extend(track::read(cx, n))
        }
        "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
            if let Some(command) = notify_command(cx, n) {
                raw.notify.push(command);
            }
        }
        "use_vmac" => {
            raw.use_vmac = true;
            if !n.args.is_empty() {
                cx.skip_node(n, "vipd names its macvlan and uses the standard virtual MAC itself; the interface name/MAC given here is dropped");
            }
        }
        _ if garp::instance_keyword(cx, &mut raw.garp, n) => {}
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
        "native_ipv6" => {
            raw.native_ipv6 = true;
            raw.notes.push((
            "",
                "native_ipv6: the instance is IPv6, as in keepalived".to_owned(),
            ))
        }
        "smtp_alert" if bool_arg(arg) == Some(false) => {}
        "smtp_alert" => cx.skip_node(n, "vipd sends no email; use a notify command"),
        "no_accept" => cx.skip_node(n, "vipd has no no_accept mode; it always accepts traffic to its VIPs"),
        "dont_track_primary" => cx.skip_node(n, "vipd always goes to FAULT when its interface goes down"),
        "strict_mode" if bool_arg(arg) == Some(false) => {}
        "strict_mode" => {
            raw.strict = true;
            cx.skip_node(n, "strict RFC mode is not supported")
        }
        "virtual_routes" | "virtual_rules" => {
            cx.skip_node(n, "vipd manages addresses only; add routes/rules from a notify.master command")
        }
        "track_bfd" => cx.skip_node(n, "BFD tracking is not supported; use a check"),
        "garp_lower_prio_delay" | "garp_lower_prio_repeat" | "garp_extra_if" => cx.skip_node(
            n,
            "vipd sends GARPs/NAs on becoming Master (garp: initial and repeat bursts), when a Master hears a lower-priority Master, and every garp.refresh; not with a configurable delay or count after a lower-priority advert, nor on other interfaces",
        ),
        "vmac_xmit_base" | "use_vmac_addr" | "use_ipvlan" => {
            cx.skip_node(n, "vipd's use_vmac sends and receives on the macvlan; other VMAC variants are not supported")
        }
        "mcast_dst_ip" => cx.skip_node(n, "vipd uses the IANA VRRP groups 224.0.0.18 and ff02::12 only"),
        "lvs_sync_daemon_interface" => cx.skip_node(n, "LVS is out of scope for vipd"),
        "notify_master_rx_lower_pri" => cx.skip_node(n, "not converted: vipd runs the instance's notify.master (and notify.any) again when a Master hears a lower-priority Master, once per episode, with VIPD_REASON saying so"),
        "notify_deleted" | "notify_priority_changes" => {
            cx.skip_node(n, "vipd runs notify commands on master, backup, fault, stop and any change only")
        }
        _ => cx.skip_node(n, "no vipd equivalent in an instance"),
    }
}

/// An address as keepalived reads unicast_src_ip and unicast_peer: a `/prefix` after it is
/// accepted and ignored (its address parser strips the mask).
fn host_addr(text: &str) -> Option<IpAddr> {
    let addr = text.split_once('/').map_or(text, |(a, _)| a);
    addr.parse().ok()
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
        loc: n.loc.clone(),
    });
}

/// The event and command of a `notify*` keyword (an instance's or a sync group's). A user
/// and group after the command are reported: vipd runs every command as one user.
pub(super) fn notify_command(cx: &mut Ctx<'_>, n: &Node) -> Option<(&'static str, String)> {
    let event = match n.name.as_str() {
        "notify_master" => "master",
        "notify_backup" => "backup",
        "notify_fault" => "fault",
        "notify_stop" => "stop",
        _ => "any",
    };
    match n.args.as_slice() {
        [] => {
            cx.bad_value(n, "a command");
            None
        }
        [cmd, rest @ ..] => {
            if !rest.is_empty() {
                cx.skip_node(
                    n,
                    "per-command user/group: vipd runs notify commands as global.script_user",
                );
            }
            Some((event, cmd.clone()))
        }
    }
}
