//! Fixtures shared by the tracking tests: a two-node lab, scripts on disk, waits.

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netns_tests::vipd::{InstanceSpec, TrackSpec, TrackTarget, Vipd, VipdConfig, VrrpState};
use netns_tests::{Lab, LabSpec, Mac, Node, wait_until};

/// How long a neighbour probe listens for answers.
pub const PROBE: Duration = Duration::from_millis(600);
/// Slack on top of a protocol deadline: two cores run several labs and a debug vipd at once.
pub const TOLERANCE: Duration = Duration::from_millis(1500);
/// How long a first election may take beyond Master_Down_Interval (process start included).
pub const START_SLACK: Duration = Duration::from_secs(5);

/// A two-node lab, with the heartbeat link (`eth1`) when `heartbeat`.
pub fn lab(heartbeat: bool) -> Lab {
    Lab::new(LabSpec {
        heartbeat_link: heartbeat,
        ..Default::default()
    })
    .expect("lab")
}

/// Instance `web` (VRID 51, 100 ms adverts) holding `vip`, tracking `track`.
pub fn web(vip: Ipv4Addr, priority: u8, track: Vec<TrackSpec>) -> InstanceSpec {
    InstanceSpec {
        priority,
        vips: vec![vip.into()],
        track,
        ..Default::default()
    }
}

/// A tracker of check `name` with `weight`.
pub fn track_check(name: &str, weight: i16) -> TrackSpec {
    TrackSpec {
        target: TrackTarget::Check(name.into()),
        weight,
    }
}

/// `node`'s configuration with one instance.
pub fn config(node: &Node, instance: InstanceSpec) -> VipdConfig {
    VipdConfig::single(node.name(), instance)
}

/// Starts node 0 with `first` until Master, then node 1 with `second` until Backup.
pub fn master_then_backup(lab: &Lab, first: &VipdConfig, second: &VipdConfig) -> [Vipd; 2] {
    let mut a = Vipd::start(lab, lab.node(0), first).expect("start vipd");
    settle(&mut a, &first.instances[0], VrrpState::Master);
    let mut b = Vipd::start(lab, lab.node(1), second).expect("start vipd");
    settle(&mut b, &second.instances[0], VrrpState::Backup);
    [a, b]
}

/// Waits until `vipd` reports `state` for `spec`, within the first-election budget.
pub fn settle(vipd: &mut Vipd, spec: &InstanceSpec, state: VrrpState) {
    vipd.wait_state(&spec.name, state, spec.master_down_interval() + START_SLACK)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Writes an executable shell script (root-owned, mode 0755, as vipd requires of scripts
/// it runs as root) into the lab's directory.
pub fn script(lab: &Lab, name: &str, body: &str) -> PathBuf {
    let path = lab.log_path(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A check script that fails while `flag` exists: the test's switch for a health check.
pub fn flag_check(lab: &Lab, flag: &Path) -> String {
    // Written once: rewriting a script that a running vipd may be executing races exec.
    let path = lab.log_path("fails-if-exists.sh");
    let s = if path.exists() {
        path
    } else {
        script(lab, "fails-if-exists.sh", r#"[ ! -e "$1" ]"#)
    };
    format!("{} {}", s.display(), flag.display())
}

/// Creates (`true`) or removes a flag file.
pub fn set_flag(flag: &Path, on: bool) {
    if on {
        std::fs::write(flag, "").unwrap();
    } else {
        std::fs::remove_file(flag).unwrap();
    }
}

pub use netns_tests::vipd::{holds, wait_holds};

/// Asserts that `master` alone holds `vip` and answers the client's ARP for it.
pub fn assert_master(lab: &Lab, master: &Node, vip: Ipv4Addr) {
    for node in &lab.nodes {
        let expected = node.ns() == master.ns();
        assert_eq!(holds(node, vip), expected, "{} holding {vip}", node.name());
    }
    let mac: Mac = master.mac("eth0").unwrap();
    assert_eq!(
        lab.client.arp_probe(vip, PROBE).unwrap(),
        vec![mac],
        "{} alone must answer ARP for {vip}",
        master.name()
    );
}

/// Waits until `vipd`'s status shows `web` at `priority`.
pub fn wait_priority(vipd: &Vipd, priority: u8, timeout: Duration) {
    let mut last = None;
    let ok = wait_until(timeout, Duration::from_millis(50), || {
        last = vipd
            .status()
            .ok()
            .map(|s| s.instance("web").effective_priority);
        last == Some(priority)
    });
    assert!(
        ok.is_ok(),
        "{}: effective priority {last:?}, expected {priority}",
        vipd.node().name()
    );
}

/// The lines of `path` so far (none while it does not exist).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
