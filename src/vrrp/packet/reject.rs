//! Why a received packet was dropped, and why an advert could not be emitted.

use std::net::IpAddr;

use crate::vrrp::timing::{Centis, IntervalError};
use crate::vrrp::{Family, Version};

/// Why a received packet is not accepted as an advert for the local instance.
///
/// One variant per reason, so every drop has its own counter ([`Reject::label`]) and a
/// message an operator can act on ([`std::fmt::Display`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// Fewer bytes than the fixed IPv4 or VRRP header.
    #[error("packet too short: {0} bytes")]
    TooShort(usize),
    /// A length disagrees with the bytes present: IPv4 header length, IPv4 total length, or
    /// the VRRP message length implied by the address count.
    #[error("length mismatch: expected {expected} bytes, found {actual}")]
    BadLength {
        /// What the header or the address count says.
        expected: usize,
        /// What is there.
        actual: usize,
    },
    /// The IP header's version nibble is not 4.
    #[error("not an IPv4 packet (IP version {0})")]
    NotIpv4(u8),
    /// The IPv4 protocol is not 112.
    #[error("not a VRRP packet (IP protocol {0}, expected 112)")]
    NotVrrp(u8),
    /// Source and destination addresses handed to the parser are of different families.
    #[error("source and destination addresses are of different families")]
    MixedFamilies,
    /// TTL / hop limit other than 255 where 255 is required: the advert was routed.
    #[error("TTL/hop limit is {0}, must be 255 (advert crossed a router?)")]
    TtlNot255(u8),
    /// A VRRP version that does not exist over this family (v2 over IPv6, or neither 2 nor 3).
    #[error("VRRP version {version} is not valid over {family}")]
    VersionForFamily {
        /// The version nibble received.
        version: u8,
        /// The family it arrived over.
        family: Family,
    },
    /// A valid advert of the other VRRP version than the local instance speaks.
    #[error("VRRP version {theirs} advert, this instance speaks version {ours}")]
    VersionMismatch {
        /// The local instance's version.
        ours: Version,
        /// The advert's version.
        theirs: Version,
    },
    /// A VRRP type other than 1 (Advertisement).
    #[error("VRRP packet type {0} (only 1, Advertisement, exists)")]
    BadType(u8),
    /// No checksum convention matches.
    #[error("bad VRRP checksum")]
    BadChecksum,
    /// VRRPv2 auth type 2.
    #[error("IPsec AH authentication (type 2) is not supported")]
    AuthAh,
    /// A VRRPv2 auth type other than 0, 1 or 2.
    #[error("unknown VRRPv2 authentication type {0}")]
    AuthType(u8),
    /// VRRPv2 auth type or password differs from ours.
    #[error("authentication does not match (auth type or password differs)")]
    AuthMismatch,
    /// A VRRPv2 advert with another interval than ours (v3 Backups adopt it instead).
    #[error("advert interval {theirs} differs from ours ({ours})")]
    IntervalMismatch {
        /// The local instance's interval.
        ours: Centis,
        /// The advert's interval.
        theirs: Centis,
    },
    /// An advert interval of zero, which would make the Master_Down timer fire at once.
    #[error("advert interval is 0")]
    ZeroInterval,
    /// No local instance has this VRID.
    #[error("no instance with VRID {0}")]
    UnknownVrid(u8),
}

impl Reject {
    /// A stable snake_case name for counters and structured logs.
    pub const fn label(&self) -> &'static str {
        match self {
            Reject::TooShort(_) => "too_short",
            Reject::BadLength { .. } => "bad_length",
            Reject::NotIpv4(_) => "not_ipv4",
            Reject::NotVrrp(_) => "not_vrrp",
            Reject::MixedFamilies => "mixed_families",
            Reject::TtlNot255(_) => "ttl_not_255",
            Reject::VersionForFamily { .. } => "version_for_family",
            Reject::VersionMismatch { .. } => "version_mismatch",
            Reject::BadType(_) => "bad_type",
            Reject::BadChecksum => "bad_checksum",
            Reject::AuthAh => "auth_ah",
            Reject::AuthType(_) => "auth_type",
            Reject::AuthMismatch => "auth_mismatch",
            Reject::IntervalMismatch { .. } => "interval_mismatch",
            Reject::ZeroInterval => "zero_interval",
            Reject::UnknownVrid(_) => "unknown_vrid",
        }
    }
}

/// Why an [`crate::vrrp::packet::Advert`] cannot be put on the wire. Configuration
/// validation should make these unreachable; they exist so a bad value is never truncated
/// into a valid-looking packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// VRID 0 is reserved.
    #[error("VRID 0 is not valid (1 to 255)")]
    VridZero,
    /// VRRPv2 exists only over IPv4.
    #[error("VRRPv2 cannot be sent over IPv6")]
    V2OverIpv6,
    /// Source and destination are of different families.
    #[error("source and destination addresses are of different families")]
    MixedFamilies,
    /// A virtual address is not of the advert's family.
    #[error("virtual address {0} is not of the advert's address family")]
    AddressFamily(IpAddr),
    /// More than 255 addresses.
    #[error("an advert carries at most 255 addresses, not {0}")]
    AddressCount(usize),
    /// The interval cannot be carried by the version.
    #[error(transparent)]
    Interval(#[from] IntervalError),
    /// VRRPv3 has no authentication field.
    #[error("VRRPv3 has no authentication; only Auth::None can be sent")]
    AuthInV3,
}
