//! `vipd convert` on keepalived's own sample configurations, read at test time from the
//! Debian package (/usr/share/doc/keepalived/samples). VRRP samples must yield YAML that
//! vipd accepts; every unsupported keyword must point at a line that really has it;
//! samples without VRRP (virtual_server only) must say so.

use std::path::{Path, PathBuf};

use vipd::config::Config;
use vipd::convert::{Options, convert_file};

const SAMPLES: &str = "/usr/share/doc/keepalived/samples";

fn samples() -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(SAMPLES) else {
        let msg = format!(
            "keepalived samples not found at {SAMPLES}: install the keepalived package (scripts/install-deps.sh) to run this test"
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("\n!!!!! SKIPPED: {msg} !!!!!\n");
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("keepalived.conf"))
        })
        .collect();
    files.sort();
    files
}

fn has_keyword(text: &str, keyword: &str) -> bool {
    text.lines().any(|l| l.trim_start().starts_with(keyword))
}

#[test]
fn every_sample_converts_or_says_why() {
    let files = samples();
    if files.is_empty() {
        return;
    }
    let mut vrrp = 0;
    let mut lvs_only = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable sample");
        let name = path.display();
        let c = convert_file(path, &Options::default())
            .unwrap_or_else(|e| panic!("{name}: conversion failed: {e}"));
        for u in &c.unsupported {
            assert!(!u.reason.is_empty(), "{name}: {u}");
            let line = text
                .lines()
                .nth(u.loc.line as usize - 1)
                .unwrap_or_else(|| panic!("{name}: {u}: no such line"));
            let word = u.keyword.split_whitespace().last().unwrap_or_default();
            assert!(
                line.contains(word),
                "{name}: {u}: line {} is '{line}'",
                u.loc.line
            );
        }
        if has_keyword(&text, "vrrp_instance") {
            vrrp += 1;
            let yaml = c
                .yaml
                .unwrap_or_else(|| panic!("{name}: VRRP sample gave no YAML: {:?}", c.unsupported));
            if let Err(e) = Config::parse(&yaml, &name.to_string()) {
                panic!("{name}: vipd rejects the converted file:\n{e}\n---\n{yaml}");
            }
        } else {
            lvs_only += 1;
            assert!(
                c.yaml.is_none(),
                "{name}: no vrrp_instance, yet YAML was written"
            );
            assert!(
                c.unsupported
                    .iter()
                    .any(|u| u.keyword.starts_with("virtual_server")),
                "{name}: the load-balancing part must be reported: {:?}",
                c.unsupported
            );
        }
    }
    eprintln!("converted {vrrp} VRRP samples; {lvs_only} LVS-only samples reported");
    assert!(
        vrrp >= 10 && lvs_only >= 5,
        "the package ships more samples than found"
    );
}

#[test]
fn the_conditional_sample_follows_config_id() {
    let path = Path::new(SAMPLES).join("keepalived.conf.conditional_conf");
    if !path.exists() {
        samples();
        return;
    }
    let prio = |id: &str| {
        let c = convert_file(
            &path,
            &Options {
                config_id: Some(id.to_owned()),
            },
        )
        .expect("converts");
        let yaml = c.yaml.expect("yaml");
        let cfg = Config::parse(&yaml, "x").expect("valid");
        (cfg.instances["VI_0"].priority, cfg.checks.len())
    };
    // The sample's `priority @high 170 @low 85`; its `eth2 weight 20` stays a tracker weight.
    assert_eq!(prio("high"), (170, 1));
    assert_eq!(prio("low"), (85, 1));
    let c = convert_file(&path, &Options::default()).expect("converts");
    let conditional = c
        .unsupported
        .iter()
        .filter(|u| u.keyword.starts_with('@'))
        .count();
    assert_eq!(conditional, 6, "{:?}", c.unsupported);
}
