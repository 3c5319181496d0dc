//! Fixtures shared by the operations tests: a two-node lab, instances, waits on addresses.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use netns_tests::vipd::{InstanceSpec, Vipd, VipdConfig, VrrpState};
use netns_tests::{Lab, LabSpec, Mac, Node, Pinger};

/// How long a neighbour probe listens for answers.
pub const PROBE: Duration = Duration::from_millis(600);
/// Slack on top of a protocol deadline: two cores run several labs and a debug vipd at once,
/// and a late poll must never fail a correct takeover.
pub const TOLERANCE: Duration = Duration::from_millis(1500);
/// How long a first election may take beyond Master_Down_Interval (process start included).
pub const START_SLACK: Duration = Duration::from_secs(5);

/// A two-node lab.
pub fn lab() -> Lab {
    Lab::new(LabSpec::default()).expect("lab")
}

/// A two-node lab with a second LAN between the nodes: `eth1`, on the heartbeat bridge.
pub fn two_lans() -> Lab {
    Lab::new(LabSpec {
        heartbeat_link: true,
        ..Default::default()
    })
    .expect("lab")
}

/// Like [`inst`] on the second LAN (`eth1`); `vip` from [`Lab::heartbeat_vip4`].
pub fn inst_eth1(name: &str, vrid: u8, vip: Ipv4Addr, priority: u8) -> InstanceSpec {
    InstanceSpec {
        interface: "eth1".into(),
        ..inst(name, vrid, vip, priority)
    }
}

/// Whether `node` holds `vip` on `iface` (false if that cannot be read).
pub fn holds_on(node: &Node, iface: &str, vip: Ipv4Addr) -> bool {
    node.has_addr(iface, vip.into()).unwrap_or(false)
}

/// An instance at 100 ms adverts holding `vip`, with a name and VRID of its own.
pub fn inst(name: &str, vrid: u8, vip: Ipv4Addr, priority: u8) -> InstanceSpec {
    InstanceSpec {
        name: name.into(),
        vrid,
        priority,
        vips: vec![vip.into()],
        ..Default::default()
    }
}

/// The configuration of `node` running `instances`.
pub fn config(node: &Node, instances: Vec<InstanceSpec>) -> VipdConfig {
    VipdConfig {
        router_id: node.name().into(),
        instances,
        ..Default::default()
    }
}

/// Starts vipd with `cfg` on node `i`.
pub fn start(lab: &Lab, i: usize, cfg: &VipdConfig) -> Vipd {
    Vipd::start(lab, lab.node(i), cfg).expect("start vipd")
}

/// Waits until every instance of `cfg` reports `state`, within the first-election budget.
pub fn settle_all(vipd: &mut Vipd, cfg: &VipdConfig, state: VrrpState) {
    for spec in &cfg.instances {
        vipd.wait_state(&spec.name, state, spec.master_down_interval() + START_SLACK)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Starts node 0 with `first` until all its instances are Master, then node 1 with `second`
/// until all its instances shared with node 0 are Backup.
pub fn master_then_backup(lab: &Lab, first: &VipdConfig, second: &VipdConfig) -> [Vipd; 2] {
    let mut a = start(lab, 0, first);
    settle_all(&mut a, first, VrrpState::Master);
    let mut b = start(lab, 1, second);
    let shared = VipdConfig {
        instances: second
            .instances
            .iter()
            .filter(|s| first.instances.iter().any(|f| f.vrid == s.vrid))
            .cloned()
            .collect(),
        ..second.clone()
    };
    settle_all(&mut b, &shared, VrrpState::Backup);
    [a, b]
}

pub use netns_tests::vipd::{holds, wait_holds};

/// Every MAC that answers the client's ARP request for `vip`.
pub fn answerers(lab: &Lab, vip: Ipv4Addr) -> Vec<Mac> {
    lab.client.arp_probe(vip, PROBE).expect("arp probe")
}

/// A client pinging `vip` every 10 ms until stopped.
pub fn pinger(lab: &Lab, vip: Ipv4Addr, log: &str) -> Pinger {
    Pinger::start(
        &lab.client,
        Path::new(env!("CARGO_BIN_EXE_pinger")),
        IpAddr::V4(vip),
        None,
        lab.log_path(log),
    )
    .expect("start pinger")
}
