//! The rules and dashboard shipped in `monitoring/` use only what a scrape of vipd holds:
//! every `vipd_*` name they mention is a sample name in the rendered metrics, and every input
//! series of the rules' unit tests has the labels vipd exports, as Prometheus stores them
//! (vipd's `instance` renamed `exported_instance`, the target's `job` and `instance` added).
//! Renaming a metric or a label therefore fails here, not on an operator's pager; the README's
//! metrics list is held to the same names, both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::*;

/// Every sample of a scrape of an instance with faults, a failing tracker, a lost channel,
/// rejections, transitions, both listeners and a socket's drops: name -> the label-name sets it appears with.
fn scrape() -> BTreeMap<String, BTreeSet<Vec<String>>> {
    let listeners: Vec<Listener> = vec![
        ("control", Arc::new(listener::Counters::default())),
        ("metrics", Arc::new(listener::Counters::default())),
    ];
    let mut web = instance(crate::vrrp::State::Master);
    // An arbiter that has renewed once, so that its latency is in the text too.
    let board = crate::arbiter::board::ArbiterBoard::new("/vipd/instance/web".into());
    board.renewed(std::time::Duration::from_millis(2));
    web.arbiter = Some(Arc::new(board));
    // A file tracker as well, so that every family vipd can export is in the text.
    web.trackers
        .write()
        .unwrap()
        .get_mut("web")
        .expect("the instance's trackers")
        .push(crate::track::Tracker {
            source: "file /run/weight".into(),
            weight: 1,
            file: true,
            health: crate::track::Health::Value(5),
        });
    // A receive loop that dropped a packet no instance saw.
    let (socket, _listed) =
        crate::daemon::socket_counters::register("eth0", crate::vrrp::Family::V4);
    socket.bump("too_short");
    let text = render_with(&[Arc::new(web)], &listeners);
    let mut samples: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, labels) = series(line.rsplit_once(' ').expect("sample value").0);
        samples.entry(name).or_default().insert(labels);
    }
    samples
}

/// `name{a="x",b="y"}` -> (name, [a, b] sorted). Label values here hold no `",`.
fn series(text: &str) -> (String, Vec<String>) {
    let Some((name, rest)) = text.split_once('{') else {
        return (text.trim().to_owned(), vec![]);
    };
    let body = rest.strip_suffix('}').expect("series ends with }");
    let mut labels: Vec<String> = body
        .split("\",")
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once('=').expect("label=value").0.trim().to_owned())
        .collect();
    labels.sort();
    (name.trim().to_owned(), labels)
}

fn shipped(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `vipd_` word in `text` (queries, annotations and descriptions alike).
fn vipd_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("vipd_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metric_the_rules_and_dashboard_use_is_in_a_scrape() {
    let scraped = scrape();
    for file in [
        "monitoring/vipd-alerts.yml",
        "monitoring/vipd-alerts.test.yml",
        "monitoring/vipd-dashboard.json",
        "README.md",
    ] {
        let used = vipd_names(&shipped(file));
        assert!(used.len() >= 3, "{file}: {used:?}");
        for name in used {
            assert!(
                scraped.contains_key(&name),
                "{file} uses {name}, which vipd does not export; it exports {:?}",
                scraped.keys().collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn the_rule_tests_series_have_the_labels_of_a_stored_scrape() {
    let scraped = scrape();
    let tests = shipped("monitoring/vipd-alerts.test.yml");
    let inputs: Vec<&str> = tests
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- series: '")?.strip_suffix('\''))
        .collect();
    assert!(inputs.len() >= 20, "{inputs:?}");
    for input in inputs {
        let (name, labels) = series(input);
        if name == "up" {
            continue;
        }
        // What vipd rendered: Prometheus added job and instance (the target) and moved
        // vipd's instance label to exported_instance.
        let mut as_rendered: Vec<String> = labels
            .iter()
            .filter(|l| *l != "job" && *l != "instance")
            .map(|l| match l.as_str() {
                "exported_instance" => "instance".to_owned(),
                other => other.to_owned(),
            })
            .collect();
        as_rendered.sort();
        assert!(
            labels.iter().any(|l| l == "job") && labels.iter().any(|l| l == "instance"),
            "{input}: a stored series has the target's job and instance"
        );
        let known = scraped.get(&name);
        assert!(
            known.is_some_and(|sets| sets.contains(&as_rendered)),
            "{input}: vipd renders {name} with labels {known:?}, not {as_rendered:?}"
        );
    }
}

/// The README's metrics list names every family a scrape holds, so none goes undocumented.
#[test]
fn the_readme_names_every_exported_metric() {
    let documented = vipd_names(&shipped("README.md"));
    let missing: Vec<_> = scrape()
        .into_keys()
        .filter(|n| !documented.contains(n))
        .collect();
    assert!(missing.is_empty(), "README.md does not name {missing:?}");
}
