//! The YAML configuration: model, defaults, validation with file:line:column errors.
//!
//! [`Config::load`] reads a file and returns either a fully validated [`Config`] or every
//! problem found, each naming the file, line, column and key path:
//!
//! ```text
//! conf/x.yaml:12:5: instances.web.priorty: unknown key; did you mean 'priority'?
//! ```
//!
//! The pipeline is: size check, YAML parse under resource limits (`tree`), decoding keys and
//! types into the model (`decode`, `instance`), then rules between values (`validate`).
//! YAML never leaves this module.

mod arbiter;
mod channel_model;
mod channels;
mod decode;
mod errors;
mod fence;
mod instance;
mod model;
mod process_check;
mod reader;
mod summary;
mod tree;
mod validate;

use std::path::Path;

pub use arbiter::{ArbiterStore, CLOCK_SKEW_PPM};
pub use errors::{ConfigError, ConfigErrors, ErrorKind, Position};
pub use fence::{Fence, MAX_FENCE_TIMEOUT, OnFenceFailure};
pub use model::{
    Auth, Channel, ChannelKind, Check, CheckKind, Config, DEFAULT_CONTROL_SOCKET,
    DEFAULT_REALTIME_PRIORITY, EventLogFormat, Global, HttpCheck, Instance, IsolationCheck,
    IsolationTarget, MAX_CHECK_INTERVAL, MAX_GARP_GAP, MAX_GARP_REFRESH, MAX_GARP_REPEAT_AFTER,
    MAX_ISOLATION_TIMEOUT, MAX_PREEMPT_DELAY, MAX_STARTUP_DELAY, MIN_GARP_REFRESH, NetPath, Notify,
    OWNER_PRIORITY, SealedPort, SerialLine, Track, TrackTarget, Unicast, Vip,
};
pub use process_check::{ArgsMatch, COMM_LEN, ProcessCheck};
pub use validate::{V2_MAX_VIPS, V3_MAX_VIPS};

/// Files larger than this are refused before parsing: a real config is a few kilobytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let whole_file = |kind, message: String| {
            ConfigErrors::new(vec![ConfigError {
                file: name.clone(),
                position: None,
                path: String::new(),
                kind,
                message,
            }])
        };
        // Opened without blocking and checked on the descriptor: a FIFO or a device given as
        // the config is refused at once instead of hanging `vipd check` or a reload.
        let bytes = crate::regular_file::read_regular(path, MAX_FILE_BYTES, true).map_err(|e| {
            use crate::regular_file::ReadError;
            match e {
                ReadError::TooLarge(_) => whole_file(
                    ErrorKind::TooLarge,
                    format!("larger than {MAX_FILE_BYTES} bytes; refusing to parse it"),
                ),
                e => whole_file(ErrorKind::Io, format!("cannot read: {e}")),
            }
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|e| whole_file(ErrorKind::Io, format!("not UTF-8 text: {e}")))?;
        Config::parse(&text, &name)
    }

    /// Parses and validates `text`; `file_name` is only used in error messages.
    pub fn parse(text: &str, file_name: &str) -> Result<Config, ConfigErrors> {
        let at = |problems: Vec<reader::Problem>| {
            let errors = problems
                .into_iter()
                .map(|p| ConfigError {
                    file: file_name.to_owned(),
                    position: Some(p.pos),
                    path: p.path,
                    kind: p.kind,
                    message: p.message,
                })
                .collect();
            ConfigErrors::new(errors)
        };
        let root = tree::parse(text).map_err(|e| {
            at(vec![reader::Problem {
                pos: e.pos,
                path: String::new(),
                kind: e.kind,
                message: e.message,
            }])
        })?;
        let mut r = reader::Reader::default();
        let decoded = decode::config(&mut r, &root);
        let mut problems = r.problems;
        problems.extend(validate::validate(
            &decoded.config,
            &r.spans,
            &decoded.tainted,
        ));
        if problems.is_empty() {
            Ok(decoded.config)
        } else {
            Err(at(problems))
        }
    }
}
