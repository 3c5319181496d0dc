//! Log output: tracing to stderr, as text or as JSON lines.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Lines the queue to the writer thread holds. Bounded so that a stderr nobody reads (a
/// stalled journald, a pipe left full) costs at most this many lines of memory, not more
/// with every line logged; further lines are dropped and counted.
pub const QUEUE_LINES: usize = 1024;

/// The writer's count of lines dropped because the queue was full.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Lines dropped so far because the queue was full (0 before [`init`]).
pub fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}

/// Installs the global subscriber. `RUST_LOG` overrides the default level (info). Keep the
/// returned guard until exit: dropping it flushes what is still queued.
///
/// Lines go to stderr from a writer thread. A router task logs its transitions; written
/// directly, a slow reader of stderr (a busy journald) would stall it on the protocol path.
/// When the queue ([`QUEUE_LINES`]) is full, lines are dropped and counted
/// ([`dropped_lines`]) rather than waited for.
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUE_LINES)
        .lossy(true)
        .finish(std::io::stderr());
    let _ = DROPPED.set(writer.error_counter());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    guard
}
