//! The sockets every instance shares, and how an instance's heartbeat channels attach to
//! them. A raw VRRP socket serves one (interface, family, source address); a UDP socket one
//! (family, port, interface). Each has a receive loop and a table of routes by VRID; an
//! instance is attached to as many as its channels need, and a socket closes with its last
//! route.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::DaemonError;
use super::instance::ResolvedChannel;
use super::receiver::{self, Route, Routes, RxChannel};
use super::senders::{TxPath, Via};
use super::stats::Stats;
use super::udp_receiver::{self, UdpRoute, UdpRoutes};
use crate::config::{ChannelKind, Instance};
use crate::net::udp_socket::UdpChannelSocket;
use crate::net::{NetError, VrrpSocket};
use crate::vrrp::packet::{self, Auth};
use crate::vrrp::router::Input;
use crate::vrrp::udp_frame::FrameKey;
use crate::vrrp::{Family, Version};

/// A raw VRRP socket: interface, family, source address.
type RawKey = (String, Family, IpAddr);
/// A UDP heartbeat socket: family, port, interface.
type UdpKey = (Family, u16, String);

/// A socket an instance is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// A raw VRRP socket.
    Raw(RawKey),
    /// A UDP socket.
    Udp(UdpKey),
}

struct Entry<R> {
    routes: Arc<RwLock<HashMap<u8, R>>>,
    task: JoinHandle<()>,
}

/// Every open heartbeat socket.
#[derive(Default)]
pub struct Sockets {
    raw: HashMap<RawKey, (Arc<VrrpSocket>, Entry<Route>)>,
    udp: HashMap<UdpKey, (Arc<UdpChannelSocket>, Entry<UdpRoute>)>,
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
    /// The router's inbox.
    pub inbox: mpsc::Sender<Input>,
    /// Instance counters.
    pub stats: Arc<Stats>,
    /// UDP keys by file.
    pub keys: &'a HashMap<std::path::PathBuf, Arc<FrameKey>>,
}

impl Sockets {
    /// Attaches the instance to every socket its channels need (opening them as needed) and
    /// returns its send paths, primary first. Routes it had on sockets it no longer uses are
    /// not touched: [`Sockets::detach`] the difference.
    pub fn attach(
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
                    let key = plan.keys.get(key_file).cloned().ok_or_else(|| {
                        DaemonError::Config(format!(
                            "instance {}: key file {} was not loaded",
                            plan.name,
                            key_file.display()
                        ))
                    })?;
                    let ukey: UdpKey = (family, *port, ch.interface.clone());
                    let socket = self.udp_socket(&ukey)?;
                    let route = UdpRoute {
                        route: route_of(
                            plan,
                            vec![RxChannel {
                                index,
                                peers: Some(ch.peers.clone()),
                                stats: stats.clone(),
                            }],
                        ),
                        key: key.clone(),
                    };
                    let (_, entry) = &self.udp[&ukey];
                    write(&entry.routes).insert(inst.vrid, route);
                    attached.push(Attachment::Udp(ukey));
                    paths.push(TxPath {
                        label,
                        via: Via::Udp {
                            socket,
                            origin: rc.src,
                            dests: ch
                                .peers
                                .iter()
                                .map(|p| SocketAddr::new(*p, *port))
                                .collect(),
                            key,
                            key_file: key_file.clone(),
                        },
                        stats,
                    });
                }
            }
        }
        for (key, channels) in raw_rx {
            let (_, entry) = &self.raw[&key];
            write(&entry.routes).insert(inst.vrid, route_of(plan, channels));
            attached.push(Attachment::Raw(key));
        }
        Ok((Arc::new(paths), attached))
    }

    /// Updates what the receivers of `attachments` compare `inst`'s adverts with (its VIPs
    /// and advert interval) when a reload changed those and nothing else they use.
    pub fn refresh(&self, attachments: &[Attachment], inst: &Instance) {
        let update = |route: &mut Route| {
            route.vips = inst.vips.iter().map(|v| v.addr.addr()).collect();
            route.interval = inst.advert_interval;
        };
        for a in attachments {
            match a {
                Attachment::Raw(key) => {
                    if let Some((_, entry)) = self.raw.get(key)
                        && let Some(route) = write(&entry.routes).get_mut(&inst.vrid)
                    {
                        update(route);
                    }
                }
                Attachment::Udp(key) => {
                    if let Some((_, entry)) = self.udp.get(key)
                        && let Some(udp) = write(&entry.routes).get_mut(&inst.vrid)
                    {
                        update(&mut udp.route);
                    }
                }
            }
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
                        && let Some((_, entry)) = self.udp.remove(key)
                    {
                        entry.task.abort();
                    }
                }
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
        let socket = Arc::new(UdpChannelSocket::bind(family, port, Some(&iface))?);
        let routes = Arc::new(RwLock::new(UdpRoutes::new()));
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
impl Named for UdpRoute {
    fn name(&self) -> &str {
        &self.route.name
    }
}

fn forget<R: Named>(routes: &RwLock<HashMap<u8, R>>, name: &str) -> bool {
    let mut table = write(routes);
    table.retain(|_, r| r.name() != name);
    table.is_empty()
}

fn add_rx(list: &mut Vec<(RawKey, Vec<RxChannel>)>, key: RawKey, ch: RxChannel) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => v.push(ch),
        None => list.push((key, vec![ch])),
    }
}

fn route_of(plan: &Plan<'_>, channels: Vec<RxChannel>) -> Route {
    let inst = plan.inst;
    Route {
        name: plan.name.to_owned(),
        inbox: plan.inbox.clone(),
        version: inst.version,
        auth: auth_of(inst),
        interval: inst.advert_interval,
        vips: inst.vips.iter().map(|v| v.addr.addr()).collect(),
        checksum: inst.v3_checksum,
        channels,
        stats: plan.stats.clone(),
    }
}

/// The VRRPv2 authentication an instance sends and expects.
pub fn auth_of(inst: &Instance) -> Auth {
    match (&inst.auth, inst.version) {
        (Some(a), Version::V2) => Auth::simple(a.password.as_bytes()).unwrap_or(Auth::None),
        _ => Auth::None,
    }
}

fn group_address(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(packet::MULTICAST_V4),
        Family::V6 => IpAddr::V6(packet::MULTICAST_V6),
    }
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
