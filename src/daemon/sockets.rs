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
//! once: here, in `endpoint.rs`, and in `daemon`'s `sealed.rs`, `senders.rs`,
//! `frame_queue.rs` and `stats.rs`.

use std::any::Any;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock, Weak};

use tokio::task::JoinHandle;

use super::DaemonError;
use super::driver::Door;
use super::instance::ResolvedChannel;
use super::receiver::{ByVrid, Route, RxChannel};
use super::sealed::{SealedRoute, SealedRoutes};
use super::senders::TxPath;
use super::stats::Stats;
use super::wakeup::SharedTimer;
use crate::config::{Channel, ChannelKind, Instance};
use crate::net::VrrpSocket;
use crate::net::udp_socket::host_addrs;
use crate::vrrp::udp_frame::FrameKey;

pub use endpoint::SealedKey;
use endpoint::{Endpoint, SealedTransport, SinkTable};
use raw::{RawKey, raw_holder};

mod endpoint;
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

/// A socket an instance is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// A raw VRRP socket.
    Raw(RawKey),
    /// A sealed-frame endpoint.
    Sealed(SealedKey),
}

struct Entry<R> {
    routes: Arc<RwLock<ByVrid<R>>>,
    task: JoinHandle<()>,
}

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
    /// The routers' shared timer, whose deadlines a raw receive loop's pause after a burst
    /// must not delay.
    timer: Option<SharedTimer>,
}

/// An instance's counters per channel label, kept across reloads so they only grow. A
/// list grown one entry at a time, not a map: an instance has a channel or two, and a map's
/// first entry took room for three.
pub type ChannelStats = Vec<(String, Arc<Stats>)>;

/// What one instance needs to attach: its identity and where its channels go.
pub struct Plan<'a> {
    /// Instance name (its receive routes share it).
    pub name: &'a Arc<str>,
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
    /// Where its receive loops hand the router adverts.
    pub router: Door,
    /// Instance counters.
    pub stats: Arc<Stats>,
    /// UDP keys by file.
    pub keys: &'a HashMap<std::path::PathBuf, Arc<FrameKey>>,
}

impl Sockets {
    /// No socket yet; raw receive loops will keep clear of `timer`'s deadlines.
    pub fn new(timer: Option<SharedTimer>) -> Self {
        Sockets {
            timer,
            ..Sockets::default()
        }
    }

    /// Attaches the instance to every socket its channels need (opening them as needed) and
    /// returns its send paths, primary first. Routes it had on sockets it no longer uses are
    /// not touched: [`Sockets::detach`] the difference. Fails, attaching nothing, when
    /// another instance already receives this VRID on one of those sockets.
    pub fn attach(
        &mut self,
        plan: &Plan<'_>,
        channel_stats: &mut ChannelStats,
    ) -> Result<(Arc<[TxPath]>, Vec<Attachment>), DaemonError> {
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
        channel_stats: &mut ChannelStats,
    ) -> Result<(Arc<[TxPath]>, Vec<Attachment>), DaemonError> {
        let inst = plan.inst;
        let mut stats_of = |label: &str| match channel_stats.iter().find(|(l, _)| l == label) {
            Some((_, stats)) => stats.clone(),
            None => {
                let stats = Arc::new(Stats::default());
                channel_stats.reserve_exact(1);
                channel_stats.push((label.to_owned(), stats.clone()));
                stats
            }
        };
        // Sized exactly: both live as long as the instance, and a first push reserves room
        // for four (a path is over a hundred bytes). The paths then go into one allocation
        // with their `Arc`'s counts: a shared `Vec` took a second one, 48 bytes an instance.
        let mut paths = Vec::with_capacity(1 + plan.channels.len());
        let mut pending = Pending::default();

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
        let mut attached = Vec::with_capacity(pending.sealed.len() + pending.raw.len());
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
        Ok((paths.into(), attached))
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
fn other_holder<R: Named>(table: &ByVrid<R>, vrid: u8, name: &str) -> Option<String> {
    table
        .get(&vrid)
        .filter(|r| r.name() != name)
        .map(|r| r.name().to_owned())
}

/// Puts `route` in the table for `vrid`. The instance's own earlier route (a reload) is
/// replaced; another instance's is not: its name comes back as the error, because the
/// receiver tells instances apart by VRID alone and one of them would go deaf.
fn claim<R: Named>(routes: &RwLock<ByVrid<R>>, vrid: u8, route: R) -> Result<(), String> {
    let mut table = write(routes);
    if let Some(held) = other_holder(&table, vrid, route.name()) {
        return Err(held);
    }
    table.insert(vrid, route);
    super::late_reads::changed();
    Ok(())
}

/// The error for `plan`'s instance meeting `held`'s route for the same VRID on `on`.
fn shared_route(plan: &Plan<'_>, on: &str, held: &str) -> DaemonError {
    let (name, vrid, family) = (plan.name, plan.inst.vrid, plan.inst.family());
    let who = if held == &**name {
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

fn forget<R: Named>(routes: &RwLock<ByVrid<R>>, name: &str) -> bool {
    let mut table = write(routes);
    table.retain(|_, r| r.name() != name);
    super::late_reads::changed();
    table.is_empty()
}

fn route_of(plan: &Plan<'_>, channels: Vec<RxChannel>) -> Route {
    Route {
        name: plan.name.to_owned(),
        router: plan.router.clone(),
        channels,
        stats: plan.stats.clone(),
    }
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
