//! A settled pair with a second heartbeat channel over the heartbeat link.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use netns_tests::vipd::{InstanceSpec, Vipd, VipdConfig, VrrpState};
use netns_tests::{Lab, LabSpec, Node};
use serde_json::Value;

use crate::common::{TOLERANCE, settle, spec, wait_holds};

/// A two-node lab with the heartbeat link (`eth1`).
pub fn hb_lab() -> Lab {
    Lab::new(LabSpec {
        nodes: 2,
        heartbeat_link: true,
        ..Default::default()
    })
    .expect("lab")
}

/// The `channels:` line of a VRRP unicast channel over eth1 to `peer`'s heartbeat address.
pub fn vrrp_channel(peer: &Node) -> String {
    format!(
        "channels: [{{ interface: eth1, peers: [{}] }}]",
        peer.hb_ip4().expect("heartbeat link")
    )
}

/// node0 (150) Master and node1 (100) Backup of one VIP, each with `extra` lines.
pub struct HbPair {
    pub lab: Lab,
    pub vip: IpAddr,
    pub high: InstanceSpec,
    pub low: InstanceSpec,
    pub d0: Vipd,
    pub d1: Vipd,
}

/// Builds a [`HbPair`]; `extra(i)` gives node i's further instance lines.
pub fn hb_pair(lab: Lab, extra: impl Fn(&Lab, usize) -> Vec<String>) -> HbPair {
    let vip: IpAddr = lab.vip4(0).into();
    let mut high = spec(vip, 150);
    high.extra = extra(&lab, 0);
    let mut low = spec(vip, 100);
    low.extra = extra(&lab, 1);
    let start = |i: usize, s: &InstanceSpec| {
        let node = lab.node(i);
        Vipd::start(&lab, node, &VipdConfig::single(node.name(), s.clone())).expect("start vipd")
    };
    let mut d0 = start(0, &high);
    settle(&mut d0, &high, VrrpState::Master);
    let mut d1 = start(1, &low);
    settle(&mut d1, &low, VrrpState::Backup);
    wait_holds(lab.node(0), "eth0", vip, true, TOLERANCE);
    HbPair {
        lab,
        vip,
        high,
        low,
        d0,
        d1,
    }
}

/// The default pair: a VRRP channel over eth1 on both nodes.
pub fn vrrp_pair() -> HbPair {
    hb_pair(hb_lab(), |lab, i| vec![vrrp_channel(lab.node(1 - i))])
}

/// Several Master_Down_Intervals of the low node: long enough that a wrong takeover shows.
pub fn quiet(low: &InstanceSpec) -> Duration {
    low.master_down_interval() * 4
}

/// The channel called `name` in `vipd status --json` of instance `web`.
pub fn channel_status(vipd: &Vipd, name: &str) -> Value {
    let status = vipd.status().expect("status");
    let inst = status.raw["instances"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == "web"))
        .cloned()
        .unwrap_or_else(|| panic!("no instance web: {}", status.raw));
    inst["channels"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no channel {name}: {inst}"))
}

/// A counter of a channel's status (0 when absent).
pub fn channel_counter(vipd: &Vipd, channel: &str, counter: &str) -> u64 {
    channel_status(vipd, channel)["counters"][counter]
        .as_u64()
        .unwrap_or(0)
}

/// The heartbeat warning of instance `web`, if any.
pub fn heartbeat_warning(vipd: &Vipd) -> Option<String> {
    let status = vipd.status().expect("status");
    status.raw["instances"][0]["heartbeat_warning"]
        .as_str()
        .map(str::to_owned)
}

/// Waits for `vipd` (a Backup with two channels) to report the heartbeat over `channel`
/// lost while the other still carries the Master.
pub fn wait_channel_lost(vipd: &mut Vipd, channel: &str, spec: &InstanceSpec) {
    let line = vipd
        .wait_log(
            &format!("heartbeat over {channel} lost"),
            spec.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(line.contains("running on 1 of 2 channels"), "{line}");
}

/// The UDP channel's port in [`udp_pair`].
pub const PORT: u16 = 5405;
/// The UDP channel's key in [`udp_pair`].
pub const KEY: &[u8] = b"vipd test key, 32 bytes or so..";

/// A settled pair whose only channel besides the LAN is UDP over eth1, each node with the
/// further instance lines `extra`.
pub fn udp_pair(extra: &[&str]) -> HbPair {
    let lab = hb_lab();
    let key_path = key_file(&lab).display().to_string();
    hb_pair(lab, |lab, i| {
        let channel = format!(
            "channels: [{{ type: udp, interface: eth1, port: {PORT}, key_file: {key_path}, peers: [{}] }}]",
            lab.node(1 - i).hb_ip4().unwrap()
        );
        std::iter::once(channel)
            .chain(extra.iter().map(|l| (*l).to_owned()))
            .collect()
    })
}

/// The TCP channel's port in [`tcp_pair`].
pub const TCP_PORT: u16 = 5406;

/// The `channels:` line of a TCP channel over eth1 to `peer`, with the key in `key_file`.
pub fn tcp_channel(peer: &Node, key_file: &std::path::Path) -> String {
    format!(
        "channels: [{{ type: tcp, interface: eth1, port: {TCP_PORT}, key_file: {}, peers: [{}] }}]",
        key_file.display(),
        peer.hb_ip4().expect("heartbeat link")
    )
}

/// Writes [`KEY`] to a key file of `lab` and returns its path.
pub fn key_file(lab: &Lab) -> std::path::PathBuf {
    let key_file = lab.log_path("heartbeat.key");
    std::fs::write(&key_file, KEY).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    key_file
}

/// A settled pair whose only channel besides the LAN is TCP over eth1, each node with the
/// further instance lines `extra`.
pub fn tcp_pair(extra: &[&str]) -> HbPair {
    let lab = hb_lab();
    let key = key_file(&lab);
    hb_pair(lab, |lab, i| {
        std::iter::once(tcp_channel(lab.node(1 - i), &key))
            .chain(extra.iter().map(|l| (*l).to_owned()))
            .collect()
    })
}
