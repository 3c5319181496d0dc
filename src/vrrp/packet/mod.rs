//! VRRPv2 (RFC 3768) and VRRPv3 (RFC 9568) advert wire format.
//!
//! Smoltcp style: [`Advert`] is the plain representation, [`emit`] / [`emit_ipv4`] turn it
//! into bytes, and [`parse_ipv4`] / [`parse_vrrp`] turn received bytes into a [`Received`].
//! Parsing checks only what the bytes themselves say (lengths, version, type, checksum,
//! auth type); [`check_against`] then compares a well-formed advert with the local
//! instance. Every failure is a [`Reject`] with a stable counter label.
//!
//! Nothing here opens a socket or reads a clock.

mod check;
mod checksum;
mod emit;
mod parse;
mod reject;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Version;
use super::timing::Centis;

pub use check::{AddressCheck, Expected, check_against};
pub use emit::{emit, emit_into, emit_ipv4};
pub use parse::{Ipv4Addressing, ipv4_addressing, parse_ipv4, parse_vrrp};
pub use reject::{EmitError, Reject};

/// The addresses of an advert, the first two inline: a received advert of one or two
/// addresses (nearly every instance) is parsed without an allocation, and an instance's own
/// advert keeps its list without one.
pub type Addresses = smallvec::SmallVec<[IpAddr; 2]>;

/// IP protocol number of VRRP (both versions, both families).
pub const PROTOCOL: u8 = 112;
/// The IPv4 multicast group adverts are sent to (224.0.0.18).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group adverts are sent to (ff02::12).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The TTL / hop limit every multicast advert carries and must arrive with.
pub const TTL: u8 = 255;

/// One VRRP advertisement, as sent or as decoded from the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// Protocol version; v2 exists only over IPv4.
    pub version: Version,
    /// Virtual router identifier, 1..=255.
    pub vrid: u8,
    /// Sender's priority: 0 means "resigning", 255 the address owner.
    pub priority: u8,
    /// Advertisement interval. VRRPv2 carries whole seconds, so a v2 advert's interval is
    /// always a multiple of 100 cs; VRRPv3 carries 12 bits of centiseconds.
    pub interval: Centis,
    /// The virtual addresses, all of the advert's address family.
    pub addresses: Addresses,
    /// VRRPv2 authentication; always [`Auth::None`] for v3, which has no auth field.
    pub auth: Auth,
}

/// VRRPv2 authentication (RFC 2338 §5.3.6; RFC 3768 keeps the field for compatibility).
///
/// IPsec AH (type 2) is not supported and is rejected on receive.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Type 0: no authentication. The 8 data bytes are sent as zeros and ignored on receive.
    None,
    /// Type 1: a clear-text password of up to 8 bytes, zero padded.
    Simple([u8; 8]),
}

impl Auth {
    /// The wire's auth type value.
    pub const fn type_code(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Simple(_) => 1,
        }
    }

    /// A simple-text password, zero padded as keepalived does; `None` if it is longer than
    /// the 8 bytes the field holds.
    pub fn simple(password: &[u8]) -> Option<Auth> {
        let mut data = [0u8; 8];
        data.get_mut(..password.len())?.copy_from_slice(password);
        Some(Auth::Simple(data))
    }
}

// The password travels in clear on the wire, but it has no business in logs.
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Simple(_) => f.write_str("Simple(<redacted>)"),
        }
    }
}

/// Which checksum convention a received advert's checksum matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumKind {
    /// VRRPv2: the VRRP message alone (auth data included).
    V2,
    /// VRRPv3 over IPv6: with the IPv6 pseudo-header.
    V3Ipv6,
    /// VRRPv3 over IPv4 with the IPv4 pseudo-header (keepalived and FRR default).
    V3Ipv4PseudoHeader,
    /// VRRPv3 over IPv4 without a pseudo-header, as RFC 9568 specifies.
    V3Ipv4Rfc9568,
}

impl ChecksumKind {
    /// A stable snake_case name, for counters.
    pub const fn label(self) -> &'static str {
        match self {
            ChecksumKind::V2 => "v2",
            ChecksumKind::V3Ipv6 => "v3_ipv6",
            ChecksumKind::V3Ipv4PseudoHeader => "v3_ipv4_pseudo_header",
            ChecksumKind::V3Ipv4Rfc9568 => "v3_ipv4_rfc9568",
        }
    }
}

/// A well-formed advert with what the IP layer said about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The decoded advert.
    pub advert: Advert,
    /// IP source address (the sending router's primary address).
    pub src: IpAddr,
    /// IP destination (the multicast group, or our address for unicast).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit as received.
    pub ttl: u8,
    /// The checksum convention that matched.
    pub checksum: ChecksumKind,
}
