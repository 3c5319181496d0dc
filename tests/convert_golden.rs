//! Golden test: a typical keepalived pair (one file, `@lb1` / `@lb2` lines, an include)
//! converts to exactly the reviewed YAML in tests/convert/pair/. Set VIPD_BLESS=1 to rewrite
//! the expected files after an intended change, then review the diff.

use std::path::Path;

use vipd::config::Config;
use vipd::convert::{Options, convert_file};

fn golden(id: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/convert/pair");
    let options = Options {
        config_id: Some(id.to_owned()),
    };
    // A relative name keeps the header comment the same on every machine.
    let c = convert_file(&dir.join("keepalived.conf"), &options).expect("converts");
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    let yaml = c.yaml.expect("yaml");
    let yaml = yaml.replace(&format!("{}/", dir.display()), "");
    let config = Config::parse(&yaml, id).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(config.instances.len(), 1);
    let expected_path = dir.join(format!("{id}.yaml"));
    if std::env::var("VIPD_BLESS").as_deref() == Ok("1") {
        std::fs::write(&expected_path, &yaml).expect("bless");
    }
    let expected = std::fs::read_to_string(&expected_path).expect("expected file");
    assert_eq!(
        yaml,
        expected,
        "output differs from {}",
        expected_path.display()
    );
}

#[test]
fn pair_lb1() {
    golden("lb1");
}

#[test]
fn pair_lb2() {
    golden("lb2");
}
