//! The shape of a simulated cluster and of its network, and what the simulator records.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vipd::arbiter::StoreLoss;
use vipd::vrrp::Version;
use vipd::vrrp::router::{Action, Input, TrackerConfig, Transition};
use vipd::vrrp::timing::Centis;

/// One router of the simulated cluster.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Base priority.
    pub priority: u8,
    /// Preempt mode.
    pub preempt: bool,
}

/// The shape of a simulated cluster: one VRID, every router on one LAN.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// Protocol version.
    pub version: Version,
    /// Advert interval of every router.
    pub interval: Centis,
    /// The routers; node `i` has address 10.c.0.(i+1) on channel c.
    pub nodes: Vec<NodeSpec>,
    /// Heartbeat channels per link, at least 1.
    pub channels: usize,
    /// Every router has the arbiter gate, with this policy, and a keeper of its own talking
    /// to the model of the store (see `arbiter.rs`).
    pub arbiter: Option<StoreLoss>,
    /// Every router has the fence gate, which the simulator answers by crashing the silent
    /// Master it names (a fence device powering it off).
    pub fence: bool,
    /// `None`: every channel orders the nodes alike. `Some(identities)`: channels other than
    /// 0 number them in the opposite order, and the routers know who each peer is (`true`)
    /// or not.
    pub opposite: Option<bool>,
}

impl NodeSpec {
    /// A router at `priority` in preempt mode (the default in vipd and in the RFC).
    pub fn preempting(priority: u8) -> NodeSpec {
        NodeSpec {
            priority,
            preempt: true,
        }
    }
}

impl ClusterSpec {
    /// The pair most fixed schedules use: VRRPv3 at 100 ms adverts on one channel, node 0 at
    /// priority `first` and node 1 at `second`, both preempting; no arbiter, no fence.
    pub fn v3_pair(first: u8, second: u8) -> ClusterSpec {
        ClusterSpec {
            version: Version::V3,
            interval: Centis::new(10),
            nodes: vec![NodeSpec::preempting(first), NodeSpec::preempting(second)],
            channels: 1,
            arbiter: None,
            fence: false,
            opposite: None,
        }
    }

    /// The address of node `i` on `channel`.
    pub fn addr_on(&self, channel: usize, i: usize) -> IpAddr {
        match self.opposite {
            Some(_) if channel > 0 => addr_on(channel, self.nodes.len() - 1 - i),
            _ => addr_on(channel, i),
        }
    }
}

/// Network behaviour; probabilities in per-mille.
#[derive(Clone, Copy, Debug, Default)]
pub struct Conditions {
    /// Chance an advert copy is lost.
    pub loss: u32,
    /// Chance an advert copy is delivered twice.
    pub dup: u32,
    /// Delay range of each copy; random delays also reorder.
    pub min_delay: Duration,
    /// Upper end of the delay range.
    pub max_delay: Duration,
}

/// A transition a router made, with the virtual time it happened at.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Virtual time since the simulation started.
    pub at: Duration,
    /// Which router.
    pub node: usize,
    /// What it did.
    pub transition: Transition,
}

/// Rewrites the actions a router returned, to prove the invariants catch a broken router.
pub type Mutator = fn(node: usize, &mut Vec<Action>);

/// Decides whether an input reaches a router (false: dropped), to prove the properties catch
/// a router that mishandles some inputs.
pub type Filter = fn(node: usize, &Input) -> bool;

/// The primary address of node `i` (its address on channel 0).
pub fn addr(i: usize) -> IpAddr {
    addr_on(0, i)
}

/// The address of node `i` on `channel`. Every channel orders the nodes alike, as two hosts
/// numbered in the same order on each of their networks would.
pub fn addr_on(channel: usize, i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, channel as u8, 0, i as u8 + 1))
}

/// The trackers every simulated router starts with: an unweighted check (FAULT while it
/// fails) and a check that lowers the priority by 50 while it fails.
pub fn default_trackers() -> Vec<TrackerConfig> {
    vec![
        TrackerConfig {
            source: "check sim".into(),
            weight: 0,
            file: false,
        },
        TrackerConfig {
            source: "check w".into(),
            weight: -50,
            file: false,
        },
    ]
}
