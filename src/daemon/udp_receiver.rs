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
use crate::vrrp::packet::{self, Received};
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
        match judge(frame, src, &table, &mut guards) {
            Ok((route, rx)) => deliver(route, &route.channels[0], &rx, false, &mut limiter),
            Err(dropped) => {
                stats.bump(dropped.reason);
                for route in dropped.counted_on {
                    route.stats.bump(dropped.reason);
                    route.channels[0].stats.bump(dropped.reason);
                }
                if let Some(held) = limiter.allow(Instant::now(), src, dropped.reason) {
                    warn!(channel = %label, %src, reason = dropped.reason, suppressed = held,
                        "dropped heartbeat frame: {}", dropped.why);
                }
            }
        }
    }
}

/// A refused frame: the counter it goes on, why, and the instances that count it.
struct Dropped<'a> {
    reason: &'static str,
    why: String,
    counted_on: Vec<&'a Route>,
}

/// Checks one frame from `src` in order (VRID, peer, MAC, replay, the advert inside) and
/// returns the instance's route with the advert it carries.
fn judge<'a>(
    frame: &[u8],
    src: IpAddr,
    table: &'a UdpRoutes,
    guards: &mut HashMap<u8, ReplayGuard>,
) -> Result<(&'a Route, Received), Dropped<'a>> {
    let Some(vrid) = udp_frame::vrid_hint(frame) else {
        // Too short to name a VRID, or not ours at all: the frame came to this port, so
        // every instance listening here counts it (usually there is one).
        let reason = if frame.len() < udp_frame::MIN_FRAME_LEN {
            "udp_truncated"
        } else {
            "udp_bad_magic"
        };
        return Err(Dropped {
            reason,
            why: "too short or not a vipd heartbeat frame".into(),
            counted_on: table.values().map(|r| &r.route).collect(),
        });
    };
    let Some(entry) = table.get(&vrid) else {
        return Err(Dropped {
            reason: "udp_unknown_vrid",
            why: "no instance of ours has the VRID it names".into(),
            counted_on: Vec::new(),
        });
    };
    let route = &entry.route;
    let refuse = |reason: &'static str, why: String| Dropped {
        reason,
        why,
        counted_on: vec![route],
    };
    if route.channels[0]
        .peers
        .as_ref()
        .is_some_and(|p| !p.contains(&src))
    {
        return Err(refuse(
            "not_a_unicast_peer",
            "not from a configured peer".into(),
        ));
    }
    let opened =
        udp_frame::open(&entry.key, frame).map_err(|r| refuse(r.label(), r.to_string()))?;
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    guards
        .entry(vrid)
        .or_insert_with(|| ReplayGuard::new(REPLAY_WINDOW))
        .check(opened.origin, opened.seq, now_unix)
        .map_err(|r| refuse(r.label(), r.to_string()))?;
    // The inner advert's checksum covers the origin twice (see udp_frame): NAT on the
    // path cannot break it, and the MAC has already vouched for every byte.
    let rx = packet::parse_vrrp(opened.vrrp, opened.origin, opened.origin, packet::TTL)
        .map_err(|r| refuse(r.label(), r.to_string()))?;
    Ok((route, rx))
}
