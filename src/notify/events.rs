//! The machine-readable event stream: one line per transition (a JSON object, or
//! keepalived's notify FIFO line), appended to a file or written to a FIFO.
//!
//! Lines are written by a thread of its own, so a slow disk never reaches the runtime. A
//! FIFO is opened non-blocking: with no reader, or with a full pipe, the line is dropped and
//! counted rather than waited for (lines are shorter than `PIPE_BUF`, so a write is all or
//! nothing). The FIFO is re-opened for the next line after a reader goes away.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::IpAddr;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::SystemTime;

use tracing::warn;

use crate::config::EventLogFormat;
use crate::control::protocol::Event;
use crate::notify::state_word;
use crate::vrrp::State;

/// One transition, as the stream records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// When it happened.
    pub time: SystemTime,
    /// The instance (or sync group) name.
    pub instance: String,
    /// `true` for a sync-group event.
    pub group: bool,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Why, as a sentence.
    pub reason: String,
    /// Effective priority then (none for groups).
    pub priority: Option<u8>,
    /// The Master as far as this router knows.
    pub master: Option<IpAddr>,
}

impl EventRecord {
    /// The JSON line, without the newline: the same line `vipd events` prints.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Event::from(self)).expect("an event serializes")
    }

    /// keepalived's notify FIFO line, without the newline: `INSTANCE "VI_1" MASTER 100`,
    /// or `GROUP "G1" BACKUP 0` (keepalived writes priority 0 for a group). A stopped
    /// instance is `STOP`, as keepalived writes on shutdown.
    pub fn to_keepalived(&self) -> String {
        let kind = if self.group { "GROUP" } else { "INSTANCE" };
        let priority = if self.group {
            0
        } else {
            self.priority.unwrap_or(0)
        };
        format!(
            "{kind} \"{}\" {} {priority}",
            self.instance,
            state_word(self.to)
        )
    }

    /// The line in `format`, without the newline.
    pub fn line(&self, format: EventLogFormat) -> String {
        match format {
            EventLogFormat::Json => self.to_json(),
            EventLogFormat::Keepalived => self.to_keepalived(),
        }
    }
}

impl From<&EventRecord> for Event {
    fn from(r: &EventRecord) -> Event {
        Event {
            time: humantime::format_rfc3339_millis(r.time).to_string(),
            instance: r.instance.clone(),
            from: r.from.to_string(),
            to: r.to.to_string(),
            reason: r.reason.clone(),
            priority: r.priority,
            master: r.master.map(|m| m.to_string()),
            group: r.group,
            fence: None,
        }
    }
}

/// Counters of the event stream.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Lines written.
    pub written: AtomicU64,
    /// Lines dropped (no FIFO reader, full pipe, write error).
    pub dropped: AtomicU64,
}

/// The sending end of the event stream; cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct EventStream {
    tx: mpsc::Sender<String>,
    stats: Arc<StreamStats>,
    format: EventLogFormat,
}

impl EventStream {
    /// Starts the writer thread for `path` (a regular file, created if missing, or a FIFO).
    /// The file is opened on the first event, so a FIFO reader may come later.
    /// In keepalived's format a missing path becomes a FIFO (mode 0600), as keepalived
    /// creates its notify FIFO, so a reader started after vipd finds a FIFO, not a file.
    pub fn open(path: PathBuf, format: EventLogFormat) -> std::io::Result<EventStream> {
        if format == EventLogFormat::Keepalived && std::fs::symlink_metadata(&path).is_err() {
            let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
            match nix::unistd::mkfifo(&path, mode) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let (tx, rx) = mpsc::channel::<String>();
        let stats = Arc::new(StreamStats::default());
        let s = stats.clone();
        std::thread::Builder::new()
            .name("vipd-events".into())
            .spawn(move || writer(&path, rx, &s))?;
        Ok(EventStream { tx, stats, format })
    }

    /// Queues one record.
    pub fn record(&self, ev: &EventRecord) {
        if self.tx.send(ev.line(self.format)).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The line format it writes.
    pub fn format(&self) -> EventLogFormat {
        self.format
    }

    /// The counters.
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    let fifo = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo());
    if fifo {
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
    } else {
        OpenOptions::new().append(true).create(true).open(path)
    }
}

fn writer(path: &Path, rx: mpsc::Receiver<String>, stats: &StreamStats) {
    let mut out: Option<File> = None;
    for mut line in rx {
        line.push('\n');
        if out.is_none() {
            match open(path) {
                Ok(f) => out = Some(f),
                Err(e) => {
                    let n = stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    // ENXIO: a FIFO nobody reads. Expected; count it, log rarely.
                    if e.raw_os_error() != Some(libc::ENXIO) || n.is_power_of_two() {
                        warn!(path = %path.display(), error = %e, dropped = n, "event stream: line dropped");
                    }
                    continue;
                }
            }
        }
        let Some(f) = out.as_mut() else { continue };
        match f.write_all(line.as_bytes()) {
            Ok(()) => {
                stats.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let n = stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if e.kind() != ErrorKind::WouldBlock {
                    // A reader went away (EPIPE) or the disk failed: open afresh next time.
                    out = None;
                }
                if n.is_power_of_two() {
                    warn!(path = %path.display(), error = %e, dropped = n, "event stream: line dropped");
                }
            }
        }
    }
}
