//! The receive loop of one VRRP socket: parse, validate, and hand each advert to the router
//! task of its VRID. Every dropped packet has a reason and a counter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::{debug, warn};

use super::stats::{LogLimiter, Stats};
use crate::net::VrrpSocket;
use crate::vrrp::packet::{self, Received, Reject};
use crate::vrrp::router::{Arrival, Packet};

use crate::vrrp::Family;

/// The instances a socket serves, by VRID; changes with reloads.
pub type Routes = HashMap<u8, Route>;

/// Where adverts for one VRID go. What they must look like is the router's to judge, by its
/// own configuration.
pub struct Route {
    /// Instance name.
    pub name: String,
    /// The router task's packet lane (see [`super::driver::Inbox`]).
    pub packets: mpsc::Sender<Box<Packet>>,
    /// The instance's heartbeat channels this socket carries (the primary interface's
    /// multicast or unicast path, and extra channels over the same interface).
    pub channels: Vec<RxChannel>,
    /// Counters.
    pub stats: Arc<Stats>,
}

/// One heartbeat channel as a receive loop sees it.
#[derive(Clone)]
pub struct RxChannel {
    /// Its index: 0 is the primary interface, k the k-th entry of `channels:`.
    pub index: usize,
    /// Unicast peers; when set, adverts from anyone else are not this channel's. `None`:
    /// multicast, anyone on the link.
    pub peers: Option<Vec<IpAddr>>,
    /// The channel's own counters.
    pub stats: Arc<Stats>,
}

impl Route {
    /// The channel an advert from `src` arrived on: a unicast channel that lists `src`, else
    /// the multicast one.
    fn channel_of(&self, src: IpAddr) -> Option<&RxChannel> {
        let listed = |c: &&RxChannel| c.peers.as_ref().is_some_and(|p| p.contains(&src));
        self.channels
            .iter()
            .find(listed)
            .or_else(|| self.channels.iter().find(|c| c.peers.is_none()))
    }
}

/// Receives on `socket` until it fails for good. `own` are this host's addresses: a packet
/// from one of them is our own and is ignored.
pub async fn run(
    socket: Arc<VrrpSocket>,
    iface: String,
    routes: Arc<RwLock<Routes>>,
    own: Vec<IpAddr>,
) {
    // Packets that belong to no instance (malformed, other VRIDs) are counted here.
    let stats = Stats::default();
    let mut limiter = LogLimiter::new(Duration::from_secs(10));
    loop {
        let pkt = match socket.recv().await {
            Ok(pkt) => pkt,
            Err(error) => {
                warn!(interface = %iface, %error, "receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if own.contains(&pkt.src) {
            stats.bump("own_adverts");
            continue;
        }
        let parsed = match socket.family() {
            Family::V4 => packet::parse_ipv4(&pkt.data),
            Family::V6 => packet::parse_vrrp(&pkt.data, pkt.src, pkt.dst, pkt.hop_limit),
        };
        let rx = match parsed {
            Ok(rx) => rx,
            Err(reject) => {
                stats.bump(reject.label());
                if let Some(held) = limiter.allow(Instant::now(), pkt.src, reject.label()) {
                    warn!(interface = %iface, src = %pkt.src, reason = reject.label(), suppressed = held, "dropped malformed packet: {reject}");
                }
                continue;
            }
        };
        let table = routes.read().unwrap_or_else(|e| e.into_inner());
        let Some(route) = table.get(&rx.advert.vrid) else {
            // Other clusters share LANs all the time: count, and say so only at debug level.
            stats.bump(Reject::UnknownVrid(rx.advert.vrid).label());
            debug!(interface = %iface, src = %rx.src, vrid = rx.advert.vrid, "advert for a VRID we do not run");
            continue;
        };
        let Some(channel) = route.channel_of(rx.src) else {
            route.stats.bump("not_a_unicast_peer");
            if let Some(held) = limiter.allow(Instant::now(), rx.src, "not_a_unicast_peer") {
                warn!(instance = %route.name, src = %rx.src, suppressed = held, "dropped advert from an address that is not a configured unicast peer");
            }
            continue;
        };
        let arrival = match channel.peers {
            None => Arrival::Multicast,
            Some(_) => Arrival::Unicast,
        };
        deliver(route, channel, rx, arrival);
    }
}

/// Hands a well-formed advert to the router of `route` as arrived on `channel`; the router
/// judges it and reports what became of it. A full inbox drops it here, counted.
pub(super) fn deliver(route: &Route, channel: &RxChannel, rx: Received, arrival: Arrival) {
    let packet = Packet {
        received: rx,
        channel: channel.index,
        arrival,
    };
    match route.packets.try_send(Box::new(packet)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => route.stats.bump("inbox_full"),
        Err(TrySendError::Closed(_)) => {}
    }
}
