//! Where an instance's adverts go: one [`TxPath`] per heartbeat channel. The Master sends
//! every advert on every path; a path that fails is logged when it starts and stops failing,
//! and counted in between, so a dead link costs a counter per advert, not a log line.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

use super::sealed::FrameSink;
use super::stats::{Hot, Stats};
use crate::net::VrrpSocket;
use crate::vrrp::V3Checksum;
use crate::vrrp::packet::{self, Advert};
use crate::vrrp::udp_frame::{self, FrameKey, Stamper};

thread_local! {
    /// The advert being sent, encoded: one buffer for every instance the thread sends for,
    /// so a Master sends without an allocation, and an instance holds no buffer of its own.
    static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One way out for adverts.
#[derive(Clone)]
pub struct TxPath {
    /// The channel's name in logs and status ("eth0", "eth1", "udp eth2:5405").
    pub label: String,
    /// How it sends.
    pub via: Via,
    /// The channel's counters (shared with its receive side).
    pub stats: Arc<Stats>,
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
    /// Per path, as long as the paths: a boxed slice, 8 bytes less than a `Vec` in every
    /// router's cell, which sits at the edge of its size class.
    failing: Box<[bool]>,
    stamps: Stamper,
}

impl Sending {
    /// Sends on `paths`.
    pub fn new(paths: Arc<[TxPath]>) -> Self {
        let failing = vec![false; paths.len()].into_boxed_slice();
        Sending {
            paths,
            failing,
            stamps: Stamper::new(run_epoch()),
        }
    }

    /// Switches to new paths (a reload changed the channels); the stamps go on.
    pub fn replace(&mut self, paths: Arc<[TxPath]>) {
        self.failing = vec![false; paths.len()].into_boxed_slice();
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

    /// Sends `advert` on every path, counting per instance (`stats`) and per channel.
    pub fn send(&mut self, instance: &str, advert: &Advert, stats: &Stats) {
        for (k, path) in self.paths.iter().enumerate() {
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
                        let r = ENCODED.with_borrow_mut(|b| {
                            packet::emit_into(advert, *src, dst, *checksum, b)
                                .map_err(|e| e.to_string())
                                .and_then(|()| {
                                    socket.try_send_to(b, dst).map_err(|e| e.to_string())
                                })
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
            for _ in 0..sent {
                stats.count(Hot::AdvertsSent);
                path.stats.count(Hot::AdvertsSent);
            }
            match error {
                Some(e) => {
                    stats.bump("advert_send_errors");
                    path.stats.bump("advert_send_errors");
                    if !std::mem::replace(&mut self.failing[k], true) {
                        warn!(instance, channel = %path.label, error = %e, "advert not sent on this channel; further failures are counted, not logged, until it works again");
                    }
                }
                None if std::mem::replace(&mut self.failing[k], false) => {
                    info!(instance, channel = %path.label, "adverts go out on this channel again");
                }
                None => {}
            }
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
