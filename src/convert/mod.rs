//! `vipd convert`: keepalived.conf to vipd YAML.
//!
//! The pipeline: `source` reads the file and its includes line by line (comments,
//! conditional lines, `$PARAM` substitution), [`lexer`] splits lines into words, [`tree`]
//! nests them into blocks, and `map` turns the VRRP parts into vipd's configuration,
//! written as commented YAML by `emit`. Everything that has no vipd equivalent is
//! collected as an [`Unsupported`] with its file and line, so nothing is dropped silently.
//!
//! The output is text; the caller can (and `vipd convert` does) check it with
//! [`crate::config::Config::parse`] before writing it.

mod emit;
mod glob;
pub mod lexer;
mod map;
mod source;
pub mod tree;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a keyword was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    /// The file, as it was named (the main file as given, includes as resolved).
    pub file: Arc<str>,
    /// 1-based line number.
    pub line: u32,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A keyword (or option) that the conversion dropped or could only approximate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// Where it is.
    pub loc: Loc,
    /// The keyword as written (`virtual_server`, `track_file`, `vip option brd`).
    pub keyword: String,
    /// Why, and what to do instead.
    pub reason: String,
    /// The converted node would behave differently on the network than the keepalived node
    /// it replaces; `--allow-unsupported` does not accept these.
    pub on_wire: bool,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire = if self.on_wire {
            "differs on the wire: "
        } else {
            ""
        };
        write!(f, "{}: {}: {wire}{}", self.loc, self.keyword, self.reason)
    }
}

/// A problem that stops the conversion: the input cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A file (the main one or an include) cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file includes itself, directly or through others.
    #[error("{at}: include cycle: {chain}")]
    IncludeCycle {
        /// The include line that closes the cycle.
        at: Loc,
        /// The files of the cycle, `a -> b -> a`.
        chain: String,
    },
    /// A file that is not read: not a regular file, or past a bound of the conversion.
    #[error("{}{}: refused: {reason}", path.display(), at.as_ref().map_or(String::new(), |a| format!(" (included at {a})")))]
    Refused {
        /// The file.
        path: PathBuf,
        /// The include line that named it, if it is not the main file.
        at: Option<Loc>,
        /// Why, naming the bound.
        reason: String,
    },
    /// An included file that is not keepalived configuration (`include /etc/shadow`). Its
    /// content is not shown: an include may name any file the converting user can read.
    #[error("{at}: not keepalived configuration (an included file; its content is not shown)")]
    NotKeepalived {
        /// The first line that does not read as keepalived configuration.
        at: Loc,
    },
    /// Broken syntax: quotes, braces, runaway substitution.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Loc,
        /// What is wrong.
        message: String,
    },
}

/// Choices the input alone does not settle.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// keepalived's config-id (`keepalived -i ID`): which `@ID` lines apply. `None`: every
    /// conditional line is reported as unsupported and left out (`vipd convert` passes the
    /// host's name instead, keepalived's default).
    pub config_id: Option<String>,
}

/// The result of a conversion.
#[derive(Clone, Debug)]
pub struct Conversion {
    /// The vipd configuration, as commented YAML; `None` when no `vrrp_instance` could be
    /// converted (vipd needs at least one).
    pub yaml: Option<String>,
    /// Everything dropped or approximated, in input order.
    pub unsupported: Vec<Unsupported>,
    /// Conditional (`@ID`) lines met, which the config-id decided.
    pub conditional_lines: usize,
}

/// Converts the keepalived configuration at `path` (following its includes).
pub fn convert_file(path: &Path, options: &Options) -> Result<Conversion, ConvertError> {
    let mut unsupported = Vec::new();
    let (lines, conditionals) = source::read_counting(path, options, &mut unsupported)?;
    let mut c = finish(&lines, path, unsupported)?;
    c.conditional_lines = conditionals;
    Ok(c)
}

/// Converts keepalived configuration `text`; `name` labels it in messages and relative
/// includes are resolved against `base_dir`.
pub fn convert_str(
    text: &str,
    name: &str,
    base_dir: &Path,
    options: &Options,
) -> Result<Conversion, ConvertError> {
    let mut unsupported = Vec::new();
    let (lines, conditionals) =
        source::read_text_counting(text, name, base_dir, options, &mut unsupported)?;
    let mut c = finish(&lines, Path::new(name), unsupported)?;
    c.conditional_lines = conditionals;
    Ok(c)
}

fn finish(
    lines: &[source::Line],
    path: &Path,
    mut unsupported: Vec<Unsupported>,
) -> Result<Conversion, ConvertError> {
    let main = path.display().to_string();
    let included = |at: &Loc| *at.file != *main;
    let nodes = tree::build(lines).map_err(|e| match e {
        // A brace error names keywords; in an included file they may be anyone's data.
        ConvertError::Syntax { at, .. } if included(&at) => ConvertError::NotKeepalived { at },
        e => e,
    })?;
    if let Some(n) = nodes
        .iter()
        .find(|n| included(&n.loc) && !map::is_top_level_keyword(&n.name))
    {
        return Err(ConvertError::NotKeepalived { at: n.loc.clone() });
    }
    let out = map::map(&nodes, &mut unsupported);
    // A keyword in an included file that does not even look like one (keepalived's are
    // lowercase words with underscores) may be a line of anyone's data: name the place only.
    for u in unsupported.iter_mut().filter(|u| included(&u.loc)) {
        if !looks_like_keyword(&u.keyword) {
            u.keyword = "(text of an included file, not shown)".to_owned();
        }
    }
    unsupported
        .sort_by(|a, b| (a.loc.file.as_ref(), a.loc.line).cmp(&(b.loc.file.as_ref(), b.loc.line)));
    let yaml = (!out.instances.is_empty()).then(|| emit::yaml(&out, &path.display().to_string()));
    Ok(Conversion {
        yaml,
        unsupported,
        conditional_lines: 0,
    })
}

/// Whether `word` has the shape of a keepalived keyword (or a `@id` / `$NAME` form of one).
fn looks_like_keyword(word: &str) -> bool {
    let w = word.trim_start_matches(['@', '$', '^', '~']);
    w.len() <= 64
        && w.starts_with(|c: char| c.is_ascii_lowercase())
        && w.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ' ')
}
