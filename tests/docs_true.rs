//! What the README and docs/*.md tell a user to type must exist: every `vipd SUBCOMMAND`
//! shown in code (inline or in a shell block) is a subcommand of the built binary, every
//! flag written after it is one that subcommand accepts, and every repository path they name
//! is there (the scripts they run, executable). A renamed flag or a moved file then fails
//! here instead of on a new user's machine. Configuration keys: tests/docs_keys.rs.

use std::collections::BTreeMap;
use std::process::Command;

#[path = "docs_support/mod.rs"]
mod support;
use support::{command_texts, documents, root};

/// A `vipd SUBCOMMAND [ARGS]` found in the docs: the subcommand and the flags after it.
#[derive(Debug, PartialEq)]
struct Invocation {
    sub: String,
    flags: Vec<String>,
}

/// Every `vipd WORD ...` in one line of command text; `vipd` may be a path
/// (`/usr/local/sbin/vipd run`). A flag list ends at a comment or a shell operator.
fn invocations(line: &str) -> Vec<Invocation> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let program = t.trim_start_matches(['(', '"', '\'']);
        if program != "vipd" && !program.ends_with("/vipd") {
            continue;
        }
        let Some(sub) = tokens.get(i + 1) else {
            continue;
        };
        if !sub.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        let sub = sub.trim_end_matches([',', '.', ')', ';', ':']).to_owned();
        let flags = tokens[i + 2..]
            .iter()
            .take_while(|t| !matches!(**t, "#" | "&&" | "||" | "|" | ";"))
            // `[--json]`: an optional flag is still a flag.
            .map(|t| t.trim_start_matches(['[', '(']))
            .filter(|t| t.starts_with('-') && t.len() > 1 && !t.starts_with("---"))
            .map(|t| {
                t.split('=')
                    .next()
                    .unwrap_or(t)
                    .trim_end_matches([',', '.', ')', ';', ':', ']'])
                    .to_owned()
            })
            .collect();
        out.push(Invocation { sub, flags });
    }
    out
}

/// `vipd SUB --help`, or `None` when the binary does not know SUB.
fn help(sub: &str) -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args([sub, "--help"])
        .output()
        .expect("run vipd");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether a help text lists the flag among its options (`--json`, or `-c` as in
/// `-c, --config <FILE>`); a flag only used in the help's own examples does not count.
fn help_has_flag(help: &str, flag: &str) -> bool {
    help.lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']'))
        .any(|w| w == flag || w.split('=').next() == Some(flag))
}

/// Problems with the commands of one document, as "DOC: `vipd ...`: what is wrong".
fn command_problems(
    doc: &str,
    text: &str,
    helps: &mut BTreeMap<String, Option<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for line in command_texts(text) {
        for inv in invocations(&line) {
            let help = helps
                .entry(inv.sub.clone())
                .or_insert_with(|| help(&inv.sub));
            let Some(help) = help else {
                problems.push(format!(
                    "{doc}: `{}`: vipd has no subcommand '{}'",
                    line.trim(),
                    inv.sub
                ));
                continue;
            };
            for flag in &inv.flags {
                if !help_has_flag(help, flag) {
                    problems.push(format!(
                        "{doc}: `{}`: 'vipd {}' has no flag {flag}",
                        line.trim(),
                        inv.sub
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn every_documented_command_and_flag_exists() {
    let mut helps = BTreeMap::new();
    let mut problems = Vec::new();
    let mut seen = 0;
    for (doc, text) in documents() {
        seen += command_texts(&text)
            .iter()
            .map(|l| invocations(l).len())
            .sum::<usize>();
        problems.extend(command_problems(&doc, &text, &mut helps));
    }
    // The README shows every subcommand; finding few means the extraction broke.
    assert!(seen >= 10, "found only {seen} vipd invocations in the docs");
    for sub in [
        "check",
        "run",
        "convert",
        "status",
        "maintenance",
        "reload",
        "events",
    ] {
        assert!(helps.contains_key(sub), "the docs never show `vipd {sub}`");
    }
    assert!(
        problems.is_empty(),
        "documented but not in vipd:\n{}",
        problems.join("\n")
    );
}

/// The examples in `vipd SUB --help` (clap's after_help) must be valid too.
#[test]
fn the_help_examples_use_real_commands_and_flags() {
    let mut helps = BTreeMap::new();
    let mut problems = Vec::new();
    let mut seen = 0;
    for sub in ["check", "run", "convert"] {
        let text = help(sub).unwrap_or_else(|| panic!("vipd {sub} --help fails"));
        let examples = text.split_once("Example").map_or("", |(_, e)| e);
        for line in examples.lines() {
            for inv in invocations(line) {
                seen += 1;
                let help = helps
                    .entry(inv.sub.clone())
                    .or_insert_with(|| help(&inv.sub));
                match help {
                    None => problems.push(format!(
                        "vipd {sub} --help: `{}`: no such subcommand",
                        line.trim()
                    )),
                    Some(h) => problems.extend(
                        inv.flags
                            .iter()
                            .filter(|f| !help_has_flag(h, f))
                            .map(|f| format!("vipd {sub} --help: `{}`: no flag {f}", line.trim())),
                    ),
                }
            }
        }
    }
    assert!(seen >= 4, "found {seen} examples in the help texts");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_made_up_command_or_flag_is_caught() {
    let text = "Run `vipd frobnicate` or `vipd status [--colour]`, then:\n\n```sh\nvipd check -c x.yaml --strict   # comment --ignored\n```\n";
    let problems = command_problems("scratch.md", text, &mut BTreeMap::new());
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].contains("no flag --strict"), "{problems:#?}");
    assert!(
        problems[1].contains("no subcommand 'frobnicate'"),
        "{problems:#?}"
    );
    assert!(problems[2].contains("no flag --colour"), "{problems:#?}");
}

/// Directories a repository path in the docs starts with.
const REPO_DIRS: [&str; 8] = [
    "scripts/",
    "src/",
    "tests/",
    "netns-tests/",
    "conf/",
    "docs/",
    "bench-results/",
    "monitoring/",
];

/// Repository paths named in a document's code (`scripts/demo.sh`, `tests/packet_*.rs`),
/// leaving out ones with a placeholder in capitals (`failover-DATE.md`). A path that leaves
/// the repository (`../shared/x.md`) is kept: it fails, as a reader of a clone cannot follow it.
fn repo_paths(text: &str) -> Vec<String> {
    command_texts(text)
        .iter()
        .flat_map(|code| {
            code.split(|c: char| {
                c.is_whitespace() || matches!(c, '`' | '(' | ')' | ',' | '"' | '\'')
            })
            .map(|p| p.trim_end_matches(['.', ':', ';']).to_owned())
            .collect::<Vec<_>>()
        })
        .filter(|p| p.starts_with("../") || REPO_DIRS.iter().any(|d| p.starts_with(d)))
        .filter(|p| {
            !p.split(['-', '_'])
                .skip(1)
                .any(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .collect()
}

/// Whether a path exists; a `*` in the last part matches within its directory.
fn exists(path: &str) -> bool {
    let full = root().join(path);
    let Some(pattern) = path.rsplit('/').next().filter(|n| n.contains('*')) else {
        return full.exists();
    };
    let (head, tail) = pattern.split_once('*').expect("a '*'");
    let dir = full.parent().expect("a parent directory");
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
        })
    })
}

fn executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(root().join(path)).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[test]
fn every_repository_path_the_docs_name_exists() {
    let mut checked = 0;
    let mut missing = Vec::new();
    for (doc, text) in documents() {
        for p in repo_paths(&text) {
            checked += 1;
            if p.starts_with("../") || !exists(&p) {
                missing.push(format!("{doc}: {p}"));
            } else if p.starts_with("scripts/") && p.ends_with(".sh") && !executable(&p) {
                missing.push(format!(
                    "{doc}: {p} is not executable (the docs run it directly)"
                ));
            }
        }
    }
    assert!(checked >= 10, "found only {checked} paths");
    assert!(
        missing.is_empty(),
        "named in the docs, but missing or not runnable:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_made_up_path_is_caught() {
    let text = "See `scripts/demo.sh`, `tests/packet_*.rs`, `src/DESIGN.md` and `../shared/DESIGN.md`; `bench-results/x-DATE.md`.\n";
    let paths = repo_paths(text);
    assert_eq!(
        paths,
        [
            "scripts/demo.sh",
            "tests/packet_*.rs",
            "src/DESIGN.md",
            "../shared/DESIGN.md"
        ]
    );
    let missing: Vec<_> = paths
        .iter()
        .filter(|p| !exists(p) || p.starts_with("../"))
        .collect();
    assert_eq!(missing, ["src/DESIGN.md", "../shared/DESIGN.md"]);
}
