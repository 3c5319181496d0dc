//! use_vmac: the VIP lives at the virtual MAC 00:00:5e:00:01:VRID, which moves between switch
//! ports on failover while the client's neighbour entry stays the same.

use std::net::IpAddr;
use std::process::Command;
use std::time::Instant;

use netns_tests::vipd::{InstanceSpec, VrrpState};
use netns_tests::{Capture, Lab, Mac, decode, require_root};

use crate::common::*;

/// The switch ports whose forwarding entry holds `mac` (learned entries only).
fn fdb_ports(lab: &Lab, mac: Mac) -> Vec<String> {
    let out = Command::new("bridge")
        .args(["-n", lab.switch_ns(), "-j", "fdb", "show", "br", "br0"])
        .output()
        .expect("bridge fdb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("fdb json");
    entries
        .iter()
        .filter(|e| e["mac"].as_str() == Some(&mac.to_string()) && e["state"] != "permanent")
        .filter_map(|e| e["ifname"].as_str().map(String::from))
        .collect()
}

#[test]
fn use_vmac_the_client_keeps_the_virtual_mac_across_failover() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip: IpAddr = lab.vip4(0).into();
    let (n0, n1) = (lab.node(0), lab.node(1));
    let high = InstanceSpec {
        use_vmac: true,
        ..spec(vip, 150)
    };
    let low = InstanceSpec {
        priority: 100,
        ..high.clone()
    };
    let vmac = Mac([0x00, 0x00, 0x5e, 0x00, 0x01, high.vrid]);
    let iface = vip_iface(&high);
    let [mut d0, mut d1] = master_then_backup(&lab, &high, &low);
    wait_holds(n0, &iface, vip, true, TOLERANCE);
    // Two Masters would answer ARP with the same virtual MAC, so the client's probe cannot
    // tell; the nodes can: the Backup must keep hearing the Master.
    assert_stays(
        &d1,
        &low.name,
        VrrpState::Backup,
        low.master_down_interval() * 2,
    );
    assert_only_holder(&[n0, n1], n0, &iface, vip);
    assert_client_sees(&lab, vip, vmac);
    assert_eq!(
        fdb_ports(&lab, vmac),
        ["n0"],
        "the switch must reach the vmac via node0"
    );

    let cap = Capture::start(&lab.client, "eth0", "arp", lab.log_path("client-arp.pcap")).unwrap();
    let t0 = Instant::now();
    d0.kill();
    lab.set_port(n0, false).unwrap();
    let limit = low.master_down_interval() + TOLERANCE;
    takeover_time(n1, &iface, vip, t0, limit);
    d1.wait_state(&low.name, VrrpState::Master, TOLERANCE)
        .unwrap();
    assert_client_sees(&lab, vip, vmac);
    assert_eq!(
        fdb_ports(&lab, vmac),
        ["n1"],
        "after failover the switch must reach the vmac via node1"
    );
    let garps: Vec<_> = cap
        .stop()
        .unwrap()
        .iter()
        .filter_map(|f| decode::is_garp(&f.data))
        .collect();
    assert!(
        garps.contains(&(lab.vip4(0), vmac)),
        "the new Master announced {vip} at {vmac}: {garps:?}"
    );
}
