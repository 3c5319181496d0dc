//! What the VRRP receive loops drop before any instance sees a packet: malformed packets,
//! adverts for VRIDs this host does not run, its own adverts, unreadable datagrams. They
//! belong to a socket, not to an instance, so they are counted per interface and family
//! and exported beside the instances' counters (`vipd_socket_packets_dropped_total`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::stats::Stats;
use crate::vrrp::Family;

/// One receive loop's counters.
#[derive(Clone, Debug)]
pub struct SocketCounters {
    /// The interface the socket listens on.
    pub interface: String,
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    /// Its counters, by reason.
    pub stats: Arc<Stats>,
}

/// Every running receive loop's counters, by registration.
static REGISTERED: Mutex<BTreeMap<u64, SocketCounters>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Keeps a loop's counters listed until it is dropped with the loop.
#[derive(Debug)]
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        registered().remove(&self.0);
    }
}

/// Counters for the receive loop of the `family` socket on `interface`, listed in
/// [`all`] while the returned registration lives.
pub fn register(interface: &str, family: Family) -> (Arc<Stats>, Registration) {
    let stats = Arc::new(Stats::default());
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let family = match family {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    };
    registered().insert(
        id,
        SocketCounters {
            interface: interface.to_owned(),
            family,
            stats: stats.clone(),
        },
    );
    (stats, Registration(id))
}

/// The counters of every running receive loop.
pub fn all() -> Vec<SocketCounters> {
    registered().values().cloned().collect()
}

fn registered() -> std::sync::MutexGuard<'static, BTreeMap<u64, SocketCounters>> {
    REGISTERED.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_is_listed_while_its_registration_lives() {
        let (stats, reg) = register("eth7", Family::V6);
        stats.bump("bad_checksum");
        let mine = |list: Vec<SocketCounters>| {
            list.into_iter()
                .find(|c| c.interface == "eth7" && c.family == "ipv6")
        };
        let listed = mine(all()).expect("registered");
        assert_eq!(listed.stats.snapshot().get("bad_checksum"), Some(&1));
        drop(reg);
        assert!(mine(all()).is_none(), "still listed after the loop ended");
    }
}
