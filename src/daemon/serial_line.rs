//! A serial heartbeat line: one task per device that keeps it open, reads the peer's
//! frames and writes ours. The same sealed frames as TCP, length-prefixed
//! (`udp_frame::stream`), over a tty set raw at the configured speed.
//!
//! A line has no addresses: the sender of a frame is the identity sealed in it, and only
//! the channel's `peer` is accepted (see `sealed::judge`). The line cannot be reset as a
//! connection can, so the reader resynchronises after garbage (`serial_bad_length`, once
//! per stretch of skipped bytes) and counts a frame cut short by a silence inside it
//! (`serial_truncated`); what it finds is judged like any sealed frame, under `serial_`
//! counters (`serial_bad_mac`, `serial_replayed`, ...).
//!
//! The router task never waits on the line: each instance's path queues frames
//! ([`FrameQueue`], drop-oldest, `serial_queue_dropped`) and this task writes them; a
//! write stuck for [`WRITE_TIMEOUT`] (nobody draining a pseudo-terminal) counts
//! `serial_write_timeouts` and reopens the line. If the device goes away (unplugged, a
//! read error, a hang-up), the task reopens it after 50 ms, doubling up to 1 s
//! (`serial_connect_failures` per failed open, `serial_reconnects` per reopen); status
//! shows the line `connected` while it is open.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tracing::{info, warn};

use super::frame_queue::{FrameQueue, NotConnected};
use super::sealed::{FrameJudge, FrameSink, SealedRoutes};
use super::stats::Stats;
use crate::net::serial_port::SerialPort;
use crate::vrrp::udp_frame::line::{LineDeframer, LinePiece};
use crate::vrrp::udp_frame::stream::{MAX_FRAME_LEN, Piece, prefixed};

/// The counters' prefix of this transport.
pub const PREFIX: &str = "serial";
/// How long one write may take before the line counts as stuck.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// The first wait before reopening, doubled after each failure up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// The longest wait between attempts to open the device.
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The silence inside a frame after which its rest is taken as lost: the writer sends a
/// frame in one write, so its bytes follow each other at the line's pace. 50 character
/// times (10 bits each), and never under 200 ms (a loaded host, a relay in between).
pub fn gap_timeout(baud: u32) -> Duration {
    let chars = Duration::from_secs_f64(500.0 / f64::from(baud.max(1)));
    chars.max(Duration::from_millis(200))
}

/// One device, shared by the instances whose channels use it.
pub struct SerialLine {
    device: PathBuf,
    /// Woken when any instance queues a frame.
    wake: Arc<Notify>,
    /// Each instance's queue on this line, as its send path holds it.
    queues: Mutex<Vec<Weak<FrameQueue>>>,
    /// Whether the device is open now (a queue added meanwhile starts in this state).
    up: Mutex<bool>,
}

impl SerialLine {
    /// A line on `device`, not yet open: [`run`] opens it.
    pub fn new(device: PathBuf) -> Self {
        SerialLine {
            device,
            wake: Arc::new(Notify::new()),
            queues: Mutex::new(Vec::new()),
            up: Mutex::new(false),
        }
    }

    /// A send path for a channel counting on `stats`, whose peer is `peer`.
    pub fn sink(&self, peer: IpAddr, stats: Arc<Stats>) -> Arc<LineSink> {
        let queue = Arc::new(FrameQueue::waking(PREFIX, peer, stats, self.wake.clone()));
        let up = lock(&self.up);
        queue.set_up(*up);
        lock(&self.queues).push(Arc::downgrade(&queue));
        drop(up);
        Arc::new(LineSink {
            queue,
            device: self.device.clone(),
        })
    }

    /// The queues still held by a path.
    fn queues(&self) -> Vec<Arc<FrameQueue>> {
        let mut queues = lock(&self.queues);
        queues.retain(|q| q.strong_count() > 0);
        queues.iter().filter_map(Weak::upgrade).collect()
    }

    fn set_up(&self, open: bool) {
        let mut up = lock(&self.up);
        *up = open;
        for q in self.queues() {
            q.set_up(open);
        }
    }

    fn count(&self, event: &'static str) {
        for q in self.queues() {
            q.count(event);
        }
    }

    /// The oldest queued frame of any instance.
    fn next_frame(&self) -> Option<Vec<u8>> {
        self.queues().iter().find_map(|q| q.pop())
    }
}

/// One instance's way onto a line.
pub struct LineSink {
    queue: Arc<FrameQueue>,
    device: PathBuf,
}

impl FrameSink for LineSink {
    fn push(&self, frame: &[u8]) -> Result<(), String> {
        self.queue
            .push(frame.to_vec())
            .map_err(|NotConnected| format!("{} is not open", self.device.display()))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps `line` open at `baud`, reading frames for `routes` (judged by `judge`) and writing
/// queued ones, until the task is aborted.
pub async fn run(
    line: Arc<SerialLine>,
    baud: u32,
    routes: Arc<RwLock<SealedRoutes>>,
    mut judge: FrameJudge,
) {
    let label = format!("{PREFIX} {}", line.device.display());
    let mut backoff = BACKOFF_MIN;
    let (mut ever, mut failing_logged) = (false, false);
    loop {
        match SerialPort::open(&line.device, baud) {
            Ok(port) => {
                if std::mem::replace(&mut ever, true) {
                    line.count("reconnects");
                }
                failing_logged = false;
                backoff = BACKOFF_MIN;
                line.set_up(true);
                info!(channel = %label, baud, "serial heartbeat line open");
                let why = carry(&line, &port, baud, &routes, &mut judge, &label).await;
                line.set_up(false);
                warn!(channel = %label, reason = %why, "serial heartbeat line lost; reopening");
            }
            Err(error) => {
                line.count("connect_failures");
                if !std::mem::replace(&mut failing_logged, true) {
                    warn!(channel = %label, %error, "cannot open the serial heartbeat line; retrying, further failures are counted");
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Reads and writes the open line until it fails; returns why.
async fn carry(
    line: &SerialLine,
    port: &SerialPort,
    baud: u32,
    routes: &RwLock<SealedRoutes>,
    judge: &mut FrameJudge,
    label: &str,
) -> String {
    let mut deframer = LineDeframer::new();
    // Room for the longest piece a deframer may ask for at once.
    let mut buf = vec![0u8; 2 + MAX_FRAME_LEN];
    let gap = gap_timeout(baud);
    let unknown = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
    loop {
        if let Some(frame) = line.next_frame() {
            match tokio::time::timeout(WRITE_TIMEOUT, port.write_all(&prefixed(&frame))).await {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => return format!("write failed: {e}"),
                Err(_) => {
                    line.count("write_timeouts");
                    return "a write did not finish: nothing drains the line".into();
                }
            }
        }
        let want = deframer.wants().max(1);
        let pending = deframer.pending();
        tokio::select! {
            read = port.read(&mut buf[..want]) => match read {
                Ok(0) => return "the line hung up".into(),
                Ok(n) => deframer.push(&buf[..n]),
                Err(e) => return format!("read failed: {e}"),
            },
            () = line.wake.notified() => continue,
            () = tokio::time::sleep(gap), if pending => {
                let why = "the line went quiet in the middle of a frame";
                judge.refused_on_all("serial_truncated", why, unknown, routes, label);
                deframer.cut();
                continue;
            }
        }
        while let Some(piece) = deframer.piece() {
            match piece {
                LinePiece::Piece(Piece::Frame(frame)) => {
                    judge.take_unaddressed(&frame, routes, label);
                }
                LinePiece::Piece(Piece::Keepalive) => {}
                LinePiece::Skipped(n) => {
                    let why = format!("skipped {n} bytes that start no frame");
                    judge.refused_on_all("serial_bad_length", &why, unknown, routes, label);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
