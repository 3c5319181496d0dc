//! A script that another user could change is refused, by `vipd check` and by `vipd run`.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use netns_tests::require_root;
use netns_tests::vipd::{CheckKind, CheckSpec, Vipd};

use crate::common::*;

#[test]
fn a_world_writable_script_is_refused_by_check_and_run() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let n0 = lab.node(0);
    let bad = script(&lab, "writable-check.sh", "exit 0");
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o777)).unwrap();
    let bad_s = bad.display().to_string();
    let mut cfg = config(n0, web(vip, 150, vec![track_check("alive", 0)]));
    cfg.checks = vec![CheckSpec::new("alive", CheckKind::Script(bad_s.clone()))];
    let file = lab.log_path("insecure.yaml");
    std::fs::write(&file, cfg.to_yaml(&lab.log_path("insecure.sock"))).unwrap();

    let out = netns_tests::vipd::check(&file).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "vipd check must exit 1: {stderr}"
    );
    assert!(
        stderr.contains(&bad_s)
            && stderr.contains("world-writable")
            && stderr.contains(&format!("chmod o-w {bad_s}")),
        "the message must name the script, the problem and the fix:\n{stderr}"
    );

    let mut d = Vipd::start(&lab, n0, &cfg).unwrap();
    let status = d.wait_exit(Duration::from_secs(10));
    let log = d.log_text();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "vipd run must refuse to start:\n{log}"
    );
    let naming: Vec<&str> = log.lines().filter(|l| l.contains(&bad_s)).collect();
    assert_eq!(naming.len(), 1, "one line naming the script:\n{log}");
    assert!(naming[0].contains("world-writable"), "{}", naming[0]);
    assert!(!holds(n0, vip), "a refused vipd must not take the VIP");

    // The same file with the script fixed passes.
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = netns_tests::vipd::check(&file).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
