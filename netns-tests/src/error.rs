//! The harness's error type.

use std::io;

/// Why a harness operation failed. Tests usually `expect()` these; the messages carry enough
/// context (the command and its stderr) to debug a failing lab without rerunning it.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A command could not be started at all (missing binary, no permission).
    #[error("cannot run `{cmd}`: {source}")]
    Spawn {
        /// The command line, for the message.
        cmd: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A command ran and failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line, for the message.
        cmd: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// A socket, file or namespace operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Output of a tool or a file did not have the expected shape.
    #[error("cannot parse {what}: {detail}")]
    Parse {
        /// What was being parsed.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// Something did not happen in time.
    #[error("timed out after {waited:?}: {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        waited: std::time::Duration,
    },
}

impl HarnessError {
    /// Wraps an I/O error with a description of the operation.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        HarnessError::Io {
            what: what.into(),
            source,
        }
    }

    /// A parse error.
    pub fn parse(what: impl Into<String>, detail: impl Into<String>) -> Self {
        HarnessError::Parse {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// The harness's result type.
pub type Result<T> = std::result::Result<T, HarnessError>;
