//! Every configuration key the README and docs/*.md show must be one vipd accepts: the keys
//! of the README's tables (`global`, `checks`, `instances`), every `global.KEY` named in
//! code, every YAML example, and the example files they name. Each probe is a small file
//! put through `Config::parse`, so the decoder's own key lists decide.

use vipd::config::{Config, ErrorKind};

#[path = "docs_support/mod.rs"]
mod support;
use support::{command_texts, documents, root, split_fences};

/// The first-column keys of the tables under a README heading (up to the next heading).
fn table_keys(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no heading {heading:?}"));
    let section = &readme[start + heading.len()..];
    let section = &section[..section.find("\n#").unwrap_or(section.len())];
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

/// Unknown-key errors of a file, as their key paths.
fn unknown_keys(yaml: &str) -> Vec<String> {
    match Config::parse(yaml, "doc.yaml") {
        Ok(_) => vec![],
        Err(e) => e
            .errors()
            .iter()
            .filter(|e| e.kind == ErrorKind::UnknownKey)
            .map(|e| e.path.clone())
            .collect(),
    }
}

/// Keys of a README table that the decoder does not accept at `prefix`.
fn unaccepted(keys: &[String], wrap: impl Fn(&str) -> String) -> Vec<String> {
    keys.iter()
        .filter(|k| !unknown_keys(&wrap(k)).is_empty())
        .cloned()
        .collect()
}

fn global_probe(key: &str) -> String {
    format!("global:\n  {key}: null\n")
}
fn check_probe(key: &str) -> String {
    format!("checks:\n  c:\n    {key}: null\n")
}
fn instance_probe(key: &str) -> String {
    format!("instances:\n  i:\n    {key}: null\n")
}
fn arbiter_probe(key: &str) -> String {
    format!("arbiter:\n  {key}: null\n")
}

#[test]
fn every_key_in_the_readme_tables_is_accepted() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut problems = Vec::new();
    for (heading, probe, at_least) in [
        ("### `global`", global_probe as fn(&str) -> String, 5),
        ("### `checks`", check_probe, 8),
        ("### `instances`", instance_probe, 20),
        ("### `arbiter`", arbiter_probe, 9),
    ] {
        let keys = table_keys(&readme, heading);
        assert!(keys.len() >= at_least, "{heading}: only {keys:?}");
        let bad = unaccepted(&keys, probe);
        if !bad.is_empty() {
            problems.push(format!(
                "README {heading} documents keys vipd rejects: {bad:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_made_up_key_is_caught() {
    let keys = vec!["priority".to_owned(), "priorty".to_owned()];
    assert_eq!(unaccepted(&keys, instance_probe), ["priorty"]);
    assert_eq!(
        unaccepted(&["metrics_port".to_owned()], global_probe),
        ["metrics_port"]
    );
}

/// A YAML example, made a document: instance-level fragments (indented 4, as in the
/// README's channel example) are put under an instance.
fn as_document(body: &str) -> String {
    let indent = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    match indent {
        0 => body.to_owned(),
        4 => format!("instances:\n  i:\n{body}"),
        n => panic!("a YAML example indented {n}: teach as_document where it belongs\n{body}"),
    }
}

#[test]
fn yaml_examples_have_no_unknown_keys() {
    let mut examples = 0;
    let mut problems = Vec::new();
    for (doc, text) in documents() {
        let (fences, _) = split_fences(&text);
        for f in fences
            .iter()
            .filter(|f| matches!(f.lang.as_str(), "yaml" | "yml"))
        {
            examples += 1;
            let bad = unknown_keys(&as_document(&f.body));
            if !bad.is_empty() {
                problems.push(format!("{doc}: unknown keys {bad:?} in\n{}", f.body));
            }
        }
    }
    assert!(examples >= 2, "found {examples} YAML examples");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_yaml_example_with_a_made_up_key_is_caught() {
    let fragment = "    channels:\n      - { interface: eth1, peerz: [10.0.0.2] }\n";
    assert_eq!(
        unknown_keys(&as_document(fragment)),
        ["instances.i.channels[0].peerz"]
    );
}

/// The example configurations the README names (`conf/...yaml`) load as they are.
#[test]
fn the_configurations_the_docs_name_load() {
    let mut named = std::collections::BTreeSet::new();
    for (_, text) in documents() {
        for piece in text.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')') {
            if piece.starts_with("conf/") && piece.ends_with(".yaml") {
                named.insert(piece.to_owned());
            }
        }
    }
    assert!(named.len() >= 3, "named: {named:?}");
    for file in named {
        if let Err(e) = Config::load(root().join(&file)) {
            panic!("{file}, named in the docs, does not load:\n{e}");
        }
    }
}

/// `global.KEY` named in a document's code (`global.event_log`).
fn global_keys(text: &str) -> Vec<String> {
    command_texts(text)
        .iter()
        .flat_map(|code| {
            code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .filter_map(|w| w.strip_prefix("global."))
                .map(|k| k.trim_end_matches('.').to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_global_key_the_docs_name_is_accepted() {
    let mut keys: Vec<String> = documents()
        .iter()
        .flat_map(|(_, t)| global_keys(t))
        .collect();
    keys.sort();
    keys.dedup();
    assert!(keys.len() >= 4, "found only {keys:?}");
    let bad = unaccepted(&keys, global_probe);
    assert!(
        bad.is_empty(),
        "the docs name global keys vipd rejects: {bad:?}"
    );
}
