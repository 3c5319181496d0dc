//! One vrrp_instance to one vipd instance (two when its addresses mix IPv4 and IPv6).

use std::net::IpAddr;

use ipnet::IpNet;

use super::model::{Notes, OutInstance};
use super::values::duration;
use super::{Ctx, Group, RawTrack, garp, keywords, track};
use crate::convert::Loc;
use crate::convert::tree::Node;

/// A virtual address as written.
#[derive(Debug, Clone)]
pub(super) struct RawVip {
    pub(super) net: IpNet,
    pub(super) label: Option<String>,
    /// From virtual_ipaddress_excluded: keepalived did not put it in adverts.
    pub(super) excluded: bool,
}

/// What a vrrp_instance block says, before defaults and rewrites.
#[derive(Debug, Default)]
pub(super) struct Raw {
    pub(super) master: Option<Loc>,
    pub(super) interface: Option<String>,
    pub(super) vrid: Option<u8>,
    pub(super) priority: Option<u8>,
    pub(super) advert: Option<u64>,
    pub(super) version: Option<u8>,
    pub(super) nopreempt: bool,
    pub(super) preempt_delay: Option<u64>,
    pub(super) source: Option<IpAddr>,
    pub(super) peers: Vec<IpAddr>,
    pub(super) auth: Option<String>,
    pub(super) vips: Vec<RawVip>,
    /// `(dev, loc)` of VIPs naming an interface, checked once `interface` is known.
    pub(super) vip_devs: Vec<(String, Loc)>,
    pub(super) tracks: Vec<RawTrack>,
    pub(super) notify: Vec<(&'static str, String)>,
    pub(super) use_vmac: bool,
    pub(super) garp: garp::Level,
    pub(super) down_timer_adverts: Option<u32>,
    pub(super) yield_advert: Option<bool>,
    pub(super) routed_peers: bool,
    pub(super) notes: Notes,
}

/// Maps one vrrp_instance block.
pub(super) fn map(cx: &mut Ctx<'_>, block: &Node) {
    let Some(name) = block.arg().map(str::to_owned) else {
        cx.bad_value(block, "an instance name");
        return;
    };
    let mut raw = Raw::default();
    for n in block.children() {
        keywords::keyword(cx, &mut raw, n);
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
    let base = common(cx, &raw, interface, vrid, group);
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

/// Settings shared by both families' instances: priority, preemption, timers, trackers.
fn common(
    cx: &mut Ctx<'_>,
    raw: &Raw,
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
    o.unicast_ttl_check = !raw.routed_peers;
    o.garp = garp::resolve(cx, &raw.garp, &o.interface);
    o.notify = raw.notify.clone();
    if !o.notify.is_empty() {
        o.notes.push(("notify", "vipd appends 'INSTANCE <name> <STATE> <priority>' to every command; keepalived did so only for 'notify' (notify.any)".to_owned()));
    }
    o.track = track::resolve(cx, &raw.tracks, &mut o, group);
    o
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
