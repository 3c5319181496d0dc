//! Bytes -> advert: everything that can be checked without knowing the local instance.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::checksum::Sum;
use super::emit::TYPE_ADVERT;
use super::{Addresses, Advert, Auth, ChecksumKind, PROTOCOL, Received, Reject};
use crate::vrrp::timing::Centis;
use crate::vrrp::{Family, Version};

/// Fixed VRRP header: version/type, VRID, priority, count, auth/interval, checksum.
const HEADER: usize = 8;
const V2_AUTH_DATA: usize = 8;
const IPV4_MIN_HEADER: usize = 20;

/// What the receive layer reads of the IPv4 header at the start of a datagram, without
/// judging anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Addressing {
    pub ttl: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

/// The TTL, source and destination of the IPv4 header at the start of `packet` (the receive
/// layer reports them for every datagram); `None` if `packet` is shorter than a header.
pub fn ipv4_addressing(packet: &[u8]) -> Option<Ipv4Addressing> {
    match (packet.get(8), packet.get(12..IPV4_MIN_HEADER)) {
        (Some(&ttl), Some(&[a, b, c, d, e, f, g, h])) => Some(Ipv4Addressing {
            ttl,
            src: Ipv4Addr::new(a, b, c, d),
            dst: Ipv4Addr::new(e, f, g, h),
        }),
        _ => None,
    }
}

/// Parses what a raw IPv4 socket returns: the IPv4 header (options allowed) and a VRRP
/// message. The TTL is taken from the header; the IPv4 header checksum is left to the
/// kernel, which has verified it before delivering the packet.
pub fn parse_ipv4(packet: &[u8]) -> Result<Received, Reject> {
    let Some(Ipv4Addressing { ttl, src, dst }) = ipv4_addressing(packet) else {
        return Err(Reject::TooShort(packet.len()));
    };
    let ip_version = packet[0] >> 4;
    if ip_version != 4 {
        return Err(Reject::NotIpv4(ip_version));
    }
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    if header_len < IPV4_MIN_HEADER {
        return Err(Reject::BadLength {
            expected: IPV4_MIN_HEADER,
            actual: header_len,
        });
    }
    let total_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    // Bytes past the total length (link-layer padding) are not part of the packet; fewer
    // bytes than it, or a total shorter than the header, is a broken packet.
    if total_len > packet.len() || total_len < header_len {
        return Err(Reject::BadLength {
            expected: total_len,
            actual: packet.len(),
        });
    }
    if packet[9] != PROTOCOL {
        return Err(Reject::NotVrrp(packet[9]));
    }
    parse_vrrp(&packet[header_len..total_len], src.into(), dst.into(), ttl)
}

/// Parses a VRRP message whose IP header the caller has already taken apart: for IPv6
/// (the hop limit comes from `IPV6_RECVHOPLIMIT` ancillary data) and for the inside of an
/// IPv4 packet. `msg` must be exactly the IP payload.
pub fn parse_vrrp(
    msg: &[u8],
    src: IpAddr,
    dst: IpAddr,
    ttl_or_hop_limit: u8,
) -> Result<Received, Reject> {
    let family = match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => Family::V4,
        (IpAddr::V6(_), IpAddr::V6(_)) => Family::V6,
        _ => return Err(Reject::MixedFamilies),
    };
    if msg.len() < HEADER {
        return Err(Reject::TooShort(msg.len()));
    }
    let version = match (msg[0] >> 4, family) {
        (2, Family::V4) => Version::V2,
        (3, _) => Version::V3,
        (version, family) => return Err(Reject::VersionForFamily { version, family }),
    };
    let kind = msg[0] & 0x0f;
    if kind != TYPE_ADVERT {
        return Err(Reject::BadType(kind));
    }
    // Count 0 is an election-only instance's advert (`vips: []`). RFC 9568 §5.2.5 asks
    // for at least one address, but keepalived sends VRRPv2 adverts with none for an
    // instance without VIPs, and RFC 3768 sets no minimum; an instance that does expect
    // addresses counts the difference as an address mismatch and processes the advert
    // (RFC 9568 §6.4), as for any other list.
    let count = msg[3];
    let addr_len = match family {
        Family::V4 => 4,
        Family::V6 => 16,
    };
    let auth_len = match version {
        Version::V2 => V2_AUTH_DATA,
        Version::V3 => 0,
    };
    let expected = HEADER + usize::from(count) * addr_len + auth_len;
    if msg.len() != expected {
        return Err(Reject::BadLength {
            expected,
            actual: msg.len(),
        });
    }
    let checksum = verify_checksum(msg, version, src, dst)?;

    let addresses_end = HEADER + usize::from(count) * addr_len;
    let (auth, interval) = match version {
        Version::V2 => {
            let data: [u8; 8] = msg[addresses_end..].try_into().expect("length checked");
            let auth = match msg[4] {
                0 => Auth::None,
                1 => Auth::Simple(data),
                2 => return Err(Reject::AuthAh),
                other => return Err(Reject::AuthType(other)),
            };
            (auth, Centis::from_secs(msg[5]))
        }
        // The top 4 bits are reserved: ignored on receive (RFC 9568 §5.2.6).
        Version::V3 => (
            Auth::None,
            Centis::new(u16::from_be_bytes([msg[4], msg[5]]) & 0x0fff),
        ),
    };
    if interval.get() == 0 {
        return Err(Reject::ZeroInterval);
    }
    // Exactly as many as the advert carries: collecting would round a spilled list up to a
    // power of two, up to twice what the packet's size bounds. Filled by a loop per family:
    // `extend` over a mapped iterator took about 190 instructions for one address, 120 more
    // than this (callgrind).
    let mut addresses = Addresses::with_capacity(usize::from(count));
    let listed = &msg[HEADER..addresses_end];
    match family {
        Family::V4 => {
            for a in listed.chunks_exact(4) {
                addresses.push(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])));
            }
        }
        Family::V6 => {
            for a in listed.chunks_exact(16) {
                let octets: [u8; 16] = a.try_into().expect("chunk of 16");
                addresses.push(IpAddr::V6(Ipv6Addr::from(octets)));
            }
        }
    }

    Ok(Received {
        advert: Advert {
            version,
            vrid: msg[1],
            priority: msg[2],
            interval,
            addresses,
            auth,
        },
        src,
        dst,
        ttl: ttl_or_hop_limit,
        checksum,
    })
}

/// Finds the checksum convention that verifies. VRRPv3 over IPv4 tries the pseudo-header
/// first (what Linux peers send) and then the RFC 9568 form.
fn verify_checksum(
    msg: &[u8],
    version: Version,
    src: IpAddr,
    dst: IpAddr,
) -> Result<ChecksumKind, Reject> {
    let plain = || Sum::default().bytes(msg).verifies();
    let pseudo = || {
        Sum::default()
            .pseudo_header(src, dst, msg.len())
            .bytes(msg)
            .verifies()
    };
    let matched = match (version, src) {
        (Version::V2, _) => plain().then_some(ChecksumKind::V2),
        (Version::V3, IpAddr::V6(_)) => pseudo().then_some(ChecksumKind::V3Ipv6),
        (Version::V3, IpAddr::V4(_)) => {
            if pseudo() {
                Some(ChecksumKind::V3Ipv4PseudoHeader)
            } else {
                plain().then_some(ChecksumKind::V3Ipv4Rfc9568)
            }
        }
    };
    matched.ok_or(Reject::BadChecksum)
}
