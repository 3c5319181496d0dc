//! Raw VRRP (IP protocol 112): the primary interface (channel 0) and `type: vrrp` channels.
//! A socket serves one (interface, family, source address); every raw socket on an
//! interface hears every advert there.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use tracing::warn;

use super::{Entry, Pending, Plan, Slot, Sockets, other_holder, read};
use crate::daemon::DaemonError;
use crate::daemon::receiver::{self, Routes, RxChannel};
use crate::daemon::senders::{TxPath, Via};
use crate::daemon::stats::Stats;
use crate::net::{NetError, VrrpSocket};
use crate::vrrp::Family;
use crate::vrrp::packet;

/// A raw VRRP socket: interface, family, source address.
pub(super) type RawKey = (String, Family, IpAddr);

impl Sockets {
    /// The primary interface, channel 0: received on the parent even with a virtual MAC (a
    /// macvlan never delivers a frame carrying its own MAC, and the Master sends from it),
    /// and sent from the macvlan, so adverts carry the virtual MAC (RFC 9568 §7.3).
    pub(super) fn attach_primary(
        &mut self,
        plan: &Plan<'_>,
        stats: Arc<Stats>,
        pending: &mut Pending,
    ) -> Result<TxPath, DaemonError> {
        let (inst, family) = (plan.inst, plan.inst.family());
        let key: RawKey = (plan.parent.to_owned(), family, plan.primary);
        let recv = self.raw_socket(&key)?;
        let send = match plan.vmac_iface {
            Some(iface) => Arc::new(open_raw(iface, family, plan.primary)?),
            None => recv,
        };
        let peers = inst.unicast.as_ref().map(|u| u.peers.clone());
        add_rx(
            pending,
            key,
            RxChannel {
                index: 0,
                peers: peers.clone(),
                stats: stats.clone(),
            },
        );
        Ok(TxPath {
            label: plan.parent.into(),
            via: Via::Vrrp {
                socket: send,
                src: plan.primary,
                dests: peers.unwrap_or_else(|| vec![group_address(family)]),
                checksum: inst.v3_checksum,
            },
            stats,
            failing: Default::default(),
        })
    }

    /// A `type: vrrp` channel: unicast adverts to its peers.
    pub(super) fn attach_vrrp(
        &mut self,
        plan: &Plan<'_>,
        slot: Slot<'_>,
        pending: &mut Pending,
    ) -> Result<TxPath, DaemonError> {
        let ch = slot
            .rc
            .channel
            .net()
            .expect("a vrrp channel is a network channel");
        let key: RawKey = (ch.interface.clone(), plan.inst.family(), slot.rc.src);
        let socket = self.raw_socket(&key)?;
        add_rx(
            pending,
            key,
            RxChannel {
                index: slot.index,
                peers: Some(ch.peers.clone()),
                stats: slot.stats.clone(),
            },
        );
        Ok(TxPath {
            label: slot.label.into(),
            via: Via::Vrrp {
                socket,
                src: slot.rc.src,
                dests: ch.peers.clone(),
                checksum: plan.inst.v3_checksum,
            },
            stats: slot.stats,
            failing: Default::default(),
        })
    }

    pub(super) fn raw_socket(&mut self, key: &RawKey) -> Result<Arc<VrrpSocket>, NetError> {
        if let Some((s, _)) = self.raw.get(key) {
            return Ok(s.clone());
        }
        let (iface, family, src) = key.clone();
        let socket = Arc::new(open_raw(&iface, family, src)?);
        let routes = Arc::new(RwLock::new(Routes::default()));
        let mut own = socket.local_addrs().unwrap_or_default();
        own.push(src);
        let timer = self.timer.clone();
        // Resignations on this socket, the rest on its own, read late while they may be.
        let routine = match socket.split_off_routine() {
            Ok(routine) => Some(routine),
            Err(error) => {
                warn!(interface = %iface, %error, "every advert is read as it comes");
                None
            }
        };
        let task = tokio::spawn(receiver::run(
            socket.clone(),
            routine,
            iface,
            routes.clone(),
            own,
            timer,
        ));
        self.raw
            .insert(key.clone(), (socket.clone(), Entry { routes, task }));
        Ok(socket)
    }
}

/// The instance other than `name` that holds `vrid` on any raw socket of `family` on
/// `iface`: each of them hears every advert there, whatever address it sends from.
pub(super) fn raw_holder<'a>(
    tables: impl IntoIterator<Item = (&'a RawKey, &'a RwLock<Routes>)>,
    iface: &str,
    family: Family,
    vrid: u8,
    name: &str,
) -> Option<String> {
    tables
        .into_iter()
        .filter(|(k, _)| k.0 == iface && k.1 == family)
        .find_map(|(_, routes)| other_holder(&read(routes), vrid, name))
}

/// Adds `ch` to the pending route of the raw socket `key`: raw channels over one socket
/// share the instance's route there.
fn add_rx(pending: &mut Pending, key: RawKey, ch: RxChannel) {
    match pending.raw.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => v.push(ch),
        None => pending.raw.push((key, vec![ch])),
    }
}

fn group_address(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(packet::MULTICAST_V4),
        Family::V6 => IpAddr::V6(packet::MULTICAST_V6),
    }
}

/// Opens the VRRP socket of `family` on `iface`, sending from `src`.
fn open_raw(iface: &str, family: Family, src: IpAddr) -> Result<VrrpSocket, NetError> {
    match (family, src) {
        (Family::V4, IpAddr::V4(src)) => VrrpSocket::open_v4(iface, Some(src)),
        (_, IpAddr::V6(src)) => VrrpSocket::open_v6(iface, Some(src)),
        (Family::V6, IpAddr::V4(_)) => unreachable!("an IPv6 instance has an IPv6 source"),
    }
}
