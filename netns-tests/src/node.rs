//! One host of a lab (a node or the client): commands, processes and what it sees.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::cmd::{ip_n, output, run};
use crate::error::{HarnessError, Result};
use crate::mac::Mac;
use crate::probe;
use crate::proc::Proc;

/// A host namespace with `eth0` on the lab LAN (and `eth1` on the heartbeat link, if any).
#[derive(Debug, Clone)]
pub struct Node {
    name: String,
    ns: String,
    ip4: Ipv4Addr,
    ip6: Option<Ipv6Addr>,
    hb_ip4: Option<Ipv4Addr>,
}

impl Node {
    pub(crate) fn new(
        name: &str,
        ns: &str,
        ip4: Ipv4Addr,
        ip6: Option<Ipv6Addr>,
        hb_ip4: Option<Ipv4Addr>,
    ) -> Node {
        Node {
            name: name.into(),
            ns: ns.into(),
            ip4,
            ip6,
            hb_ip4,
        }
    }

    /// The role name (`node0`, `client`), for messages and log file names.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The network namespace name (for `ip netns exec`).
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// Its IPv4 address on `eth0`.
    pub fn ip4(&self) -> Ipv4Addr {
        self.ip4
    }

    /// Its ULA IPv6 address on `eth0`, if the lab has them.
    pub fn ip6(&self) -> Option<Ipv6Addr> {
        self.ip6
    }

    /// Its IPv4 address on the heartbeat link `eth1`, if the lab has one.
    pub fn hb_ip4(&self) -> Option<Ipv4Addr> {
        self.hb_ip4
    }

    /// Starts a long-running process here; stdout and stderr go to `log`.
    pub fn spawn(&self, args: &[&str], log: PathBuf) -> Result<Proc> {
        Proc::spawn(&self.ns, args, log)
    }

    /// Runs a short command here and returns its output, whatever its exit status.
    pub fn exec(&self, args: &[&str]) -> Result<Output> {
        output("ip", &[&["netns", "exec", &self.ns][..], args].concat())
    }

    /// Runs a short command here; fails unless it exits 0.
    pub fn exec_ok(&self, args: &[&str]) -> Result<Output> {
        run("ip", &[&["netns", "exec", &self.ns][..], args].concat())
    }

    /// Sets one of its own interfaces administratively up or down.
    pub fn set_link(&self, iface: &str, up: bool) -> Result<()> {
        ip_n(
            &self.ns,
            &["link", "set", iface, if up { "up" } else { "down" }],
        )
        .map(|_| ())
    }

    /// The MAC address of `iface`.
    pub fn mac(&self, iface: &str) -> Result<Mac> {
        let v = self.ip_json(&["link", "show", "dev", iface])?;
        v[0]["address"]
            .as_str()
            .ok_or_else(|| HarnessError::parse("ip -j link", v.to_string()))?
            .parse()
    }

    /// Every address on `iface` (any family or scope).
    pub fn addrs(&self, iface: &str) -> Result<Vec<IpAddr>> {
        let v = self.ip_json(&["addr", "show", "dev", iface])?;
        let infos = v[0]["addr_info"].as_array().cloned().unwrap_or_default();
        infos
            .iter()
            .map(|a| {
                a["local"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| HarnessError::parse("ip -j addr", a.to_string()))
            })
            .collect()
    }

    /// Whether `ip` is currently assigned to `iface`.
    pub fn has_addr(&self, iface: &str, ip: IpAddr) -> Result<bool> {
        Ok(self.addrs(iface)?.contains(&ip))
    }

    /// Its IPv6 link-local address on `iface`.
    pub fn link_local(&self, iface: &str) -> Result<Ipv6Addr> {
        self.addrs(iface)?
            .into_iter()
            .find_map(|a| match a {
                IpAddr::V6(v6) if v6.segments()[0] == 0xfe80 => Some(v6),
                _ => None,
            })
            .ok_or_else(|| HarnessError::parse("link-local address", format!("none on {iface}")))
    }

    /// The MAC its neighbour table (`ip neigh`, on `eth0`) holds for `ip`, ignoring entries
    /// that are unresolved (INCOMPLETE, FAILED).
    pub fn neigh_mac(&self, ip: IpAddr) -> Result<Option<Mac>> {
        let v = self.ip_json(&["neigh", "show", "to", &ip.to_string(), "dev", "eth0"])?;
        let Some(entry) = v.as_array().and_then(|a| a.first()) else {
            return Ok(None);
        };
        let states: Vec<&str> = entry["state"]
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if states.iter().any(|s| matches!(*s, "INCOMPLETE" | "FAILED")) {
            return Ok(None);
        }
        entry["lladdr"].as_str().map(str::parse).transpose()
    }

    /// Empties its neighbour table on `eth0`, so the next packet resolves afresh.
    pub fn flush_neigh(&self) -> Result<()> {
        ip_n(&self.ns, &["neigh", "flush", "dev", "eth0"]).map(|_| ())
    }

    /// Every distinct MAC that answers an ARP request for `ip` on `eth0` within `timeout`, in
    /// order of first answer. Two entries mean two hosts claim the address (split brain).
    pub fn arp_probe(&self, ip: Ipv4Addr, timeout: Duration) -> Result<Vec<Mac>> {
        let (mac, src) = (self.mac("eth0")?, self.ip4);
        probe::arp(&self.ns, "eth0", mac, src, ip, timeout)
    }

    /// Every distinct MAC that answers a Neighbour Solicitation for `ip` on `eth0` within
    /// `timeout` (the target link-layer address of each advert), in order of first answer.
    pub fn ndisc_probe(&self, ip: Ipv6Addr, timeout: Duration) -> Result<Vec<Mac>> {
        let (mac, src) = (self.mac("eth0")?, self.link_local("eth0")?);
        probe::ndisc(&self.ns, "eth0", mac, src, ip, timeout)
    }

    /// Whether one ICMP echo to `ip` is answered within 2 s.
    pub fn ping_once(&self, ip: IpAddr) -> bool {
        self.exec(&["ping", "-n", "-q", "-c", "1", "-W", "2", &ip.to_string()])
            .is_ok_and(|o| o.status.success())
    }

    fn ip_json(&self, args: &[&str]) -> Result<Value> {
        let out = ip_n(&self.ns, &[&["-j"][..], args].concat())?;
        serde_json::from_slice(&out.stdout)
            .map_err(|e| HarnessError::parse("ip -j output", e.to_string()))
    }
}
