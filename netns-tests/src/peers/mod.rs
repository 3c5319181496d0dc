//! The other side of an interop test: keepalived and FRR vrrpd run in a lab node, next to a
//! minimal vipd launcher, all behind one [`Agent`] interface so that one scenario
//! ([`exercise_pair`]) drives any mixed pair.
//!
//! Each agent writes its own configuration from a shared [`VrrpSpec`] (what both sides of a
//! pair must agree on) plus its priority, and keeps its files in the lab's log directory, so
//! a failing test leaves the configs and logs next to the captures.

mod frr;
mod keepalived;
mod pairs;
mod scenario;
mod vipd;

use std::net::IpAddr;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::error::{HarnessError, Result};
use crate::mac::Mac;
use crate::node::Node;
use crate::proc::Proc;

pub use frr::Frr;
pub use keepalived::Keepalived;
pub use pairs::{Case, HIGH, LOW, PeerFactory, VRID};
pub use scenario::{
    PairReport, Side, exercise_pair, expect_holder, graceful_handover, master_down_interval,
    skew_time,
};
pub use vipd::Vipd;

/// What both routers of a pair are configured with (the priority is per agent).
#[derive(Debug, Clone)]
pub struct VrrpSpec {
    /// Virtual router ID.
    pub vrid: u8,
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// The virtual address (IPv4 or IPv6; the family of the whole instance).
    pub vip: IpAddr,
    /// Prefix length of the VIP on the interface.
    pub prefix: u8,
    /// Advertisement interval (whole seconds for v2, a multiple of 10 ms for v3).
    pub interval: Duration,
    /// Unicast adverts: this node's source and the peer's address, per node. `None` is
    /// multicast.
    pub unicast: Option<Unicast>,
    /// VRRPv2 simple password (`auth_type PASS`).
    pub auth_pass: Option<String>,
    /// vipd only: send RFC 9568 VRRPv3-over-IPv4 checksums (no pseudo-header).
    pub rfc9568_checksum: bool,
}

/// Unicast addressing of a pair: each node sends to the other's LAN address.
#[derive(Debug, Clone, Copy)]
pub struct Unicast {
    /// The two nodes' addresses, in lab node order.
    pub addrs: [IpAddr; 2],
}

impl VrrpSpec {
    /// Multicast VRRP for `vip` with defaults for everything optional.
    pub fn new(version: u8, vrid: u8, vip: IpAddr, interval: Duration) -> VrrpSpec {
        VrrpSpec {
            vrid,
            version,
            vip,
            prefix: if vip.is_ipv4() { 24 } else { 64 },
            interval,
            unicast: None,
            auth_pass: None,
            rfc9568_checksum: false,
        }
    }

    /// The unicast (source, peer) of the agent on `node`, if the pair is unicast.
    fn unicast_for(&self, node: &Node) -> Option<(IpAddr, IpAddr)> {
        let [a, b] = self.unicast?.addrs;
        let own = IpAddr::V4(node.ip4());
        let ipv6_own = node.ip6().map(IpAddr::V6);
        if own == a || ipv6_own == Some(a) {
            Some((a, b))
        } else {
            Some((b, a))
        }
    }
}

/// One VRRP implementation running (or not) in one lab node.
pub trait Agent: Send {
    /// What it is, for messages: `vipd`, `keepalived`, `frr`.
    fn kind(&self) -> &'static str;
    /// The node it runs in.
    fn node(&self) -> &Node;
    /// Its configured priority.
    fn priority(&self) -> u8;
    /// Starts it (writing its configuration first). Fails if it is already running.
    fn start(&mut self) -> Result<()>;
    /// Stops it the polite way (SIGTERM: a Master sends priority 0 and releases the VIP) and
    /// waits for it to exit.
    fn stop(&mut self) -> Result<()>;
    /// SIGKILLs every process of it: a crash. Whatever it configured stays in the kernel.
    fn kill(&mut self);
    /// Removes what a crash leaves behind and a reboot would clear (the VIP, virtual
    /// interfaces), so that the node can come back as from a fresh boot.
    fn wipe(&mut self) -> Result<()>;
    /// The MAC a client must see for the VIP while this agent is Master.
    fn vip_mac(&self) -> Result<Mac>;
    /// Everything it has logged so far.
    fn log_text(&self) -> String;
    /// How much later than its change to Master this agent's first advert reaches the wire,
    /// for reasons of its own (timing bounds measured on the wire allow for it).
    fn first_advert_lag(&self) -> Duration {
        Duration::ZERO
    }
}

/// Stops `procs` in order with SIGTERM, each waited for up to 5 s (`what` names the agent in
/// the timeout error); processes not started or already gone are skipped.
pub fn stop_procs<'a>(what: &str, procs: impl IntoIterator<Item = &'a mut Proc>) -> Result<()> {
    let waited = Duration::from_secs(5);
    for p in procs {
        if p.try_status().is_none() {
            p.signal(Signal::SIGTERM)?;
        }
        if p.wait_exit(waited).is_none() {
            let what = format!("{what} to exit after SIGTERM");
            return Err(HarnessError::Timeout { what, waited });
        }
    }
    Ok(())
}

/// Removes `spec`'s VIP from `node`'s eth0, as a reboot would; absent already is fine.
pub fn wipe_vip(node: &Node, spec: &VrrpSpec) {
    let addr = format!("{}/{}", spec.vip, spec.prefix);
    let _ = crate::cmd::ip_n(node.ns(), &["addr", "del", &addr, "dev", "eth0"]);
}

/// The MAC of an RFC 5798 virtual router: 00:00:5e:00:01:VRID (IPv4), 00:00:5e:00:02:VRID
/// (IPv6).
pub fn virtual_mac(vip: IpAddr, vrid: u8) -> Mac {
    Mac([0, 0, 0x5e, 0, if vip.is_ipv4() { 1 } else { 2 }, vrid])
}

/// Like [`crate::require_root`] for the peers' programs: true when every one of `tools`
/// (command name or absolute path, with the Debian package that provides it) is installed.
/// Otherwise it says SKIPPED loudly and returns false, or panics under `CI=true`.
pub fn require_tools(tools: &[(&str, &str)]) -> bool {
    crate::root::may_run("interop", crate::root::missing_tool(tools))
}

/// keepalived's program, for [`require_tools`].
pub const KEEPALIVED: (&str, &str) = ("keepalived", "keepalived");
/// FRR's programs, for [`require_tools`].
pub const FRR: [(&str, &str); 3] = [
    ("/usr/lib/frr/zebra", "frr"),
    ("/usr/lib/frr/vrrpd", "frr"),
    ("vtysh", "frr"),
];
/// Wireshark's command-line dissector, for [`require_tools`].
pub const TSHARK: (&str, &str) = ("tshark", "tshark");
