//! The TCP channel's part of the socket tables: its listener, keyed like a UDP socket, and
//! its outgoing connections, one per (instance, source, interface, peer), kept across a
//! reload that keeps the channel.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock, Weak};

use super::{
    Entry, Pending, Plan, SealedKey, Slot, Sockets, forget, frame_key, peer_dests, sealed_route,
};
use crate::daemon::DaemonError;
use crate::daemon::instance::ResolvedChannel;
use crate::daemon::sealed::{FrameJudge, SealedRoutes, Transport};
use crate::daemon::senders::{TxPath, Via};
use crate::daemon::stats::Stats;
use crate::daemon::tcp_link::TcpLink;
use crate::daemon::tcp_receiver;
use crate::net::{NetError, tcp_socket};
use crate::vrrp::Family;

/// A TCP listener: family, port, interface.
pub(super) type TcpKey = (Family, u16, String);

/// An outgoing connection: instance, source, interface, peer, and the channel counters it
/// reports to (by address: a live link holds them, so the address is not reused meanwhile).
pub(super) type LinkKey = (String, std::net::IpAddr, String, SocketAddr, usize);

impl Sockets {
    /// A `type: tcp` channel: the listener of its port, its receive route, and a path that
    /// queues each advert sealed for a connection to every peer.
    pub(super) fn attach_tcp(
        &mut self,
        plan: &Plan<'_>,
        slot: Slot<'_>,
        port: u16,
        key_file: &std::path::Path,
        pending: &mut Pending,
    ) -> Result<TxPath, DaemonError> {
        let ch = &slot.rc.channel;
        let key = frame_key(plan, key_file)?;
        let tkey: TcpKey = (plan.inst.family(), port, ch.interface.clone());
        self.tcp_listener(&tkey)?;
        let route = sealed_route(plan, slot.index, ch, &slot.stats, &key);
        pending.sealed.push((SealedKey::Tcp(tkey), route));
        let links = self.tcp_links(plan.name, slot.rc, port, &slot.stats);
        Ok(TxPath {
            label: slot.label,
            via: Via::Tcp {
                links,
                // The node's identity, as on a UDP channel.
                origin: plan.primary,
                key,
                key_file: key_file.to_owned(),
            },
            stats: slot.stats,
        })
    }

    /// Opens the listener of `key` unless it is open.
    pub(super) fn tcp_listener(&mut self, key: &TcpKey) -> Result<(), NetError> {
        if self.tcp.contains_key(key) {
            return Ok(());
        }
        let (family, port, iface) = key.clone();
        let listener = tcp_socket::listen(family, port, Some(&iface))?;
        let routes = Arc::new(RwLock::new(SealedRoutes::new()));
        let label = format!("tcp {iface}:{port}");
        let judge = FrameJudge::new(Transport::Tcp);
        let task = tokio::spawn(tcp_receiver::run(listener, label, routes.clone(), judge));
        self.tcp.insert(key.clone(), Entry { routes, task });
        Ok(())
    }

    /// The connections instance `name` sends channel `rc` on: one to each peer at `port`
    /// (never to an address of this host), the open ones taken over.
    pub(super) fn tcp_links(
        &mut self,
        name: &str,
        rc: &ResolvedChannel,
        port: u16,
        stats: &Arc<Stats>,
    ) -> Vec<Arc<TcpLink>> {
        self.links.retain(|_, link| link.strong_count() > 0);
        let iface = &rc.channel.interface;
        peer_dests(&rc.channel.peers, port, rc.src)
            .into_iter()
            .map(|peer| {
                let stats_at = Arc::as_ptr(stats) as usize;
                let key = (name.to_owned(), rc.src, iface.clone(), peer, stats_at);
                if let Some(open) = self.links.get(&key).and_then(Weak::upgrade) {
                    return open;
                }
                let link = Arc::new(TcpLink::open(
                    rc.src,
                    Some(iface.clone()),
                    peer,
                    stats.clone(),
                ));
                self.links.insert(key, Arc::downgrade(&link));
                link
            })
            .collect()
    }

    /// Removes `name`'s route from the listener of `key`, closing it if none is left. Its
    /// outgoing connections close with the send paths that hold them.
    pub(super) fn detach_tcp(&mut self, name: &str, key: &TcpKey) {
        if let Some(entry) = self.tcp.get(key)
            && forget(&entry.routes, name)
            && let Some(entry) = self.tcp.remove(key)
        {
            entry.task.abort();
        }
    }
}
