//! A settled pair with a second heartbeat channel over the heartbeat link.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netns_tests::vipd::{InstanceSpec, Transition, Vipd, VipdConfig, VrrpState};
use netns_tests::{Lab, LabSpec, Mac, Node};
use serde_json::Value;
use vipd::vrrp::packet::{self, Advert, Auth};
use vipd::vrrp::timing::Centis;
use vipd::vrrp::udp_frame::{self, FrameKey, Stamp};
use vipd::vrrp::{V3Checksum, Version};

use crate::common::{POLL, TOLERANCE, settle, spec, wait_holds};

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

/// Waits for the Backup `vipd` (instance `low`) to take over because the Master's adverts
/// stopped reaching it: Master_Down_Interval (RFC 9568 6.4.2) and no other reason.
pub fn wait_master_down(vipd: &mut Vipd, low: &InstanceSpec) -> Transition {
    let t = vipd
        .wait_state(
            &low.name,
            VrrpState::Master,
            low.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("master down"), "{t:?}");
    t
}

/// Waits for the client's neighbour entry of `vip` to point at `mac`; `why` says what moves it
/// (the holder's gratuitous ARPs: the client sends no probe of its own meanwhile).
pub fn wait_client_neigh(lab: &Lab, vip: IpAddr, mac: Mac, why: &str) {
    netns_tests::wait_until(TOLERANCE, POLL, || {
        lab.client.neigh_mac(vip).ok().flatten() == Some(mac)
    })
    .unwrap_or_else(|_| panic!("the client's neighbour entry never followed {why}"));
}

/// Frames of the UDP or TCP channel "from" node0, sealed now, for the tests that forge input:
/// each must be refused (but `once`, the first time) and counted.
pub struct Forged {
    /// A resignation (priority 0, which accepted would make node1 take over) under a wrong
    /// key.
    pub wrong_key: Vec<u8>,
    /// A resignation under the right key, sealed an hour ago (a replay).
    pub stale: Vec<u8>,
    /// node0's own priority, dated an hour ahead (a key holder, or a sender whose clock
    /// jumped): refused, and it must not raise a bar node0's own frames then fail to clear.
    pub future: Vec<u8>,
    /// A valid resignation, for cutting short.
    pub good: Vec<u8>,
    /// node0's own priority, valid: accepted once it changes nothing; then replayed.
    pub once: Vec<u8>,
}

impl Forged {
    /// Frames whose sender identity is `origin` (a node's primary, LAN, address, not its
    /// address on the heartbeat link), node0's priority being `priority`.
    pub fn new(origin: IpAddr, vip: IpAddr, priority: u8) -> Forged {
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        let hour = 3_600_000_000;
        let seal = |key: &[u8], epoch, time_us, priority| {
            let stamp = Stamp {
                epoch,
                seq: 1,
                time_us,
            };
            sealed_advert(key, stamp, priority, origin, vip)
        };
        Forged {
            wrong_key: seal(b"not the key, but as long as it..", 1, now_us, 0),
            stale: seal(KEY, 1, now_us - hour, 0),
            future: seal(KEY, 2, now_us + hour, priority),
            good: seal(KEY, 1, now_us, 0),
            once: seal(KEY, 3, now_us, priority),
        }
    }
}

/// A sealed advert of a sealed channel (UDP, TCP, serial) "from" `origin`.
pub fn sealed_advert(
    key: &[u8],
    stamp: Stamp,
    priority: u8,
    origin: IpAddr,
    vip: IpAddr,
) -> Vec<u8> {
    let advert = Advert {
        version: Version::V3,
        vrid: 51,
        priority,
        interval: Centis::new(10),
        addresses: vec![vip].into(),
        auth: Auth::None,
    };
    let vrrp = packet::emit(&advert, origin, origin, V3Checksum::PseudoHeader).unwrap();
    udp_frame::seal(&FrameKey::new(key.to_vec()).unwrap(), stamp, origin, &vrrp)
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
