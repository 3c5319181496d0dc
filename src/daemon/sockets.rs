//! The sockets every instance shares, and how an instance's heartbeat channels attach to
//! them. A raw VRRP socket serves one (interface, family, source address); a UDP socket and
//! a TCP listener one (family, port, interface). Each has a receive loop and a table of
//! routes by VRID; an instance is attached to as many as its channels need, and a
//! socket closes with its last route. A VRID in a table belongs to one instance: attaching a
//! second one to it is refused, never a replacement.
//!
//! The primary interface is channel 0, and each `channels:` entry k is channel k: every one
//! gets a receive route here and a send path ([`TxPath`]). A transport is its socket key,
//! open and attach functions (a file here: `raw.rs`, `udp.rs`, `tcp.rs`), its receive loop
//! and sending half (files in `daemon`: `receiver.rs`, `udp_receiver.rs`, `tcp_receiver.rs`
//! and `tcp_link.rs`), and its config arm (`config/channels.rs`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock, Weak};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::DaemonError;
use super::instance::ResolvedChannel;
use super::receiver::{Route, RxChannel};
use super::sealed::{SealedRoute, SealedRoutes};
use super::senders::TxPath;
use super::stats::Stats;
use super::tcp_link::TcpLink;
use crate::config::{ChannelKind, Instance};
use crate::net::VrrpSocket;
use crate::net::udp_socket::{UdpChannelSocket, host_addrs};
use crate::vrrp::router::Packet;
use crate::vrrp::udp_frame::FrameKey;

use raw::{RawKey, raw_holder};
use tcp::{LinkKey, TcpKey};
use udp::UdpKey;

mod raw;
mod tcp;
mod udp;

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

/// Receive routes waiting to go in once every socket an instance needs is open.
#[derive(Default)]
struct Pending {
    /// Raw sockets, each with the instance's channels it carries.
    raw: Vec<(RawKey, Vec<RxChannel>)>,
    /// Sealed-frame sockets, one channel each.
    sealed: Vec<(SealedKey, SealedRoute)>,
}

/// One entry of `channels:` as it attaches.
struct Slot<'a> {
    /// Its channel index (the primary interface is 0).
    index: usize,
    /// The channel and its source address.
    rc: &'a ResolvedChannel,
    /// Its name in logs and status.
    label: String,
    /// Its counters.
    stats: Arc<Stats>,
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
        let mut stats_of = |label: &str| {
            channel_stats
                .entry(label.to_owned())
                .or_insert_with(|| Arc::new(Stats::default()))
                .clone()
        };
        let mut paths = Vec::new();
        let mut pending = Pending::default();
        let mut attached = Vec::new();

        let stats = stats_of(plan.parent);
        paths.push(self.attach_primary(plan, stats, &mut pending)?);
        for (k, rc) in plan.channels.iter().enumerate() {
            let ch = &rc.channel;
            let slot = Slot {
                index: k + 1,
                rc,
                label: ch.label(),
                stats: stats_of(&ch.label()),
            };
            // One arm per transport, each in its own file here.
            let path = match &ch.kind {
                ChannelKind::Vrrp => self.attach_vrrp(plan, slot, &mut pending)?,
                ChannelKind::Udp { port, key_file } => {
                    self.attach_udp(plan, slot, *port, key_file, &mut pending)?
                }
                ChannelKind::Tcp { port, key_file } => {
                    self.attach_tcp(plan, slot, *port, key_file, &mut pending)?
                }
            };
            paths.push(path);
        }
        // Every socket is open: only now do routes go in, so a failure above leaves none.
        for (key, route) in pending.sealed {
            let routes = self.sealed_routes(&key).expect("opened above");
            claim(routes, inst.vrid, route)
                .map_err(|held| shared_route(plan, &key.to_string(), &held))?;
            attached.push(match key {
                SealedKey::Udp(k) => Attachment::Udp(k),
                SealedKey::Tcp(k) => Attachment::Tcp(k),
            });
        }
        for (key, channels) in pending.raw {
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

fn route_of(plan: &Plan<'_>, channels: Vec<RxChannel>) -> Route {
    Route {
        name: plan.name.to_owned(),
        packets: plan.packets.clone(),
        channels,
        stats: plan.stats.clone(),
    }
}

/// Where a sealed channel sends: each peer at `port`, except this host's own addresses. A
/// channel naming one is refused when it attaches; an address added to the host later must
/// not make it send to itself either (a Master that heard its own frame would answer itself
/// in a loop). The receive side drops such frames as well.
fn peer_dests(peers: &[IpAddr], port: u16, origin: IpAddr) -> Vec<SocketAddr> {
    peer_dests_except(peers, port, origin, &host_addrs().unwrap_or_default())
}

fn peer_dests_except(
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

/// The first of `peers` that is this node's: one of `mine` (the channel's source and the
/// origin its frames carry) or of `host`, the addresses on this host's interfaces.
fn own_peer(peers: &[IpAddr], mine: &[IpAddr], host: &[IpAddr]) -> Option<IpAddr> {
    peers
        .iter()
        .copied()
        .find(|p| mine.contains(p) || host.contains(p))
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
