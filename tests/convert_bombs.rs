//! `vipd convert` on hostile input: every bomb is refused quickly, with a message naming the
//! file, the line and the bound, and a file named by an `include` is never quoted.
//!
//! Run as the binary with a deadline, so a regression (a hang, a stack overflow, memory
//! exhaustion) fails the test instead of taking the test runner down with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("vipd-bomb-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Generous for a loaded machine; every bound here is hit in well under a second.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `vipd convert FILE`, killing it at the deadline (memory capped at 1 GiB so that a
/// blow-up fails fast instead of swapping); returns its exit code and stderr.
fn convert(file: &Path) -> (Option<i32>, String) {
    let mut child = Command::new("prlimit")
        .args(["--as=1073741824", "--"])
        .arg(env!("CARGO_BIN_EXE_vipd"))
        .args(["convert", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run prlimit (util-linux) and vipd");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "vipd convert {} still running after {DEADLINE:?}",
                file.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts a refusal (exit 2, no crash) whose message contains every one of `parts`.
fn refused(file: &Path, parts: &[&str]) -> String {
    let (code, err) = convert(file);
    assert_eq!(code, Some(2), "{}: {err}", file.display());
    for p in parts {
        assert!(err.contains(p), "missing {p:?} in: {err}");
    }
    err
}

const INSTANCE: &str = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n priority 100\n virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n";

#[test]
fn a_parameter_bomb_is_refused_naming_the_line_and_the_bound() {
    let d = Dir::new("param");
    let mut text = String::from("$P0=xxxxxxxxxxxxxxxx\n");
    for i in 1..=12 {
        let prev = format!("${{P{}}}", i - 1);
        text.push_str(&format!("$P{i}={}\n", vec![prev; 10].join(" ")));
    }
    text.push_str("global_defs {\n router_id $P12\n}\n");
    text.push_str(INSTANCE);
    let f = d.write("keepalived.conf", &text);
    refused(&f, &["keepalived.conf:15:", "longer than 65536 bytes"]);
}

#[test]
fn a_nesting_bomb_is_refused() {
    let d = Dir::new("nest");
    let text = format!(
        "{INSTANCE}{}\n{}\n",
        "a{".repeat(300_000),
        "}".repeat(300_000)
    );
    let f = d.write("keepalived.conf", &text);
    refused(&f, &["keepalived.conf:", "nested deeper than 32 levels"]);
}

#[test]
fn a_brace_bomb_in_an_include_is_refused() {
    let d = Dir::new("brace");
    let text = format!("{INSTANCE}include \"{}\"\n", "{a,b}".repeat(40));
    let f = d.write("keepalived.conf", &text);
    refused(&f, &["keepalived.conf:9:", "more than 256 patterns"]);
}

#[test]
fn include_fan_out_is_refused() {
    let d = Dir::new("fan");
    // Each level includes the next one ten times: 10^6 reads without a bound.
    for i in 0..6 {
        d.write(
            &format!("l{i}.conf"),
            &format!("include l{}.conf\n", i + 1).repeat(10),
        );
    }
    d.write("l6.conf", "! leaf\n");
    let f = d.write("keepalived.conf", &format!("{INSTANCE}include l0.conf\n"));
    refused(
        &f,
        &[
            "refused: more than 256 files in one conversion",
            "included at",
        ],
    );
}

#[test]
fn deep_includes_are_refused() {
    let d = Dir::new("deep");
    for i in 0..20 {
        d.write(&format!("l{i}.conf"), &format!("include l{}.conf\n", i + 1));
    }
    d.write("l20.conf", "! leaf\n");
    let f = d.write("keepalived.conf", &format!("{INSTANCE}include l0.conf\n"));
    refused(&f, &["includes nested deeper than 8 levels"]);
}

#[test]
fn a_glob_over_a_huge_directory_is_refused() {
    let d = Dir::new("glob");
    for i in 0..10_050 {
        std::fs::write(d.0.join(format!("f{i}.x")), "").unwrap();
    }
    let f = d.write("keepalived.conf", &format!("{INSTANCE}include *.conf.d\n"));
    refused(
        &f,
        &["keepalived.conf:9:", "more than 10000 directory entries"],
    );
    let f = d.write(
        "star.conf",
        &format!("{INSTANCE}include {}b\n", "*a".repeat(40)),
    );
    refused(&f, &["star.conf:9:", "more than 10000 directory entries"]);
}

#[test]
fn a_fifo_or_device_include_is_refused_at_once() {
    let d = Dir::new("fifo");
    let fifo = d.0.join("p.conf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let f = d.write("keepalived.conf", &format!("{INSTANCE}include p.conf\n"));
    refused(
        &f,
        &[
            "p.conf (included at ",
            "keepalived.conf:9)",
            "is a FIFO, not a regular file",
        ],
    );
    let f = d.write("zero.conf", &format!("{INSTANCE}include /dev/zero\n"));
    refused(&f, &["/dev/zero (included at", "is a character device"]);
    refused(&fifo, &["p.conf: refused: is a FIFO"]);
}

#[test]
fn an_included_file_that_is_not_keepalived_config_is_never_quoted() {
    let d = Dir::new("shadow");
    let secret = "root:$6$s3cretSALT$HASHhashHASH:19000:0:99999:7:::";
    d.write(
        "shadow",
        &format!("{secret}\ndaemon:*:19000:0:99999:7:::\n"),
    );
    for (name, text) in [
        ("top.conf", format!("{INSTANCE}include shadow\n")),
        (
            "block.conf",
            format!("global_defs {{\ninclude shadow\n}}\n{INSTANCE}"),
        ),
        (
            "unbalanced.conf",
            format!("{INSTANCE}vrrp_script c {{\ninclude shadow\n"),
        ),
    ] {
        let f = d.write(name, &text);
        let (code, err) = convert(&f);
        for leak in ["s3cret", "HASH", "root:", "daemon"] {
            assert!(!err.contains(leak), "{name}: {leak} leaked: {err}");
        }
        assert_ne!(code, None, "{name}: crashed: {err}");
        if name != "unbalanced.conf" {
            assert!(
                err.contains("shadow:1"),
                "{name}: the place is named: {err}"
            );
        }
    }
    let (_, err) = convert(&d.write("top2.conf", &format!("{INSTANCE}include shadow\n")));
    assert!(err.contains("not keepalived configuration"), "{err}");
}
