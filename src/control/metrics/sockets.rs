//! What the VRRP sockets' receive loops dropped before any instance saw it, per interface,
//! family and reason: a malformed packet names no instance, so it is counted here.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::counter::ConstCounter;

use super::family;
use crate::daemon::socket_counters::SocketCounters;

#[derive(Debug)]
pub(super) struct Sockets(pub Vec<SocketCounters>);

impl Collector for Sockets {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let mut dropped = Vec::new();
        for s in &self.0 {
            for (reason, n) in s.stats.snapshot() {
                let labels = vec![
                    ("interface", s.interface.clone()),
                    ("family", s.family.to_owned()),
                    ("reason", reason.to_owned()),
                ];
                dropped.push((labels, ConstCounter::new(n)));
            }
        }
        family(
            &mut enc,
            "vipd_socket_packets_dropped",
            "Packets a VRRP socket dropped before any instance saw them (malformed, for \
             another VRID, our own), by interface, family and reason",
            dropped,
        )
    }
}
