//! The generic half of a sealed channel: the endpoint a transport receives at (its key, its
//! task, what its send paths share), the receive route, and the send path whose sinks the
//! transport makes. A transport's file (`udp.rs`, `tcp.rs`, `serial.rs`) implements
//! [`SealedTransport`]; nothing here names one.

use std::any::Any;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock, Weak};

use tokio::task::JoinHandle;

use super::{Entry, Pending, Plan, Slot, Sockets, route_of};
use crate::daemon::DaemonError;
use crate::daemon::receiver::RxChannel;
use crate::daemon::sealed::{FrameSink, SealedRoute, SealedRoutes};
use crate::daemon::senders::{TxPath, Via};
use crate::daemon::stats::Stats;
use crate::net::udp_socket::host_addrs;
use crate::vrrp::Family;
use crate::vrrp::udp_frame::FrameKey;

/// A transport of sealed frames, as its file here implements it.
pub(super) trait SealedTransport {
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
pub(super) type Shared = Arc<dyn Any + Send + Sync>;

/// Where a sealed transport receives: its `type:` word, the place as logs name it
/// ("eth2:5405", "/dev/ttyS1"), and the family for transports with one socket per family.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SealedKey {
    pub(super) kind: &'static str,
    pub(super) at: String,
    pub(super) family: Option<Family>,
}

impl std::fmt::Display for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.at)
    }
}

/// An open sealed-frame endpoint.
pub(super) struct Endpoint {
    pub(super) entry: Entry<SealedRoute>,
    pub(super) shared: Shared,
}

/// Sinks kept across reloads, by instance, the transport's name for the sink, and the
/// channel counters it reports to (by address: a live sink holds them, so the address is
/// not reused meanwhile).
pub(super) type SinkTable = HashMap<(String, String, usize), Weak<dyn FrameSink>>;

impl Sockets {
    /// A sealed channel: its transport's endpoint (opened unless open), its receive route,
    /// and a path that seals each advert for the transport's sinks.
    pub(super) fn attach_sealed(
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
            label: slot.label.into(),
            via: Via::Sealed {
                sinks,
                origin: plan.primary,
                key,
                key_file: key_file.to_owned(),
            },
            stats: slot.stats,
            failing: Default::default(),
        })
    }

    /// What the endpoint of `key` shares, opening it first unless it is open.
    pub(super) fn endpoint(
        &mut self,
        key: &SealedKey,
        t: &dyn SealedTransport,
    ) -> Result<Shared, DaemonError> {
        if let Some(e) = self.sealed.get(key) {
            return Ok(e.shared.clone());
        }
        self.lingering.retain(|_, w| w.strong_count() > 0);
        let lingering = self.lingering.remove(key).and_then(|w| w.upgrade());
        let routes = Arc::new(RwLock::new(SealedRoutes::default()));
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
}

/// The key loaded from `key_file` for `plan`'s sealed channel.
pub(super) fn frame_key(
    plan: &Plan<'_>,
    key_file: &std::path::Path,
) -> Result<Arc<FrameKey>, DaemonError> {
    plan.keys.get(key_file).cloned().ok_or_else(|| {
        DaemonError::Config(format!(
            "instance {}: key file {} was not loaded",
            plan.name,
            key_file.display()
        ))
    })
}

/// The receive route of `plan`'s sealed channel `index`.
pub(super) fn sealed_route(
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

/// Where a sealed channel sends: each peer at `port`, except this host's own addresses. A
/// channel naming one is refused when it attaches; an address added to the host later must
/// not make it send to itself either (a Master that heard its own frame would answer itself
/// in a loop). The receive side drops such frames as well.
pub(super) fn peer_dests(peers: &[IpAddr], port: u16, origin: IpAddr) -> Vec<SocketAddr> {
    peer_dests_except(peers, port, origin, &host_addrs().unwrap_or_default())
}

pub(super) fn peer_dests_except(
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
