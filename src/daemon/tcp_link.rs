//! The sending half of a TCP heartbeat channel: one persistent connection to one peer,
//! kept open by a task of its own.
//!
//! Who connects: every node connects to each peer's listener and sends its adverts on that
//! outgoing connection only; what it receives arrives on the connections its own listener
//! accepted. So a pair holds two connections, one per direction, and each side reconnects
//! its own without agreeing with the other on who dials (an ordering rule by address would
//! leave a direction dead whenever the dialler is the node that has not noticed a reset).
//!
//! The router task never waits on the connection: [`TcpLink::push`] queues a frame and
//! returns. The queue (`frame_queue`) holds 8 frames; when a peer stops reading, the oldest frame
//! is dropped and counted (`tcp_queue_dropped`), since a fresh advert is worth more than a
//! stale one, and a write that cannot finish within [`WRITE_TIMEOUT`] closes the
//! connection (`tcp_write_timeouts`) so that a reconnect starts clean.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::frame_queue::FrameQueue;
pub use super::frame_queue::NotConnected;
use super::sealed::FrameSink;
use super::stats::Stats;
use crate::net::tcp_socket;
use crate::vrrp::udp_frame::stream::{KEEPALIVE, prefixed};

/// How long one write may take before the connection counts as stuck; also how long
/// written data may stay unacknowledged before the kernel aborts the connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A keepalive goes out after this long without a frame, so the reader (see
/// `tcp_receiver::IDLE_TIMEOUT`) can tell a quiet Backup from a dead connection.
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(1);
/// The first wait before reconnecting, doubled after each failure up to [`BACKOFF_MAX`]:
/// short enough that a healed partition is carried again within about a second.
pub const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// The longest wait between connection attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The counters' prefix of this transport.
pub const PREFIX: &str = "tcp";

/// The connection to one peer, for as long as this handle lives.
pub struct TcpLink {
    queue: Arc<FrameQueue>,
    peer: SocketAddr,
    task: JoinHandle<()>,
}

impl TcpLink {
    /// Starts connecting from `src` (over `iface`) to `peer`, and keeps connected until the
    /// handle is dropped. Must be called inside a tokio runtime.
    pub fn open(src: IpAddr, iface: Option<String>, peer: SocketAddr, stats: Arc<Stats>) -> Self {
        let queue = Arc::new(FrameQueue::new(PREFIX, peer.ip(), stats));
        let task = tokio::spawn(keep_connected(queue.clone(), peer, src, iface));
        TcpLink { queue, peer, task }
    }

    /// Queues a sealed frame for the peer, dropping the oldest queued one if the queue is
    /// full. Never waits.
    pub fn push(&self, frame: Vec<u8>) -> Result<(), NotConnected> {
        self.queue.push(frame)
    }
}

impl FrameSink for TcpLink {
    fn push(&self, frame: &[u8]) -> Result<(), String> {
        TcpLink::push(self, frame.to_vec())
            .map_err(|NotConnected| format!("to {}: not connected", self.peer))
    }
}

impl Drop for TcpLink {
    fn drop(&mut self) {
        self.task.abort();
        self.queue.forget();
    }
}

/// Connects, sends until the connection fails, waits, and connects again, for ever.
async fn keep_connected(
    shared: Arc<FrameQueue>,
    peer: SocketAddr,
    src: IpAddr,
    iface: Option<String>,
) {
    let mut backoff = BACKOFF_MIN;
    let mut ever = false;
    // Logged when the state changes, not per attempt: a dead peer costs a counter per
    // attempt (`tcp_connect_failures`), and one line.
    let mut failing_logged = false;
    loop {
        let started = tokio::time::Instant::now();
        let attempt = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tcp_socket::connect(src, iface.as_deref(), peer, WRITE_TIMEOUT),
        )
        .await;
        match attempt {
            Ok(Ok(stream)) => {
                if ever {
                    shared.count("reconnects");
                }
                ever = true;
                failing_logged = false;
                backoff = BACKOFF_MIN;
                // Frames queued for an earlier connection are dropped: stale now.
                shared.set_up(true);
                info!(%peer, "heartbeat connection up");
                let why = send_until_broken(&shared, stream).await;
                shared.set_up(false);
                warn!(%peer, reason = why, "heartbeat connection lost; reconnecting");
            }
            Ok(Err(error)) => {
                shared.count("connect_failures");
                if !std::mem::replace(&mut failing_logged, true) {
                    warn!(%peer, %error, "cannot connect the heartbeat channel; retrying, further failures are counted");
                }
            }
            Err(_) => {
                shared.count("connect_failures");
                if !std::mem::replace(&mut failing_logged, true) {
                    warn!(%peer, "heartbeat connection attempt timed out; retrying, further failures are counted");
                }
            }
        }
        // An attempt that timed out has waited already: across a partition, one attempt a
        // second, so the first after the heal is at most that far away.
        tokio::time::sleep(backoff.saturating_sub(started.elapsed())).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Writes queued frames (and keepalives when there are none) until a write fails or
/// stalls; returns why it stopped.
async fn send_until_broken(shared: &FrameQueue, mut stream: TcpStream) -> &'static str {
    loop {
        let bytes = match shared.next(KEEPALIVE_EVERY).await {
            Some(frame) => prefixed(&frame),
            None => KEEPALIVE.to_vec(),
        };
        match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return "write failed",
            Err(_) => {
                shared.count("write_timeouts");
                return "the peer stopped reading";
            }
        }
    }
}
