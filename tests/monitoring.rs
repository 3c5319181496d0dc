//! The shipped Prometheus rules and Grafana dashboard (`monitoring/`) are valid for the
//! Prometheus that stores them: promtool checks the rules, runs their unit tests (an alert that
//! should fire and one that should not, for each), and parses every dashboard query.
//! That every metric name they use is one vipd exports is checked against a rendered scrape in
//! `src/control/metrics/tests/shipped.rs`.
//!
//! Without promtool the promtool tests say so loudly and skip, or fail when CI=true.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn monitoring(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("monitoring")
        .join(file)
}

/// `promtool ARGS`, or None (said on stderr) when promtool is missing outside CI.
fn promtool(args: &[&str], dir: &Path) -> Option<Output> {
    match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => Some(out),
        Err(e) => {
            let msg = format!(
                "SKIPPED: promtool not available ({e}); install the prometheus package \
                 (scripts/install-deps.sh) to check the alerting rules\n"
            );
            // A skip must never be silent.
            let _ = std::io::stderr().write_all(msg.as_bytes());
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "promtool is required when CI=true"
            );
            None
        }
    }
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_alerting_rules_pass_promtool_check() {
    let dir = monitoring("");
    let Some(out) = promtool(&["check", "rules", "vipd-alerts.yml"], &dir) else {
        return;
    };
    assert_success("promtool check rules monitoring/vipd-alerts.yml", &out);
}

#[test]
fn the_alerting_rules_pass_their_unit_tests() {
    let dir = monitoring("");
    let Some(out) = promtool(&["test", "rules", "vipd-alerts.test.yml"], &dir) else {
        return;
    };
    assert_success("promtool test rules monitoring/vipd-alerts.test.yml", &out);
}

/// The example scrape job loads the rules, and its job name is the one `VipdNodeDown` watches.
#[test]
fn the_example_scrape_config_passes_promtool_check() {
    let config = std::fs::read_to_string(monitoring("prometheus.yml")).unwrap();
    assert!(config.contains("job_name: vipd\n"), "{config}");
    assert!(config.contains("honor_labels: false"), "{config}");
    let rules = std::fs::read_to_string(monitoring("vipd-alerts.yml")).unwrap();
    assert!(rules.contains(r#"up{job="vipd"}"#), "{rules}");
    let Some(out) = promtool(&["check", "config", "prometheus.yml"], &monitoring("")) else {
        return;
    };
    assert_success("promtool check config monitoring/prometheus.yml", &out);
}

/// Every alert the rules define is tested firing and not firing: an `exp_alerts: []` case
/// and a case with expected alerts, for each name.
#[test]
fn every_alert_is_tested_firing_and_silent() {
    let rules = std::fs::read_to_string(monitoring("vipd-alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(monitoring("vipd-alerts.test.yml")).unwrap();
    let names: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(names.len() >= 6, "{names:?}");
    // Each `alertname:` line is followed by its `exp_alerts:` line.
    let lines: Vec<&str> = tests.lines().map(str::trim).collect();
    let cases: Vec<(&str, bool)> = lines
        .windows(2)
        .filter_map(|w| {
            let name = w[0].strip_prefix("alertname: ")?;
            let silent = w[1] == "exp_alerts: []";
            assert!(silent || w[1] == "exp_alerts:", "{name}: {}", w[1]);
            Some((name, silent))
        })
        .collect();
    for name in names {
        for silent in [true, false] {
            assert!(
                cases.contains(&(name, silent)),
                "{name} has no case where it is expected {}",
                if silent { "silent" } else { "to fire" }
            );
        }
    }
}

fn dashboard() -> serde_json::Value {
    let text = std::fs::read_to_string(monitoring("vipd-dashboard.json")).unwrap();
    serde_json::from_str(&text).expect("monitoring/vipd-dashboard.json is JSON")
}

/// The PromQL of every panel target, with Grafana's variables in it.
fn dashboard_queries(d: &serde_json::Value) -> Vec<(String, String)> {
    let panels = d["panels"].as_array().expect("panels");
    let mut out = Vec::new();
    for p in panels.iter().filter(|p| p["type"] != "row") {
        let title = p["title"].as_str().expect("every panel has a title");
        let targets = p["targets"].as_array().expect("every panel has targets");
        assert!(!targets.is_empty(), "{title}: no targets");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{title}");
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{title}: no expr"));
            out.push((title.to_owned(), expr.to_owned()));
        }
    }
    out
}

#[test]
fn the_dashboard_is_grafana_json_with_a_datasource_variable() {
    let d = dashboard();
    assert_eq!(d["uid"], "vipd-overview");
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(vars, ["datasource", "job", "router"]);
    let queries = dashboard_queries(&d);
    assert!(queries.len() >= 12, "{queries:?}");
    // The pictures the operators asked for.
    for metric in [
        "vipd_instance_state",
        "vipd_transitions_total",
        "vipd_channel_lost",
        "vipd_packets_rejected_total",
    ] {
        assert!(
            queries.iter().any(|(_, e)| e.contains(metric)),
            "no panel shows {metric}"
        );
    }
}

/// A panel query with its Grafana variables set to match everything.
fn with_variables_set(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$job", ".*")
        .replace("$router", ".*")
}

/// The state timeline's encoding (0 INIT, 1 FAULT, 2 BACKUP, 3 MASTER) is tested by promtool
/// on the panel's own query: the rules' test file holds it verbatim.
#[test]
fn the_state_timeline_query_is_the_one_promtool_tests() {
    let queries = dashboard_queries(&dashboard());
    let (_, state) = queries
        .iter()
        .find(|(title, _)| title == "State per node and instance")
        .expect("the state timeline panel");
    let tests = std::fs::read_to_string(monitoring("vipd-alerts.test.yml")).unwrap();
    let quoted = format!("'{}'", with_variables_set(state));
    assert!(
        tests.contains(&format!("expr: &state_timeline {quoted}")),
        "monitoring/vipd-alerts.test.yml does not test the panel's query {quoted}"
    );
}

/// Each panel query, its Grafana variables replaced, is a recording rule for promtool: it
/// parses as PromQL, or the test names the panel.
#[test]
fn every_dashboard_query_parses_as_promql() {
    let queries = dashboard_queries(&dashboard());
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (title, expr)) in queries.iter().enumerate() {
        let expr = with_variables_set(expr);
        assert!(!expr.contains('$'), "{title}: unknown variable in {expr}");
        let quoted = serde_json::to_string(&expr).unwrap();
        rules.push_str(&format!(
            "      - record: panel_{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = std::env::temp_dir().join(format!("vipd-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("panels.yml"), &rules).unwrap();
    let out = promtool(&["check", "rules", "panels.yml"], &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let Some(out) = out else { return };
    assert_success(&format!("promtool check rules on\n{rules}"), &out);
}
