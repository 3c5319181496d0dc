//! An isolated LAN made of network namespaces: a switch, N nodes and a client.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::cmd::{ip_n, run, sysctl};
use crate::error::{HarnessError, Result};
use crate::node::Node;
use crate::wait::wait_until;

mod block;
mod switch_threads;
mod teardown;
pub use block::{Cut, CutGuard, PendingHeal};
pub(crate) use block::{nft, nft_stdin};
pub(crate) use teardown::PREFIX;
use teardown::{Teardown, sweep_stale};

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);
static SWEEP: Once = Once::new();

/// Removes what killed test processes left behind, once per process (before the first lab or
/// etcd cluster is built).
pub(crate) fn sweep_once() {
    SWEEP.call_once(sweep_stale);
}

/// What to build.
#[derive(Debug, Clone)]
pub struct LabSpec {
    /// Number of node namespaces (the hosts that run the agent).
    pub nodes: usize,
    /// Also connect the nodes (not the client) through a second bridge, as `eth1`.
    pub heartbeat_link: bool,
    /// Give every LAN interface an `fd00::` address as well as its link-local one.
    pub ipv6_ula: bool,
    /// The LAN's /24 as its first three octets; `None` picks `10.<k>.<j>.0/24`, distinct per
    /// process and lab.
    pub v4_net: Option<[u8; 3]>,
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            nodes: 2,
            heartbeat_link: false,
            ipv6_ula: false,
            v4_net: None,
        }
    }
}

/// A running lab. Dropping it kills every process still running in its namespaces and deletes
/// the namespaces (which deletes their veths and bridges), whether the test passed or panicked.
///
/// Addressing, on a /24 and a /64 per lab: node `i` is host `i + 1`, the client is host 200,
/// and hosts 100..=199 are left free for virtual addresses ([`Lab::vip4`], [`Lab::vip6`]).
/// Interfaces: `eth0` on the LAN, `eth1` on the heartbeat link (192.168.x.0/24).
pub struct Lab {
    /// The agent hosts.
    pub nodes: Vec<Node>,
    /// The host whose view the tests assert on.
    pub client: Node,
    plan: Plan,
    teardown: Teardown,
}

/// The client's host number on the LAN.
const CLIENT_HOST: u8 = 200;
/// First host number left free for virtual addresses.
const VIP_BASE: u8 = 100;

/// Names and subnets of one lab.
struct Plan {
    switch: String,
    v4_net: [u8; 3],
    v6_net: [u16; 4],
}

impl Plan {
    fn v4(&self, host: u8) -> Ipv4Addr {
        let [a, b, c] = self.v4_net;
        Ipv4Addr::new(a, b, c, host)
    }

    fn v6(&self, host: u8) -> Ipv6Addr {
        let [a, b, c, d] = self.v6_net;
        Ipv6Addr::new(a, b, c, d, 0, 0, 0, u16::from(host))
    }

    /// The heartbeat subnet reuses the lab's third octet so it is as distinct as the LAN's.
    fn heartbeat(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(192, 168, self.v4_net[2], host)
    }
}

impl Lab {
    /// Builds the lab. On error, whatever was already created is removed again.
    pub fn new(spec: LabSpec) -> Result<Lab> {
        assert!(
            spec.nodes < usize::from(VIP_BASE) - 1,
            "too many nodes for the address plan"
        );
        sweep_once();
        let pid = std::process::id();
        let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = format!("{PREFIX}{pid}-{n}");
        // Labs are isolated from one another, so equal subnets would work; distinct ones make
        // captures and logs from parallel tests easier to tell apart.
        let (k, j) = ((20 + pid % 200) as u8, (n % 250) as u8);
        let plan = Plan {
            switch: format!("{base}-sw"),
            v4_net: spec.v4_net.unwrap_or([10, k, j]),
            v6_net: [0xfd00, u16::from(k), u16::from(j), 0],
        };
        let logdir = std::env::temp_dir().join(format!("vipd-lab-{base}"));
        std::fs::create_dir_all(&logdir)
            .map_err(|e| HarnessError::io(format!("mkdir {}", logdir.display()), e))?;
        // From here on an early return drops `td`, which removes the partial lab.
        let mut td = Teardown {
            created: Vec::new(),
            logdir,
            keep: Default::default(),
        };
        build_switch(&mut td, &plan, spec.heartbeat_link)?;
        let mut nodes = Vec::new();
        for i in 0..spec.nodes {
            let host = u8::try_from(i + 1).expect("checked against VIP_BASE");
            let hb = spec.heartbeat_link.then(|| plan.heartbeat(host));
            let ip6 = spec.ipv6_ula.then(|| plan.v6(host));
            let node = Node::new(
                &format!("node{i}"),
                &format!("{base}-n{i}"),
                plan.v4(host),
                ip6,
                hb,
            );
            add_host(&mut td, &node)?;
            attach(
                &plan,
                &node,
                "eth0",
                &format!("n{i}"),
                "br0",
                &lan_addrs(&node),
            )?;
            if let Some(hb) = hb {
                attach(
                    &plan,
                    &node,
                    "eth1",
                    &format!("h{i}"),
                    "br1",
                    &[format!("{hb}/24")],
                )?;
            }
            nodes.push(node);
        }
        let ip6 = spec.ipv6_ula.then(|| plan.v6(CLIENT_HOST));
        let client = Node::new(
            "client",
            &format!("{base}-cl"),
            plan.v4(CLIENT_HOST),
            ip6,
            None,
        );
        add_host(&mut td, &client)?;
        attach(&plan, &client, "eth0", "cl", "br0", &lan_addrs(&client))?;
        for node in nodes.iter().chain([&client]) {
            let wait = Duration::from_secs(10);
            wait_until(wait, Duration::from_millis(20), || {
                link_up(node.ns(), "eth0")
            })
            .map_err(|what| HarnessError::Timeout {
                what: format!("{} eth0 up: {what}", node.ns()),
                waited: wait,
            })?;
        }
        Ok(Lab {
            nodes,
            client,
            plan,
            teardown: td,
        })
    }

    /// Sets the switch end of `node`'s LAN cable up or down: what pulling the cable does.
    /// The node sees carrier loss on `eth0`; its addresses and routes stay in place.
    pub fn set_port(&self, node: &Node, up: bool) -> Result<()> {
        let port = if node.ns() == self.client.ns() {
            "cl".to_string()
        } else {
            self.port(node, "n")?
        };
        self.set_switch_link(&port, up)
    }

    /// Like [`Lab::set_port`] for a node's heartbeat cable (`eth1`).
    pub fn set_heartbeat_port(&self, node: &Node, up: bool) -> Result<()> {
        self.set_switch_link(&self.port(node, "h")?, up)
    }

    fn set_switch_link(&self, port: &str, up: bool) -> Result<()> {
        ip_n(
            &self.plan.switch,
            &["link", "set", port, if up { "up" } else { "down" }],
        )
        .map(|_| ())
    }

    fn port(&self, node: &Node, prefix: &str) -> Result<String> {
        let i = self
            .nodes
            .iter()
            .position(|n| n.ns() == node.ns())
            .ok_or_else(|| {
                HarnessError::parse("switch port", format!("{} has no such port", node.name()))
            })?;
        Ok(format!("{prefix}{i}"))
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// A free IPv4 address on the LAN for virtual addresses (`n` < 100).
    pub fn vip4(&self, n: u8) -> Ipv4Addr {
        assert!(n < CLIENT_HOST - VIP_BASE, "vip index out of range");
        self.plan.v4(VIP_BASE + n)
    }

    /// A free IPv4 address on the heartbeat link's subnet (`n` < 100), for an instance whose
    /// interface is `eth1`.
    pub fn heartbeat_vip4(&self, n: u8) -> Ipv4Addr {
        assert!(n < CLIENT_HOST - VIP_BASE, "vip index out of range");
        self.plan.heartbeat(VIP_BASE + n)
    }

    /// A free ULA IPv6 address on the LAN's /64 (`n` < 100).
    pub fn vip6(&self, n: u8) -> Ipv6Addr {
        assert!(n < CLIENT_HOST - VIP_BASE, "vip index out of range");
        self.plan.v6(VIP_BASE + n)
    }

    /// The switch namespace (holds the bridges `br0`, `br1`; ports `n<i>`, `h<i>`, `cl`).
    pub fn switch_ns(&self) -> &str {
        &self.plan.switch
    }

    /// Every namespace this lab created.
    pub fn namespaces(&self) -> &[String] {
        &self.teardown.created
    }

    /// Keeps this lab's logs and captures at teardown, as after a failing test: a benchmark
    /// run that counted something to look into (a false takeover) is not a panic.
    pub fn keep_logs(&self) {
        self.teardown
            .keep
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// A path for a log or capture file in this lab's directory, which is removed after a
    /// passing test and kept (and printed) after a failing one, after [`Lab::keep_logs`], or
    /// always with VIPD_KEEP_LOGS=1; what is kept is bounded (see the crate documentation).
    pub fn log_path(&self, file: &str) -> PathBuf {
        self.teardown.logdir.join(file)
    }
}

fn lan_addrs(node: &Node) -> Vec<String> {
    let mut v = vec![format!("{}/24", node.ip4())];
    v.extend(node.ip6().map(|a| format!("{a}/64")));
    v
}

fn add_ns(td: &mut Teardown, ns: &str) -> Result<()> {
    run("ip", &["netns", "add", ns])?;
    td.created.push(ns.to_string());
    ip_n(ns, &["link", "set", "lo", "up"]).map(|_| ())
}

/// The switch: a namespace holding the LAN bridge (and the heartbeat bridge).
fn build_switch(td: &mut Teardown, plan: &Plan, heartbeat: bool) -> Result<()> {
    let sw = &plan.switch;
    add_ns(td, sw)?;
    // The switch must be silent: no IPv6 on its ports, so it sends no RS/MLD of its own.
    sysctl(sw, "net.ipv6.conf.all.disable_ipv6", "1")?;
    sysctl(sw, "net.ipv6.conf.default.disable_ipv6", "1")?;
    // A switch forwards frames without passing them through an IP firewall. br_netfilter
    // (built in on some kernels, on by default in every namespace) would run every bridged
    // frame through the IP hooks, in the softirq of the sending agent, which then pays for
    // it in the CPU the benchmarks measure. Cuts are `bridge` tables and need none of it.
    if std::path::Path::new("/proc/sys/net/bridge").exists() {
        for family in ["iptables", "ip6tables", "arptables"] {
            sysctl(sw, &format!("net.bridge.bridge-nf-call-{family}"), "0")?;
        }
    }
    // Without STP, ports forward at once; without snooping, multicast (VRRP adverts,
    // solicited-node NS) floods to every port whatever MLD/IGMP has or has not been seen.
    let bridges: &[&str] = if heartbeat { &["br0", "br1"] } else { &["br0"] };
    for br in bridges {
        ip_n(
            sw,
            &[
                "link",
                "add",
                br,
                "type",
                "bridge",
                "stp_state",
                "0",
                "mcast_snooping",
                "0",
            ],
        )?;
        ip_n(sw, &["link", "set", br, "up"])?;
    }
    Ok(())
}

/// A host namespace with IPv6 on and DAD off.
fn add_host(td: &mut Teardown, node: &Node) -> Result<()> {
    let ns = node.ns();
    add_ns(td, ns)?;
    // DAD off before any interface exists, so that every address is usable the moment it is
    // added (interfaces moved into the namespace take its defaults).
    for scope in ["all", "default"] {
        sysctl(ns, &format!("net.ipv6.conf.{scope}.disable_ipv6"), "0")?;
        sysctl(ns, &format!("net.ipv6.conf.{scope}.accept_dad"), "0")?;
        sysctl(ns, &format!("net.ipv6.conf.{scope}.dad_transmits"), "0")?;
    }
    Ok(())
}

/// Connects `node`'s `iface` to bridge `br` through a veth whose switch end is `port`, gives
/// it `addrs` and brings it up. The veth is created inside the switch namespace with its peer
/// placed straight into the node's namespace, so no interface ever exists in the host's.
fn attach(
    plan: &Plan,
    node: &Node,
    iface: &str,
    port: &str,
    br: &str,
    addrs: &[String],
) -> Result<()> {
    let (sw, ns) = (&plan.switch, node.ns());
    ip_n(
        sw,
        &[
            "link", "add", port, "type", "veth", "peer", "name", iface, "netns", ns,
        ],
    )?;
    ip_n(sw, &["link", "set", port, "master", br, "up"])?;
    sysctl(ns, &format!("net.ipv6.conf.{iface}.accept_dad"), "0")?;
    for a in addrs {
        // `nodad` too, in case a kernel applies DAD before the sysctl above takes effect.
        let v6 = if a.contains(':') { &["nodad"][..] } else { &[] };
        ip_n(ns, &[&["addr", "add", a, "dev", iface][..], v6].concat())?;
    }
    ip_n(ns, &["link", "set", iface, "up"]).map(|_| ())
}

fn link_up(ns: &str, iface: &str) -> bool {
    ip_n(ns, &["-j", "link", "show", "dev", iface])
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .is_some_and(|v| v[0]["operstate"] == "UP")
}
