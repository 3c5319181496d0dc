//! The shipped alerting rules (`monitoring/vipd-alerts.yml`) judge series recorded from a real
//! pair: both nodes are scraped healthy, after node0 is killed (node1 takes over), and after
//! node1 is drained too (nobody holds the VIP). Each scrape is stored as Prometheus stores it
//! (vipd's `instance` as `exported_instance`, the target as `instance`, `job="vipd"`, `up`,
//! staleness when a target stops answering) and held for 10 one-minute samples, so the
//! rules' `for:` windows pass; promtool then says which alerts fire after each phase.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netns_tests::peers::require_tools;
use netns_tests::require_root;
use netns_tests::vipd::VrrpState;
use netns_tests::vipd::metrics::scrape;

use crate::common::*;

/// Samples (one a minute) each phase is held for.
const HELD: usize = 10;

/// One phase: per target, the scraped text, or None when the target did not answer.
type Phase = Vec<(&'static str, Option<String>)>;

/// `name{k="v",...}` as stored by Prometheus from a line of vipd's text exposition.
fn stored(line: &str, target: &str) -> Option<(String, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, ""),
        Some((name, rest)) => (name, rest.strip_suffix('}')?),
    };
    let mut out = format!("{name}{{job=\"vipd\",instance=\"{target}\"");
    for pair in labels.split("\",").filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=')?;
        let k = if k == "instance" {
            "exported_instance"
        } else {
            k
        };
        let _ = write!(out, ",{k}={}\"", v.trim_end_matches('"'));
    }
    out.push('}');
    Some((out, value))
}

/// The promtool input series of `phases`: every series with one value per minute, a
/// staleness marker where its target stopped answering, nothing before it appeared.
fn input_series(phases: &[Phase]) -> String {
    let mut values: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for (p, phase) in phases.iter().enumerate() {
        for (target, text) in phase {
            let up = format!("up{{job=\"vipd\",instance=\"{target}\"}}");
            let entry = values.entry(up).or_insert_with(|| vec![None; phases.len()]);
            entry[p] = Some(if text.is_some() { 1.0 } else { 0.0 });
            let lines = text.iter().flat_map(|t| t.lines());
            for line in lines.filter(|l| !l.starts_with('#')) {
                if let Some((series, v)) = stored(line, target) {
                    let entry = values
                        .entry(series)
                        .or_insert_with(|| vec![None; phases.len()]);
                    entry[p] = Some(v);
                }
            }
        }
    }
    let mut out = String::new();
    for (series, per_phase) in values {
        let mut tokens = Vec::new();
        let mut before = None;
        for v in per_phase {
            for i in 0..HELD {
                tokens.push(match v {
                    Some(v) => v.to_string(),
                    None if before.is_some() && i == 0 => "stale".to_owned(),
                    None => "_".to_owned(),
                });
            }
            before = v;
        }
        let _ = writeln!(
            out,
            "      - series: '{series}'\n        values: '{}'",
            tokens.join(" ")
        );
    }
    out
}

/// The promtool test: after each phase, exactly `firing[p]` (ALERTS label sets) fire.
fn promtool_test(phases: &[Phase], firing: &[&[&str]]) -> String {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../monitoring/vipd-alerts.yml");
    let mut out = format!(
        "rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{}    promql_expr_test:\n",
        rules.display(),
        input_series(phases)
    );
    for (p, alerts) in firing.iter().enumerate() {
        let at = (p + 1) * HELD - 1;
        let _ = writeln!(
            out,
            "      - expr: ALERTS{{alertstate=\"firing\"}}\n        eval_time: {at}m\n        exp_samples:"
        );
        for labels in *alerts {
            let _ = writeln!(
                out,
                "          - labels: 'ALERTS{{alertstate=\"firing\",{labels}}}'\n            value: 1"
            );
        }
        if alerts.is_empty() {
            out.push_str("          []\n");
        }
    }
    out
}

#[test]
fn the_alerting_rules_judge_a_recorded_failover_and_a_pair_with_no_master() {
    if !require_root() || !require_tools(&[("promtool", "prometheus")]) {
        return;
    }
    let lab = lab();
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let addr: SocketAddr = "127.0.0.1:9742".parse().unwrap();
    let (high, low) = (inst("web", 51, vip, 150), inst("web", 51, vip, 100));
    let mut c0 = config(n0, vec![high]);
    let mut c1 = config(n1, vec![low.clone()]);
    c0.metrics_listen = Some(addr);
    c1.metrics_listen = Some(addr);
    let [mut d0, mut d1] = master_then_backup(&lab, &c0, &c1);
    wait_holds(n0, vip, true, TOLERANCE);
    let (t0, t1) = ("node0:9742", "node1:9742");
    let healthy: Phase = vec![
        (t0, Some(scrape(n0, addr).unwrap())),
        (t1, Some(scrape(n1, addr).unwrap())),
    ];

    d0.kill();
    d1.wait_state(
        "web",
        VrrpState::Master,
        low.master_down_interval() + TOLERANCE,
    )
    .unwrap();
    wait_holds(n1, vip, true, TOLERANCE);
    assert!(scrape(n0, addr).is_err(), "node0 is dead");
    let failed_over: Phase = vec![(t0, None), (t1, Some(scrape(n1, addr).unwrap()))];

    d1.ctl_ok(&["maintenance", "on"]).unwrap();
    d1.wait_state("web", VrrpState::Backup, Duration::from_secs(5))
        .unwrap();
    wait_holds(n1, vip, false, TOLERANCE);
    let no_master: Phase = vec![(t0, None), (t1, Some(scrape(n1, addr).unwrap()))];

    let node_down =
        r#"alertname="VipdNodeDown",severity="critical",job="vipd",instance="node0:9742""#;
    let no_master_alert =
        r#"alertname="VipdNoMaster",severity="critical",job="vipd",exported_instance="web""#;
    let test = promtool_test(
        &[healthy, failed_over, no_master],
        &[&[], &[node_down], &[node_down, no_master_alert]],
    );
    let file = lab.log_path("recorded-alerts.test.yml");
    std::fs::write(&file, &test).unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool test rules {}:\n{}\n{}\n{test}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
