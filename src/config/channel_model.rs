//! The model of `channels:`: an extra heartbeat path, and what each kind of path needs.
//! Network kinds (`vrrp`, `udp`, `tcp`) go over an interface to peer addresses; a serial
//! line has a device and a baud rate, and knows its peer only by the identity its frames
//! carry.

use std::net::IpAddr;
use std::path::PathBuf;

/// An extra heartbeat path: the Master sends every advert on it too, and a Backup's
/// master-down timer is reset by the Master's advert on any path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// How adverts travel on it, with what that way needs (an interface and peers for the
    /// network kinds, a device and a baud rate for a serial line).
    pub kind: ChannelKind,
}

/// How a channel carries adverts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// The advert itself (IP protocol 112), unicast to each peer: keepalived with unicast
    /// peers understands it.
    Vrrp(NetPath),
    /// The advert inside UDP, authenticated with HMAC-SHA256 and protected against replay,
    /// for paths where protocol 112 is blocked.
    Udp(NetPath, SealedPort),
    /// The same sealed frames as `Udp`, length-prefixed over a persistent TCP connection
    /// to each peer, for paths where only TCP gets through.
    Tcp(NetPath, SealedPort),
    /// The same length-prefixed sealed frames over a serial line (a null-modem cable): a
    /// heartbeat path that shares nothing with the network.
    Serial(SerialLine),
}

/// Where a network channel goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetPath {
    /// Interface the channel's adverts use.
    pub interface: String,
    /// Peers reached over it. Never empty.
    pub peers: Vec<IpAddr>,
    /// Our address on the channel; `None` uses the interface's primary address.
    pub source: Option<IpAddr>,
}

/// The port and key of a network channel of sealed frames (`udp`, `tcp`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedPort {
    /// The port, the same on every node.
    pub port: u16,
    /// File holding the shared key; must not be accessible to others.
    pub key_file: PathBuf,
}

/// A serial line between two nodes. It has no addresses: the peer is known by the
/// identity sealed into its frames (its primary address), and only that one is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialLine {
    /// The tty device (`/dev/ttyS1`, `/dev/ttyUSB0`).
    pub device: PathBuf,
    /// Line speed in bits per second; both ends must agree.
    pub baud: u32,
    /// The other node's identity: its primary address, as its frames carry it.
    pub peer: IpAddr,
    /// File holding the shared key; must not be accessible to others.
    pub key_file: PathBuf,
}

impl ChannelKind {
    /// Its `type:` as written in the config.
    pub const fn name(&self) -> &'static str {
        match self {
            ChannelKind::Vrrp(_) => "vrrp",
            ChannelKind::Udp(..) => "udp",
            ChannelKind::Tcp(..) => "tcp",
            ChannelKind::Serial(_) => "serial",
        }
    }
}

impl Channel {
    /// Its `type:` as written in the config.
    pub const fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The interface, peers and source of a network channel; `None` for a serial line.
    pub fn net(&self) -> Option<&NetPath> {
        match &self.kind {
            ChannelKind::Vrrp(net) | ChannelKind::Udp(net, _) | ChannelKind::Tcp(net, _) => {
                Some(net)
            }
            ChannelKind::Serial(_) => None,
        }
    }

    /// The key file of a kind that carries sealed frames (HMAC-SHA256, replay window);
    /// `None` for raw VRRP.
    pub fn key_file(&self) -> Option<&std::path::Path> {
        match &self.kind {
            ChannelKind::Vrrp(_) => None,
            ChannelKind::Udp(_, p) | ChannelKind::Tcp(_, p) => Some(&p.key_file),
            ChannelKind::Serial(line) => Some(&line.key_file),
        }
    }

    /// Whether it carries sealed frames, whose sender is the identity sealed inside.
    pub fn sealed(&self) -> bool {
        self.key_file().is_some()
    }

    /// The nodes whose adverts it accepts: network peers by address, a serial line's peer
    /// by the identity its frames carry.
    pub fn peers(&self) -> &[IpAddr] {
        match &self.kind {
            ChannelKind::Serial(line) => std::slice::from_ref(&line.peer),
            _ => &self.net().expect("a network channel").peers,
        }
    }

    /// Where a sealed channel receives, as errors name it ("UDP port 5405 on eth2",
    /// "serial line /dev/ttyS1"), and the key that says so (`port`, `device`): one route
    /// per VRID there. `None` for raw VRRP, which receives on its interface.
    pub fn receives_at(&self) -> Option<(String, &'static str)> {
        match &self.kind {
            ChannelKind::Vrrp(_) => None,
            ChannelKind::Udp(net, p) | ChannelKind::Tcp(net, p) => Some((
                format!(
                    "{} port {} on {}",
                    self.name().to_uppercase(),
                    p.port,
                    net.interface
                ),
                "port",
            )),
            ChannelKind::Serial(line) => {
                Some((format!("serial line {}", line.device.display()), "device"))
            }
        }
    }

    /// A short name for logs and status: "eth1", "udp eth1:5405", "tcp eth1:5406" or
    /// "serial /dev/ttyS1".
    pub fn label(&self) -> String {
        match &self.kind {
            ChannelKind::Vrrp(net) => net.interface.clone(),
            ChannelKind::Udp(net, p) | ChannelKind::Tcp(net, p) => {
                format!("{} {}:{}", self.name(), net.interface, p.port)
            }
            ChannelKind::Serial(line) => format!("serial {}", line.device.display()),
        }
    }

    /// One line for `vipd check`: how it carries adverts, and to whom.
    pub fn describe(&self) -> String {
        let list = |peers: &[IpAddr]| {
            let v: Vec<String> = peers.iter().map(ToString::to_string).collect();
            v.join(", ")
        };
        match &self.kind {
            ChannelKind::Vrrp(net) => {
                format!("{} (VRRP unicast) to {}", net.interface, list(&net.peers))
            }
            ChannelKind::Udp(net, p) | ChannelKind::Tcp(net, p) => format!(
                "{} ({} port {}, HMAC key {}) to {}",
                net.interface,
                self.name().to_uppercase(),
                p.port,
                p.key_file.display(),
                list(&net.peers)
            ),
            ChannelKind::Serial(line) => format!(
                "{} (serial, {} baud, HMAC key {}) to {}",
                line.device.display(),
                line.baud,
                line.key_file.display(),
                line.peer
            ),
        }
    }
}
