//! Advert -> bytes.

use std::net::{IpAddr, Ipv4Addr};

use super::checksum::Sum;
use super::{Advert, Auth, EmitError, PROTOCOL, TTL};
use crate::vrrp::{V3Checksum, Version};

/// VRRP type 1, the only one: Advertisement.
pub(super) const TYPE_ADVERT: u8 = 1;
/// Offset of the checksum field in both versions.
pub(super) const CHECKSUM_AT: usize = 6;
/// The IPv4 TOS byte adverts carry: DSCP CS6 (network control), as keepalived and FRR send.
const TOS_NETWORK_CONTROL: u8 = 0xc0;

/// Encodes the VRRP message (no IP header) for a packet from `src` to `dst`.
///
/// `checksum` matters only for VRRPv3 over IPv4; v2 never has a pseudo-header and v3 over
/// IPv6 always has one. The advert is checked first so that an interval or count that
/// does not fit its field is an error, not a silently truncated packet.
pub fn emit(
    advert: &Advert,
    src: IpAddr,
    dst: IpAddr,
    checksum: V3Checksum,
) -> Result<Vec<u8>, EmitError> {
    let mut msg = Vec::new();
    emit_into(advert, src, dst, checksum, &mut msg)?;
    Ok(msg)
}

/// [`emit`] into `msg`, replacing what it held: a sender that keeps one buffer encodes
/// every advert without an allocation.
pub fn emit_into(
    advert: &Advert,
    src: IpAddr,
    dst: IpAddr,
    checksum: V3Checksum,
    msg: &mut Vec<u8>,
) -> Result<(), EmitError> {
    validate(advert, src, dst)?;
    let addr_len: usize = if src.is_ipv4() { 4 } else { 16 };
    let auth_len = if advert.version == Version::V2 { 8 } else { 0 };
    msg.clear();
    msg.reserve(8 + advert.addresses.len() * addr_len + auth_len);

    let version_nibble = match advert.version {
        Version::V2 => 2,
        Version::V3 => 3,
    };
    msg.push((version_nibble << 4) | TYPE_ADVERT);
    msg.push(advert.vrid);
    msg.push(advert.priority);
    // validate() bounds the count to 0..=255 (0: an election-only instance, `vips: []`).
    msg.push(advert.addresses.len() as u8);
    match advert.version {
        Version::V2 => {
            msg.push(advert.auth.type_code());
            // validate() ensures whole seconds in 1..=255.
            msg.push((advert.interval.get() / 100) as u8);
        }
        // The top 4 bits are reserved and sent as zero; validate() ensures <= 4095.
        Version::V3 => msg.extend_from_slice(&advert.interval.get().to_be_bytes()),
    }
    msg.extend_from_slice(&[0, 0]);
    for addr in &advert.addresses {
        match addr {
            IpAddr::V4(a) => msg.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => msg.extend_from_slice(&a.octets()),
        }
    }
    if advert.version == Version::V2 {
        match advert.auth {
            Auth::None => msg.extend_from_slice(&[0; 8]),
            Auth::Simple(data) => msg.extend_from_slice(&data),
        }
    }

    let with_pseudo = match (advert.version, src) {
        (Version::V2, _) => false,
        (Version::V3, IpAddr::V6(_)) => true,
        (Version::V3, IpAddr::V4(_)) => checksum == V3Checksum::PseudoHeader,
    };
    let mut sum = Sum::default();
    if with_pseudo {
        sum = sum.pseudo_header(src, dst, msg.len());
    }
    let value = sum.bytes(msg).checksum();
    msg[CHECKSUM_AT..CHECKSUM_AT + 2].copy_from_slice(&value.to_be_bytes());
    Ok(())
}

/// Encodes a complete IPv4 packet for an `IP_HDRINCL` raw socket: a 20-byte header (TOS
/// 0xC0, id 0, DF unset, TTL 255, protocol 112, header checksum) followed by [`emit`]'s
/// message.
pub fn emit_ipv4(
    advert: &Advert,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    checksum: V3Checksum,
) -> Result<Vec<u8>, EmitError> {
    let msg = emit(advert, src.into(), dst.into(), checksum)?;
    // At most 8 + 255 * 4 + 8 bytes of message: far below 65535.
    let total = (20 + msg.len()) as u16;
    let mut packet = Vec::with_capacity(usize::from(total));
    packet.extend_from_slice(&[0x45, TOS_NETWORK_CONTROL]);
    packet.extend_from_slice(&total.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, TTL, PROTOCOL, 0, 0]);
    packet.extend_from_slice(&src.octets());
    packet.extend_from_slice(&dst.octets());
    let header_checksum = Sum::default().bytes(&packet).checksum();
    packet[10..12].copy_from_slice(&header_checksum.to_be_bytes());
    packet.extend_from_slice(&msg);
    Ok(packet)
}

fn validate(advert: &Advert, src: IpAddr, dst: IpAddr) -> Result<(), EmitError> {
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(EmitError::MixedFamilies);
    }
    if advert.vrid == 0 {
        return Err(EmitError::VridZero);
    }
    if advert.version == Version::V2 && src.is_ipv6() {
        return Err(EmitError::V2OverIpv6);
    }
    if advert.version == Version::V3 && advert.auth != Auth::None {
        return Err(EmitError::AuthInV3);
    }
    advert.interval.check(advert.version)?;
    if advert.addresses.len() > 255 {
        return Err(EmitError::AddressCount(advert.addresses.len()));
    }
    if let Some(a) = advert
        .addresses
        .iter()
        .find(|a| a.is_ipv4() != src.is_ipv4())
    {
        return Err(EmitError::AddressFamily(*a));
    }
    Ok(())
}
