//! Rules that relate values to each other: families, versions, counts, references, and
//! uniqueness across instances. Every error points at the value that breaks the rule.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use super::errors::ErrorKind;
use super::model::{
    Channel, ChannelKind, CheckKind, Config, Instance, IsolationTarget, TrackTarget,
};
use super::reader::{Problem, SourceMap, did_you_mean};
use crate::vrrp::{Family, Version};

/// Most addresses a VRRPv2 advert may carry (keepalived's limit; RFC 3768 allows 255 in
/// the field but 20 keeps the packet comfortably under any MTU).
pub const V2_MAX_VIPS: usize = 20;
/// Most addresses a VRRPv3 advert may carry (the 8-bit count field).
pub const V3_MAX_VIPS: usize = 255;

struct Checker<'a> {
    spans: &'a SourceMap,
    tainted: &'a BTreeSet<String>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    /// Whether `path` names an entry that exists but failed to decode: references to it
    /// are not reported again.
    fn known_broken(&self, path: String) -> bool {
        self.tainted.contains(&path)
    }

    fn error(&mut self, path: String, message: impl Into<String>) {
        self.problems.push(Problem {
            pos: self.spans.at(&path),
            path,
            kind: ErrorKind::Invalid,
            message: message.into(),
        });
    }
}

/// All relational problems in `config`, skipping entries in `tainted` (already reported
/// while decoding).
pub(crate) fn validate(
    config: &Config,
    spans: &SourceMap,
    tainted: &BTreeSet<String>,
) -> Vec<Problem> {
    let mut c = Checker {
        spans,
        tainted,
        problems: Vec::new(),
    };
    for (name, inst) in &config.instances {
        let path = format!("instances.{name}");
        if !tainted.contains(&path) {
            instance(&mut c, config, &path, inst);
        }
    }
    unique_vrids(&mut c, config);
    serial_speeds(&mut c, config);
    groups(&mut c, config);
    arbitrated(&mut c, config);
    c.problems
}

fn family_of(a: &IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

fn instance(c: &mut Checker<'_>, config: &Config, path: &str, i: &Instance) {
    if let Err(e) = i.advert_interval.check(i.version) {
        c.error(format!("{path}.advert_interval"), e.to_string());
    }
    if i.auth.is_some() && i.version == Version::V3 {
        let msg = "authentication exists only in VRRPv2 (RFC 9568 removed it); drop 'auth' or set version: 2";
        c.error(format!("{path}.auth"), msg);
    }
    vips(c, path, i);
    let sealed = i.channels.iter().any(Channel::sealed);
    if i.authenticated_decisions && !sealed {
        let msg = "needs a `type: udp`, `type: tcp` or `type: serial` channel: only its sealed adverts would decide, and without one this node could never hear its peer";
        c.error(format!("{path}.authenticated_decisions"), msg);
    }
    let family = i.family();
    let same_family = |c: &mut Checker<'_>, p: String, a: &IpAddr| {
        if family_of(a) != family {
            c.error(
                p,
                format!(
                    "{a} is {}, but this instance's VIPs are {family}",
                    family_of(a)
                ),
            );
        }
    };
    if let Some(u) = &i.unicast {
        if let Some(src) = &u.source {
            same_family(c, format!("{path}.unicast.source"), src);
        }
        for (k, peer) in u.peers.iter().enumerate() {
            same_family(c, format!("{path}.unicast.peers[{k}]"), peer);
        }
    }
    for (n, ch) in i.channels.iter().enumerate() {
        match ch.net() {
            Some(net) => {
                for (k, peer) in net.peers.iter().enumerate() {
                    same_family(c, format!("{path}.channels[{n}].peers[{k}]"), peer);
                }
                if let Some(src) = &net.source {
                    same_family(c, format!("{path}.channels[{n}].source"), src);
                }
            }
            None => same_family(c, format!("{path}.channels[{n}].peer"), &ch.peers()[0]),
        }
        if ch.sealed() {
            own_peer(c, path, n, ch, i.unicast.as_ref().and_then(|u| u.source));
        }
        let twin = i.channels[..n].iter().any(|o| o == ch);
        if twin {
            c.error(
                format!("{path}.channels[{n}]"),
                "the same channel is listed twice: it would carry every advert twice",
            );
        }
    }
    if let Some(ic) = &i.isolation_check {
        let p = format!("{path}.isolation_check");
        match &ic.target {
            IsolationTarget::Ping(a) => same_family(c, format!("{p}.ping"), a),
            IsolationTarget::Check(name) => match config.checks.get(name) {
                Some(check)
                    if !matches!(
                        check.kind,
                        CheckKind::Script(_) | CheckKind::Tcp { .. } | CheckKind::Http(_)
                    ) =>
                {
                    c.error(
                        format!("{p}.check"),
                        format!("check '{name}' follows an interface, a file or processes; an isolation check must probe something it can reach (script, tcp or http)"),
                    );
                }
                Some(_) => {}
                None if c.known_broken(format!("checks.{name}")) => {}
                None => {
                    let hint = did_you_mean(name, config.checks.keys().map(String::as_str));
                    c.error(
                        format!("{p}.check"),
                        format!("no check named '{name}'{hint}"),
                    );
                }
            },
            IsolationTarget::Tcp { .. } => {}
        }
    }
    for (n, t) in i.track.iter().enumerate() {
        if i.is_address_owner() && t.weight != 0 {
            let msg = "the address owner (priority 255) is never adjusted, so a weighted tracker \
                       would do nothing; use weight 0 (FAULT) or a priority below 255";
            c.error(format!("{path}.track[{n}].weight"), msg);
        }
        if let TrackTarget::Check(name) = &t.target {
            if !config.checks.contains_key(name) && !c.known_broken(format!("checks.{name}")) {
                let hint = did_you_mean(name, config.checks.keys().map(String::as_str));
                c.error(
                    format!("{path}.track[{n}].check"),
                    format!("no check named '{name}'{hint}"),
                );
            }
        }
    }
}

fn vips(c: &mut Checker<'_>, path: &str, i: &Instance) {
    let vips_path = format!("{path}.vips");
    if i.vips.is_empty() {
        // Election-only mode, asked for explicitly (a missing `vips` key is still an
        // error): adverts carry no address, nothing is added on any node.
        if i.use_vmac {
            let msg = "use_vmac needs an address to carry; an election-only instance \
                       (vips: []) has none";
            c.error(format!("{path}.use_vmac"), msg);
        }
        return;
    }
    let Some(first) = i.advertised().next() else {
        let msg =
            "at least one virtual address must be advertised (advertise: false on all of them)";
        c.error(vips_path, msg);
        return;
    };
    let family = family_of(&first.addr.addr());
    for (n, v) in i.vips.iter().enumerate() {
        let addr = v.addr.addr();
        // Unadvertised addresses never reach an advert, so they may be of either family, as
        // keepalived's virtual_ipaddress_excluded may.
        if family_of(&addr) != family && v.advertise {
            let msg = format!(
                "{} mixes {} with the {family} addresses before it; one VRRP instance carries \
                 one family, so split this into two instances, one per family, or hold it with \
                 advertise: false",
                v.addr,
                family_of(&addr)
            );
            c.error(format!("{vips_path}[{n}]"), msg);
            return;
        }
        if family_of(&addr) != family && i.use_vmac {
            // The virtual MAC is per family (RFC 9568 §7.3); an address of the other family
            // would be announced with the wrong one.
            let msg = format!(
                "{} is {}, but this instance's advertised VIPs are {family}: with use_vmac, \
                 every address must be of the instance's family",
                v.addr,
                family_of(&addr)
            );
            c.error(format!("{vips_path}[{n}]"), msg);
            return;
        }
        if let Some(label) = &v.label {
            let ok = label.len() <= 15
                && (*label == i.interface || label.starts_with(&format!("{}:", i.interface)));
            if addr.is_ipv6() {
                c.error(
                    format!("{vips_path}[{n}].label"),
                    "address labels exist only for IPv4",
                );
            } else if !ok {
                let msg = format!(
                    "label '{label}' must be '{iface}' or start with '{iface}:', at most 15 bytes",
                    iface = i.interface
                );
                c.error(format!("{vips_path}[{n}].label"), msg);
            }
        }
    }
    if i.version == Version::V2 && family == Family::V6 {
        let msg = "VRRPv2 is IPv4 only; use version: 3 for IPv6 addresses";
        c.error(format!("{path}.version"), msg);
    }
    let max = match i.version {
        Version::V2 => V2_MAX_VIPS,
        Version::V3 => V3_MAX_VIPS,
    };
    let advertised = i.advertised().count();
    if advertised > max {
        let msg = format!(
            "VRRPv{} carries at most {max} addresses, found {advertised} advertised",
            i.version,
        );
        c.error(vips_path, msg);
    }
}

/// Where an instance hears adverts. A raw VRRP socket hears every advert on its interface
/// and a UDP socket every frame to its port on its interface; both hand what they hear to
/// an instance by VRID alone, so two instances of one family and VRID on the same one would
/// get each other's peers' adverts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Hears<'a> {
    /// IP protocol 112 on an interface: the primary interface or a `vrrp` channel.
    Raw(&'a str),
    /// A channel of sealed frames: where it receives ("UDP port 5405 on eth2", "serial line
    /// /dev/ttyS1"), the key that names that place (`port`, `device`), and whether the
    /// place is per family (a socket is; a serial line is not).
    Sealed(String, &'static str, bool),
}

impl std::fmt::Display for Hears<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hears::Raw(iface) => f.write_str(iface),
            Hears::Sealed(at, ..) => f.write_str(at),
        }
    }
}

/// Every place `i` hears adverts, each with the index of the channel that hears there
/// (`None`: the primary interface).
fn hears(i: &Instance) -> Vec<(Option<usize>, Hears<'_>)> {
    let mut out = vec![(None, Hears::Raw(i.interface.as_str()))];
    for (n, ch) in i.channels.iter().enumerate() {
        let h = match (ch.receives_at(), ch.net()) {
            // A place without a network (a serial line) is not per family.
            (Some((at, key)), net) => Hears::Sealed(at, key, net.is_some()),
            (None, Some(net)) => Hears::Raw(net.interface.as_str()),
            (None, None) => unreachable!("a channel without a network receives at its own place"),
        };
        out.push((Some(n), h));
    }
    out
}

/// A sealed (UDP, TCP, serial) channel whose peers name one of this node's own addresses
/// (the channel's source, or the instance's unicast source, which the frames carry as their
/// origin) would send heartbeats to itself; the daemon also refuses peers that are
/// addresses of the host.
fn own_peer(c: &mut Checker<'_>, path: &str, n: usize, ch: &Channel, unicast: Option<IpAddr>) {
    let own = [
        (ch.net().and_then(|net| net.source), "the channel's source"),
        (unicast, "unicast.source"),
    ];
    for (k, peer) in ch.peers().iter().enumerate() {
        if let Some((_, what)) = own.iter().find(|(a, _)| *a == Some(*peer)) {
            let at = match ch.net() {
                Some(_) => format!("{path}.channels[{n}].peers[{k}]"),
                None => format!("{path}.channels[{n}].peer"),
            };
            c.error(
                at,
                format!(
                    "{peer} is this node's own address ({what}): a {} channel lists only \
                     the other nodes, or the node would send its heartbeats to itself",
                    ch.name().to_uppercase()
                ),
            );
        }
    }
}

/// Two instances of one family and VRID must never hear adverts on the same interface (raw)
/// or the same UDP port and interface: the receiver could not tell their peers apart. The
/// error goes on the later instance in the file, at the key that shares, and names both.
fn unique_vrids(c: &mut Checker<'_>, config: &Config) {
    let mut order: Vec<(&String, &Instance)> = config
        .instances
        .iter()
        .filter(|(name, _)| !c.known_broken(format!("instances.{name}")))
        .collect();
    order.sort_by_key(|(name, _)| c.spans.at(&format!("instances.{name}")));
    // Where, which VRID and family (none on a serial line) -> the first instance and channel.
    type Place<'a> = (Hears<'a>, u8, Option<Family>);
    let mut seen: HashMap<Place<'_>, (&str, Option<usize>)> = HashMap::new();
    for (name, i) in order {
        let family = i.family();
        let path = format!("instances.{name}");
        let mut mine: Vec<(Hears<'_>, Option<usize>)> = Vec::new();
        for (at, h) in hears(i) {
            if let Some(&(_, first)) = mine.iter().find(|(m, _)| *m == h) {
                // The same instance twice: raw channels on one interface share the
                // instance's route, but a sealed route carries one channel only.
                if let (Hears::Sealed(_, key, _), Some(n), Some(k)) = (&h, at, first) {
                    let msg = format!(
                        "channels[{k}] of this instance already uses {h}; list all of its \
                         peers in that one channel"
                    );
                    c.error(format!("{path}.channels[{n}].{key}"), msg);
                }
                continue;
            }
            mine.push((h.clone(), at));
            // A serial line routes by VRID alone, whatever the family.
            let fam = (!matches!(h, Hears::Sealed(_, _, false))).then_some(family);
            let key = (h.clone(), i.vrid, fam);
            let Some(&(other, other_at)) = seen.get(&key) else {
                seen.insert(key, (name, at));
                continue;
            };
            let (vrid, where_) = (i.vrid, &h);
            match (at, other_at) {
                (None, None) => {
                    let msg = format!(
                        "VRID {vrid} on {where_} ({family}) is already used by instance \
                         '{other}'; instance '{name}' would take its adverts for its own: give \
                         one of them another VRID"
                    );
                    c.error(format!("{path}.vrid"), msg);
                }
                _ => {
                    let theirs = match other_at {
                        None => "as its interface".to_owned(),
                        Some(k) => format!("on its channels[{k}]"),
                    };
                    let key_path = match (at, &h) {
                        (None, _) => format!("{path}.vrid"),
                        (Some(n), Hears::Raw(_)) => format!("{path}.channels[{n}].interface"),
                        (Some(n), Hears::Sealed(_, key, _)) => {
                            format!("{path}.channels[{n}].{key}")
                        }
                    };
                    let msg = format!(
                        "instance '{name}' would hear VRID {vrid} ({family}) on {where_}, where \
                         instance '{other}' already hears it ({theirs}); adverts are handed to \
                         an instance by VRID alone, so each would get the other's peers' \
                         adverts: give one of them another VRID"
                    );
                    c.error(key_path, msg);
                }
            }
        }
    }
}

/// Instances sharing a serial line share one open device, set to one speed: a second
/// speed would be ignored, so it is refused, on the later instance in the file.
fn serial_speeds(c: &mut Checker<'_>, config: &Config) {
    let mut order: Vec<(&String, &Instance)> = config.instances.iter().collect();
    order.sort_by_key(|(name, _)| c.spans.at(&format!("instances.{name}")));
    let mut first: HashMap<&std::path::Path, (u32, &str)> = HashMap::new();
    for (name, i) in order {
        for (n, ch) in i.channels.iter().enumerate() {
            let ChannelKind::Serial(line) = &ch.kind else {
                continue;
            };
            let (baud, other) = *first.entry(&line.device).or_insert((line.baud, name));
            if baud != line.baud {
                let msg = format!(
                    "instance '{other}' opens {} at {baud} baud; a line has one speed",
                    line.device.display()
                );
                c.error(format!("instances.{name}.channels[{n}].baud"), msg);
            }
        }
    }
}

fn groups(c: &mut Checker<'_>, config: &Config) {
    let mut member_of: BTreeMap<&str, &str> = BTreeMap::new();
    for (group, members) in &config.groups {
        let path = format!("groups.{group}");
        if members.is_empty() {
            c.error(path.clone(), "a sync group needs at least one member");
        }
        for (n, m) in members.iter().enumerate() {
            let p = format!("{path}[{n}]");
            if c.known_broken(format!("instances.{m}")) {
                continue;
            } else if !config.instances.contains_key(m) {
                let hint = did_you_mean(m, config.instances.keys().map(String::as_str));
                c.error(p, format!("no instance named '{m}'{hint}"));
            } else if let Some(other) = member_of.get(m.as_str()) {
                let msg = if *other == group {
                    format!("'{m}' is listed twice in this group")
                } else {
                    format!(
                        "'{m}' is already in group '{other}'; an instance belongs to at most one group"
                    )
                };
                c.error(p, msg);
            } else {
                member_of.insert(m, group);
            }
        }
    }
}

/// `arbiter: true` needs the store, and a sync group is arbitrated as one (its members share
/// one key), so its members must agree.
fn arbitrated(c: &mut Checker<'_>, config: &Config) {
    for (name, inst) in &config.instances {
        if inst.arbiter && config.arbiter.is_none() {
            let msg = "needs a top-level 'arbiter' section naming the etcd endpoints";
            c.error(format!("instances.{name}.arbiter"), msg);
        }
    }
    for (group, members) in &config.groups {
        let on: Vec<&String> = members
            .iter()
            .filter(|m| config.instances.get(*m).is_some_and(|i| i.arbiter))
            .collect();
        if !on.is_empty() && on.len() != members.len() {
            let off: Vec<&String> = members.iter().filter(|m| !on.contains(m)).collect();
            let msg = format!(
                "members of a sync group share one lease: set 'arbiter: true' on all of them or none ({} without it)",
                off.iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            c.error(format!("groups.{group}"), msg);
        }
    }
}
