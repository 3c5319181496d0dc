//! Every file in tests/configs/good must load; every file in tests/configs/bad must fail
//! with the error its header promises:
//!
//! ```text
//! # expect: <substring of one error's message line>
//! # line: <the line that error points at>
//! ```

use std::path::{Path, PathBuf};

use vipd::config::Config;

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
}

#[test]
fn good_configs_load() {
    let files = yaml_files("good");
    assert!(
        files.len() >= 5,
        "expected good examples, found {}",
        files.len()
    );
    for f in files {
        if let Err(e) = Config::load(&f) {
            panic!("{} should load, but:\n{e}", f.display());
        }
    }
}

#[test]
fn bad_configs_fail_with_the_promised_error_and_line() {
    let files = yaml_files("bad");
    assert!(
        files.len() >= 25,
        "expected at least 25 bad configs, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        let expect = header(&text, "expect")
            .unwrap_or_else(|| panic!("{}: no '# expect:' header", f.display()));
        let line: u32 = header(&text, "line")
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("{}: no '# line: N' header", f.display()));
        let errors = match Config::load(f) {
            Ok(_) => {
                failures.push(format!("{}: loaded, expected '{expect}'", f.display()));
                continue;
            }
            Err(e) => e,
        };
        let hit = errors
            .errors()
            .iter()
            .find(|e| e.to_string().contains(expect));
        match hit {
            None => failures.push(format!(
                "{}: no error contains '{expect}'; got:\n{errors}",
                f.display()
            )),
            Some(e) if e.position.map(|p| p.line) != Some(line) => {
                failures.push(format!("{}: expected line {line}, got {e}", f.display()))
            }
            Some(e) => assert!(
                e.to_string()
                    .starts_with(&format!("{}:{line}:", f.display())),
                "Display must start with file:line:column: {e}"
            ),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
