//! Decoding `channels:` (extra heartbeat paths) and `isolation_check:` of an instance.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::decode::{Cap, interface_name, tcp_target};
use super::instance::{addrs, opt};
use super::model::{
    Channel, ChannelKind, CheckKind, IsolationCheck, IsolationTarget, MAX_ISOLATION_TIMEOUT,
    NetPath, SealedPort, SerialLine,
};
use super::reader::{Fields, Reader};
use super::tree::Node;

/// A channel's `type:`. Decoded to this first and matched exhaustively, so a kind added
/// here without its arm below does not compile, and any other word is refused naming all.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Vrrp,
    Udp,
    Tcp,
    Serial,
}

impl Type {
    const ALL: [Type; 4] = [Type::Vrrp, Type::Udp, Type::Tcp, Type::Serial];

    const fn name(self) -> &'static str {
        match self {
            Type::Vrrp => "vrrp",
            Type::Udp => "udp",
            Type::Tcp => "tcp",
            Type::Serial => "serial",
        }
    }

    /// The keys a channel of this type has, besides `type`.
    const fn keys(self) -> &'static [&'static str] {
        match self {
            Type::Vrrp => &["interface", "peers", "source"],
            Type::Udp | Type::Tcp => &["interface", "peers", "source", "port", "key_file"],
            Type::Serial => &["device", "baud", "peer", "key_file"],
        }
    }
}

/// Every key of any channel type.
const CHANNEL_KEYS: &[&str] = &[
    "type",
    "interface",
    "peers",
    "source",
    "port",
    "key_file",
    "device",
    "baud",
    "peer",
];

/// Line speeds a serial channel may use: the standard termios rates from 1200 up.
pub(crate) const BAUDS: &[u32] = &[
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600,
    1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000,
];

pub(crate) fn channels(r: &mut Reader, n: &Node, p: &str) -> Option<Vec<Channel>> {
    let mut out = Some(Vec::new());
    for (item, path) in r.list(n, p) {
        let ch = channel(r, item, &path);
        out = out.zip(ch).map(|(mut v, c)| {
            v.push(c);
            v
        });
    }
    out
}

fn channel(r: &mut Reader, item: &Node, path: &str) -> Option<Channel> {
    let f = r.fields(item, path, CHANNEL_KEYS)?;
    let kind = opt(r, &f, "type", Type::Vrrp, |r, n, p| {
        let word = r.word(n, p, &Type::ALL.map(Type::name))?;
        Type::ALL.into_iter().find(|t| t.name() == word)
    })?;
    // A key of another type is an error naming the types it belongs to, so a serial line
    // given an interface (or a UDP channel given a baud rate) is not silently ignored.
    for key in &CHANNEL_KEYS[1..] {
        if kind.keys().contains(key) {
            continue;
        }
        if let Some(pos) = f.key_pos(key) {
            let owners: Vec<String> = Type::ALL
                .into_iter()
                .filter(|t| t.keys().contains(key))
                .map(|t| format!("`type: {}`", t.name()))
                .collect();
            let owners = match owners.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => unreachable!("every key belongs to a type"),
            };
            let msg = format!("'{key}' belongs to a {owners} channel");
            r.problem(pos, &f.path_of(key), super::errors::ErrorKind::Invalid, msg);
            return None;
        }
    }
    let kind = match kind {
        Type::Vrrp => ChannelKind::Vrrp(net_path(r, &f)?),
        Type::Udp => {
            let (net, port) = (net_path(r, &f), sealed_port(r, &f));
            ChannelKind::Udp(net?, port?)
        }
        Type::Tcp => {
            let (net, port) = (net_path(r, &f), sealed_port(r, &f));
            ChannelKind::Tcp(net?, port?)
        }
        Type::Serial => ChannelKind::Serial(serial_line(r, &f)?),
    };
    Some(Channel { kind })
}

/// The interface, peers and source of a network channel.
fn net_path(r: &mut Reader, f: &Fields<'_>) -> Option<NetPath> {
    let interface = r
        .require(f, "interface")
        .and_then(|n| interface_name(r, n, &f.path_of("interface")));
    let peers = r
        .require(f, "peers")
        .and_then(|n| addrs(r, n, &f.path_of("peers")));
    let source = opt(r, f, "source", None, |r, n, p| {
        r.parsed::<IpAddr>(n, p, "an IP address").map(Some)
    });
    Some(NetPath {
        interface: interface?,
        peers: peers?,
        source: source?,
    })
}

/// The port and key file of a network channel carrying sealed frames (`udp`, `tcp`).
fn sealed_port(r: &mut Reader, f: &Fields<'_>) -> Option<SealedPort> {
    let port = r
        .require(f, "port")
        .and_then(|n| r.int::<u16>(n, &f.path_of("port"), 1, 65535));
    let key_file = key_file(r, f);
    Some(SealedPort {
        port: port?,
        key_file: key_file?,
    })
}

fn key_file(r: &mut Reader, f: &Fields<'_>) -> Option<PathBuf> {
    r.require(f, "key_file").and_then(|n| {
        let p = f.path_of("key_file");
        r.string(n, &p).map(PathBuf::from)
    })
}

/// A `type: serial` channel: an absolute device path, a standard baud rate, the peer's
/// identity and the key.
fn serial_line(r: &mut Reader, f: &Fields<'_>) -> Option<SerialLine> {
    let device = r.require(f, "device").and_then(|n| {
        let p = f.path_of("device");
        let s = r.string(n, &p)?;
        if !s.starts_with('/') {
            let msg =
                format!("'{s}' is not an absolute path; give the tty device, e.g. /dev/ttyS1");
            r.problem(n.pos, &p, super::errors::ErrorKind::Invalid, msg);
            return None;
        }
        Some(PathBuf::from(s))
    });
    let baud = r.require(f, "baud").and_then(|n| {
        let p = f.path_of("baud");
        let b = r.int::<u32>(n, &p, 1, i128::from(u32::MAX))?;
        if !BAUDS.contains(&b) {
            let list: Vec<String> = BAUDS.iter().map(ToString::to_string).collect();
            let msg = format!(
                "{b} is not a standard line speed; use one of {}",
                list.join(", ")
            );
            r.problem(n.pos, &p, super::errors::ErrorKind::Invalid, msg);
            return None;
        }
        Some(b)
    });
    let peer = r
        .require(f, "peer")
        .and_then(|n| r.parsed::<IpAddr>(n, &f.path_of("peer"), "an IP address"));
    let key_file = key_file(r, f);
    Some(SerialLine {
        device: device?,
        baud: baud?,
        peer: peer?,
        key_file: key_file?,
    })
}

/// The kinds of target an isolation check names; exactly one must be present.
const ISOLATION_TARGETS: &[&str] = &["ping", "tcp", "check"];

pub(crate) fn isolation_check(r: &mut Reader, n: &Node, p: &str) -> Option<IsolationCheck> {
    let keys: Vec<&str> = ISOLATION_TARGETS
        .iter()
        .copied()
        .chain(["timeout"])
        .collect();
    let f = r.fields(n, p, &keys)?;
    let present: Vec<&str> = ISOLATION_TARGETS
        .iter()
        .copied()
        .filter(|k| f.get(k).is_some())
        .collect();
    let cap = Cap::new(
        MAX_ISOLATION_TIMEOUT,
        "a minute: a takeover from silence waits for this answer",
    );
    let timeout = opt(r, &f, "timeout", Duration::from_secs(1), |r, n, p| {
        cap.read_positive(r, n, p)
    });
    let [which] = present[..] else {
        let msg = format!(
            "needs exactly one of {}, found {}",
            ISOLATION_TARGETS.join(", "),
            if present.is_empty() {
                "none".to_owned()
            } else {
                present.join(" and ")
            }
        );
        r.problem(n.pos, p, super::errors::ErrorKind::Invalid, msg);
        return None;
    };
    let node = f.get(which).expect("present");
    let path = f.path_of(which);
    let target = match which {
        "ping" => IsolationTarget::Ping(r.parsed::<IpAddr>(node, &path, "an IP address")?),
        "tcp" => match tcp_target(r, node, &path)? {
            CheckKind::Tcp { host, port } => IsolationTarget::Tcp { host, port },
            _ => unreachable!("tcp_target makes a TCP check"),
        },
        _ => IsolationTarget::Check(r.string(node, &path)?),
    };
    Some(IsolationCheck {
        target,
        timeout: timeout?,
    })
}
