//! The UDP heartbeat channel's frame: a VRRP advert wrapped in a header, authenticated with
//! HMAC-SHA256 and numbered against replay.
//!
//! ```text
//! 0   4  magic b"VIPD"
//! 4   1  format version = 1
//! 5   3  reserved, zero
//! 8   8  seq (u64, big-endian)
//! 16 16  origin: the sender's address on the channel (IPv4 as IPv4-mapped IPv6)
//! 32  n  the VRRP message as `packet::emit` makes it with src = dst = origin and
//!        `V3Checksum::PseudoHeader`
//! end 32 HMAC-SHA256(key, every byte before it)
//! ```
//!
//! The origin travels inside the authenticated bytes rather than being taken from the UDP
//! source address, so NAT between the peers cannot break the advert's checksum or identity.
//! Pure: no I/O and no clock reads; the caller passes the time in.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[cfg(test)]
mod tests;

/// Length of the HMAC-SHA256 tag that ends every frame.
pub const MAC_LEN: usize = 32;
/// The shortest key [`FrameKey::new`] accepts: 128 bits.
pub const MIN_KEY_LEN: usize = 16;
/// Length of the header before the VRRP message.
pub const HEADER_LEN: usize = 32;
/// The shortest frame worth authenticating: header, the 8-byte VRRP fixed header, tag.
pub const MIN_FRAME_LEN: usize = HEADER_LEN + VRRP_FIXED_HEADER + MAC_LEN;

const MAGIC: [u8; 4] = *b"VIPD";
const FORMAT_VERSION: u8 = 1;
const VRRP_FIXED_HEADER: usize = 8;
/// Offset of the VRID in the VRRP message (same in v2 and v3).
const VRID_AT: usize = HEADER_LEN + 1;

/// A channel key, ready to authenticate frames.
///
/// Holds the HMAC state already keyed, so each frame costs the message's hashing only.
#[derive(Clone)]
pub struct FrameKey(Hmac<Sha256>);

/// Why a key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Shorter than [`MIN_KEY_LEN`]: guessable.
    #[error("the key has {len} bytes; at least {MIN_KEY_LEN} are required")]
    TooShort {
        /// The key's length in bytes.
        len: usize,
    },
}

impl FrameKey {
    /// A key from raw bytes; at least [`MIN_KEY_LEN`] of them.
    pub fn new(bytes: Vec<u8>) -> Result<FrameKey, KeyError> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort { len: bytes.len() });
        }
        // HMAC takes keys of any length, so this cannot fail; the length rule is ours.
        let mac = Hmac::<Sha256>::new_from_slice(&bytes).expect("HMAC accepts any key length");
        Ok(FrameKey(mac))
    }

    /// Whether two keys are the same, without holding the key bytes: compares the MACs the
    /// keys give a fixed message (a reload re-reads key files and must notice a rotation).
    pub fn same_as(&self, other: &FrameKey) -> bool {
        let tag = |k: &FrameKey| {
            let mut m = k.0.clone();
            m.update(b"vipd key identity");
            m.finalize().into_bytes()
        };
        tag(self) == tag(other)
    }
}

// Keys must never reach a log line.
impl fmt::Debug for FrameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Wraps the VRRP message `vrrp` into an authenticated frame numbered `seq`.
pub fn seal(key: &FrameKey, seq: u64, origin: IpAddr, vrrp: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER_LEN + vrrp.len() + MAC_LEN);
    frame.extend_from_slice(&MAGIC);
    frame.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0]);
    frame.extend_from_slice(&seq.to_be_bytes());
    let origin = match origin {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    frame.extend_from_slice(&origin.octets());
    frame.extend_from_slice(vrrp);
    let mut mac = key.0.clone();
    mac.update(&frame);
    frame.extend_from_slice(&mac.finalize().into_bytes());
    frame
}

/// The VRID of the inner VRRP message, read without authentication: only for choosing
/// which instance's key to try. `None` if `frame` is not shaped like a frame.
pub fn vrid_hint(frame: &[u8]) -> Option<u8> {
    if frame.len() < MIN_FRAME_LEN || frame[..4] != MAGIC {
        return None;
    }
    Some(frame[VRID_AT])
}

/// An authenticated frame's content. Replay is not judged yet: see [`ReplayGuard`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened<'a> {
    /// The sender's sequence number.
    pub seq: u64,
    /// The sender's address on the channel (an IPv4-mapped address comes back as IPv4).
    pub origin: IpAddr,
    /// The VRRP message, to be parsed with `parse_vrrp(vrrp, origin, origin, 255)`.
    pub vrrp: &'a [u8],
}

/// Why a frame was dropped. Each has a stable counter label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameReject {
    /// Shorter than [`MIN_FRAME_LEN`]; holds the length received.
    #[error("a frame of {0} bytes is shorter than the {MIN_FRAME_LEN}-byte minimum")]
    Truncated(usize),
    /// Does not start with `VIPD`: not a vipd frame at all.
    #[error("not a vipd frame: the magic bytes are wrong")]
    BadMagic,
    /// A format version this build does not speak. Version 1 here means its reserved bytes
    /// were not zero, which only a later format would send.
    #[error("{}", bad_version(*.0))]
    BadVersion(u8),
    /// The tag does not match: a wrong key, or bytes altered on the way.
    #[error("the authentication tag does not match: a wrong key or an altered frame")]
    BadMac,
    /// Authentic but not newer than the last frame from this origin.
    #[error(
        "sequence number {seq} is not above {highest}, the highest seen from this sender: \
         a replayed or reordered frame"
    )]
    Replayed {
        /// The frame's sequence number.
        seq: u64,
        /// The highest accepted so far from the same origin.
        highest: u64,
    },
    /// The first frame from an origin carries a time too far from ours.
    #[error(
        "the first frame from this sender is {skew:?} away from our clock: an old capture \
         replayed, or the two clocks disagree"
    )]
    Stale {
        /// How far the frame's sequence time is from our clock.
        skew: Duration,
    },
}

fn bad_version(v: u8) -> String {
    if v == FORMAT_VERSION {
        format!("frame format {v} with non-zero reserved bytes: sent by a newer vipd?")
    } else {
        format!("unknown frame format version {v} (this vipd speaks {FORMAT_VERSION})")
    }
}

impl FrameReject {
    /// A stable snake_case name, for counters.
    pub const fn label(&self) -> &'static str {
        match self {
            FrameReject::Truncated(_) => "udp_truncated",
            FrameReject::BadMagic => "udp_bad_magic",
            FrameReject::BadVersion(_) => "udp_bad_version",
            FrameReject::BadMac => "udp_bad_mac",
            FrameReject::Replayed { .. } => "udp_replayed",
            FrameReject::Stale { .. } => "udp_stale",
        }
    }
}

/// Checks a frame's shape and tag and returns its content. The tag comparison is
/// constant-time (hmac's `verify_slice`), so timing tells a forger nothing.
pub fn open<'a>(key: &FrameKey, frame: &'a [u8]) -> Result<Opened<'a>, FrameReject> {
    if frame.len() < MIN_FRAME_LEN {
        return Err(FrameReject::Truncated(frame.len()));
    }
    if frame[..4] != MAGIC {
        return Err(FrameReject::BadMagic);
    }
    if frame[4] != FORMAT_VERSION || frame[5..8] != [0, 0, 0] {
        return Err(FrameReject::BadVersion(frame[4]));
    }
    let (signed, tag) = frame.split_at(frame.len() - MAC_LEN);
    let mut mac = key.0.clone();
    mac.update(signed);
    mac.verify_slice(tag).map_err(|_| FrameReject::BadMac)?;

    let seq = u64::from_be_bytes(signed[8..16].try_into().expect("8 bytes"));
    let origin: [u8; 16] = signed[16..32].try_into().expect("16 bytes");
    Ok(Opened {
        seq,
        origin: Ipv6Addr::from(origin).to_canonical(),
        vrrp: &signed[HEADER_LEN..],
    })
}

fn micros(t: Duration) -> u64 {
    u64::try_from(t.as_micros()).unwrap_or(u64::MAX)
}

/// A sender's sequence numbers.
///
/// Each is `max(last + 1, now in microseconds since the epoch)`: strictly increasing even
/// if the clock steps back, and a restarted sender (which forgot `last`) still starts
/// above everything it sent before, as long as its clock did not go back meanwhile.
#[derive(Clone, Debug, Default)]
pub struct SeqCounter {
    last: u64,
}

impl SeqCounter {
    /// A counter that has sent nothing.
    pub fn new() -> Self {
        SeqCounter::default()
    }

    /// The next sequence number, given the wall-clock time since the Unix epoch.
    pub fn next(&mut self, now_unix: Duration) -> u64 {
        self.last = self.last.saturating_add(1).max(micros(now_unix));
        self.last
    }
}

/// The receiver's replay defence, per origin.
///
/// Call [`check`](Self::check) only on frames [`open`] accepted: origins are then
/// authenticated, so the table holds only real peers and cannot be grown by forgeries.
#[derive(Clone, Debug)]
pub struct ReplayGuard {
    window: Duration,
    highest: HashMap<IpAddr, u64>,
}

impl ReplayGuard {
    /// A guard that accepts a first frame whose time is within `window` of ours.
    pub fn new(window: Duration) -> Self {
        ReplayGuard {
            window,
            highest: HashMap::new(),
        }
    }

    /// Accepts `seq` from `origin` if it is above every earlier one (and remembers it).
    /// The first frame from an origin has nothing to compare with, so its sequence number,
    /// read as microseconds since the epoch, must be within the window of `now_unix`:
    /// otherwise an old capture replayed after our restart would be taken as live.
    pub fn check(
        &mut self,
        origin: IpAddr,
        seq: u64,
        now_unix: Duration,
    ) -> Result<(), FrameReject> {
        if let Some(highest) = self.highest.get_mut(&origin) {
            if seq <= *highest {
                return Err(FrameReject::Replayed {
                    seq,
                    highest: *highest,
                });
            }
            *highest = seq;
            return Ok(());
        }
        let now = micros(now_unix);
        let skew = Duration::from_micros(now.abs_diff(seq));
        if skew > self.window {
            return Err(FrameReject::Stale { skew });
        }
        self.highest.insert(origin, seq);
        Ok(())
    }
}
