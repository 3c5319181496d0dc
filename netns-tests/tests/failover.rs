//! End-to-end failover: real vipd processes in network namespaces (a switch, two nodes and a
//! client), asserting both what a client sees (who answers ARP / NS for the VIP, whether a
//! ping works, its neighbour entry) and what each node reports (its log, its addresses).
//!
//! They need root and a built vipd (`cargo build -p vipd`, or `VIPD_BIN`); without root they
//! say SKIPPED loudly (and fail under CI=true).

#[path = "failover/common.rs"]
mod common;
#[path = "failover/election.rs"]
mod election;
#[path = "failover/fault.rs"]
mod fault;
#[path = "failover/garp.rs"]
mod garp;
#[path = "failover/preempt.rs"]
mod preempt;
#[path = "failover/takeover.rs"]
mod takeover;
#[path = "failover/vmac.rs"]
mod vmac;

use netns_tests::vipd::{InstanceSpec, VipdConfig};

/// The configurations the tests write must be ones vipd accepts; `vipd check` needs no root.
#[test]
fn test_configurations_pass_vipd_check() {
    let dir = std::env::temp_dir().join(format!("vt-e2e-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let variants = [
        InstanceSpec {
            vips: vec!["10.1.2.100".parse().unwrap()],
            ..Default::default()
        },
        InstanceSpec {
            version: 2,
            advert_interval: std::time::Duration::from_secs(1),
            vips: vec!["10.1.2.100".parse().unwrap()],
            ..Default::default()
        },
        InstanceSpec {
            preempt_delay: std::time::Duration::from_millis(1500),
            vips: vec!["fd00::164".parse().unwrap()],
            use_vmac: true,
            ..Default::default()
        },
        InstanceSpec {
            preempt: false,
            vips: vec!["10.1.2.100".parse().unwrap()],
            unicast_peers: vec!["10.1.2.2".parse().unwrap()],
            ..Default::default()
        },
    ];
    for (i, spec) in variants.into_iter().enumerate() {
        let file = dir.join(format!("{i}.yaml"));
        let yaml = VipdConfig::single("node0", spec).to_yaml(&dir.join("vipd.sock"));
        std::fs::write(&file, &yaml).unwrap();
        let out = netns_tests::vipd::check(&file).unwrap();
        assert!(
            out.status.success(),
            "vipd check rejects:\n{yaml}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
