//! Cutting one namespace off from every etcd member, with nftables in that namespace: its
//! links stay up and its other traffic flows; packets to and from the members are dropped
//! silently, so a TCP connection neither completes nor fails, the hardest case for a client.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::Result;
use crate::lab::{nft, nft_stdin};

use super::{EtcdCluster, MEMBERS};

static CUT_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A cut in force; [`EtcdCut::heal`] or dropping it removes exactly its table.
#[derive(Debug)]
pub struct EtcdCut {
    ns: String,
    table: String,
    healed: bool,
}

impl EtcdCluster {
    /// Drops every packet between namespace `ns` (a lab node's, or [`EtcdCluster::client_ns`])
    /// and the members, until the guard is healed or dropped.
    pub fn cut(&self, ns: &str) -> Result<EtcdCut> {
        let members: Vec<String> = (0..MEMBERS)
            .map(|i| self.member_ip(i).to_string())
            .collect();
        let set = format!("{{ {} }}", members.join(", "));
        let table = format!(
            "vtetcdcut{}x{}",
            std::process::id(),
            CUT_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let script = format!(
            "table inet {table} {{\n\
             \x20 chain out {{ type filter hook output priority 0; policy accept; \
             ip daddr {set} drop; }}\n\
             \x20 chain in {{ type filter hook input priority 0; policy accept; \
             ip saddr {set} drop; }}\n}}\n"
        );
        nft_stdin(ns, &script)?;
        Ok(EtcdCut {
            ns: ns.to_string(),
            table,
            healed: false,
        })
    }
}

impl EtcdCut {
    /// Removes the cut.
    pub fn heal(mut self) -> Result<()> {
        self.healed = true;
        nft(&self.ns, &["delete", "table", "inet", &self.table]).map(|_| ())
    }
}

impl Drop for EtcdCut {
    fn drop(&mut self) {
        // A namespace deleted first took the table with it.
        if !self.healed
            && std::path::Path::new("/run/netns").join(&self.ns).exists()
            && let Err(e) = nft(&self.ns, &["delete", "table", "inet", &self.table])
        {
            eprintln!("etcd cut {}: heal on drop: {e}", self.table);
        }
    }
}
