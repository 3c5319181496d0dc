//! The UDP heartbeat channel's frame: a VRRP advert wrapped in a header, authenticated with
//! HMAC-SHA256 and stamped against replay.
//!
//! ```text
//! 0   4  magic b"VIPD"
//! 4   1  format version = 2
//! 5   3  reserved, zero
//! 8   8  epoch: a random number the sender draws when it starts (u64, big-endian)
//! 16  8  seq: 1, 2, 3, ... within the epoch (u64, big-endian)
//! 24  8  time: the sender's wall clock, microseconds since the Unix epoch (u64, big-endian)
//! 32 16  origin: the sender's identity address (IPv4 as IPv4-mapped IPv6)
//! 48  n  the VRRP message as `packet::emit` makes it with src = dst = origin and
//!        `V3Checksum::PseudoHeader`
//! end 32 HMAC-SHA256(key, every byte before it)
//! ```
//!
//! Format 1 had one field where epoch, seq and time are: a sequence number that was also the
//! sender's clock, so one future-dated frame raised the bar above every later frame. The
//! formats do not interoperate; both ends are vipd, so both are upgraded together.
//!
//! The origin travels inside the authenticated bytes rather than being taken from the UDP
//! source address, so NAT between the peers cannot break the advert's checksum or identity.
//! Pure: no I/O and no clock reads; the caller passes the time in.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub mod line;
mod replay;
pub mod stream;
#[cfg(test)]
mod tests;

pub use replay::{MAX_RUNS, ReplayGuard, Stamper, forget_after};

/// Length of the HMAC-SHA256 tag that ends every frame.
pub const MAC_LEN: usize = 32;
/// The shortest key [`FrameKey::new`] accepts: 128 bits.
pub const MIN_KEY_LEN: usize = 16;
/// Length of the header before the VRRP message.
pub const HEADER_LEN: usize = 48;
/// The shortest frame worth authenticating: header, the 8-byte VRRP fixed header, tag.
pub const MIN_FRAME_LEN: usize = HEADER_LEN + VRRP_FIXED_HEADER + MAC_LEN;

pub(crate) const MAGIC: [u8; 4] = *b"VIPD";
const FORMAT_VERSION: u8 = 2;
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

/// What a frame carries against replay; see the module's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Drawn at random when the sender starts: a new one means the sender restarted.
    pub epoch: u64,
    /// Counts the sender's frames within the epoch, from 1.
    pub seq: u64,
    /// The sender's wall clock when it sealed the frame, in microseconds since the epoch.
    pub time_us: u64,
}

/// Wraps the VRRP message `vrrp` into an authenticated frame stamped `stamp`.
pub fn seal(key: &FrameKey, stamp: Stamp, origin: IpAddr, vrrp: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER_LEN + vrrp.len() + MAC_LEN);
    frame.extend_from_slice(&MAGIC);
    frame.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0]);
    frame.extend_from_slice(&stamp.epoch.to_be_bytes());
    frame.extend_from_slice(&stamp.seq.to_be_bytes());
    frame.extend_from_slice(&stamp.time_us.to_be_bytes());
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
    /// The sender's epoch, sequence number and time.
    pub stamp: Stamp,
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
    /// A format version this build does not speak. Its own version here means the reserved
    /// bytes were not zero, which only a later format would send.
    #[error("{}", bad_version(*.0))]
    BadVersion(u8),
    /// The tag does not match: a wrong key, or bytes altered on the way.
    #[error("the authentication tag does not match: a wrong key or an altered frame")]
    BadMac,
    /// Authentic but not newer than the last frame of the same run (origin and epoch).
    #[error(
        "sequence number {seq} is not above {highest}, the highest seen from this sender \
         since it started: a replayed or reordered frame"
    )]
    Replayed {
        /// The frame's sequence number.
        seq: u64,
        /// The highest accepted so far from the same origin and epoch.
        highest: u64,
    },
    /// Sealed longer ago than the freshness window allows, by our clock.
    #[error(
        "sealed {age:?} ago by our clock: an old frame replayed, or the sender's clock is \
         behind ours by more than the window (keep the nodes on NTP)"
    )]
    Stale {
        /// How far the frame's time is behind our clock.
        age: Duration,
    },
    /// Dated further ahead of our clock than the freshness window allows.
    #[error(
        "dated {ahead:?} ahead of our clock: the sender's clock is ahead of ours by more \
         than the window (keep the nodes on NTP)"
    )]
    Ahead {
        /// How far the frame's time is ahead of our clock.
        ahead: Duration,
    },
}

fn bad_version(v: u8) -> String {
    if v == FORMAT_VERSION {
        format!("frame format {v} with non-zero reserved bytes: sent by a newer vipd?")
    } else if v < FORMAT_VERSION {
        format!(
            "frame format {v} is an older vipd's (this one speaks {FORMAT_VERSION}): upgrade \
             both nodes"
        )
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
            FrameReject::Ahead { .. } => "udp_future",
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

    let field = |at: usize| u64::from_be_bytes(signed[at..at + 8].try_into().expect("8 bytes"));
    let stamp = Stamp {
        epoch: field(8),
        seq: field(16),
        time_us: field(24),
    };
    let origin: [u8; 16] = signed[32..48].try_into().expect("16 bytes");
    Ok(Opened {
        stamp,
        origin: Ipv6Addr::from(origin).to_canonical(),
        vrrp: &signed[HEADER_LEN..],
    })
}
