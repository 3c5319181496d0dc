//! `type: udp` channels: sealed frames in datagrams. A socket serves one (family, port,
//! interface) and is bound exclusively; one closed here may still be open elsewhere, and a
//! reload takes it back rather than binding again.

use std::sync::{Arc, RwLock};

use super::{Entry, Pending, Plan, SealedKey, Slot, Sockets, frame_key, peer_dests, sealed_route};
use crate::daemon::DaemonError;
use crate::daemon::sealed::SealedRoutes;
use crate::daemon::senders::{TxPath, Via};
use crate::daemon::udp_receiver;
use crate::net::NetError;
use crate::net::udp_socket::UdpChannelSocket;
use crate::vrrp::Family;

/// A UDP heartbeat socket: family, port, interface.
pub(super) type UdpKey = (Family, u16, String);

impl Sockets {
    /// A `type: udp` channel: its socket, its receive route, and a path that sends each
    /// advert sealed to every peer.
    pub(super) fn attach_udp(
        &mut self,
        plan: &Plan<'_>,
        slot: Slot<'_>,
        port: u16,
        key_file: &std::path::Path,
        pending: &mut Pending,
    ) -> Result<TxPath, DaemonError> {
        let ch = &slot.rc.channel;
        let key = frame_key(plan, key_file)?;
        let ukey: UdpKey = (plan.inst.family(), port, ch.interface.clone());
        let socket = self.udp_socket(&ukey)?;
        let route = sealed_route(plan, slot.index, ch, &slot.stats, &key);
        pending.sealed.push((SealedKey::Udp(ukey), route));
        Ok(TxPath {
            label: slot.label,
            via: Via::Udp {
                socket,
                // The node's identity, not its address on this channel: a peer breaks
                // equal-priority ties with it, so both nodes compare the same pair of
                // addresses on every channel.
                origin: plan.primary,
                dests: peer_dests(&ch.peers, port, slot.rc.src),
                key,
                key_file: key_file.to_owned(),
            },
            stats: slot.stats,
        })
    }

    pub(super) fn udp_socket(&mut self, key: &UdpKey) -> Result<Arc<UdpChannelSocket>, NetError> {
        if let Some((s, _)) = self.udp.get(key) {
            return Ok(s.clone());
        }
        let (family, port, iface) = key.clone();
        self.lingering.retain(|_, w| w.strong_count() > 0);
        let socket = match self.lingering.remove(key).and_then(|w| w.upgrade()) {
            Some(open) => open,
            None => Arc::new(UdpChannelSocket::bind(family, port, Some(&iface))?),
        };
        let routes = Arc::new(RwLock::new(SealedRoutes::new()));
        let label = format!("udp {iface}:{port}");
        let task = tokio::spawn(udp_receiver::run(socket.clone(), label, routes.clone()));
        self.udp
            .insert(key.clone(), (socket.clone(), Entry { routes, task }));
        Ok(socket)
    }
}
