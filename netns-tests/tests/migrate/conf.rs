//! The lab pair's keepalived.conf files, and running the real `vipd convert` and `vipd check`
//! binaries on them, as a user migrating would.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use netns_tests::peers::{HIGH, LOW, VRID, VrrpSpec};
use netns_tests::vipd::vipd_bin;

/// What the check script's weight takes off a failing node: enough to put the preferred
/// Master (HIGH) below the other (LOW), as a real deployment sets it.
pub const CHECK_WEIGHT: i16 = -60;
/// The check script's interval (seconds) and fall count: a failure counts after this long.
pub const CHECK_INTERVAL_S: u64 = 1;
/// Consecutive failures (and successes) before the script's verdict changes.
pub const CHECK_FALL: u64 = 2;
/// VRRPv2 PASS password (8 characters: keepalived would cut a longer one).
const AUTH_PASS: &str = "labpass1";

/// The shape of the pair's configuration.
#[derive(Debug, Clone, Copy)]
pub struct PairConf {
    /// VRRP version, 2 (with PASS authentication) or 3 (set in global_defs, no auth).
    pub version: u8,
    /// advert_int.
    pub interval: Duration,
    /// The virtual address, a /24 on eth0.
    pub vip: Ipv4Addr,
}

/// One node of the pair: node A is the preferred Master, node B the Backup.
#[derive(Debug, Clone)]
pub struct NodeConf {
    /// keepalived's router_id.
    pub router_id: &'static str,
    /// Its priority.
    pub priority: u8,
    /// The file whose presence the check script requires: remove it to fail the node.
    pub healthy: PathBuf,
    /// The file notify_master appends a line to.
    pub notify: PathBuf,
}

impl NodeConf {
    /// Node A (`a` true) or B, with its files in `dir`.
    pub fn new(a: bool, dir: &Path) -> NodeConf {
        let tag = if a { "a" } else { "b" };
        NodeConf {
            router_id: if a { "lab-a" } else { "lab-b" },
            priority: if a { HIGH } else { LOW },
            healthy: dir.join(format!("healthy-{tag}")),
            notify: dir.join(format!("notify-master-{tag}")),
        }
    }

    /// The priority it advertises while its check script fails.
    pub fn failed_priority(&self) -> u8 {
        u8::try_from(i16::from(self.priority) + CHECK_WEIGHT).expect("within 1..=254")
    }

    /// How many times notify_master has run on it.
    pub fn master_notifications(&self) -> usize {
        std::fs::read_to_string(&self.notify).map_or(0, |s| s.lines().count())
    }

    /// Makes its check script succeed (`true`) or fail.
    pub fn set_healthy(&self, healthy: bool) {
        if healthy {
            std::fs::write(&self.healthy, "ok\n").expect("write health flag");
        } else {
            std::fs::remove_file(&self.healthy).expect("remove health flag");
        }
    }
}

impl PairConf {
    /// The spec the scenario checks against (what both nodes agree on).
    pub fn spec(&self) -> VrrpSpec {
        VrrpSpec::new(self.version, VRID, self.vip.into(), self.interval)
    }

    /// A realistic keepalived.conf for `node`, as an administrator of the pair would write it.
    pub fn keepalived_conf(&self, node: &NodeConf) -> String {
        let mut c = String::new();
        let w = &mut c;
        let _ = writeln!(w, "! keepalived.conf of {} (lab pair)", node.router_id);
        let _ = writeln!(w, "global_defs {{\n   router_id {}", node.router_id);
        let _ = writeln!(w, "   script_user root\n   enable_script_security");
        if self.version == 3 {
            let _ = writeln!(w, "   vrrp_version 3");
        }
        let _ = writeln!(w, "}}\n");
        let _ = writeln!(
            w,
            "# the application drops its flag file when it is unhealthy"
        );
        let _ = writeln!(w, "vrrp_script chk_app {{");
        let _ = writeln!(
            w,
            "   script \"/usr/bin/test -e {}\"",
            node.healthy.display()
        );
        let _ = writeln!(w, "   interval {CHECK_INTERVAL_S}");
        let _ = writeln!(w, "   fall {CHECK_FALL}\n   rise {CHECK_FALL}");
        let _ = writeln!(w, "   weight {CHECK_WEIGHT}\n}}\n");
        let _ = writeln!(w, "vrrp_instance VI_1 {{");
        let state = if node.priority == HIGH {
            "MASTER"
        } else {
            "BACKUP"
        };
        let _ = writeln!(w, "   state {state}\n   interface eth0");
        let _ = writeln!(w, "   virtual_router_id {VRID}");
        let _ = writeln!(w, "   priority {}", node.priority);
        let _ = writeln!(w, "   advert_int {}", self.interval.as_secs_f64());
        if self.version == 2 {
            let _ = writeln!(
                w,
                "   authentication {{\n      auth_type PASS\n      auth_pass {AUTH_PASS}\n   }}"
            );
        }
        let _ = writeln!(w, "   virtual_ipaddress {{");
        let _ = writeln!(w, "      {}/24 dev eth0 label eth0:vip\n   }}", self.vip);
        let _ = writeln!(w, "   track_script {{\n      chk_app\n   }}");
        let _ = writeln!(
            w,
            "   notify_master \"/bin/sh -c 'echo master >> {}'\"\n}}",
            node.notify.display()
        );
        c
    }
}

/// Runs `vipd convert CONF -o YAML` (the binary, as users do) and then `vipd check YAML`;
/// panics unless both succeed with nothing left unconverted. Returns the YAML's path.
pub fn convert_and_check(conf: &Path) -> PathBuf {
    let yaml = conf.with_extension("yaml");
    let bin = vipd_bin().expect("vipd binary");
    assert!(
        bin.is_file(),
        "no vipd binary at {}: build it (cargo build -p vipd) or set VIPD_BIN",
        bin.display()
    );
    let out = Command::new(&bin)
        .arg("convert")
        .arg(conf)
        .arg("-o")
        .arg(&yaml)
        .output()
        .expect("run vipd convert");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exit 0 without --allow-unsupported already means every keyword was mapped; an empty
    // stderr also rules out warnings the user would have to read.
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "vipd convert {} failed ({}):\n{stderr}\n--- input ---\n{}",
        conf.display(),
        out.status,
        std::fs::read_to_string(conf).unwrap_or_default()
    );
    let text = std::fs::read_to_string(&yaml).expect("vipd convert wrote its output");
    let out = Command::new(&bin)
        .arg("check")
        .arg(&yaml)
        .output()
        .expect("run vipd check");
    assert!(
        out.status.success(),
        "vipd check rejects the converted file ({}):\n{}\n--- yaml ---\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    yaml
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}
