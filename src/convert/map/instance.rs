//! One vrrp_instance to one vipd instance.

use std::net::IpAddr;

use ipnet::IpNet;

use super::model::{Notes, OutInstance};
use super::values::duration;
use super::{Ctx, RawTrack, garp, keywords, track};
use crate::convert::Loc;
use crate::convert::tree::Node;

/// A virtual address as written.
#[derive(Debug, Clone)]
pub(super) struct RawVip {
    pub(super) net: IpNet,
    pub(super) label: Option<String>,
    /// From virtual_ipaddress_excluded: keepalived did not put it in adverts.
    pub(super) excluded: bool,
    /// Where it is written.
    pub(super) loc: Loc,
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
    pub(super) version_at: Option<Loc>,
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
    /// A unicast_src_ip or unicast_peer that could not be read.
    pub(super) bad_unicast: bool,
    /// `native_ipv6`: the instance is IPv6 whatever its addresses.
    pub(super) native_ipv6: bool,
    /// `strict_mode` on: keepalived turns `version 2` on IPv6 into 3.
    pub(super) strict: bool,
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
    if raw.bad_unicast {
        // Without the peers as written the instance would send multicast, which the
        // keepalived peer (sending unicast) never hears: both would be Master.
        cx.skip_node(
            block,
            "an unreadable unicast_src_ip or unicast_peer (listed above): the instance is left out rather than turned into a multicast one its unicast peer would not hear",
        );
        return;
    }
    let Some(vrid) = raw.vrid else {
        cx.skip_node(
            block,
            "instance without 'virtual_router_id'; vipd needs it, so it is left out",
        );
        return;
    };
    let Some(interface) = raw.interface.clone() else {
        let why = if raw.source.is_some() {
            "instance without 'interface': keepalived (2.1 and later) takes the interface that has unicast_src_ip, which cannot be found offline; add 'interface NAME' and convert again. It is left out"
        } else {
            "instance without 'interface'; vipd needs it, so it is left out"
        };
        cx.skip_node(block, why);
        return;
    };
    for (dev, loc) in std::mem::take(&mut raw.vip_devs) {
        if dev != interface {
            cx.differs(
                &loc,
                format!("virtual_ipaddress dev {dev}"),
                format!("keepalived adds this address to {dev}; vipd adds every VIP to the instance's interface ({interface}), so it would be answered there instead"),
            );
        }
    }
    // keepalived: the first address of virtual_ipaddress sets the instance's family (or
    // native_ipv6 does); later addresses of the other family are ignored with "address
    // family must match VRRP instance". virtual_ipaddress_excluded may mix families.
    let v6 = raw.native_ipv6
        || raw
            .vips
            .iter()
            .find(|v| !v.excluded)
            .is_some_and(|v| v.net.addr().is_ipv6());
    let mut vips = Vec::new();
    for v in &raw.vips {
        let same = v.net.addr().is_ipv6() == v6;
        match (same, v.excluded) {
            (true, _) => vips.push(v.clone()),
            (false, false) => cx.skip(
                &v.loc,
                format!("virtual_ipaddress {}", v.net),
                "keepalived ignores an address of the other family than the instance's first one (\"address family must match VRRP instance - ignoring\"), so the converted instance neither holds nor advertises it either; to hold it as keepalived's docs suggest, move it to virtual_ipaddress_excluded on both nodes",
            ),
            (false, true) if raw.use_vmac => cx.differs(
                &v.loc,
                format!("virtual_ipaddress_excluded {}", v.net),
                "with use_vmac, vipd holds addresses of the instance's family only (the virtual MAC is per family), so the converted node would not answer for this one, which keepalived held",
            ),
            (false, true) => vips.push(v.clone()),
        }
    }
    // No address at all: keepalived runs a VRRPv2 instance like that (warning "No VIP
    // specified; at least one is sensible") and sends adverts with no address; vipd's
    // election-only mode is the same thing. Only excluded ones: nothing would be advertised.
    let election_only = raw.vips.is_empty();
    if !election_only && !vips.iter().any(|v| !v.excluded) {
        cx.skip_node(
            block,
            "instance with only virtual_ipaddress_excluded; vipd needs at least one advertised VIP, or none at all (vips: [])",
        );
        return;
    }
    let group = cx.groups.iter().position(|g| g.members.contains(&name));
    let mut inst = common(cx, &raw, interface, vrid, group);
    let out_name = cx.names.claim("instances", &name);
    family_part(cx, &raw, &mut inst, &vips, v6, &block.loc);
    if election_only {
        inst.notes.push((
            "vips",
            "no virtual_ipaddress: an election-only instance (vips: []), whose adverts carry no address, as keepalived's VRRPv2 adverts for it do (keepalived refuses such an instance under VRRPv3); notify commands do the work".to_owned(),
        ));
    }
    if out_name != name {
        inst.notes.push(("", format!("keepalived name: {name}")));
    }
    cx.origins.push((name.clone(), out_name.clone()));
    cx.out.instances.push((out_name, inst));
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
fn family_part(
    cx: &mut Ctx<'_>,
    raw: &Raw,
    o: &mut OutInstance,
    vips: &[RawVip],
    v6: bool,
    at: &Loc,
) {
    o.version = match (raw.version, v6) {
        (Some(2), true) if raw.strict || cx.globals.strict => {
            o.notes.push((
                "version",
                "keepalived with strict_mode turns version 2 on IPv6 into VRRPv3".to_owned(),
            ));
            3
        }
        (Some(2), true) => {
            // keepalived sends non-standard VRRPv2 over IPv6 here; vipd speaks only VRRPv3
            // for IPv6, which the keepalived peer drops as the wrong version.
            cx.differs(
                raw.version_at.as_ref().unwrap_or(at),
                "version 2",
                "keepalived sends VRRPv2 adverts over IPv6 for this instance (non-standard, allowed without strict_mode); vipd speaks VRRPv3 for IPv6, which the keepalived peer drops, so both would be Master. Set version 3 on the keepalived nodes first",
            );
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
    if vips.iter().any(|v| v.excluded) {
        o.notes.push(("vips", "virtual_ipaddress_excluded: held with the VIPs but not advertised (advertise: false), as keepalived does; a keepalived peer up to 2.3.2 drops adverts whose address count differs from its own".to_owned()));
    }
    o.vips = vips
        .iter()
        .map(|v| {
            (
                v.net.to_string(),
                v.label.clone().filter(|_| !v6),
                !v.excluded,
            )
        })
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
        cx.differs(
            at,
            "unicast_peer",
            "no unicast peer of the instance's address family: the converted instance would send multicast adverts, which a unicast keepalived peer never hears",
        );
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
