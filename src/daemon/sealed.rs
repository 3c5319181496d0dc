//! Judging sealed heartbeat frames, whatever carried them (UDP datagrams, a TCP stream, a
//! serial line): refuse our own frames, authenticate, refuse replays, then hand the advert
//! inside to the router like any other. Every dropped frame has a reason and a counter.
//!
//! Also the sending side's seam: a sealed channel's path hands each frame to its
//! [`FrameSink`]s (a datagram destination, a peer connection, a serial line), whatever they
//! are, and never waits on them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::warn;

use super::receiver::{Route, deliver};
use super::stats::{LogLimiter, Stats, prefixed};
use crate::net::udp_socket::host_addrs;
use crate::vrrp::packet::{self, Received};
use crate::vrrp::router::Arrival;
use crate::vrrp::udp_frame::{self, FrameKey, ReplayGuard};

/// How far a frame's time may be from our clock, either way: an older capture replayed is
/// refused. Nodes of a pair keep their clocks in step (NTP) anyway.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(60);

/// The instances a sealed channel's socket serves, by VRID; changes with reloads.
pub type SealedRoutes = super::receiver::ByVrid<SealedRoute>;

/// How often a receive loop re-reads this host's addresses, so one added after the socket
/// opened (DHCP, a new channel) is known within this, without a syscall per frame.
const OWN_REFRESH: Duration = Duration::from_secs(5);

/// Where frames for one VRID go, and the key that authenticates them.
pub struct SealedRoute {
    /// The instance's route; its one channel is this sealed channel.
    pub route: Route,
    /// The shared key.
    pub key: Arc<FrameKey>,
    /// Our own address on the channel, the origin sealed into the frames we send: a frame
    /// that comes back with it is ours.
    pub origin: IpAddr,
}

/// This host's addresses as last read, re-read at most every [`OWN_REFRESH`].
struct OwnAddrs {
    addrs: Vec<IpAddr>,
    read_at: Instant,
    read: fn() -> std::io::Result<Vec<IpAddr>>,
}

impl OwnAddrs {
    fn new(now: Instant, read: fn() -> std::io::Result<Vec<IpAddr>>) -> Self {
        let mut own = OwnAddrs {
            addrs: Vec::new(),
            read_at: now,
            read,
        };
        own.reread(now);
        own
    }

    /// The addresses, re-read first when the last read is [`OWN_REFRESH`] old.
    fn at(&mut self, now: Instant) -> &[IpAddr] {
        if now.saturating_duration_since(self.read_at) >= OWN_REFRESH {
            self.reread(now);
        }
        &self.addrs
    }

    fn reread(&mut self, now: Instant) {
        self.read_at = now;
        match (self.read)() {
            Ok(addrs) => self.addrs = addrs,
            // The last list (and the routes' own origins) still hold; try again later.
            Err(error) => warn!(%error, "cannot list this host's addresses"),
        }
    }
}

/// Which transport carried a frame, by its `type:` word: the frame's reasons are counted
/// under that prefix (`udp_bad_mac`, `tcp_bad_mac`, `serial_bad_mac`), so a channel's
/// counters say where a forged frame came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport(&'static str);

impl Transport {
    /// Datagrams (`type: udp`): the frame's reasons are named for it.
    pub const UDP: Transport = Transport("udp");

    /// The transport whose counters start with `prefix` (its `type:` word).
    pub const fn new(prefix: &'static str) -> Self {
        Transport(prefix)
    }

    /// The counter for `reason` (as the UDP path names it: `udp_*`) on this transport;
    /// reasons not about the frame (`own_frame`) are the same on every transport.
    pub fn label(self, reason: &'static str) -> &'static str {
        match reason.strip_prefix("udp_") {
            Some(rest) if self != Transport::UDP => prefixed(self.0, rest),
            _ => reason,
        }
    }
}

/// One destination of a sealed channel's frames: a peer address on a socket, a connection
/// to a peer, a serial line. The router task calls it for every advert, so it never waits:
/// it sends at once or queues.
pub trait FrameSink: Send + Sync {
    /// Hands over one sealed frame; `Err` says why it did not go (for the send-error log).
    fn push(&self, frame: &[u8]) -> Result<(), String>;
}

/// Judges sealed frames for one socket (or one listener and all its connections): the
/// replay guards live here, per VRID, so a frame replayed on another connection is still
/// the same sender's old frame.
pub struct FrameJudge {
    transport: Transport,
    /// Frames that belong to no instance (no VRID we run, unreadable) are counted here.
    stats: Stats,
    limiter: LogLimiter,
    /// Per VRID: each instance has its own key and its own senders.
    guards: HashMap<u8, ReplayGuard>,
    own: OwnAddrs,
}

impl FrameJudge {
    /// A judge for frames arriving over `transport`.
    pub fn new(transport: Transport) -> Self {
        Self::with_own_addrs(transport, host_addrs)
    }

    /// A judge that reads this host's addresses with `read` (tests: none are ours).
    pub fn with_own_addrs(
        transport: Transport,
        read: fn() -> std::io::Result<Vec<IpAddr>>,
    ) -> Self {
        FrameJudge {
            transport,
            stats: Stats::default(),
            limiter: LogLimiter::new(Duration::from_secs(10)),
            guards: HashMap::new(),
            own: OwnAddrs::new(Instant::now(), read),
        }
    }

    /// Checks `frame` from `src` and hands its advert to the instance it belongs to, or
    /// counts (and rate-limits a log line about) why it was refused.
    pub fn take(&mut self, frame: &[u8], src: IpAddr, routes: &RwLock<SealedRoutes>, label: &str) {
        self.take_from(frame, Some(src), routes, label);
    }

    /// The same for a frame from a line without addresses (a serial line): the sender is
    /// the identity sealed in the frame, which must be the channel's peer.
    pub fn take_unaddressed(&mut self, frame: &[u8], routes: &RwLock<SealedRoutes>, label: &str) {
        self.take_from(frame, None, routes, label);
    }

    fn take_from(
        &mut self,
        frame: &[u8],
        src: Option<IpAddr>,
        routes: &RwLock<SealedRoutes>,
        label: &str,
    ) {
        let own = self.own.at(Instant::now());
        let table = routes.read().unwrap_or_else(|e| e.into_inner());
        match judge(frame, src, &table, &mut self.guards, own) {
            Ok((route, rx)) => deliver(route, &route.channels[0], rx, Arrival::Sealed, None),
            Err(dropped) => {
                let reason = self.transport.label(dropped.reason);
                let from = src.unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
                self.refused(reason, &dropped.why, from, &dropped.counted_on, label);
            }
        }
    }

    /// Counts a refusal on the socket and on each of `counted_on`, and logs it within the
    /// rate limit.
    pub fn refused(
        &mut self,
        reason: &'static str,
        why: &str,
        src: IpAddr,
        counted_on: &[&Route],
        label: &str,
    ) {
        self.stats.bump(reason);
        for route in counted_on {
            route.stats.bump(reason);
            route.channels[0].stats.bump(reason);
        }
        if let Some(held) = self.limiter.allow(Instant::now(), src, reason) {
            warn!(channel = %label, %src, reason, suppressed = held,
                "dropped heartbeat frame: {why}");
        }
    }
}

impl FrameJudge {
    /// Counts a refusal that belongs to no frame's instance (garbage on a line) on every
    /// instance the endpoint serves, and logs it within the rate limit.
    pub fn refused_on_all(
        &mut self,
        reason: &'static str,
        why: &str,
        src: IpAddr,
        routes: &RwLock<SealedRoutes>,
        label: &str,
    ) {
        let table = routes.read().unwrap_or_else(|e| e.into_inner());
        let all: Vec<&Route> = table.values().map(|r| &r.route).collect();
        self.refused(reason, why, src, &all, label);
    }
}

/// A refused frame: the counter it goes on, why, and the instances that count it.
struct Dropped<'a> {
    reason: &'static str,
    why: String,
    counted_on: Vec<&'a Route>,
}

/// Checks one frame from `src` in order (VRID, our own, peer, MAC, our own origin, peer
/// identity on a line without addresses, replay, the advert inside) and returns the
/// instance's route with the advert it carries. `own` are this host's addresses; the
/// routes' channel origins count as ours too. `src` is `None` on a serial line.
fn judge<'a>(
    frame: &[u8],
    src: Option<IpAddr>,
    table: &'a SealedRoutes,
    guards: &mut HashMap<u8, ReplayGuard>,
    own: &[IpAddr],
) -> Result<(&'a Route, Received), Dropped<'a>> {
    let ours = |a: IpAddr| own.contains(&a) || table.values().any(|r| r.origin == a);
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
    // A frame of ours that came back (a peer list naming this host, a host on the path
    // reflecting it) would make a Master answer its own adverts, in a loop.
    let peers = route.channels[0].peers.as_deref();
    if src.is_some_and(ours) {
        return Err(refuse(
            "own_frame",
            "sent from one of this host's addresses".into(),
        ));
    }
    if let (Some(src), Some(peers)) = (src, peers)
        && !peers.contains(&src)
    {
        return Err(refuse(
            "not_a_unicast_peer",
            "not from a configured peer".into(),
        ));
    }
    let opened =
        udp_frame::open(&entry.key, frame).map_err(|r| refuse(r.label(), r.to_string()))?;
    // Only now is the origin vouched for by the key; a reflecting host keeps it intact.
    if ours(opened.origin) {
        let why = format!("sealed by this host ({}), sent back to it", opened.origin);
        return Err(refuse("own_frame", why));
    }
    // A line without addresses (a serial line) names its sender only in the frame, vouched
    // for by the key: it must be the peer the channel names.
    if src.is_none() && peers.is_some_and(|p| !p.contains(&opened.origin)) {
        let why = format!("sealed by {}, which is not this line's peer", opened.origin);
        return Err(refuse("not_a_unicast_peer", why));
    }
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    guards
        .entry(vrid)
        .or_insert_with(|| ReplayGuard::new(REPLAY_WINDOW))
        .check(opened.origin, opened.stamp, now_unix, Instant::now())
        .map_err(|r| refuse(r.label(), r.to_string()))?;
    // The inner advert's checksum covers the origin twice (see udp_frame): NAT on the
    // path cannot break it, and the MAC has already vouched for every byte.
    let rx = packet::parse_vrrp(opened.vrrp, opened.origin, opened.origin, packet::TTL)
        .map_err(|r| refuse(r.label(), r.to_string()))?;
    Ok((route, rx))
}

#[cfg(test)]
mod tests;
