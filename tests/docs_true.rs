//! What the README and docs/*.md tell a user to type must exist: every `vipd SUBCOMMAND`
//! shown in code (inline or in a shell block) is a subcommand of the built binary, every
//! flag written after it is one that subcommand accepts, every key in the README's
//! configuration tables is one the decoder accepts, and every YAML example has no unknown
//! key. A renamed flag or key then fails here instead of on a new user's machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use vipd::config::{Config, ErrorKind};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md, as (name, text).
fn documents() -> Vec<(String, String)> {
    let mut paths = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            (name(&p), text)
        })
        .collect()
}

fn name(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// A fenced block: its language and its lines.
struct Fence {
    lang: String,
    body: String,
}

/// Splits Markdown into fenced blocks and the text outside them.
fn split_fences(text: &str) -> (Vec<Fence>, String) {
    let mut fences = Vec::new();
    let mut prose = String::new();
    let mut open: Option<Fence> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match (&mut open, trimmed.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Fence {
                    lang: lang.trim().to_owned(),
                    body: String::new(),
                })
            }
            (Some(_), Some(_)) => fences.extend(open.take()),
            (Some(f), None) => {
                f.body.push_str(line);
                f.body.push('\n');
            }
            (None, None) => {
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    (fences, prose)
}

/// Inline code spans (`...`) of prose; a span may wrap onto the next line, as in the README.
fn inline_code(prose: &str) -> Vec<String> {
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.replace('\n', " "))
        .collect()
}

/// Shell-like text a user may type: shell blocks and inline code.
fn command_texts(text: &str) -> Vec<String> {
    let (fences, prose) = split_fences(text);
    let mut out: Vec<String> = fences
        .into_iter()
        .filter(|f| matches!(f.lang.as_str(), "" | "sh" | "bash" | "console" | "shell"))
        .flat_map(|f| f.body.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    out.extend(inline_code(&prose));
    out
}

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

/// Whether a help text lists the flag (`--json`, or `-c` as in `-c, --config <FILE>`).
fn help_has_flag(help: &str, flag: &str) -> bool {
    help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
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

#[test]
fn every_key_in_the_readme_tables_is_accepted() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut problems = Vec::new();
    for (heading, probe, at_least) in [
        ("### `global`", global_probe as fn(&str) -> String, 5),
        ("### `checks`", check_probe, 8),
        ("### `instances`", instance_probe, 20),
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

/// Directories a repository path in the docs starts with.
const REPO_DIRS: [&str; 7] = [
    "scripts/",
    "src/",
    "tests/",
    "netns-tests/",
    "conf/",
    "docs/",
    "bench-results/",
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
