//! `vipd check` as a user runs it: the built binary, its output and exit status.

use std::path::Path;
use std::process::{Command, Output};

fn vipd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run vipd")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_prints_the_effective_config_with_computed_timers() {
    let out = vipd(&["check", "conf/lb1.yaml"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    // VRRPv3, priority 150, 1 s: Skew = (256 - 150) * 100 cs / 256 = 41.40625 cs;
    // Master_Down = 3 * 1 s + skew.
    for want in [
        "instance web:",
        "interface: eth0",
        "vrid: 51",
        "version: VRRPv3 (IPv4)",
        "priority: 150 (base)",
        "advert_interval: 1s",
        "preempt: yes",
        "skew_time: 414.0625ms",
        "master_down_interval: 3.4140625s",
        "vip: 192.168.1.100/24",
        "adverts: multicast",
        "track: check haproxy, weight -60",
        "notify master: /etc/vipd/notify master",
    ] {
        assert!(stdout.contains(want), "missing '{want}' in:\n{stdout}");
    }
}

#[test]
fn check_accepts_the_file_after_dash_c() {
    let out = vipd(&["check", "-c", "conf/lb2.yaml"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    // Priority 100: skew = 156 * 100 cs / 256 = 60.9375 cs, the RFC's worked example.
    assert!(stdout.contains("skew_time: 609.375ms"), "{stdout}");
    assert!(
        stdout.contains("master_down_interval: 3.609375s"),
        "{stdout}"
    );
}

#[test]
fn check_shows_the_address_owner() {
    let out = vipd(&["check", "tests/configs/good/owner.yaml"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("priority: 255 (address owner: starts as Master"),
        "{stdout}"
    );
    assert!(
        stdout.contains("track: check gw, FAULT when failed"),
        "{stdout}"
    );
}

#[test]
fn check_reports_every_error_with_location_and_exits_1() {
    let file = "tests/configs/bad/typo_priority.yaml";
    let out = vipd(&["check", file]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no summary for an invalid file");
    let want = format!("{file}:8:5: instances.web.priorty: unknown key; did you mean 'priority'?");
    assert!(stderr.lines().any(|l| l == want), "{stderr}");

    let dir = std::env::temp_dir().join(format!("vipd-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let two = dir.join("two.yaml");
    let yaml = "instances:\n  a:\n    interface: eth0\n    vrid: 0\n    vips: [192.0.2.1]\n    \
                preempt: maybe\n";
    std::fs::write(&two, yaml).expect("write");
    let out = vipd(&["check", two.to_str().expect("utf-8 path")]);
    std::fs::remove_dir_all(&dir).expect("cleanup");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(":4:11: instances.a.vrid: must be 1..=255, got 0"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":6:14: instances.a.preempt: expected true or false"),
        "{stderr}"
    );
    assert!(stderr.contains("2 problems"), "{stderr}");
}

#[test]
fn check_on_a_missing_file_says_so_and_exits_2() {
    let missing = "tests/configs/does-not-exist.yaml";
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join(missing).exists());
    let out = vipd(&["check", missing]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{missing}: cannot read:")),
        "{stderr}"
    );
}

#[test]
fn check_on_a_fifo_refuses_it_at_once_instead_of_hanging() {
    let dir = std::env::temp_dir().join(format!("vipd-cli-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("vipd.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args(["check", fifo.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run vipd");
    // Generous: a loaded machine; a hang never ends.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
            panic!("vipd check hung on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read: is a FIFO, not a regular file"),
        "{stderr}"
    );
}

#[test]
fn check_needs_exactly_one_file() {
    assert_eq!(vipd(&["check"]).status.code(), Some(2));
    let both = vipd(&["check", "-c", "conf/lb1.yaml", "conf/lb2.yaml"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn help_describes_check() {
    let out = vipd(&["--help"]);
    assert!(text(&out.stdout).contains("Validate a configuration file"));
    let out = vipd(&["check", "--help"]);
    let help = text(&out.stdout);
    assert!(
        help.contains("-c, --config <FILE>") && help.contains("Exit status"),
        "{help}"
    );
}
