//! `type: udp` channels: sealed frames in datagrams. A socket serves one (family, port,
//! interface) and is bound exclusively; one closed here may still be open elsewhere, and a
//! reload takes it back rather than binding again.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use tokio::task::JoinHandle;

use super::endpoint::{SealedKey, SealedTransport, Shared, SinkTable, peer_dests};
use super::{Plan, Slot};
use crate::config::{NetPath, SealedPort};
use crate::daemon::DaemonError;
use crate::daemon::sealed::{FrameSink, SealedRoutes};
use crate::daemon::udp_receiver;
use crate::net::NetError;
use crate::net::udp_socket::UdpChannelSocket;
use crate::vrrp::Family;

/// A `type: udp` channel.
pub(super) struct Udp<'a> {
    pub(super) net: &'a NetPath,
    pub(super) port: &'a SealedPort,
}

impl SealedTransport for Udp<'_> {
    fn key(&self, family: Family) -> SealedKey {
        key(family, self.port.port, &self.net.interface)
    }

    fn open(
        &self,
        key: &SealedKey,
        routes: Arc<RwLock<SealedRoutes>>,
        lingering: Option<Shared>,
    ) -> Result<(JoinHandle<()>, Shared), DaemonError> {
        let family = key.family.expect("a UDP key has a family");
        let taken_back = lingering.and_then(|s| s.downcast::<UdpChannelSocket>().ok());
        let socket = match taken_back {
            Some(open) => open,
            None => Arc::new(bind(family, self.port.port, &self.net.interface)?),
        };
        let label = format!("udp {}:{}", self.net.interface, self.port.port);
        let task = tokio::spawn(udp_receiver::run(socket.clone(), label, routes));
        Ok((task, socket))
    }

    fn sinks(
        &self,
        _plan: &Plan<'_>,
        slot: &Slot<'_>,
        shared: &Shared,
        _reuse: &mut SinkTable,
    ) -> Vec<Arc<dyn FrameSink>> {
        let socket = shared
            .clone()
            .downcast::<UdpChannelSocket>()
            .expect("a UDP endpoint shares its socket");
        peer_dests(&self.net.peers, self.port.port, slot.rc.src)
            .into_iter()
            .map(|dst| {
                Arc::new(Datagrams {
                    socket: socket.clone(),
                    dst,
                }) as Arc<dyn FrameSink>
            })
            .collect()
    }
}

/// The endpoint key of a UDP socket.
pub(super) fn key(family: Family, port: u16, iface: &str) -> SealedKey {
    SealedKey {
        kind: "udp",
        at: format!("{iface}:{port}"),
        family: Some(family),
    }
}

fn bind(family: Family, port: u16, iface: &str) -> Result<UdpChannelSocket, NetError> {
    UdpChannelSocket::bind(family, port, Some(iface))
}

/// Frames to one peer, sent at once (a datagram never waits).
struct Datagrams {
    socket: Arc<UdpChannelSocket>,
    dst: SocketAddr,
}

impl FrameSink for Datagrams {
    fn push(&self, frame: &[u8]) -> Result<(), String> {
        self.socket
            .try_send_to(frame, self.dst)
            .map_err(|e| format!("to {}: {e}", self.dst))
    }
}
