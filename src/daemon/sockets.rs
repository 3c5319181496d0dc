//! The sockets every instance shares, and how an instance's heartbeat channels attach to
//! them. A raw VRRP socket serves one (interface, family, source address); a UDP socket and
//! a TCP listener (`tcp.rs`) one (family, port, interface). Each has a receive loop and a
//! table of routes by VRID; an instance is attached to as many as its channels need, and a
//! socket closes with its last route. A VRID in a table belongs to one instance: attaching a
//! second one to it is refused, never a replacement.
//!
//! The primary interface is channel 0, and each `channels:` entry k is channel k: every one
//! gets a receive route here and a send path ([`TxPath`]). A transport is a key type and an
//! open function (a file here), a receive loop and a sending half (a file each in `daemon`),
//! and its config arm.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock, Weak};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::DaemonError;
use super::instance::ResolvedChannel;
use super::receiver::{self, Route, Routes, RxChannel};
use super::sealed::{SealedRoute, SealedRoutes};
use super::senders::{TxPath, Via};
use super::stats::Stats;
use super::tcp_link::TcpLink;
use super::udp_receiver;
use crate::config::{ChannelKind, Instance};
use crate::net::udp_socket::{UdpChannelSocket, host_addrs};
use crate::net::{NetError, VrrpSocket};
use crate::vrrp::Family;
use crate::vrrp::packet;
use crate::vrrp::router::Packet;
use crate::vrrp::udp_frame::FrameKey;

/// A raw VRRP socket: interface, family, source address.
type RawKey = (String, Family, IpAddr);
/// A UDP heartbeat socket: family, port, interface.
type UdpKey = (Family, u16, String);
use tcp::{LinkKey, TcpKey};

mod tcp;

/// A socket an instance is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// A raw VRRP socket.
    Raw(RawKey),
    /// A UDP socket.
    Udp(UdpKey),
    /// A TCP listener.
    Tcp(TcpKey),
}

/// A socket that carries sealed frames: one route per VRID, one channel per route.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SealedKey {
    Udp(UdpKey),
    Tcp(TcpKey),
}

impl std::fmt::Display for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealedKey::Udp((_, port, iface)) => write!(f, "udp {iface}:{port}"),
            SealedKey::Tcp((_, port, iface)) => write!(f, "tcp {iface}:{port}"),
        }
    }
}

struct Entry<R> {
    routes: Arc<RwLock<HashMap<u8, R>>>,
    task: JoinHandle<()>,
}

/// Every open heartbeat socket.
#[derive(Default)]
pub struct Sockets {
    raw: HashMap<RawKey, (Arc<VrrpSocket>, Entry<Route>)>,
    udp: HashMap<UdpKey, (Arc<UdpChannelSocket>, Entry<SealedRoute>)>,
    /// TCP listeners; the listener lives in its accept task.
    tcp: HashMap<TcpKey, Entry<SealedRoute>>,
    /// Outgoing TCP connections, by instance and path: a reload that keeps the channel
    /// keeps the connection.
    links: HashMap<LinkKey, Weak<TcpLink>>,
    /// UDP sockets closed here that may still be open elsewhere: an aborted receive task is
    /// dropped later, a stopping router task still sends on its paths. The port is bound
    /// exclusively, so a reload that needs it again takes the open socket back rather than
    /// failing to bind while the old one lingers.
    lingering: HashMap<UdpKey, Weak<UdpChannelSocket>>,
}

/// What one instance needs to attach: its identity and where its channels go.
pub struct Plan<'a> {
    /// Instance name.
    pub name: &'a str,
    /// Its configuration.
    pub inst: &'a Instance,
    /// The interface it receives on (the parent with a virtual MAC).
    pub parent: &'a str,
    /// The virtual-MAC interface it sends from, if any.
    pub vmac_iface: Option<&'a str>,
    /// Primary address: the primary channel's source.
    pub primary: IpAddr,
    /// Extra channels, resolved.
    pub channels: &'a [ResolvedChannel],
    /// The router's packet lane.
    pub packets: mpsc::Sender<Box<Packet>>,
    /// Instance counters.
    pub stats: Arc<Stats>,
    /// UDP keys by file.
    pub keys: &'a HashMap<std::path::PathBuf, Arc<FrameKey>>,
}

impl Sockets {
    /// Attaches the instance to every socket its channels need (opening them as needed) and
    /// returns its send paths, primary first. Routes it had on sockets it no longer uses are
    /// not touched: [`Sockets::detach`] the difference. Fails, attaching nothing, when
    /// another instance already receives this VRID on one of those sockets.
    pub fn attach(
        &mut self,
        plan: &Plan<'_>,
        channel_stats: &mut HashMap<String, Arc<Stats>>,
    ) -> Result<(Arc<Vec<TxPath>>, Vec<Attachment>), DaemonError> {
        // Refused before anything is opened or inserted, so a refusal changes nothing.
        self.check_claims(plan)?;
        let result = self.attach_checked(plan, channel_stats);
        if result.is_err() {
            // A socket opened for this instance before a later step failed serves no one.
            self.close_idle();
        }
        result
    }

    fn attach_checked(
        &mut self,
        plan: &Plan<'_>,
        channel_stats: &mut HashMap<String, Arc<Stats>>,
    ) -> Result<(Arc<Vec<TxPath>>, Vec<Attachment>), DaemonError> {
        let inst = plan.inst;
        let family = inst.family();
        let mut stats_of = |label: &str| {
            channel_stats
                .entry(label.to_owned())
                .or_insert_with(|| Arc::new(Stats::default()))
                .clone()
        };
        let mut paths = Vec::new();
        let mut raw_rx: Vec<(RawKey, Vec<RxChannel>)> = Vec::new();
        let mut sealed_rx: Vec<(SealedKey, SealedRoute)> = Vec::new();
        let mut attached = Vec::new();

        // The primary channel: received on the parent even with a virtual MAC (a macvlan
        // never delivers a frame carrying its own MAC, and the Master sends from it)...
        let label = plan.parent.to_owned();
        let stats = stats_of(&label);
        let key: RawKey = (plan.parent.to_owned(), family, plan.primary);
        let recv = self.raw_socket(&key)?;
        // ...and sent from the macvlan, so adverts carry the virtual MAC (RFC 9568 §7.3).
        let send = match plan.vmac_iface {
            Some(iface) => Arc::new(open_raw(iface, family, plan.primary)?),
            None => recv,
        };
        let peers = inst.unicast.as_ref().map(|u| u.peers.clone());
        add_rx(
            &mut raw_rx,
            key,
            RxChannel {
                index: 0,
                peers: peers.clone(),
                stats: stats.clone(),
            },
        );
        paths.push(TxPath {
            label,
            via: Via::Vrrp {
                socket: send,
                src: plan.primary,
                dests: peers.unwrap_or_else(|| vec![group_address(family)]),
                checksum: inst.v3_checksum,
            },
            stats,
        });

        for (k, rc) in plan.channels.iter().enumerate() {
            let index = k + 1;
            let ch = &rc.channel;
            let label = ch.label();
            let stats = stats_of(&label);
            match &ch.kind {
                ChannelKind::Vrrp => {
                    let key: RawKey = (ch.interface.clone(), family, rc.src);
                    let socket = self.raw_socket(&key)?;
                    add_rx(
                        &mut raw_rx,
                        key,
                        RxChannel {
                            index,
                            peers: Some(ch.peers.clone()),
                            stats: stats.clone(),
                        },
                    );
                    paths.push(TxPath {
                        label,
                        via: Via::Vrrp {
                            socket,
                            src: rc.src,
                            dests: ch.peers.clone(),
                            checksum: inst.v3_checksum,
                        },
                        stats,
                    });
                }
                ChannelKind::Udp { port, key_file } => {
                    let key = frame_key(plan, key_file)?;
                    let ukey: UdpKey = (family, *port, ch.interface.clone());
                    let socket = self.udp_socket(&ukey)?;
                    sealed_rx.push((
                        SealedKey::Udp(ukey),
                        sealed_route(plan, index, ch, &stats, &key),
                    ));
                    paths.push(TxPath {
                        label,
                        via: Via::Udp {
                            socket,
                            // The node's identity, not its address on this channel: a peer
                            // breaks equal-priority ties with it, so both nodes compare the
                            // same pair of addresses on every channel.
                            origin: plan.primary,
                            dests: udp_dests(&ch.peers, *port, rc.src),
                            key,
                            key_file: key_file.clone(),
                        },
                        stats,
                    });
                }
                ChannelKind::Tcp { port, key_file } => {
                    let key = frame_key(plan, key_file)?;
                    let tkey: TcpKey = (family, *port, ch.interface.clone());
                    self.tcp_listener(&tkey)?;
                    sealed_rx.push((
                        SealedKey::Tcp(tkey),
                        sealed_route(plan, index, ch, &stats, &key),
                    ));
                    let links = self.tcp_links(plan.name, rc, *port, &stats);
                    paths.push(TxPath {
                        label,
                        via: Via::Tcp {
                            links,
                            origin: plan.primary,
                            key,
                            key_file: key_file.clone(),
                        },
                        stats,
                    });
                }
            }
        }
        // Every socket is open: only now do routes go in, so a failure above leaves none.
        for (key, route) in sealed_rx {
            let routes = self.sealed_routes(&key).expect("opened above");
            claim(routes, inst.vrid, route)
                .map_err(|held| shared_route(plan, &key.to_string(), &held))?;
            attached.push(match key {
                SealedKey::Udp(k) => Attachment::Udp(k),
                SealedKey::Tcp(k) => Attachment::Tcp(k),
            });
        }
        for (key, channels) in raw_rx {
            let (_, entry) = &self.raw[&key];
            claim(&entry.routes, inst.vrid, route_of(plan, channels))
                .map_err(|held| shared_route(plan, &key.0, &held))?;
            attached.push(Attachment::Raw(key));
        }
        Ok((Arc::new(paths), attached))
    }

    /// Refuses a plan under which `plan`'s VRID would reach a receive route another
    /// instance holds. Every raw socket on an interface hears every advert there, so all of
    /// them count, whatever their source address; a UDP socket serves one (port, interface).
    /// Configuration validation refuses such a config already; this keeps a daemon-side
    /// mistake from silently handing one instance's adverts to another.
    fn check_claims(&self, plan: &Plan<'_>) -> Result<(), DaemonError> {
        let (vrid, family) = (plan.inst.vrid, plan.inst.family());
        let raw_ifaces = std::iter::once(plan.parent).chain(
            plan.channels
                .iter()
                .filter(|rc| rc.channel.kind == ChannelKind::Vrrp)
                .map(|rc| rc.channel.interface.as_str()),
        );
        for iface in raw_ifaces {
            let tables = self.raw.iter().map(|(k, (_, e))| (k, &*e.routes));
            if let Some(held) = raw_holder(tables, iface, family, vrid, plan.name) {
                return Err(shared_route(plan, iface, &held));
            }
        }
        let mut mine: Vec<SealedKey> = Vec::new();
        let mut host = None;
        for rc in plan.channels {
            let key = match rc.channel.kind {
                ChannelKind::Vrrp => continue,
                ChannelKind::Udp { port, .. } => {
                    SealedKey::Udp((family, port, rc.channel.interface.clone()))
                }
                ChannelKind::Tcp { port, .. } => {
                    SealedKey::Tcp((family, port, rc.channel.interface.clone()))
                }
            };
            let on = key.to_string();
            let host = host.get_or_insert_with(|| host_addrs().unwrap_or_default());
            if let Some(peer) = own_peer(&rc.channel.peers, &[rc.src, plan.primary], host) {
                return Err(DaemonError::Config(format!(
                    "instance {}: channel {on} lists {peer} as a peer, but {peer} is an \
                     address of this host: the node would send its heartbeats to itself; \
                     list only the other nodes",
                    plan.name
                )));
            }
            if mine.contains(&key) {
                // One sealed route carries one channel: a second would replace the first.
                return Err(shared_route(plan, &on, plan.name));
            }
            let held = self
                .sealed_routes(&key)
                .and_then(|routes| other_holder(&read(routes), vrid, plan.name));
            if let Some(held) = held {
                return Err(shared_route(plan, &on, &held));
            }
            mine.push(key);
        }
        Ok(())
    }

    /// Closes every socket left without a route.
    fn close_idle(&mut self) {
        self.raw.retain(|_, (_, e)| {
            let keep = !read(&e.routes).is_empty();
            if !keep {
                e.task.abort();
            }
            keep
        });
        let lingering = &mut self.lingering;
        self.udp.retain(|key, (socket, e)| {
            let keep = !read(&e.routes).is_empty();
            if !keep {
                e.task.abort();
                lingering.insert(key.clone(), Arc::downgrade(socket));
            }
            keep
        });
        self.tcp.retain(|_, e| {
            let keep = !read(&e.routes).is_empty();
            if !keep {
                e.task.abort();
            }
            keep
        });
    }

    /// The route table of an open sealed-frame socket.
    fn sealed_routes(&self, key: &SealedKey) -> Option<&RwLock<SealedRoutes>> {
        match key {
            SealedKey::Udp(k) => self.udp.get(k).map(|(_, e)| &*e.routes),
            SealedKey::Tcp(k) => self.tcp.get(k).map(|e| &*e.routes),
        }
    }

    /// Removes the instance `name` from `attachments`, closing sockets left with no route.
    pub fn detach(&mut self, name: &str, attachments: &[Attachment]) {
        for a in attachments {
            match a {
                Attachment::Raw(key) => {
                    if let Some((_, entry)) = self.raw.get(key)
                        && forget(&entry.routes, name)
                        && let Some((_, entry)) = self.raw.remove(key)
                    {
                        entry.task.abort();
                    }
                }
                Attachment::Udp(key) => {
                    if let Some((_, entry)) = self.udp.get(key)
                        && forget(&entry.routes, name)
                        && let Some((socket, entry)) = self.udp.remove(key)
                    {
                        entry.task.abort();
                        self.lingering.insert(key.clone(), Arc::downgrade(&socket));
                    }
                }
                Attachment::Tcp(key) => self.detach_tcp(name, key),
            }
        }
    }

    fn raw_socket(&mut self, key: &RawKey) -> Result<Arc<VrrpSocket>, NetError> {
        if let Some((s, _)) = self.raw.get(key) {
            return Ok(s.clone());
        }
        let (iface, family, src) = key.clone();
        let socket = Arc::new(open_raw(&iface, family, src)?);
        let routes = Arc::new(RwLock::new(Routes::new()));
        let mut own = socket.local_addrs().unwrap_or_default();
        own.push(src);
        let task = tokio::spawn(receiver::run(socket.clone(), iface, routes.clone(), own));
        self.raw
            .insert(key.clone(), (socket.clone(), Entry { routes, task }));
        Ok(socket)
    }

    fn udp_socket(&mut self, key: &UdpKey) -> Result<Arc<UdpChannelSocket>, NetError> {
        if let Some((s, _)) = self.udp.get(key) {
            return Ok(s.clone());
        }
        let (family, port, iface) = key.clone();
        self.lingering.retain(|_, w| w.strong_count() > 0);
        let socket = match self.lingering.remove(key).and_then(|w| w.upgrade()) {
            Some(open) => open,
            None => Arc::new(UdpChannelSocket::bind(family, port, Some(&iface))?),
        };
        let routes = Arc::new(RwLock::new(SealedRoutes::new()));
        let label = format!("udp {iface}:{port}");
        let task = tokio::spawn(udp_receiver::run(socket.clone(), label, routes.clone()));
        self.udp
            .insert(key.clone(), (socket.clone(), Entry { routes, task }));
        Ok(socket)
    }
}

/// Removes `name`'s route from a table; whether the table is now empty.
trait Named {
    fn name(&self) -> &str;
}
impl Named for Route {
    fn name(&self) -> &str {
        &self.name
    }
}
impl Named for SealedRoute {
    fn name(&self) -> &str {
        &self.route.name
    }
}

/// The instance other than `name` that holds `vrid` in `table`, if any.
fn other_holder<R: Named>(table: &HashMap<u8, R>, vrid: u8, name: &str) -> Option<String> {
    table
        .get(&vrid)
        .filter(|r| r.name() != name)
        .map(|r| r.name().to_owned())
}

/// The instance other than `name` that holds `vrid` on any raw socket of `family` on
/// `iface`: each of them hears every advert there, whatever address it sends from.
fn raw_holder<'a>(
    tables: impl IntoIterator<Item = (&'a RawKey, &'a RwLock<Routes>)>,
    iface: &str,
    family: Family,
    vrid: u8,
    name: &str,
) -> Option<String> {
    tables
        .into_iter()
        .filter(|(k, _)| k.0 == iface && k.1 == family)
        .find_map(|(_, routes)| other_holder(&read(routes), vrid, name))
}

/// Puts `route` in the table for `vrid`. The instance's own earlier route (a reload) is
/// replaced; another instance's is not: its name comes back as the error, because the
/// receiver tells instances apart by VRID alone and one of them would go deaf.
fn claim<R: Named>(routes: &RwLock<HashMap<u8, R>>, vrid: u8, route: R) -> Result<(), String> {
    let mut table = write(routes);
    if let Some(held) = other_holder(&table, vrid, route.name()) {
        return Err(held);
    }
    table.insert(vrid, route);
    Ok(())
}

/// The error for `plan`'s instance meeting `held`'s route for the same VRID on `on`.
fn shared_route(plan: &Plan<'_>, on: &str, held: &str) -> DaemonError {
    let (name, vrid, family) = (plan.name, plan.inst.vrid, plan.inst.family());
    let who = if held == name {
        "another channel of the same instance".to_owned()
    } else {
        format!("instance {held}")
    };
    DaemonError::Config(format!(
        "instance {name}: VRID {vrid} ({family}) on {on} is already received by {who}; two \
         routes cannot share it (adverts are handed over by VRID alone), so instance {name} \
         is not attached"
    ))
}

fn forget<R: Named>(routes: &RwLock<HashMap<u8, R>>, name: &str) -> bool {
    let mut table = write(routes);
    table.retain(|_, r| r.name() != name);
    table.is_empty()
}

/// The key loaded from `key_file` for `plan`'s sealed channel.
fn frame_key(plan: &Plan<'_>, key_file: &std::path::Path) -> Result<Arc<FrameKey>, DaemonError> {
    plan.keys.get(key_file).cloned().ok_or_else(|| {
        DaemonError::Config(format!(
            "instance {}: key file {} was not loaded",
            plan.name,
            key_file.display()
        ))
    })
}

/// The receive route of `plan`'s sealed channel `index`.
fn sealed_route(
    plan: &Plan<'_>,
    index: usize,
    ch: &crate::config::Channel,
    stats: &Arc<Stats>,
    key: &Arc<FrameKey>,
) -> SealedRoute {
    SealedRoute {
        route: route_of(
            plan,
            vec![RxChannel {
                index,
                peers: Some(ch.peers.clone()),
                stats: stats.clone(),
            }],
        ),
        key: key.clone(),
        origin: plan.primary,
    }
}

fn add_rx(list: &mut Vec<(RawKey, Vec<RxChannel>)>, key: RawKey, ch: RxChannel) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => v.push(ch),
        None => list.push((key, vec![ch])),
    }
}

fn route_of(plan: &Plan<'_>, channels: Vec<RxChannel>) -> Route {
    Route {
        name: plan.name.to_owned(),
        packets: plan.packets.clone(),
        channels,
        stats: plan.stats.clone(),
    }
}

/// Where a UDP channel sends: each peer at `port`, except this host's own addresses. A
/// channel naming one is refused when it attaches; an address added to the host later must
/// not make it send to itself either (a Master that heard its own frame would answer itself
/// in a loop). The receive side drops such frames as well.
fn udp_dests(peers: &[IpAddr], port: u16, origin: IpAddr) -> Vec<SocketAddr> {
    udp_dests_except(peers, port, origin, &host_addrs().unwrap_or_default())
}

/// The first of `peers` that is this node's: one of `mine` (the channel's source and the
/// origin its frames carry) or of `host`, the addresses on this host's interfaces.
fn own_peer(peers: &[IpAddr], mine: &[IpAddr], host: &[IpAddr]) -> Option<IpAddr> {
    peers
        .iter()
        .copied()
        .find(|p| mine.contains(p) || host.contains(p))
}

fn udp_dests_except(
    peers: &[IpAddr],
    port: u16,
    origin: IpAddr,
    own: &[IpAddr],
) -> Vec<SocketAddr> {
    peers
        .iter()
        .filter(|p| **p != origin && !own.contains(p))
        .map(|p| SocketAddr::new(*p, port))
        .collect()
}

fn group_address(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(packet::MULTICAST_V4),
        Family::V6 => IpAddr::V6(packet::MULTICAST_V6),
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// Opens the VRRP socket of `family` on `iface`, sending from `src`.
fn open_raw(iface: &str, family: Family, src: IpAddr) -> Result<VrrpSocket, NetError> {
    match (family, src) {
        (Family::V4, IpAddr::V4(src)) => VrrpSocket::open_v4(iface, Some(src)),
        (_, IpAddr::V6(src)) => VrrpSocket::open_v6(iface, Some(src)),
        (Family::V6, IpAddr::V4(_)) => unreachable!("an IPv6 instance has an IPv6 source"),
    }
}

#[cfg(test)]
mod tests;
