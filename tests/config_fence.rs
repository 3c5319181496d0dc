//! `fence` and election-only (`vips: []`) instances: what loads, what the router is told,
//! and the errors for what does not load.

use std::time::Duration;

use vipd::config::{Config, OnFenceFailure};

fn instance(extra: &str) -> String {
    format!(
        "instances:\n  web:\n    interface: eth0\n    vrid: 51\n    vips: [192.0.2.10/24]\n{extra}"
    )
}

fn error_of(yaml: &str) -> String {
    Config::parse(yaml, "f.yaml")
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn a_fence_loads_with_its_defaults_and_asks_the_router_for_the_gate() {
    let c = Config::parse(
        &instance("    fence: {command: \"/usr/local/sbin/fence-peer --pdu 'rack 1'\"}\n"),
        "f.yaml",
    )
    .unwrap();
    let web = &c.instances["web"];
    let fence = web.fence.as_ref().unwrap();
    assert_eq!(
        fence.argv,
        ["/usr/local/sbin/fence-peer", "--pdu", "rack 1"]
    );
    assert_eq!(fence.timeout, Duration::from_secs(10));
    assert_eq!(fence.on_failure, OnFenceFailure::Retry);
    let rc = web.router_config("web", "10.0.0.1".parse().unwrap(), &[]);
    assert!(rc.fence);
    // The core must not give up on a fence that is still allowed to run.
    assert!(rc.gate_patience > fence.timeout, "{:?}", rc.gate_patience);

    let plain = Config::parse(&instance(""), "f.yaml").unwrap();
    assert!(
        !plain.instances["web"]
            .router_config("web", "10.0.0.1".parse().unwrap(), &[])
            .fence
    );
}

#[test]
fn on_failure_proceed_and_a_timeout_are_read() {
    let c = Config::parse(
        &instance("    fence: {command: /bin/fence, timeout: 30s, on_failure: proceed}\n"),
        "f.yaml",
    )
    .unwrap();
    let fence = c.instances["web"].fence.clone().unwrap();
    assert_eq!(fence.timeout, Duration::from_secs(30));
    assert_eq!(fence.on_failure, OnFenceFailure::Proceed);
}

#[test]
fn bad_fences_are_refused_naming_file_line_and_key() {
    let e = error_of(&instance("    fence: {timeout: 1s}\n"));
    assert!(
        e.contains("f.yaml:6:") && e.contains("instances.web.fence.command"),
        "{e}"
    );
    let e = error_of(&instance("    fence: {command: \"/bin/fence 'open\"}\n"));
    assert!(
        e.contains("f.yaml:6:") && e.contains("instances.web.fence.command"),
        "{e}"
    );
    assert!(e.contains("unbalanced quote"), "{e}");
    let e = error_of(&instance(
        "    fence: {command: /bin/f, on_failure: ignore}\n",
    ));
    assert!(e.contains("instances.web.fence.on_failure"), "{e}");
    assert!(e.contains("retry") && e.contains("proceed"), "{e}");
    let e = error_of(&instance("    fence: {command: /bin/f, comand: x}\n"));
    assert!(e.contains("instances.web.fence.comand"), "{e}");
}
