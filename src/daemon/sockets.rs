//! The sockets every instance shares, and how an instance's heartbeat channels attach to
//! them. A raw VRRP socket serves one (interface, family, source address); a sealed-frame
//! endpoint one place a transport receives at (a UDP socket or TCP listener: family, port,
//! interface; a serial line: its device). Each has a receive loop and a table of routes by
//! VRID; an instance is attached to as many as its channels need, and an endpoint closes
//! with its last route. A VRID in a table belongs to one instance: attaching a second one
//! to it is refused, never a replacement.
//!
//! The primary interface is channel 0, and each `channels:` entry k is channel k: every one
//! gets a receive route here and a send path ([`TxPath`]). Raw VRRP is `raw.rs`. A sealed
//! transport is a [`SealedTransport`] in a file of its own here (`udp.rs`, `tcp.rs`,
//! `serial.rs`) with its receive loop and sending half in `daemon`; everything generic
//! (the endpoint table, keys, claims, the send path, counters, link status) is written
//! once, here and in `sealed.rs`, `senders.rs`, `frame_queue.rs` and `stats.rs`.

use std::any::Any;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock, Weak};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::DaemonError;
use super::instance::ResolvedChannel;
use super::receiver::{Route, RxChannel};
use super::sealed::{FrameSink, SealedRoute, SealedRoutes};
use super::senders::{TxPath, Via};
use super::stats::Stats;
use crate::config::{Channel, ChannelKind, Instance};
use crate::net::VrrpSocket;
use crate::net::udp_socket::host_addrs;
use crate::vrrp::Family;
use crate::vrrp::router::Packet;
use crate::vrrp::udp_frame::FrameKey;

use raw::{RawKey, raw_holder};

mod raw;
mod serial;
mod tcp;
mod udp;

/// The transport of a sealed channel, or `None` for raw VRRP: the one place that names
/// each kind (the config arm picks the kind, its file here does the rest).
fn transport(ch: &Channel) -> Option<Box<dyn SealedTransport + '_>> {
    match &ch.kind {
        ChannelKind::Vrrp(_) => None,
        ChannelKind::Udp(net, port) => Some(Box::new(udp::Udp { net, port })),
        ChannelKind::Tcp(net, port) => Some(Box::new(tcp::Tcp { net, port })),
        ChannelKind::Serial(line) => Some(Box::new(serial::Serial { line })),
    }
}

/// A transport of sealed frames, as its file here implements it.
trait SealedTransport {
    /// The endpoint this channel receives at: one per key, one route per VRID there.
    fn key(&self, family: Family) -> SealedKey;

    /// Opens the endpoint of `key` to feed `routes`: its receive task, and what its send
    /// paths share (a socket, a line; `Arc<()>` when nothing). `lingering` is what an
    /// endpoint of this key closed earlier shared, if something still holds it (an aborted
    /// task not yet dropped, a stopping router's paths): take it back rather than open
    /// again, if the transport binds or opens exclusively.
    fn open(
        &self,
        key: &SealedKey,
        routes: Arc<RwLock<SealedRoutes>>,
        lingering: Option<Shared>,
    ) -> Result<(JoinHandle<()>, Shared), DaemonError>;

    /// Where `slot`'s path sends: its sinks. `shared` is the endpoint's; `reuse` keeps
    /// sinks across a reload that keeps the channel (an open connection stays open).
    fn sinks(
        &self,
        plan: &Plan<'_>,
        slot: &Slot<'_>,
        shared: &Shared,
        reuse: &mut SinkTable,
    ) -> Vec<Arc<dyn FrameSink>>;
}

/// What an endpoint's send paths share with its receive side.
type Shared = Arc<dyn Any + Send + Sync>;

/// A socket an instance is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// A raw VRRP socket.
    Raw(RawKey),
    /// A sealed-frame endpoint.
    Sealed(SealedKey),
}

/// Where a sealed transport receives: its `type:` word, the place as logs name it
/// ("eth2:5405", "/dev/ttyS1"), and the family for transports with one socket per family.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SealedKey {
    kind: &'static str,
    at: String,
    family: Option<Family>,
}

impl std::fmt::Display for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.at)
    }
}

struct Entry<R> {
    routes: Arc<RwLock<HashMap<u8, R>>>,
    task: JoinHandle<()>,
}

/// An open sealed-frame endpoint.
struct Endpoint {
    entry: Entry<SealedRoute>,
    shared: Shared,
}

/// Sinks kept across reloads, by instance, the transport's name for the sink, and the
/// channel counters it reports to (by address: a live sink holds them, so the address is
/// not reused meanwhile).
type SinkTable = HashMap<(String, String, usize), Weak<dyn FrameSink>>;

/// Receive routes waiting to go in once every socket an instance needs is open.
#[derive(Default)]
struct Pending {
    /// Raw sockets, each with the instance's channels it carries.
    raw: Vec<(RawKey, Vec<RxChannel>)>,
    /// Sealed-frame endpoints, one channel each.
    sealed: Vec<(SealedKey, SealedRoute)>,
}

/// One entry of `channels:` as it attaches.
struct Slot<'a> {
    /// Its channel index (the primary interface is 0).
    index: usize,
    /// The channel and our address on it.
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
    sealed: HashMap<SealedKey, Endpoint>,
    /// Sinks (TCP connections) kept across a reload that keeps their channel.
    sinks: SinkTable,
    /// What endpoints closed here shared, which may still be open elsewhere: an aborted
    /// receive task is dropped later, a stopping router task still sends on its paths. A
    /// UDP port is bound exclusively, so a reload that needs it again takes the open
    /// socket back rather than failing to bind while the old one lingers.
    lingering: HashMap<SealedKey, Weak<dyn Any + Send + Sync>>,
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
            let path = match transport(ch) {
                None => self.attach_vrrp(plan, slot, &mut pending)?,
                Some(t) => self.attach_sealed(plan, slot, &*t, &mut pending)?,
            };
            paths.push(path);
        }
        // Every socket is open: only now do routes go in, so a failure above leaves none.
        for (key, route) in pending.sealed {
            let routes = self.sealed_routes(&key).expect("opened above");
            claim(routes, inst.vrid, route)
                .map_err(|held| shared_route(plan, &key.to_string(), &held))?;
            attached.push(Attachment::Sealed(key));
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
        let raw_ifaces =
            std::iter::once(plan.parent).chain(plan.channels.iter().filter_map(|rc| {
                match &rc.channel.kind {
                    ChannelKind::Vrrp(net) => Some(net.interface.as_str()),
                    _ => None,
                }
            }));
        for iface in raw_ifaces {
            let tables = self.raw.iter().map(|(k, (_, e))| (k, &*e.routes));
            if let Some(held) = raw_holder(tables, iface, family, vrid, plan.name) {
                return Err(shared_route(plan, iface, &held));
            }
        }
        let mut mine: Vec<SealedKey> = Vec::new();
        let mut host = None;
        for rc in plan.channels {
            let Some(t) = transport(&rc.channel) else {
                continue;
            };
            let key = t.key(family);
            let on = key.to_string();
            let host = host.get_or_insert_with(|| host_addrs().unwrap_or_default());
            if let Some(peer) = own_peer(rc.channel.peers(), &[rc.src, plan.primary], host) {
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
        self.sealed.retain(|key, e| {
            let keep = !read(&e.entry.routes).is_empty();
            if !keep {
                e.entry.task.abort();
                lingering.insert(key.clone(), Arc::downgrade(&e.shared));
            }
            keep
        });
    }

    /// The route table of an open sealed-frame socket.
    fn sealed_routes(&self, key: &SealedKey) -> Option<&RwLock<SealedRoutes>> {
        self.sealed.get(key).map(|e| &*e.entry.routes)
    }

    /// A sealed channel: its transport's endpoint (opened unless open), its receive route,
    /// and a path that seals each advert for the transport's sinks.
    fn attach_sealed(
        &mut self,
        plan: &Plan<'_>,
        slot: Slot<'_>,
        t: &dyn SealedTransport,
        pending: &mut Pending,
    ) -> Result<TxPath, DaemonError> {
        let ch = &slot.rc.channel;
        let key_file = ch.key_file().expect("a sealed channel has a key");
        let key = frame_key(plan, key_file)?;
        let skey = t.key(plan.inst.family());
        let shared = self.endpoint(&skey, t)?;
        let route = sealed_route(plan, slot.index, ch.peers(), &slot.stats, &key);
        pending.sealed.push((skey, route));
        self.sinks.retain(|_, sink| sink.strong_count() > 0);
        let sinks = t.sinks(plan, &slot, &shared, &mut self.sinks);
        Ok(TxPath {
            label: slot.label,
            via: Via::Sealed {
                sinks,
                origin: plan.primary,
                key,
                key_file: key_file.to_owned(),
            },
            stats: slot.stats,
        })
    }

    /// What the endpoint of `key` shares, opening it first unless it is open.
    fn endpoint(
        &mut self,
        key: &SealedKey,
        t: &dyn SealedTransport,
    ) -> Result<Shared, DaemonError> {
        if let Some(e) = self.sealed.get(key) {
            return Ok(e.shared.clone());
        }
        self.lingering.retain(|_, w| w.strong_count() > 0);
        let lingering = self.lingering.remove(key).and_then(|w| w.upgrade());
        let routes = Arc::new(RwLock::new(SealedRoutes::new()));
        let (task, shared) = t.open(key, routes.clone(), lingering)?;
        let entry = Entry { routes, task };
        self.sealed.insert(
            key.clone(),
            Endpoint {
                entry,
                shared: shared.clone(),
            },
        );
        Ok(shared)
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
                Attachment::Sealed(key) => {
                    if let Some(e) = self.sealed.get(key)
                        && forget(&e.entry.routes, name)
                        && let Some(e) = self.sealed.remove(key)
                    {
                        e.entry.task.abort();
                        self.lingering
                            .insert(key.clone(), Arc::downgrade(&e.shared));
                    }
                }
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
    peers: &[IpAddr],
    stats: &Arc<Stats>,
    key: &Arc<FrameKey>,
) -> SealedRoute {
    SealedRoute {
        route: route_of(
            plan,
            vec![RxChannel {
                index,
                peers: Some(peers.to_vec()),
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
