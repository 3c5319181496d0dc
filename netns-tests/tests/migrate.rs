//! Migrating a keepalived pair to vipd, end to end: realistic keepalived.conf files
//! are converted with the real `vipd convert` binary, checked with `vipd check`, and run by
//! vipd against keepalived on the other node, then on both nodes; and the one-node-at-a-time
//! procedure of docs/migrating-from-keepalived.md runs under a client pinging the VIP.
//!
//! They need root, keepalived and a vipd binary built from this tree (`cargo build -p vipd`,
//! or `VIPD_BIN`); without them they say SKIPPED loudly (and fail under CI=true).

#[path = "migrate/conf.rs"]
mod conf;
#[path = "migrate/pair.rs"]
mod pair;
#[path = "migrate/rolling.rs"]
mod rolling;

use std::path::Path;
use std::time::Duration;

use netns_tests::peers::{KEEPALIVED, Vipd, VrrpSpec, require_tools};
use netns_tests::{Lab, require_root};

use conf::{NodeConf, PairConf, convert_and_check, write};

fn ready() -> bool {
    require_root() && require_tools(&[KEEPALIVED])
}

/// vipd on lab node `i`, running the converted file `yaml` as it is.
fn vipd_from(lab: &Lab, i: usize, spec: &VrrpSpec, priority: u8, yaml: &Path) -> Vipd {
    Vipd::new(lab.node(i), spec, priority, lab.log_path("")).with_config_file(yaml.to_path_buf())
}

/// Both nodes' files of both pair shapes convert with nothing left over and pass `vipd
/// check` (no root needed: this is the part of the migration done at a desk).
#[test]
fn lab_keepalived_configs_convert_cleanly_and_pass_vipd_check() {
    let dir = std::env::temp_dir().join(format!("vt-migrate-conv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    for version in [2, 3] {
        let pair = PairConf {
            version,
            interval: Duration::from_secs(1),
            vip: [10, 1, 2, 100].into(),
        };
        for a in [true, false] {
            let node = NodeConf::new(a, &dir);
            let file = write(
                &dir,
                &format!("v{version}-{a}.conf"),
                &pair.keepalived_conf(&node),
            );
            let yaml = std::fs::read_to_string(convert_and_check(&file)).expect("read yaml");
            // What the election depends on must reach vipd as keepalived meant it.
            for expected in [
                format!("version: {version}"),
                format!("priority: {}", node.priority),
                "{check: \"chk_app\", weight: -60}".to_string(),
                "label: \"eth0:vip\"".to_string(),
            ] {
                assert!(
                    yaml.contains(&expected),
                    "{expected:?} missing from:\n{yaml}"
                );
            }
            assert_eq!(
                yaml.contains("auth:"),
                version == 2,
                "auth is v2-only:\n{yaml}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// VRRPv2 with PASS authentication, 1 s adverts.
#[test]
fn v2_pair_migrates_node_a_against_keepalived_then_both() {
    if ready() {
        pair::run(|lab| PairConf {
            version: 2,
            interval: Duration::from_secs(1),
            vip: lab.vip4(0),
        });
    }
}

/// VRRPv3 (`vrrp_version 3` in global_defs), 100 ms adverts.
#[test]
fn v3_pair_migrates_node_a_against_keepalived_then_both() {
    if ready() {
        pair::run(|lab| PairConf {
            version: 3,
            interval: Duration::from_millis(100),
            vip: lab.vip4(0),
        });
    }
}

/// Keepalived on both, then the Backup replaced, mastership moved by stopping keepalived,
/// the old Master replaced: the client's loss is bounded per handover.
#[test]
fn rolling_migration_under_ping_loses_at_most_skew_time_per_handover() {
    if ready() {
        rolling::run();
    }
}
