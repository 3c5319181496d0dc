//! `type: tcp` channels: a listener, keyed like a UDP socket, and outgoing connections, one
//! per (instance, source, interface, peer), kept across a reload that keeps the channel.

use std::sync::{Arc, RwLock, Weak};

use tokio::task::JoinHandle;

use super::endpoint::{SealedKey, SealedTransport, Shared, SinkTable, peer_dests};
use super::{Plan, Slot};
use crate::config::{NetPath, SealedPort};
use crate::daemon::DaemonError;
use crate::daemon::sealed::{FrameJudge, FrameSink, SealedRoutes, Transport};
use crate::daemon::tcp_link::{PREFIX, TcpLink};
use crate::daemon::tcp_receiver;
use crate::net::tcp_socket;
use crate::vrrp::Family;

/// A `type: tcp` channel.
pub(super) struct Tcp<'a> {
    pub(super) net: &'a NetPath,
    pub(super) port: &'a SealedPort,
}

impl SealedTransport for Tcp<'_> {
    fn key(&self, family: Family) -> SealedKey {
        SealedKey {
            kind: PREFIX,
            at: format!("{}:{}", self.net.interface, self.port.port),
            family: Some(family),
        }
    }

    /// The listener; it lives in its accept task.
    fn open(
        &self,
        key: &SealedKey,
        routes: Arc<RwLock<SealedRoutes>>,
        _lingering: Option<Shared>,
    ) -> Result<(JoinHandle<()>, Shared), DaemonError> {
        let family = key.family.expect("a TCP key has a family");
        let listener = tcp_socket::listen(family, self.port.port, Some(&self.net.interface))?;
        let judge = FrameJudge::new(Transport::new(PREFIX));
        let task = tokio::spawn(tcp_receiver::run(listener, key.to_string(), routes, judge));
        Ok((task, Arc::new(())))
    }

    /// A connection to each peer at the port (never to an address of this host), the open
    /// ones taken over.
    fn sinks(
        &self,
        plan: &Plan<'_>,
        slot: &Slot<'_>,
        _shared: &Shared,
        reuse: &mut SinkTable,
    ) -> Vec<Arc<dyn FrameSink>> {
        let (src, iface) = (slot.rc.src, &self.net.interface);
        peer_dests(&self.net.peers, self.port.port, src)
            .into_iter()
            .map(|peer| {
                let stats_at = Arc::as_ptr(&slot.stats) as usize;
                let at = format!("tcp {src}%{iface} -> {peer}");
                let key = (plan.name.to_string(), at, stats_at);
                if let Some(open) = reuse.get(&key).and_then(Weak::upgrade) {
                    return open;
                }
                let link: Arc<dyn FrameSink> = Arc::new(TcpLink::open(
                    src,
                    Some(iface.clone()),
                    peer,
                    slot.stats.clone(),
                ));
                reuse.insert(key, Arc::downgrade(&link));
                link
            })
            .collect()
    }
}
