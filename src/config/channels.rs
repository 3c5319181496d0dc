//! Decoding `channels:` (extra heartbeat paths) and `isolation_check:` of an instance.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::decode::{Cap, interface_name, tcp_target};
use super::instance::{addrs, opt};
use super::model::{
    Channel, ChannelKind, CheckKind, IsolationCheck, IsolationTarget, MAX_ISOLATION_TIMEOUT,
};
use super::reader::Reader;
use super::tree::Node;

/// A channel's `type:`. Decoded to this first and matched exhaustively, so a kind added
/// here without its arm below does not compile, and any other word is refused naming all.
#[derive(Clone, Copy)]
enum Type {
    Vrrp,
    Udp,
    Tcp,
}

impl Type {
    const ALL: [Type; 3] = [Type::Vrrp, Type::Udp, Type::Tcp];

    const fn name(self) -> &'static str {
        match self {
            Type::Vrrp => "vrrp",
            Type::Udp => "udp",
            Type::Tcp => "tcp",
        }
    }
}

const CHANNEL_KEYS: &[&str] = &["type", "interface", "peers", "source", "port", "key_file"];

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
    });
    let interface = r
        .require(&f, "interface")
        .and_then(|n| interface_name(r, n, &f.path_of("interface")));
    let peers = r
        .require(&f, "peers")
        .and_then(|n| addrs(r, n, &f.path_of("peers")));
    let source = opt(r, &f, "source", None, |r, n, p| {
        r.parsed::<IpAddr>(n, p, "an IP address").map(Some)
    });
    let kind = match kind? {
        Type::Vrrp => {
            for key in ["port", "key_file"] {
                if let Some(pos) = f.key_pos(key) {
                    let msg = format!("'{key}' belongs to a `type: udp` or `type: tcp` channel");
                    r.problem(pos, &f.path_of(key), super::errors::ErrorKind::Invalid, msg);
                    return None;
                }
            }
            ChannelKind::Vrrp
        }
        Type::Udp => {
            let (port, key_file) = sealed(r, &f)?;
            ChannelKind::Udp { port, key_file }
        }
        Type::Tcp => {
            let (port, key_file) = sealed(r, &f)?;
            ChannelKind::Tcp { port, key_file }
        }
    };
    Some(Channel {
        interface: interface?,
        peers: peers?,
        source: source?,
        kind,
    })
}

/// The port and key file of a channel carrying sealed frames (`udp`, `tcp`).
fn sealed(r: &mut Reader, f: &super::reader::Fields<'_>) -> Option<(u16, PathBuf)> {
    let port = r
        .require(f, "port")
        .and_then(|n| r.int::<u16>(n, &f.path_of("port"), 1, 65535));
    let key_file = r.require(f, "key_file").and_then(|n| {
        let p = f.path_of("key_file");
        r.string(n, &p).map(PathBuf::from)
    });
    Some((port?, key_file?))
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
