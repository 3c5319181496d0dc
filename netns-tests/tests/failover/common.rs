//! Fixtures and client-view assertions shared by the failover tests.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netns_tests::vipd::{InstanceSpec, Vipd, VipdConfig, VrrpState};
use netns_tests::{Lab, LabSpec, Mac, Node, wait_until};

/// How long a neighbour probe listens for answers.
pub const PROBE: Duration = Duration::from_millis(600);
/// Slack on top of a protocol deadline: generous, because two cores run several labs at once
/// and a debug build of vipd, and a late poll must never fail a correct takeover.
pub const TOLERANCE: Duration = Duration::from_millis(1500);
/// How long a first election may take beyond Master_Down_Interval (process start included).
pub const START_SLACK: Duration = Duration::from_secs(5);
/// How often address checks poll.
pub const POLL: Duration = Duration::from_millis(10);

/// A two-node lab, with ULA IPv6 addresses when `ipv6`.
pub fn lab(ipv6: bool) -> Lab {
    Lab::new(LabSpec {
        nodes: 2,
        ipv6_ula: ipv6,
        ..Default::default()
    })
    .expect("lab")
}

/// The usual instance for node tests: VRRPv3 at 100 ms with `vip`.
pub fn spec(vip: IpAddr, priority: u8) -> InstanceSpec {
    InstanceSpec {
        priority,
        vips: vec![vip],
        ..Default::default()
    }
}

/// Starts vipd with `spec` as its only instance on node `i`.
pub fn start(lab: &Lab, i: usize, spec: &InstanceSpec) -> Vipd {
    let node = lab.node(i);
    Vipd::start(lab, node, &VipdConfig::single(node.name(), spec.clone())).expect("start vipd")
}

/// Waits until `vipd` reports `state` for the instance of `spec`, within the first-election
/// budget; panics with its log otherwise.
pub fn settle(vipd: &mut Vipd, spec: &InstanceSpec, state: VrrpState) {
    vipd.wait_state(&spec.name, state, spec.master_down_interval() + START_SLACK)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Starts node 0 with `first` and waits until it is Master, then node 1 with `second` and
/// waits until it is Backup: a known Master whatever either node's preempt setting.
pub fn master_then_backup(lab: &Lab, first: &InstanceSpec, second: &InstanceSpec) -> [Vipd; 2] {
    let mut a = start(lab, 0, first);
    settle(&mut a, first, VrrpState::Master);
    let mut b = start(lab, 1, second);
    settle(&mut b, second, VrrpState::Backup);
    [a, b]
}

/// The interface that carries the VIP on a node: the macvlan with `use_vmac`, else eth0.
pub fn vip_iface(spec: &InstanceSpec) -> String {
    if spec.use_vmac {
        let v6 = spec.vips.iter().any(IpAddr::is_ipv6);
        format!("vrrp{}.{}", if v6 { "6" } else { "" }, spec.vrid)
    } else {
        spec.interface.clone()
    }
}

/// Whether `node` holds `vip` on `iface` (false if the interface does not exist).
pub fn holds(node: &Node, iface: &str, vip: IpAddr) -> bool {
    node.has_addr(iface, vip).unwrap_or(false)
}

/// Waits until `node` holds (or, with `held` false, no longer holds) `vip`; returns how long
/// that took, or panics naming the node.
pub fn wait_holds(
    node: &Node,
    iface: &str,
    vip: IpAddr,
    held: bool,
    timeout: Duration,
) -> Duration {
    wait_until(timeout, POLL, || holds(node, iface, vip) == held).unwrap_or_else(|e| {
        panic!(
            "{} {} {vip} on {iface}: {e}",
            node.name(),
            if held { "never got" } else { "kept" }
        )
    })
}

/// Every MAC that answers the client for `vip` (ARP or Neighbour Solicitation).
pub fn answerers(lab: &Lab, vip: IpAddr) -> Vec<Mac> {
    match vip {
        IpAddr::V4(a) => lab.client.arp_probe(a, PROBE),
        IpAddr::V6(a) => lab.client.ndisc_probe(a, PROBE),
    }
    .expect("neighbour probe")
}

/// What a client must see when `mac` is the Master's: exactly one answer to a neighbour probe,
/// from `mac`; a ping that works; and `mac` in its neighbour table after that ping.
pub fn assert_client_sees(lab: &Lab, vip: IpAddr, mac: Mac) {
    assert_eq!(
        answerers(lab, vip),
        vec![mac],
        "the client's probe for {vip} must be answered by {mac} alone"
    );
    assert!(lab.client.ping_once(vip), "the client cannot ping {vip}");
    assert_eq!(
        lab.client.neigh_mac(vip).expect("ip neigh"),
        Some(mac),
        "the client's neighbour entry for {vip} after a ping"
    );
}

/// Asserts that, of `nodes`, only `master` holds `vip`.
pub fn assert_only_holder(nodes: &[&Node], master: &Node, iface: &str, vip: IpAddr) {
    for node in nodes {
        let expected = node.ns() == master.ns();
        assert_eq!(
            holds(node, iface, vip),
            expected,
            "{} {} hold {vip}",
            node.name(),
            if expected { "must" } else { "must not" }
        );
    }
}

/// Asserts that `vipd` still reports `state` after `quiet` has passed (several
/// Master_Down_Intervals, typically), i.e. nothing changed its mind.
pub fn assert_stays(vipd: &Vipd, instance: &str, state: VrrpState, quiet: Duration) {
    let since = vipd.transitions(instance).len();
    std::thread::sleep(quiet);
    let t = vipd.transitions(instance);
    assert_eq!(
        t.last().map(|t| t.to),
        Some(state),
        "{}: {instance} must stay {state}; log:\n{}",
        vipd.node().name(),
        vipd.log_text()
    );
    assert_eq!(
        t.len(),
        since,
        "{}: {instance} changed state: {t:?}",
        vipd.node().name()
    );
}

/// Times a takeover: how long after `t0` (the fault) `node` holds `vip`; panics if that is
/// not within `limit` of `t0`.
pub fn takeover_time(
    node: &Node,
    iface: &str,
    vip: IpAddr,
    t0: Instant,
    limit: Duration,
) -> Duration {
    wait_holds(node, iface, vip, true, limit.saturating_sub(t0.elapsed()));
    t0.elapsed()
}

/// A two-node IPv4 lab where node0 (priority 150) is Master and node1 (100) Backup of one
/// VIP, settled: node0 holds the VIP.
pub struct Pair {
    pub lab: Lab,
    pub vip: IpAddr,
    pub high: InstanceSpec,
    pub low: InstanceSpec,
    pub d0: Vipd,
    pub d1: Vipd,
}

/// Builds and settles a [`Pair`].
pub fn settled_pair() -> Pair {
    let lab = lab(false);
    let vip: IpAddr = lab.vip4(0).into();
    let (high, low) = (spec(vip, 150), spec(vip, 100));
    let [d0, d1] = master_then_backup(&lab, &high, &low);
    wait_holds(lab.node(0), "eth0", vip, true, TOLERANCE);
    Pair {
        lab,
        vip,
        high,
        low,
        d0,
        d1,
    }
}
