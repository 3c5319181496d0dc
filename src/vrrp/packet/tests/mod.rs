//! Unit tests: shared builders, encoding details and round trips. One test per [`Reject`]
//! variant lives in `reject.rs`; proptest properties in `props.rs`.

mod props;
mod reject;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::checksum::Sum;
use super::*;
use crate::vrrp::V3Checksum;
use crate::vrrp::timing::{Centis, IntervalError};

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const DST4: IpAddr = IpAddr::V4(MULTICAST_V4);
const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
const DST6: IpAddr = IpAddr::V6(MULTICAST_V6);

fn v4(d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, d))
}

fn v6(d: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, d))
}

fn v2_advert() -> Advert {
    Advert {
        version: Version::V2,
        vrid: 7,
        priority: 100,
        interval: Centis::from_secs(1),
        addresses: smallvec::smallvec![v4(10), v4(11)],
        auth: Auth::None,
    }
}

fn v3_advert4() -> Advert {
    Advert {
        version: Version::V3,
        vrid: 8,
        priority: 200,
        interval: Centis::new(25),
        addresses: smallvec::smallvec![v4(20)],
        auth: Auth::None,
    }
}

fn v3_advert6() -> Advert {
    Advert {
        version: Version::V3,
        vrid: 9,
        priority: 254,
        interval: Centis::new(4095),
        addresses: smallvec::smallvec![v6(1), v6(2)],
        auth: Auth::None,
    }
}

/// Recomputes the checksum of a hand-modified message, so a test reaches the check it
/// aims at instead of stopping at `BadChecksum`.
fn refix(msg: &mut [u8], src: IpAddr, dst: IpAddr, pseudo_header: bool) {
    msg[6..8].fill(0);
    let mut sum = Sum::default();
    if pseudo_header {
        sum = sum.pseudo_header(src, dst, msg.len());
    }
    let c = sum.bytes(msg).checksum();
    msg[6..8].copy_from_slice(&c.to_be_bytes());
}

/// An instance that accepts `advert` unchanged.
fn expected_for(advert: &Advert) -> Expected<'_> {
    Expected {
        version: advert.version,
        vrid: advert.vrid,
        auth: advert.auth,
        interval: advert.interval,
        vips: &advert.addresses,
        ttl_must_be_255: true,
    }
}

#[test]
fn v2_layout_matches_rfc3768() {
    let mut advert = v2_advert();
    advert.auth = Auth::simple(b"pw").unwrap();
    let msg = emit(&advert, SRC4, DST4, V3Checksum::PseudoHeader).unwrap();
    assert_eq!(
        msg[..6],
        [0x21, 7, 100, 2, 1, 1],
        "version|type, vrid, prio, count, auth type, seconds"
    );
    assert_eq!(msg[8..16], [192, 0, 2, 10, 192, 0, 2, 11]);
    assert_eq!(msg[16..], *b"pw\0\0\0\0\0\0");
    // v2 ignores the v3 checksum mode and never uses a pseudo-header.
    assert_eq!(msg, emit(&advert, SRC4, DST4, V3Checksum::Rfc9568).unwrap());
    assert!(Sum::default().bytes(&msg).verifies());
}

#[test]
fn v3_layout_carries_12_bit_centiseconds() {
    let msg = emit(&v3_advert6(), SRC6, DST6, V3Checksum::Rfc9568).unwrap();
    assert_eq!(msg[..6], [0x31, 9, 254, 2, 0x0f, 0xff]);
    assert_eq!(msg.len(), 8 + 32, "no auth data in v3");
    // IPv6 always uses the pseudo-header, whatever the IPv4 mode says.
    assert!(
        Sum::default()
            .pseudo_header(SRC6, DST6, msg.len())
            .bytes(&msg)
            .verifies()
    );
}

#[test]
fn v3_ipv4_checksum_mode_selects_the_convention() {
    let advert = v3_advert4();
    let with = emit(&advert, SRC4, DST4, V3Checksum::PseudoHeader).unwrap();
    let without = emit(&advert, SRC4, DST4, V3Checksum::Rfc9568).unwrap();
    assert_ne!(with[6..8], without[6..8]);
    assert_eq!(with[..6], without[..6]);
    let r = parse_vrrp(&with, SRC4, DST4, 255).unwrap();
    assert_eq!(r.checksum, ChecksumKind::V3Ipv4PseudoHeader);
    let r = parse_vrrp(&without, SRC4, DST4, 255).unwrap();
    assert_eq!(r.checksum, ChecksumKind::V3Ipv4Rfc9568);
    assert_eq!(r.advert, advert);
}

#[test]
fn emit_ipv4_header_is_what_raw_sockets_need() {
    let packet = emit_ipv4(
        &v2_advert(),
        Ipv4Addr::new(10, 0, 0, 1),
        MULTICAST_V4,
        V3Checksum::default(),
    )
    .unwrap();
    assert_eq!(packet[0], 0x45, "IPv4, no options");
    assert_eq!(packet[1], 0xc0, "TOS network control");
    assert_eq!(
        usize::from(u16::from_be_bytes([packet[2], packet[3]])),
        packet.len()
    );
    assert_eq!(
        packet[4..8],
        [0, 0, 0, 0],
        "id 0, DF unset, no fragment offset"
    );
    assert_eq!(packet[8], 255);
    assert_eq!(packet[9], 112);
    assert!(
        Sum::default().bytes(&packet[..20]).verifies(),
        "header checksum"
    );
    assert_eq!(packet[12..20], [10, 0, 0, 1, 224, 0, 0, 18]);
    let r = parse_ipv4(&packet).unwrap();
    assert_eq!(
        (r.advert, r.ttl, r.src, r.dst),
        (v2_advert(), 255, SRC4, DST4)
    );
}

#[test]
fn ipv4_options_and_link_padding_are_honoured() {
    let packet = emit_ipv4(
        &v3_advert4(),
        Ipv4Addr::new(10, 0, 0, 1),
        MULTICAST_V4,
        V3Checksum::PseudoHeader,
    )
    .unwrap();
    // Insert 4 bytes of options (router alert, RFC 2113) and fix IHL and total length.
    let mut with_options = packet[..20].to_vec();
    with_options.extend_from_slice(&[0x94, 0x04, 0, 0]);
    with_options.extend_from_slice(&packet[20..]);
    with_options[0] = 0x46;
    let total = with_options.len() as u16;
    with_options[2..4].copy_from_slice(&total.to_be_bytes());
    // Trailing bytes past the total length, as Ethernet minimum-frame padding leaves.
    with_options.extend_from_slice(&[0xee; 6]);
    let r = parse_ipv4(&with_options).unwrap();
    assert_eq!(r.advert, v3_advert4());
    assert_eq!(r.checksum, ChecksumKind::V3Ipv4PseudoHeader);
}

#[test]
fn v3_reserved_bits_are_ignored_on_receive() {
    let mut msg = emit(&v3_advert4(), SRC4, DST4, V3Checksum::PseudoHeader).unwrap();
    msg[4] |= 0xf0;
    refix(&mut msg, SRC4, DST4, true);
    assert_eq!(
        parse_vrrp(&msg, SRC4, DST4, 255).unwrap().advert.interval,
        Centis::new(25)
    );
}

#[test]
fn v2_no_auth_data_is_ignored_on_receive() {
    let mut msg = emit(&v2_advert(), SRC4, DST4, V3Checksum::default()).unwrap();
    let at = msg.len() - 8;
    msg[at..].copy_from_slice(b"garbage!");
    refix(&mut msg, SRC4, DST4, false);
    assert_eq!(
        parse_vrrp(&msg, SRC4, DST4, 255).unwrap().advert.auth,
        Auth::None
    );
}

#[test]
fn most_addresses_a_count_byte_can_say() {
    let mut advert = v3_advert6();
    advert.addresses = (0..255).map(v6).collect();
    let msg = emit(&advert, SRC6, DST6, V3Checksum::default()).unwrap();
    assert_eq!(msg.len(), 8 + 255 * 16);
    assert_eq!(parse_vrrp(&msg, SRC6, DST6, 255).unwrap().advert, advert);
}

#[test]
fn address_lists_compare_as_sets() {
    let advert = v2_advert();
    let r = parse_vrrp(
        &emit(&advert, SRC4, DST4, V3Checksum::default()).unwrap(),
        SRC4,
        DST4,
        255,
    )
    .unwrap();
    let reversed = [v4(11), v4(10)];
    let ours = Expected {
        vips: &reversed,
        ..expected_for(&advert)
    };
    assert_eq!(check_against(&r, &ours), Ok(AddressCheck::Match));

    let other = [v4(10), v4(12)];
    let ours = Expected {
        vips: &other,
        ..expected_for(&advert)
    };
    assert_eq!(
        check_against(&r, &ours),
        Ok(AddressCheck::Mismatch {
            ours: other.to_vec(),
            theirs: vec![v4(10), v4(11)]
        })
    );

    // One of theirs, listed first: the same prefix is not the same list.
    let fewer = [v4(10)];
    let ours = Expected {
        vips: &fewer,
        ..expected_for(&advert)
    };
    assert!(matches!(
        check_against(&r, &ours),
        Ok(AddressCheck::Mismatch { .. })
    ));
}

#[test]
fn v3_interval_differences_are_adopted_not_rejected() {
    let advert = v3_advert4();
    let r = parse_vrrp(
        &emit(&advert, SRC4, DST4, V3Checksum::default()).unwrap(),
        SRC4,
        DST4,
        255,
    )
    .unwrap();
    let ours = Expected {
        interval: Centis::new(100),
        ..expected_for(&advert)
    };
    assert_eq!(check_against(&r, &ours), Ok(AddressCheck::Match));
}

#[test]
fn emit_refuses_what_the_wire_cannot_carry() {
    let e = |a: &Advert, src, dst| emit(a, src, dst, V3Checksum::default()).unwrap_err();
    let mut a = v2_advert();
    a.interval = Centis::new(150);
    assert_eq!(
        e(&a, SRC4, DST4),
        EmitError::Interval(IntervalError::V2NotWholeSeconds(Centis::new(150)))
    );
    let mut a = v3_advert4();
    a.interval = Centis::new(4096);
    assert_eq!(
        e(&a, SRC4, DST4),
        EmitError::Interval(IntervalError::V3OutOfRange(Centis::new(4096)))
    );
    let mut a = v3_advert4();
    a.vrid = 0;
    assert_eq!(e(&a, SRC4, DST4), EmitError::VridZero);
    let mut a = v2_advert();
    a.addresses = smallvec::smallvec![v6(1)];
    assert_eq!(e(&a, SRC6, DST6), EmitError::V2OverIpv6);
    assert_eq!(
        e(&v3_advert4(), SRC6, DST6),
        EmitError::AddressFamily(v4(20))
    );
    assert_eq!(e(&v3_advert4(), SRC4, DST6), EmitError::MixedFamilies);
    let mut a = v3_advert4();
    a.addresses = (0..256).map(|i| v4(i as u8)).collect();
    assert_eq!(e(&a, SRC4, DST4), EmitError::AddressCount(256));
    let mut a = v3_advert4();
    a.auth = Auth::simple(b"x").unwrap();
    assert_eq!(e(&a, SRC4, DST4), EmitError::AuthInV3);
}

#[test]
fn simple_auth_pads_and_refuses_long_passwords() {
    assert_eq!(Auth::simple(b"secret"), Some(Auth::Simple(*b"secret\0\0")));
    assert_eq!(Auth::simple(b"12345678"), Some(Auth::Simple(*b"12345678")));
    assert_eq!(Auth::simple(b"123456789"), None);
    assert_eq!(
        format!("{:?}", Auth::simple(b"secret").unwrap()),
        "Simple(<redacted>)"
    );
}
