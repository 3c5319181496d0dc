//! Configuration errors: every one names the file, the line and column, and the key path.

use std::fmt;

/// A 1-based line and column in the configuration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1 (in characters).
    pub column: u32,
}

impl Position {
    /// The start of the file, used when the parser gives no better place.
    pub const START: Position = Position { line: 1, column: 1 };
}

/// What kind of problem an error reports; lets callers (and tests) tell them apart without
/// matching on message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file could not be read at all (missing, permissions, not UTF-8).
    Io,
    /// The file is larger than [`super::MAX_FILE_BYTES`]; refused before parsing.
    TooLarge,
    /// Not valid YAML (including duplicate keys).
    Syntax,
    /// A parser resource limit was hit (alias bomb, nesting depth, node count).
    Limit,
    /// A key that this mapping does not have.
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong YAML type (a list where a string belongs, ...).
    Type,
    /// A value of the right type that is not allowed (out of range, inconsistent, unknown
    /// reference).
    Invalid,
}

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file as the user named it.
    pub file: String,
    /// Where in the file; `None` only when the file could not be read.
    pub position: Option<Position>,
    /// Dotted key path to the offending value (`instances.web.vips[1]`); empty for
    /// problems with the file as a whole.
    pub path: String,
    /// What kind of problem.
    pub kind: ErrorKind,
    /// The explanation, without location.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a configuration file, in file order. Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    /// Wraps a non-empty list, sorted by position so output follows the file.
    pub(crate) fn new(mut errors: Vec<ConfigError>) -> Self {
        debug_assert!(!errors.is_empty());
        errors.sort_by_key(|e| e.position);
        errors.dedup();
        ConfigErrors(errors)
    }

    /// The errors, in file order.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// Whether the file could not be read (as opposed to being read and found wrong).
    pub fn is_unreadable(&self) -> bool {
        self.0.iter().any(|e| e.kind == ErrorKind::Io)
    }
}

impl fmt::Display for ConfigErrors {
    /// One error per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
