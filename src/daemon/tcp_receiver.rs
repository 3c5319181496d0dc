//! The receiving half of a TCP heartbeat channel: one listener per (family, port,
//! interface), accepting the connections peers keep open to it (see `tcp_link` for who
//! connects), each read by a task of its own and judged like UDP frames by one
//! [`FrameJudge`], so a frame replayed on another connection is still refused.
//!
//! Nothing a neighbour sends costs more than it is worth: connections from addresses that
//! are no configured peer are closed at once (`tcp_unknown_peer`), each peer may hold
//! [`MAX_PER_PEER`] at a time (`tcp_too_many_connections`), a connection that sends nothing
//! for [`IDLE_TIMEOUT`] is closed (`tcp_read_timeouts`), a length no frame has closes it
//! (`tcp_bad_length`), and a frame cut short by the end of the stream is counted
//! (`tcp_truncated`). A connection buffers at most one frame.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::warn;

use super::receiver::Route;
use super::sealed::{FrameJudge, SealedRoutes};
use crate::net::tcp_socket;
use crate::vrrp::udp_frame::stream::{Deframer, MAX_FRAME_LEN, Piece};

/// Connections one peer address may hold open at once: one per instance sharing the
/// channel, and room for a reconnect to overlap a connection not yet found dead.
pub const MAX_PER_PEER: usize = 8;
/// A connection silent this long is closed: a live sender writes a keepalive every
/// `tcp_link::KEEPALIVE_EVERY`.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts on `listener` until the task is aborted; the connections end with it. `judge`
/// judges every frame of every connection.
pub async fn run(
    listener: TcpListener,
    label: String,
    routes: Arc<RwLock<SealedRoutes>>,
    judge: FrameJudge,
) {
    let judge = Arc::new(Mutex::new(judge));
    let mut open: HashMap<IpAddr, usize> = HashMap::new();
    // Dropped with this task, which aborts every connection task.
    let mut conns: JoinSet<IpAddr> = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, from) = match accepted {
                    Ok(got) => got,
                    Err(error) => {
                        // Out of descriptors, say: wait rather than spin.
                        warn!(channel = %label, %error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let src = from.ip().to_canonical();
                let refusal = if !is_peer(&routes, src) {
                    Some(("tcp_unknown_peer", "a connection from an address that is no peer of this channel"))
                } else if open.get(&src).copied().unwrap_or(0) >= MAX_PER_PEER {
                    Some(("tcp_too_many_connections", "a peer holding too many connections opened another"))
                } else {
                    None
                };
                if let Some((reason, why)) = refusal {
                    refuse(&judge, &routes, reason, why, src, &label);
                    continue;
                }
                let _ = tcp_socket::set_tos(&stream);
                *open.entry(src).or_default() += 1;
                conns.spawn(read_connection(stream, src, routes.clone(), judge.clone(), label.clone()));
            }
            Some(done) = conns.join_next() => {
                if let Ok(src) = done
                    && let Some(n) = open.get_mut(&src)
                {
                    *n -= 1;
                    if *n == 0 {
                        open.remove(&src);
                    }
                }
            }
        }
    }
}

/// Whether `src` is a peer of any instance on this listener.
fn is_peer(routes: &RwLock<SealedRoutes>, src: IpAddr) -> bool {
    let table = routes.read().unwrap_or_else(|e| e.into_inner());
    table.values().any(|r| {
        r.route.channels[0]
            .peers
            .as_ref()
            .is_some_and(|p| p.contains(&src))
    })
}

/// Counts a refused connection or stream: on the instances that list `src` as a peer, or
/// on every instance of the listener when none does (it came to their port).
fn refuse(
    judge: &Mutex<FrameJudge>,
    routes: &RwLock<SealedRoutes>,
    reason: &'static str,
    why: &str,
    src: IpAddr,
    label: &str,
) {
    // The judge first, then the routes, as `FrameJudge::take` does under the judge's lock:
    // one order, so a reload waiting to write the routes cannot wedge two connections.
    let mut judge = judge.lock().unwrap_or_else(|e| e.into_inner());
    let table = routes.read().unwrap_or_else(|e| e.into_inner());
    let listing: Vec<&Route> = table
        .values()
        .map(|r| &r.route)
        .filter(|r| {
            r.channels[0]
                .peers
                .as_ref()
                .is_some_and(|p| p.contains(&src))
        })
        .collect();
    let counted_on = if listing.is_empty() {
        table.values().map(|r| &r.route).collect()
    } else {
        listing
    };
    judge.refused(reason, why, src, &counted_on, label);
}

/// Reads frames from one accepted connection until it ends, fails a rule, or goes idle;
/// returns the peer's address for the listener's per-peer count.
async fn read_connection(
    mut stream: TcpStream,
    src: IpAddr,
    routes: Arc<RwLock<SealedRoutes>>,
    judge: Arc<Mutex<FrameJudge>>,
    label: String,
) -> IpAddr {
    let mut deframer = Deframer::new();
    let mut buf = vec![0u8; MAX_FRAME_LEN];
    let refuse = |reason, why: &str| refuse(&judge, &routes, reason, why, src, &label);
    loop {
        let want = deframer.wants();
        let read = tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut buf[..want])).await;
        let n = match read {
            Err(_) => {
                refuse(
                    "tcp_read_timeouts",
                    "nothing, not even a keepalive, arrived in time",
                );
                return src;
            }
            // A reset: the peer's link reconnects, nothing to count here.
            Ok(Err(_)) => return src,
            Ok(Ok(0)) => {
                if let Some(cut) = deframer.finish() {
                    refuse("tcp_truncated", &cut.to_string());
                }
                return src;
            }
            Ok(Ok(n)) => n,
        };
        deframer.push(&buf[..n]);
        loop {
            match deframer.piece() {
                Ok(Some(Piece::Frame(frame))) => {
                    let mut judge = judge.lock().unwrap_or_else(|e| e.into_inner());
                    judge.take(&frame, src, &routes, &label);
                }
                Ok(Some(Piece::Keepalive)) => {}
                Ok(None) => break,
                Err(bad) => {
                    refuse("tcp_bad_length", &format!("{bad}; closing the connection"));
                    return src;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
