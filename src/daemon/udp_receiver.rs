//! The receive loop of one UDP heartbeat socket: authenticate, refuse replays, then hand the
//! advert inside to the router like any other. Every dropped frame has a reason and a counter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::warn;

use super::receiver::{Route, deliver};
use super::stats::{LogLimiter, Stats};
use crate::net::udp_socket::UdpChannelSocket;
use crate::vrrp::packet::{self, Reject};
use crate::vrrp::udp_frame::{self, FrameKey, ReplayGuard};

/// How far the first frame from a sender may be from our clock: a replay of an older capture
/// after we restart is refused. Nodes of a pair keep their clocks in step (NTP) anyway.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(60);

/// The largest frame read: a v3 IPv6 advert with 255 addresses plus the envelope.
const MAX_FRAME: usize = 4200;

/// The instances a UDP socket serves, by VRID; changes with reloads.
pub type UdpRoutes = HashMap<u8, UdpRoute>;

/// Where frames for one VRID go, and the key that authenticates them.
pub struct UdpRoute {
    /// The instance's route; its one channel is this UDP channel.
    pub route: Route,
    /// The shared key.
    pub key: Arc<FrameKey>,
}

/// Receives on `socket` until the task is aborted.
pub async fn run(socket: Arc<UdpChannelSocket>, label: String, routes: Arc<RwLock<UdpRoutes>>) {
    // Frames that belong to no instance (no VRID we run, unreadable) are counted here.
    let stats = Stats::default();
    let mut limiter = LogLimiter::new(Duration::from_secs(10));
    // Per VRID: each instance has its own key and its own senders.
    let mut guards: HashMap<u8, ReplayGuard> = HashMap::new();
    let mut buf = vec![0u8; MAX_FRAME];
    loop {
        let (len, from) = match socket.recv(&mut buf).await {
            Ok(got) => got,
            Err(error) => {
                warn!(channel = %label, %error, "receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let frame = &buf[..len];
        let src = from.ip().to_canonical();
        let table = routes.read().unwrap_or_else(|e| e.into_inner());
        let Some(vrid) = udp_frame::vrid_hint(frame) else {
            // Too short to name a VRID, or not ours at all: the frame came to this port, so
            // every instance listening here counts it (usually there is one).
            let reason = if frame.len() < udp_frame::MIN_FRAME_LEN {
                "udp_truncated"
            } else {
                "udp_bad_magic"
            };
            stats.bump(reason);
            for r in table.values() {
                r.route.stats.bump(reason);
                r.route.channels[0].stats.bump(reason);
            }
            drop_frame(
                &mut limiter,
                &label,
                src,
                reason,
                "too short or not a vipd heartbeat frame",
            );
            continue;
        };
        let Some(entry) = table.get(&vrid) else {
            stats.bump("udp_unknown_vrid");
            drop_frame(
                &mut limiter,
                &label,
                src,
                "udp_unknown_vrid",
                "no instance of ours has the VRID it names",
            );
            continue;
        };
        let route = &entry.route;
        let channel = &route.channels[0];
        let count = |label: &'static str| {
            route.stats.bump(label);
            channel.stats.bump(label);
        };
        if channel.peers.as_ref().is_some_and(|p| !p.contains(&src)) {
            count("not_a_unicast_peer");
            drop_frame(
                &mut limiter,
                &label,
                src,
                "not_a_unicast_peer",
                "not from a configured peer",
            );
            continue;
        }
        let opened = match udp_frame::open(&entry.key, frame) {
            Ok(o) => o,
            Err(reject) => {
                count(reject.label());
                drop_frame(
                    &mut limiter,
                    &label,
                    src,
                    reject.label(),
                    &reject.to_string(),
                );
                continue;
            }
        };
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let guard = guards
            .entry(vrid)
            .or_insert_with(|| ReplayGuard::new(REPLAY_WINDOW));
        if let Err(reject) = guard.check(opened.origin, opened.seq, now_unix) {
            count(reject.label());
            drop_frame(
                &mut limiter,
                &label,
                src,
                reject.label(),
                &reject.to_string(),
            );
            continue;
        }
        // The inner advert's checksum covers the origin twice (see udp_frame): NAT on the
        // path cannot break it, and the MAC has already vouched for every byte.
        match packet::parse_vrrp(opened.vrrp, opened.origin, opened.origin, packet::TTL) {
            Ok(rx) => deliver(route, channel, &rx, false, &mut limiter),
            Err(reject) => {
                let reject: Reject = reject;
                count(reject.label());
                drop_frame(
                    &mut limiter,
                    &label,
                    src,
                    reject.label(),
                    &reject.to_string(),
                );
            }
        }
    }
}

fn drop_frame(limiter: &mut LogLimiter, label: &str, src: IpAddr, reason: &'static str, why: &str) {
    if let Some(held) = limiter.allow(Instant::now(), src, reason) {
        warn!(channel = %label, %src, reason, suppressed = held, "dropped heartbeat frame: {why}");
    }
}
