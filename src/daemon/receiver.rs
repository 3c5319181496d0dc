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
use crate::vrrp::packet::ChecksumKind;
use crate::vrrp::packet::{self, AddressCheck, Auth, Expected, Received, Reject};
use crate::vrrp::router::{Advert, Input};
use crate::vrrp::timing::Centis;
use crate::vrrp::{Family, V3Checksum, Version};

/// The instances a socket serves, by VRID; changes with reloads.
pub type Routes = HashMap<u8, Route>;

/// Where adverts for one VRID go, and what they must look like.
pub struct Route {
    /// Instance name.
    pub name: String,
    /// The router task's inbox.
    pub inbox: mpsc::Sender<Input>,
    /// Protocol version.
    pub version: Version,
    /// VRRPv2 authentication.
    pub auth: Auth,
    /// Own advert interval (VRRPv2 adverts must match it).
    pub interval: Centis,
    /// The VIPs (for the address-list comparison).
    pub vips: Vec<IpAddr>,
    /// The VRRPv3-over-IPv4 checksum convention this instance sends (to name a mismatch).
    pub checksum: V3Checksum,
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
    /// Unicast peers; when set, adverts from anyone else are not this channel's and TTL is
    /// not checked. `None`: multicast, anyone on the link.
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
        deliver(route, channel, &rx, channel.peers.is_none(), &mut limiter);
    }
}

/// Checks a well-formed advert against the instance and hands it to the router as arrived
/// on `channel`. Rejections count on the instance and on the channel.
pub(super) fn deliver(
    route: &Route,
    channel: &RxChannel,
    rx: &Received,
    ttl_must_be_255: bool,
    limiter: &mut LogLimiter,
) {
    let now = Instant::now();
    let expected = Expected {
        version: route.version,
        vrid: rx.advert.vrid,
        auth: route.auth,
        interval: route.interval,
        vips: &route.vips,
        ttl_must_be_255,
    };
    match packet::check_against(rx, &expected) {
        Ok(AddressCheck::Match) => {}
        Ok(AddressCheck::Mismatch { ours, theirs }) => {
            // RFC 9568 §6.4: still processed. Dropping it is how keepalived 2.2 makes two
            // Masters during a rolling config change.
            route.stats.bump("address_mismatch");
            if let Some(held) = limiter.allow(now, rx.src, "address_mismatch") {
                warn!(instance = %route.name, src = %rx.src, ?ours, ?theirs, suppressed = held, "advert lists other virtual addresses than ours; processing it anyway");
            }
        }
        Err(reject) => {
            route.stats.bump(reject.label());
            channel.stats.bump(reject.label());
            if let Some(held) = limiter.allow(now, rx.src, reject.label()) {
                warn!(instance = %route.name, src = %rx.src, reason = reject.label(), suppressed = held, "dropped advert: {reject}");
            }
            return;
        }
    }
    route.stats.bump("adverts_received");
    channel.stats.bump("adverts_received");
    channel.stats.advert_seen();
    route.stats.bump(rx.checksum.label());
    if let Some(why) = checksum_mismatch(route.checksum, rx.checksum)
        && let Some(held) = limiter.allow(now, rx.src, "checksum_convention_mismatch")
    {
        warn!(instance = %route.name, src = %rx.src, suppressed = held, "VRRPv3 checksum convention mismatch: {why}");
    }
    let advert = Advert {
        from: rx.src,
        channel: channel.index,
        priority: rx.advert.priority,
        interval: rx.advert.interval,
    };
    match route.inbox.try_send(Input::Advert(advert)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => route.stats.bump("inbox_full"),
        Err(TrySendError::Closed(_)) => {}
    }
}

/// Why a peer whose adverts carry the `got` checksum convention probably drops ours, sent with
/// `ours`, and the setting that fixes it; `None` when they agree. We accept both forms, but
/// keepalived 2.2 and FRR verify only the pseudo-header form and drop the other as
/// "Invalid VRRPv3 checksum", so a mismatch makes two Masters.
fn checksum_mismatch(ours: V3Checksum, got: ChecksumKind) -> Option<&'static str> {
    match (ours, got) {
        (V3Checksum::Rfc9568, ChecksumKind::V3Ipv4PseudoHeader) => Some(
            "the peer computes its checksum over an IPv4 pseudo-header (keepalived and FRR do) \
             but this instance sends RFC 9568 checksums (v3_checksum: rfc9568); such peers \
             drop our adverts as invalid and also become Master. Set `v3_checksum: pseudo-header`",
        ),
        (V3Checksum::PseudoHeader, ChecksumKind::V3Ipv4Rfc9568) => Some(
            "the peer sends RFC 9568 checksums (no IPv4 pseudo-header; routers and \
             keepalived's v3_checksum_as_v2 do) but this instance includes the pseudo-header \
             (v3_checksum: pseudo-header, the default); a peer that verifies drops our \
             adverts and also becomes Master. Set `v3_checksum: rfc9568`",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checksum_convention_mismatch_names_the_setting_that_fixes_it() {
        let to_pseudo = checksum_mismatch(V3Checksum::Rfc9568, ChecksumKind::V3Ipv4PseudoHeader);
        assert!(to_pseudo.unwrap().contains("v3_checksum: pseudo-header"));
        let to_rfc = checksum_mismatch(V3Checksum::PseudoHeader, ChecksumKind::V3Ipv4Rfc9568);
        assert!(to_rfc.unwrap().contains("v3_checksum: rfc9568`"));
    }

    #[test]
    fn agreeing_or_other_conventions_are_not_a_mismatch() {
        for ours in [V3Checksum::PseudoHeader, V3Checksum::Rfc9568] {
            for got in [ChecksumKind::V2, ChecksumKind::V3Ipv6] {
                assert_eq!(checksum_mismatch(ours, got), None);
            }
        }
        assert_eq!(
            checksum_mismatch(V3Checksum::Rfc9568, ChecksumKind::V3Ipv4Rfc9568),
            None
        );
        assert_eq!(
            checksum_mismatch(V3Checksum::PseudoHeader, ChecksumKind::V3Ipv4PseudoHeader),
            None
        );
    }
}
