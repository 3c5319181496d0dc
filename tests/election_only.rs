//! Election-only instances (`vips: []`): they load, say so in adverts (count 0), and
//! keepalived instances without `virtual_ipaddress` convert to them. A missing `vips` key
//! is still an error.

use std::path::Path;

use vipd::config::Config;
use vipd::convert::{Options, convert_str};
use vipd::vrrp::Family;

fn instance(vips: &str, extra: &str) -> String {
    format!("instances:\n  web:\n    interface: eth0\n    vrid: 51\n{vips}{extra}")
}

#[test]
fn an_explicitly_empty_list_loads_and_the_router_advertises_no_address() {
    let c = Config::parse(&instance("    vips: []\n", ""), "e.yaml").unwrap();
    let web = &c.instances["web"];
    assert!(web.vips.is_empty());
    assert_eq!(web.family(), Family::V4);
    let rc = web.router_config("web", "10.0.0.1".parse().unwrap(), &[]);
    assert!(rc.vips.is_empty());
}

#[test]
fn an_election_only_instance_takes_its_unicast_peers_family() {
    let unicast = "    unicast: {peers: [\"2001:db8::2\"]}\n";
    let c = Config::parse(&instance("    vips: []\n", unicast), "e.yaml").unwrap();
    assert_eq!(c.instances["web"].family(), Family::V6);
}

#[test]
fn a_missing_vips_key_is_still_an_error() {
    let e = Config::parse(&instance("", ""), "e.yaml").expect_err("vips is required");
    let text = e.to_string();
    assert!(
        text.contains("e.yaml:3:") && text.contains("instances.web.vips"),
        "{text}"
    );
}

#[test]
fn an_election_only_instance_cannot_use_a_virtual_mac() {
    let e = Config::parse(
        &instance("    vips: []\n", "    use_vmac: true\n"),
        "e.yaml",
    )
    .expect_err("no address for a vmac");
    let text = e.to_string();
    assert!(text.contains("instances.web.use_vmac"), "{text}");
}

#[test]
fn a_keepalived_instance_without_virtual_ipaddress_converts_to_election_only() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n notify_master /usr/local/bin/move-ip\n}\n";
    let c = convert_str(text, "ka.conf", Path::new("."), &Options::default()).expect("converts");
    let yaml = c.yaml.expect("converted");
    assert!(yaml.contains("vips: []"), "{yaml}");
    assert!(yaml.contains("election-only"), "{yaml}");
    let config = Config::parse(&yaml, "out.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert!(config.instances.values().all(|i| i.vips.is_empty()));
}

/// scripts/move-floating-ip as vipd calls it, with `env` for its environment.
fn move_floating_ip(command: Option<&str>) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/move-floating-ip");
    let mut cmd = std::process::Command::new(script);
    cmd.args(["INSTANCE", "floating", "MASTER", "150"])
        .env_remove("FLOATING_IP_COMMAND");
    if let Some(c) = command {
        cmd.env("FLOATING_IP_COMMAND", c);
    }
    cmd.output().expect("runs")
}

#[test]
fn the_example_notify_script_calls_the_command_with_state_and_instance() {
    let out = move_floating_ip(Some("echo"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "MASTER floating\n");
}

#[test]
fn the_example_notify_script_fails_loudly_without_a_command() {
    let out = move_floating_ip(None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FLOATING_IP_COMMAND is not set"), "{err}");
}

#[test]
fn the_example_config_loads_as_an_election_only_instance() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/election-only.yaml");
    let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.instances["floating"].vips.is_empty());
}
