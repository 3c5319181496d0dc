//! Decoding one `instances.NAME` entry.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::decode::{Cap, interface_name, positive};
use super::errors::ErrorKind;
use super::model::{
    Auth, Instance, MAX_GARP_GAP, MAX_GARP_REFRESH, MAX_GARP_REPEAT_AFTER, MAX_PREEMPT_DELAY,
    MAX_STARTUP_DELAY, MIN_GARP_REFRESH, Notify, Track, TrackTarget, Unicast, Vip,
};
use super::reader::{Fields, Reader};
use super::tree::{Node, Value};
use crate::vrrp::router::AnnounceSchedule;
use crate::vrrp::timing::Centis;
use crate::vrrp::{V3Checksum, Version};

const INSTANCE_KEYS: &[&str] = &[
    "interface",
    "vrid",
    "version",
    "priority",
    "advert_interval",
    "preempt",
    "preempt_delay",
    "startup_delay",
    "down_timer_adverts",
    "vips",
    "unicast",
    "channels",
    "isolation_check",
    "fence",
    "track",
    "notify",
    "v3_checksum",
    "auth",
    "use_vmac",
    "garp",
    "yield_advert",
    "unicast_ttl_check",
    "authenticated_decisions",
    "arbiter",
];

/// Reads an optional key with `read`, or gives `default` when it is absent. `None` means
/// the key was present and wrong (already reported).
pub(crate) fn opt<T>(
    r: &mut Reader,
    f: &Fields<'_>,
    key: &str,
    default: T,
    read: impl FnOnce(&mut Reader, &Node, &str) -> Option<T>,
) -> Option<T> {
    match f.get(key) {
        Some(n) => read(r, n, &f.path_of(key)),
        None => Some(default),
    }
}

pub(crate) fn instance(r: &mut Reader, node: &Node, path: &str) -> Option<Instance> {
    let f = r.fields(node, path, INSTANCE_KEYS)?;
    let interface = r
        .require(&f, "interface")
        .and_then(|n| interface_name(r, n, &f.path_of("interface")));
    let vrid = r
        .require(&f, "vrid")
        .and_then(|n| r.int::<u8>(n, &f.path_of("vrid"), 1, 255));
    let version = opt(r, &f, "version", Version::V3, version);
    let priority = opt(r, &f, "priority", 100, |r, n, p| {
        if matches!(n.value, Value::Int(0, _)) {
            let msg = "priority 0 is reserved for a Master that is giving up; use 1..=255";
            r.problem(n.pos, p, ErrorKind::Invalid, msg);
            return None;
        }
        r.int(n, p, 1, 255)
    });
    let advert_interval = opt(r, &f, "advert_interval", Centis::ONE_SECOND, interval);
    let preempt = opt(r, &f, "preempt", true, Reader::bool);
    let preempt_delay = opt(r, &f, "preempt_delay", Duration::ZERO, |r, n, p| {
        let why = "keepalived's own cap on preempt_delay";
        Cap::new(MAX_PREEMPT_DELAY, why).read(r, n, p)
    });
    let startup_delay = opt(r, &f, "startup_delay", Duration::ZERO, |r, n, p| {
        let why = "an hour; keepalived already calls a minute very large";
        Cap::new(MAX_STARTUP_DELAY, why).read(r, n, p)
    });
    let down_timer_adverts = opt(r, &f, "down_timer_adverts", 3, |r, n, p| {
        r.int(n, p, 1, 255)
    });
    let vips = r
        .require(&f, "vips")
        .and_then(|n| vips(r, n, &f.path_of("vips")));
    let unicast = opt(r, &f, "unicast", None, |r, n, p| unicast(r, n, p).map(Some));
    let channels = opt(r, &f, "channels", Vec::new(), super::channels::channels);
    let isolation_check = opt(r, &f, "isolation_check", None, |r, n, p| {
        super::channels::isolation_check(r, n, p).map(Some)
    });
    let fence = opt(r, &f, "fence", None, |r, n, p| {
        super::fence::fence(r, n, p).map(Some)
    });
    let track = opt(r, &f, "track", Vec::new(), tracks);
    let notify = opt(r, &f, "notify", Notify::default(), notify);
    let v3_checksum = opt(
        r,
        &f,
        "v3_checksum",
        V3Checksum::default(),
        |r, n, p| match r.word(n, p, &["pseudo-header", "rfc9568"])? {
            "rfc9568" => Some(V3Checksum::Rfc9568),
            _ => Some(V3Checksum::PseudoHeader),
        },
    );
    let auth = opt(r, &f, "auth", None, |r, n, p| auth(r, n, p).map(Some));
    let use_vmac = opt(r, &f, "use_vmac", false, Reader::bool);
    let garp = opt(r, &f, "garp", AnnounceSchedule::default(), garp);
    let yield_advert = opt(r, &f, "yield_advert", true, Reader::bool);
    let unicast_ttl_check = opt(r, &f, "unicast_ttl_check", true, Reader::bool);
    let authenticated_decisions = opt(r, &f, "authenticated_decisions", false, Reader::bool);
    let arbiter = opt(r, &f, "arbiter", false, Reader::bool);
    Some(Instance {
        interface: interface?,
        vrid: vrid?,
        version: version?,
        priority: priority?,
        advert_interval: advert_interval?,
        preempt: preempt?,
        preempt_delay: preempt_delay?,
        startup_delay: startup_delay?,
        down_timer_adverts: down_timer_adverts?,
        vips: vips?.into(),
        unicast: unicast?.map(Box::new),
        channels: channels?.into(),
        isolation_check: isolation_check?.map(Box::new),
        fence: fence?.map(Box::new),
        track: track?.into(),
        notify: Some(notify?)
            .filter(|n| *n != Notify::default())
            .map(Box::new),
        v3_checksum: v3_checksum?,
        auth: auth?.map(Box::new),
        use_vmac: use_vmac?,
        garp: Some(garp?)
            .filter(|g| *g != AnnounceSchedule::default())
            .map(Box::new),
        yield_advert: yield_advert?,
        unicast_ttl_check: unicast_ttl_check?,
        authenticated_decisions: authenticated_decisions?,
        arbiter: arbiter?,
    })
}

fn version(r: &mut Reader, n: &Node, p: &str) -> Option<Version> {
    match n.value {
        Value::Int(2, _) => Some(Version::V2),
        Value::Int(3, _) => Some(Version::V3),
        _ => {
            let got = n.value.scalar_text().unwrap_or(n.value.type_name());
            let msg = format!("unknown VRRP version '{got}'; expected 2 or 3");
            r.problem(n.pos, p, ErrorKind::Invalid, msg);
            None
        }
    }
}

/// An advert interval in whole centiseconds; whether it suits the version is checked later.
fn interval(r: &mut Reader, n: &Node, p: &str) -> Option<Centis> {
    let d = positive(r, n, p)?;
    let c = Centis::from_duration(d);
    if c.is_none() {
        let msg = if d.as_nanos() % 10_000_000 != 0 {
            format!(
                "{d:?} is not a whole number of centiseconds: VRRP intervals come in 10ms steps"
            )
        } else {
            format!("{d:?} is too long: VRRP intervals are at most 255s (v2) or 40.95s (v3)")
        };
        r.problem(n.pos, p, ErrorKind::Invalid, msg);
    }
    c
}

fn vips(r: &mut Reader, n: &Node, p: &str) -> Option<Vec<Vip>> {
    let mut ok = true;
    let mut out = Vec::new();
    for (item, path) in r.list(n, p) {
        match vip(r, item, &path) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `ADDR/PREFIX`, `ADDR` (a host route), or `{address, label, advertise}`.
fn vip(r: &mut Reader, n: &Node, p: &str) -> Option<Vip> {
    if let Value::Map(_) = n.value {
        let f = r.fields(n, p, &["address", "label", "advertise"])?;
        let addr = r
            .require(&f, "address")
            .and_then(|a| vip_addr(r, a, &f.path_of("address")));
        let label = f
            .get("label")
            .and_then(|l| r.string(l, &f.path_of("label")));
        let advertise = match f.get("advertise") {
            Some(a) => r.bool(a, &f.path_of("advertise"))?,
            None => true,
        };
        return Some(Vip {
            addr: addr?,
            label,
            advertise,
        });
    }
    vip_addr(r, n, p).map(|addr| Vip {
        addr,
        label: None,
        advertise: true,
    })
}

fn vip_addr(r: &mut Reader, n: &Node, p: &str) -> Option<IpNet> {
    let s = r.string(n, p)?;
    let parsed = s
        .parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from));
    if parsed.is_none() {
        let msg = format!(
            "'{s}' is not an address with optional prefix (192.0.2.10/24, 2001:db8::10/64)"
        );
        r.problem(n.pos, p, ErrorKind::Invalid, msg);
    }
    parsed
}

pub(crate) fn addrs(r: &mut Reader, n: &Node, p: &str) -> Option<Vec<IpAddr>> {
    let items = r.list(n, p);
    if items.is_empty() && matches!(n.value, Value::Seq(_)) {
        r.problem(
            n.pos,
            p,
            ErrorKind::Invalid,
            "needs at least one peer address",
        );
        return None;
    }
    let parsed: Vec<_> = items
        .into_iter()
        .map(|(a, ap)| r.parsed::<IpAddr>(a, &ap, "an IP address"))
        .collect();
    parsed.into_iter().collect()
}

fn unicast(r: &mut Reader, n: &Node, p: &str) -> Option<Unicast> {
    let f = r.fields(n, p, &["source", "peers"])?;
    let source = opt(r, &f, "source", None, |r, n, p| {
        r.parsed::<IpAddr>(n, p, "an IP address").map(Some)
    });
    let peers = r
        .require(&f, "peers")
        .and_then(|n| addrs(r, n, &f.path_of("peers")));
    Some(Unicast {
        source: source?,
        peers: peers?,
    })
}

/// The keys that pick what a tracker follows; exactly one must be present.
const TRACK_TARGETS: &[&str] = &["check", "interface", "file"];

fn tracks(r: &mut Reader, n: &Node, p: &str) -> Option<Vec<Track>> {
    let mut out = Some(Vec::new());
    for (item, path) in r.list(n, p) {
        let t = track(r, item, &path);
        out = out.zip(t).map(|(mut v, t)| {
            v.push(t);
            v
        });
    }
    out
}

fn track(r: &mut Reader, n: &Node, p: &str) -> Option<Track> {
    let f = r.fields(n, p, &[TRACK_TARGETS, &["weight"]].concat())?;
    let weight = opt(r, &f, "weight", 0, |r, n, p| r.int(n, p, -253, 253));
    let present: Vec<&str> = TRACK_TARGETS
        .iter()
        .copied()
        .filter(|k| f.get(k).is_some())
        .collect();
    let target = match present.as_slice() {
        [] => {
            let msg = "a tracker needs exactly one of: check, interface, file";
            r.problem(f.pos, p, ErrorKind::MissingKey, msg);
            None
        }
        [one] => {
            let (node, path) = (f.get(one)?, f.path_of(one));
            match *one {
                "check" => r.string(node, &path).map(TrackTarget::Check),
                "interface" => interface_name(r, node, &path).map(TrackTarget::Interface),
                _ => r
                    .string(node, &path)
                    .map(|s| TrackTarget::File(PathBuf::from(s))),
            }
        }
        [first, second, ..] => {
            let msg =
                format!("a tracker follows one thing, but both '{first}' and '{second}' are set");
            r.problem(
                f.key_pos(second).unwrap_or(f.pos),
                &f.path_of(second),
                ErrorKind::Invalid,
                msg,
            );
            None
        }
    };
    Some(Track {
        target: target?,
        weight: weight?,
    })
}

pub(super) fn notify(r: &mut Reader, n: &Node, p: &str) -> Option<Notify> {
    let events = ["master", "backup", "fault", "stop", "any"];
    let f = r.fields(n, p, &[&events[..], &["timeout"]].concat())?;
    let mut cmd = |key: &str| f.get(key).and_then(|n| r.string(n, &f.path_of(key)));
    let (master, backup, fault, stop, any) = (
        cmd("master"),
        cmd("backup"),
        cmd("fault"),
        cmd("stop"),
        cmd("any"),
    );
    let timeout = opt(r, &f, "timeout", Notify::default().timeout, positive)?;
    Some(Notify {
        master,
        backup,
        fault,
        stop,
        any,
        timeout,
    })
}

fn auth(r: &mut Reader, n: &Node, p: &str) -> Option<Auth> {
    let f = r.fields(n, p, &["type", "password"])?;
    let kind = r
        .require(&f, "type")
        .and_then(|n| r.word(n, &f.path_of("type"), &["pass"]));
    let password = r.require(&f, "password").and_then(|n| {
        let path = f.path_of("password");
        let s = r.string(n, &path)?;
        if s.len() > 8 {
            let msg = format!("VRRPv2 passwords are 1..=8 bytes, this one is {}", s.len());
            r.problem(n.pos, &path, ErrorKind::Invalid, msg);
            return None;
        }
        Some(s)
    });
    kind?;
    Some(Auth {
        password: password?,
    })
}

fn garp(r: &mut Reader, n: &Node, p: &str) -> Option<AnnounceSchedule> {
    let keys = [
        "initial",
        "repeat",
        "repeat_after",
        "refresh",
        "refresh_count",
        "arp_interval",
        "na_interval",
    ];
    let f = r.fields(n, p, &keys)?;
    let d = AnnounceSchedule::default();
    let initial = opt(r, &f, "initial", d.initial, |r, n, p| r.int(n, p, 0, 100));
    let repeat = opt(r, &f, "repeat", d.repeat, |r, n, p| r.int(n, p, 0, 100));
    let repeat_after = opt(r, &f, "repeat_after", d.repeat_after, |r, n, p| {
        let why = "an hour; keepalived's garp_master_delay stops at 1000s";
        Cap::new(MAX_GARP_REPEAT_AFTER, why).read(r, n, p)
    });
    let refresh = opt(r, &f, "refresh", d.refresh, garp_refresh);
    let refresh_count = opt(r, &f, "refresh_count", d.refresh_count, |r, n, p| {
        r.int(n, p, 1, 100)
    });
    let gap = |r: &mut Reader, n: &Node, p: &str| {
        let why = "a burst must not outlast the adverts; keepalived calls a second very large";
        Cap::new(MAX_GARP_GAP, why).read(r, n, p)
    };
    let arp_interval = opt(r, &f, "arp_interval", d.arp_interval, gap);
    let na_interval = opt(r, &f, "na_interval", d.na_interval, gap);
    Some(AnnounceSchedule {
        initial: initial?,
        repeat: repeat?,
        repeat_after: repeat_after?,
        refresh: refresh?,
        refresh_count: refresh_count?,
        arp_interval: arp_interval?,
        na_interval: na_interval?,
    })
}

/// `garp.refresh`: `0s` (off), or from a second to a day.
fn garp_refresh(r: &mut Reader, n: &Node, p: &str) -> Option<Duration> {
    let why = "a day; a rarer refresh refreshes no ARP cache";
    let d = Cap::new(MAX_GARP_REFRESH, why).read(r, n, p)?;
    if !d.is_zero() && d < MIN_GARP_REFRESH {
        let got = n.value.scalar_text().unwrap_or_default();
        let msg = format!("'{got}' is too short: refresh is 0s (off) or at least 1s");
        r.problem(n.pos, p, ErrorKind::Invalid, msg);
        return None;
    }
    Some(d)
}
