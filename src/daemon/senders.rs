//! Where an instance's adverts go: one [`TxPath`] per heartbeat channel. The Master sends
//! every advert on every path; a path that fails is logged when it starts and stops failing,
//! and counted in between, so a dead link costs a counter per advert, not a log line.

use std::cell::RefCell;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

use super::sealed::FrameSink;
use super::stats::{Hot, Stats};
use crate::net::{SendBatches, VrrpSocket};
use crate::vrrp::V3Checksum;
use crate::vrrp::packet::{self, Advert};
use crate::vrrp::udp_frame::{self, FrameKey, Stamper};

thread_local! {
    /// The advert being sent, encoded: one buffer for every instance the thread sends for,
    /// so a Master sends without an allocation, and an instance holds no buffer of its own.
    static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One way out for adverts.
pub struct TxPath {
    /// The channel's name in logs and status ("eth0", "eth1", "udp eth2:5405"). Boxed: 8
    /// bytes less than a `String` in every instance's paths, which sit at the edge of their
    /// size class.
    pub label: Box<str>,
    /// How it sends.
    pub via: Via,
    /// The channel's counters (shared with its receive side).
    pub stats: Arc<Stats>,
    /// Whether its last advert failed: the next success is logged, further failures not.
    pub failing: AtomicBool,
}

/// The socket and addressing of a path.
#[derive(Clone)]
pub enum Via {
    /// Raw VRRP (protocol 112) to the group or to unicast peers.
    Vrrp {
        /// The socket.
        socket: Arc<VrrpSocket>,
        /// Source address written into the advert's checksum.
        src: IpAddr,
        /// The group, or the peers.
        dests: Vec<IpAddr>,
        /// VRRPv3-over-IPv4 checksum convention.
        checksum: V3Checksum,
    },
    /// The advert sealed with the channel's key, handed to each of the channel's sinks
    /// (UDP: a peer's address; TCP: a peer's connection; serial: the line).
    Sealed {
        /// Where the frames go; each never waits.
        sinks: Vec<Arc<dyn FrameSink>>,
        /// Our identity, sealed into every frame: the node's primary address, not its
        /// address on this channel, so a peer breaks equal-priority ties with the same pair
        /// of addresses on every channel.
        origin: IpAddr,
        /// The shared key.
        key: Arc<FrameKey>,
        /// Where it was read from.
        key_file: std::path::PathBuf,
    },
}

impl std::fmt::Debug for TxPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

impl TxPath {
    /// Whether this path's key differs from the one now loaded from its file (a reload
    /// re-reads key files: a rotated key must take effect).
    pub fn stale_key(
        &self,
        keys: &std::collections::HashMap<std::path::PathBuf, Arc<FrameKey>>,
    ) -> bool {
        match &self.via {
            Via::Sealed { key, key_file, .. } => {
                keys.get(key_file).is_some_and(|k| !k.same_as(key))
            }
            Via::Vrrp { .. } => false,
        }
    }
}

/// The paths of one instance and their send state.
pub struct Sending {
    paths: Arc<[TxPath]>,
    stamps: Stamper,
}

impl Sending {
    /// Sends on `paths`.
    pub fn new(paths: Arc<[TxPath]>) -> Self {
        Sending {
            paths,
            stamps: Stamper::new(run_epoch()),
        }
    }

    /// Switches to new paths (a reload changed the channels); the stamps go on.
    pub fn replace(&mut self, paths: Arc<[TxPath]>) {
        self.paths = paths;
    }

    /// The paths in use.
    pub fn paths(&self) -> Arc<[TxPath]> {
        self.paths.clone()
    }

    /// Path `k` (the heartbeat channel of index `k`), if there is one.
    pub fn path(&self, k: usize) -> Option<&TxPath> {
        self.paths.get(k)
    }

    /// Sends `advert` on every path, counting per instance (`stats`) and per channel. Inside
    /// [`sent_together`], a path's one raw datagram joins the thread's batch, and is counted
    /// when the batch leaves.
    pub fn send(&mut self, instance: &Arc<str>, advert: &Advert, stats: &Arc<Stats>) {
        for (k, path) in self.paths.iter().enumerate() {
            if let Via::Vrrp {
                socket,
                src,
                dests,
                checksum,
            } = &path.via
                && let [dst] = dests.as_slice()
                && OUTBOX.with_borrow(|o| o.open)
            {
                let sent = Sent {
                    instance: instance.clone(),
                    stats: stats.clone(),
                    paths: self.paths.clone(),
                    k,
                    dst: *dst,
                };
                encoded(advert, *src, *dst, *checksum, |datagram| match datagram {
                    Ok(b) => {
                        OUTBOX.with_borrow_mut(|o| o.batch.push(socket, *dst, b, sent, &mut settle))
                    }
                    Err(e) => settle(sent, Err(io::Error::other(e))),
                });
                continue;
            }
            let mut error = None;
            let mut sent = 0;
            match &path.via {
                Via::Vrrp {
                    socket,
                    src,
                    dests,
                    checksum,
                } => {
                    for &dst in dests {
                        let r = encoded(advert, *src, dst, *checksum, |datagram| {
                            socket
                                .try_send_to(datagram?, dst)
                                .map_err(|e| e.to_string())
                        });
                        match r {
                            Ok(()) => sent += 1,
                            Err(e) => error = Some(format!("to {dst}: {e}")),
                        }
                    }
                }
                Via::Sealed {
                    sinks, origin, key, ..
                } => match seal(&mut self.stamps, advert, *origin, key) {
                    Ok(frame) => {
                        for sink in sinks {
                            match sink.push(&frame) {
                                Ok(()) => sent += 1,
                                Err(e) => error = Some(e),
                            }
                        }
                    }
                    Err(e) => error = Some(e),
                },
            }
            path.settle(instance, stats, sent, error);
        }
    }
}

/// `advert` from `src` to `dst`, encoded into the thread's buffer and handed to `then`, or
/// why it could not be.
fn encoded<R>(
    advert: &Advert,
    src: IpAddr,
    dst: IpAddr,
    checksum: V3Checksum,
    then: impl FnOnce(Result<&[u8], String>) -> R,
) -> R {
    ENCODED.with_borrow_mut(|b| {
        let datagram = packet::emit_into(advert, src, dst, checksum, b).map(|()| &b[..]);
        then(datagram.map_err(|e| e.to_string()))
    })
}

/// Runs `serve` with the adverts the thread sends batched: each socket's datagrams leave
/// with one `sendmmsg` per 64, the last of them when `serve` returns. The
/// shared timer serves every Master's advert deadline of a pass inside one.
pub fn sent_together<R>(serve: impl FnOnce() -> R) -> R {
    /// Sends what waits when the outermost `serve` ends, even by a panic.
    struct Close;
    impl Drop for Close {
        fn drop(&mut self) {
            let _ = OUTBOX.try_with(|o| {
                let mut o = o.borrow_mut();
                o.open = false;
                o.batch.flush(&mut settle);
            });
        }
    }
    let outermost = OUTBOX.with_borrow_mut(|o| !std::mem::replace(&mut o.open, true));
    let _close = if outermost { Some(Close) } else { None };
    serve()
}

/// The thread's batch, and whether adverts go into it now.
struct Outbox {
    open: bool,
    batch: SendBatches<Sent>,
}

thread_local! {
    static OUTBOX: RefCell<Outbox> = const {
        RefCell::new(Outbox {
            open: false,
            batch: SendBatches::new(),
        })
    };
}

/// One advert's datagram on one path, counted once it has left or failed.
struct Sent {
    instance: Arc<str>,
    stats: Arc<Stats>,
    paths: Arc<[TxPath]>,
    k: usize,
    dst: IpAddr,
}

fn settle(s: Sent, outcome: io::Result<()>) {
    let (sent, error) = match outcome {
        Ok(()) => (1, None),
        Err(e) => (0, Some(format!("to {}: {e}", s.dst))),
    };
    s.paths[s.k].settle(&s.instance, &s.stats, sent, error);
}

impl TxPath {
    /// Counts one advert's datagrams on this path: `sent` of them left, and `error` is the
    /// last failure. Logs when the path starts failing and when it works again.
    fn settle(&self, instance: &str, stats: &Stats, sent: usize, error: Option<String>) {
        for _ in 0..sent {
            stats.count(Hot::AdvertsSent);
            self.stats.count(Hot::AdvertsSent);
        }
        match error {
            Some(e) => {
                stats.bump("advert_send_errors");
                self.stats.bump("advert_send_errors");
                if !self.failing.swap(true, Ordering::Relaxed) {
                    warn!(instance, channel = %self.label, error = %e, "advert not sent on this channel; further failures are counted, not logged, until it works again");
                }
            }
            None if self.failing.swap(false, Ordering::Relaxed) => {
                info!(instance, channel = %self.label, "adverts go out on this channel again");
            }
            None => {}
        }
    }
}

/// `advert` sealed as a frame from `origin`, stamped now.
fn seal(
    stamps: &mut Stamper,
    advert: &Advert,
    origin: IpAddr,
    key: &FrameKey,
) -> Result<Vec<u8>, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let vrrp = packet::emit(advert, origin, origin, V3Checksum::PseudoHeader)
        .map_err(|e| e.to_string())?;
    Ok(udp_frame::seal(key, stamps.next(now), origin, &vrrp))
}

/// A random epoch for this run's frames: a receiver takes a new one as our restart. Should
/// the system's generator fail, the clock and process id still make a restart's epoch differ.
fn run_epoch() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        (now.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> TxPath {
        TxPath {
            label: "eth9".into(),
            via: Via::Sealed {
                sinks: Vec::new(),
                origin: IpAddr::from([10, 0, 0, 1]),
                key: Arc::new(FrameKey::new(vec![7; 32]).unwrap()),
                key_file: "k".into(),
            },
            stats: Arc::default(),
            failing: AtomicBool::default(),
        }
    }

    fn count(stats: &Stats, label: &str) -> u64 {
        stats.snapshot().get(label).copied().unwrap_or(0)
    }

    #[test]
    fn a_path_is_marked_failing_once_and_counted_per_advert_until_it_works_again() {
        let (path, stats) = (path(), Stats::default());
        path.settle("vi", &stats, 1, None);
        assert!(!path.failing.load(Ordering::Relaxed));
        path.settle("vi", &stats, 0, Some("to 224.0.0.18: no buffer".into()));
        assert!(
            path.failing.load(Ordering::Relaxed),
            "the first failure marks the path"
        );
        path.settle("vi", &stats, 0, Some("to 224.0.0.18: no buffer".into()));
        assert!(path.failing.load(Ordering::Relaxed));
        path.settle("vi", &stats, 1, None);
        assert!(
            !path.failing.load(Ordering::Relaxed),
            "a success clears the mark"
        );
        for s in [&stats, &*path.stats] {
            assert_eq!(count(s, "adverts_sent"), 2);
            assert_eq!(count(s, "advert_send_errors"), 2);
        }
    }

    #[test]
    fn nested_passes_open_the_batch_once_and_a_panic_closes_it() {
        assert!(!OUTBOX.with_borrow(|o| o.open));
        sent_together(|| {
            assert!(OUTBOX.with_borrow(|o| o.open));
            sent_together(|| {});
            assert!(OUTBOX.with_borrow(|o| o.open), "an inner batch closed it");
        });
        assert!(!OUTBOX.with_borrow(|o| o.open));
        let unwound = std::panic::catch_unwind(|| sent_together(|| panic!("a served owner")));
        assert!(unwound.is_err());
        assert!(!OUTBOX.with_borrow(|o| o.open), "a panic closed the batch");
    }
}
