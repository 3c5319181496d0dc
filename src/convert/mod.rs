//! `vipd convert`: keepalived.conf to vipd YAML.
//!
//! The pipeline: [`source`] reads the file and its includes line by line (comments,
//! conditional lines, `$PARAM` substitution), [`lexer`] splits lines into words, [`tree`]
//! nests them into blocks, and [`map`] turns the VRRP parts into vipd's configuration,
//! written as commented YAML by [`emit`]. Everything that has no vipd equivalent is
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
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.loc, self.keyword, self.reason)
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
    /// conditional line is reported as unsupported and left out.
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
}

/// Converts the keepalived configuration at `path` (following its includes).
pub fn convert_file(path: &Path, options: &Options) -> Result<Conversion, ConvertError> {
    let mut unsupported = Vec::new();
    let lines = source::read(path, options, &mut unsupported)?;
    finish(&lines, path, unsupported)
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
    let lines = source::read_text(text, name, base_dir, options, &mut unsupported)?;
    finish(&lines, Path::new(name), unsupported)
}

fn finish(
    lines: &[source::Line],
    path: &Path,
    mut unsupported: Vec<Unsupported>,
) -> Result<Conversion, ConvertError> {
    let nodes = tree::build(lines)?;
    let out = map::map(&nodes, &mut unsupported);
    unsupported
        .sort_by(|a, b| (a.loc.file.as_ref(), a.loc.line).cmp(&(b.loc.file.as_ref(), b.loc.line)));
    let yaml = (!out.instances.is_empty()).then(|| emit::yaml(&out, &path.display().to_string()));
    Ok(Conversion { yaml, unsupported })
}
