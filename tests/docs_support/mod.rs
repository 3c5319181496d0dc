//! Reading the README and docs/*.md as a user would: the code they show (shell blocks and
//! inline code) and their fenced examples. Shared by the docs_* tests.

// Each test crate that includes this file uses a different subset of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md, as (name, text).
pub fn documents() -> Vec<(String, String)> {
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
pub struct Fence {
    pub lang: String,
    pub body: String,
}

/// Splits Markdown into fenced blocks and the text outside them.
pub fn split_fences(text: &str) -> (Vec<Fence>, String) {
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
pub fn command_texts(text: &str) -> Vec<String> {
    let (fences, prose) = split_fences(text);
    let mut out: Vec<String> = fences
        .into_iter()
        .filter(|f| matches!(f.lang.as_str(), "" | "sh" | "bash" | "console" | "shell"))
        .flat_map(|f| f.body.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    out.extend(inline_code(&prose));
    out
}
