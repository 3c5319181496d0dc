//! `vipd convert` exit statuses and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vipd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args(args)
        .output()
        .expect("vipd runs")
}

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/convert")
        .join(rel)
        .display()
        .to_string()
}

/// A keepalived file in a scratch directory, removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str, text: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!("vipd-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("keepalived.conf"), text).expect("write");
        Temp(dir)
    }

    fn conf(&self) -> String {
        self.0.join("keepalived.conf").display().to_string()
    }

    fn out(&self) -> PathBuf {
        self.0.join("vipd.yaml")
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const WITH_EMAIL: &str = "vrrp_instance V {\n interface eth0\n virtual_router_id 5\n smtp_alert\n virtual_ipaddress {\n  192.0.2.5\n }\n}\n";

#[test]
fn clean_conversion_writes_the_file_and_exits_0() {
    let t = Temp::new(
        "ok",
        "vrrp_instance V {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  192.0.2.5\n }\n}\n",
    );
    let out = t.out().display().to_string();
    let o = vipd(&["convert", &t.conf(), "-o", &out]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let check = vipd(&["check", &out]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn unsupported_keywords_fail_unless_allowed() {
    let t = Temp::new("unsup", WITH_EMAIL);
    let o = vipd(&["convert", &t.conf()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}:4: smtp_alert: vipd sends no email", t.conf())),
        "{err}"
    );
    assert!(err.contains("--allow-unsupported"), "{err}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("vrid: 5"),
        "the YAML is still printed"
    );
    let o = vipd(&["convert", &t.conf(), "--allow-unsupported"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains(":4: smtp_alert"), "still listed");
}

#[test]
fn lvs_only_config_has_nothing_to_convert() {
    let o = vipd(&["convert", &fixture("lvs_only.conf"), "--allow-unsupported"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("lvs_only.conf:1: virtual_server: load balancing"),
        "{err}"
    );
    assert!(err.contains("nothing to convert"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn malformed_input_exits_2_with_file_and_line() {
    let t = Temp::new("bad", "vrrp_instance V {\n interface eth0\n");
    let o = vipd(&["convert", &t.conf()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(":1: the block of 'vrrp_instance' is never closed"),
        "{}",
        stderr(&o)
    );
    let o = vipd(&["convert", "/nonexistent/keepalived.conf"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn output_vipd_would_reject_is_not_written() {
    // Two instances with the same VRID on one interface: keepalived starts, vipd refuses.
    let one = |n: &str, ip: &str| {
        format!(
            "vrrp_instance {n} {{\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {{\n  {ip}\n }}\n}}\n"
        )
    };
    let t = Temp::new(
        "reject",
        &format!("{}{}", one("A", "192.0.2.1"), one("B", "192.0.2.2")),
    );
    let out = t.out();
    let o = vipd(&["convert", &t.conf(), "-o", &out.display().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("does not pass vipd check"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("already used by instance 'A'"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

/// `vipd convert keepalived.conf`, the file named without a directory: includes and
/// `${_PWD}` resolve against the file's directory, as keepalived resolves them, not `/`.
#[test]
fn includes_resolve_beside_a_file_named_without_a_directory() {
    let t = Temp::new(
        "bare",
        "include conf.d/*.conf\ninclude ${_PWD}/more/extra.conf\n",
    );
    std::fs::create_dir_all(t.0.join("conf.d")).expect("mkdir");
    std::fs::create_dir_all(t.0.join("more")).expect("mkdir");
    std::fs::write(
        t.0.join("conf.d/web.conf"),
        "vrrp_instance WEB {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  192.0.2.5\n }\n}\n",
    )
    .expect("write");
    std::fs::write(
        t.0.join("more/extra.conf"),
        "vrrp_instance API {\n interface eth0\n virtual_router_id 6\n virtual_ipaddress {\n  192.0.2.6\n }\n}\n",
    )
    .expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args(["convert", "keepalived.conf"])
        .current_dir(&t.0)
        .output()
        .expect("vipd runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = String::from_utf8_lossy(&o.stdout);
    assert!(yaml.contains("WEB:") && yaml.contains("API:"), "{yaml}");

    // A pattern that matches nothing is reported (keepalived logs it), never passed over.
    std::fs::remove_file(t.0.join("conf.d/web.conf")).expect("rm");
    let o = Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args(["convert", "keepalived.conf"])
        .current_dir(&t.0)
        .output()
        .expect("vipd runs");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("matches no file"), "{}", stderr(&o));
}

/// What would change the node's behaviour on the wire is not accepted by
/// --allow-unsupported: against the keepalived peer it could make both Master.
#[test]
fn wire_differences_exit_1_even_with_allow_unsupported() {
    let t = Temp::new(
        "wire",
        "vrrp_instance V {\n interface eth0\n virtual_router_id 5\n version 2\n virtual_ipaddress {\n  2001:db8::5/64\n }\n}\n",
    );
    let o = vipd(&["convert", &t.conf(), "--allow-unsupported"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("differs on the wire"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not accept these"),
        "{}",
        stderr(&o)
    );
}

/// keepalived's config-id defaults to the first part of the host name: so does convert's.
#[test]
fn config_id_defaults_to_the_host_name() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let id = host.trim().split('.').next().expect("name").to_owned();
    let t = Temp::new(
        "cfgid",
        &format!(
            "vrrp_instance V {{\n interface eth0\n virtual_router_id 5\n @{id} priority 201\n @^{id} priority 50\n virtual_ipaddress {{\n  192.0.2.5\n }}\n}}\n"
        ),
    );
    let o = vipd(&["convert", &t.conf()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = String::from_utf8_lossy(&o.stdout);
    assert!(yaml.contains("priority: 201"), "{yaml}");
    assert!(
        stderr(&o).contains(&format!("config-id '{id}'")),
        "{}",
        stderr(&o)
    );
    let o = vipd(&["convert", &t.conf(), "--config-id", "other"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("priority: 50"));
}
