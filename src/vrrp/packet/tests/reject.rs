//! One crafted packet per [`Reject`] variant, each failing for exactly that reason.

use super::*;
use crate::vrrp::Family;

fn v4_packet(advert: &Advert) -> Vec<u8> {
    emit_ipv4(
        advert,
        Ipv4Addr::new(10, 0, 0, 1),
        MULTICAST_V4,
        V3Checksum::PseudoHeader,
    )
    .unwrap()
}

fn msg(advert: &Advert, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    emit(advert, src, dst, V3Checksum::PseudoHeader).unwrap()
}

fn parsed(advert: &Advert) -> Received {
    parse_ipv4(&v4_packet(advert)).unwrap()
}

#[test]
fn too_short() {
    assert_eq!(parse_ipv4(&[0x45; 19]), Err(Reject::TooShort(19)));
    assert_eq!(
        parse_vrrp(&[0x31, 1, 100], SRC4, DST4, 255),
        Err(Reject::TooShort(3))
    );
    // An IPv4 header with nothing after it is a VRRP message of length zero.
    let mut p = v4_packet(&v2_advert());
    p.truncate(20);
    p[2..4].copy_from_slice(&20u16.to_be_bytes());
    assert_eq!(parse_ipv4(&p), Err(Reject::TooShort(0)));
}

#[test]
fn bad_length() {
    let p = v4_packet(&v2_advert());
    // Total length says more than arrived.
    assert_eq!(
        parse_ipv4(&p[..p.len() - 1]),
        Err(Reject::BadLength {
            expected: p.len(),
            actual: p.len() - 1
        })
    );
    // IHL below 5 words.
    let mut short_ihl = p.clone();
    short_ihl[0] = 0x44;
    assert_eq!(
        parse_ipv4(&short_ihl),
        Err(Reject::BadLength {
            expected: 20,
            actual: 16
        })
    );
    // The count says two addresses; the message holds one (checksum valid).
    let mut m = msg(&v3_advert4(), SRC4, DST4);
    m[3] = 2;
    refix(&mut m, SRC4, DST4, true);
    assert_eq!(
        parse_vrrp(&m, SRC4, DST4, 255),
        Err(Reject::BadLength {
            expected: 16,
            actual: 12
        })
    );
}

#[test]
fn not_ipv4() {
    let mut p = v4_packet(&v2_advert());
    p[0] = 0x65;
    assert_eq!(parse_ipv4(&p), Err(Reject::NotIpv4(6)));
}

#[test]
fn not_vrrp() {
    let mut p = v4_packet(&v2_advert());
    p[9] = 17;
    assert_eq!(parse_ipv4(&p), Err(Reject::NotVrrp(17)));
}

#[test]
fn mixed_families() {
    let m = msg(&v3_advert4(), SRC4, DST4);
    assert_eq!(parse_vrrp(&m, SRC4, DST6, 255), Err(Reject::MixedFamilies));
}

#[test]
fn ttl_not_255_only_when_required() {
    let advert = v2_advert();
    let mut p = v4_packet(&advert);
    p[8] = 64;
    let r = parse_ipv4(&p).expect("TTL is policy, not wire format");
    assert_eq!(r.ttl, 64);
    assert_eq!(
        check_against(&r, &expected_for(&advert)),
        Err(Reject::TtlNot255(64))
    );
    let unicast = Expected {
        ttl_must_be_255: false,
        ..expected_for(&advert)
    };
    assert_eq!(check_against(&r, &unicast), Ok(AddressCheck::Match));
}

#[test]
fn version_for_family() {
    // A v3 IPv6 message relabelled v2: v2 does not exist over IPv6.
    let mut m = msg(&v3_advert6(), SRC6, DST6);
    m[0] = 0x21;
    refix(&mut m, SRC6, DST6, true);
    assert_eq!(
        parse_vrrp(&m, SRC6, DST6, 255),
        Err(Reject::VersionForFamily {
            version: 2,
            family: Family::V6
        })
    );
    let mut m = msg(&v3_advert4(), SRC4, DST4);
    m[0] = 0x41;
    refix(&mut m, SRC4, DST4, true);
    assert_eq!(
        parse_vrrp(&m, SRC4, DST4, 255),
        Err(Reject::VersionForFamily {
            version: 4,
            family: Family::V4
        })
    );
}

#[test]
fn version_mismatch() {
    let r = parsed(&v3_advert4());
    let ours = Expected {
        version: Version::V2,
        ..expected_for(&r.advert)
    };
    assert_eq!(
        check_against(&r, &ours),
        Err(Reject::VersionMismatch {
            ours: Version::V2,
            theirs: Version::V3
        })
    );
}

#[test]
fn bad_type() {
    let mut m = msg(&v3_advert4(), SRC4, DST4);
    m[0] = 0x32;
    refix(&mut m, SRC4, DST4, true);
    assert_eq!(parse_vrrp(&m, SRC4, DST4, 255), Err(Reject::BadType(2)));
}

#[test]
fn bad_checksum() {
    for (advert, src, dst) in [
        (v2_advert(), SRC4, DST4),
        (v3_advert4(), SRC4, DST4),
        (v3_advert6(), SRC6, DST6),
    ] {
        let mut m = msg(&advert, src, dst);
        m[7] ^= 0x01;
        assert_eq!(
            parse_vrrp(&m, src, dst, 255),
            Err(Reject::BadChecksum),
            "{advert:?}"
        );
    }
    // The IPv6 pseudo-header covers the addresses: another source fails.
    let m = msg(&v3_advert6(), SRC6, DST6);
    assert_eq!(parse_vrrp(&m, v6(99), DST6, 255), Err(Reject::BadChecksum));
}

fn v2_with_auth_type(code: u8) -> Vec<u8> {
    let mut m = msg(&v2_advert(), SRC4, DST4);
    m[4] = code;
    refix(&mut m, SRC4, DST4, false);
    m
}

#[test]
fn auth_ah() {
    let r = parse_vrrp(&v2_with_auth_type(2), SRC4, DST4, 255);
    assert_eq!(r, Err(Reject::AuthAh));
    assert_eq!(
        r.unwrap_err().to_string(),
        "IPsec AH authentication (type 2) is not supported"
    );
}

#[test]
fn auth_type() {
    assert_eq!(
        parse_vrrp(&v2_with_auth_type(7), SRC4, DST4, 255),
        Err(Reject::AuthType(7))
    );
}

#[test]
fn auth_mismatch() {
    let with_pw = Advert {
        auth: Auth::simple(b"secret").unwrap(),
        ..v2_advert()
    };
    let r = parsed(&with_pw);
    let cases = [
        Auth::None,
        Auth::simple(b"secreT").unwrap(),
        Auth::simple(b"secret\0x").unwrap(),
    ];
    for ours in cases {
        let e = Expected {
            auth: ours,
            ..expected_for(&with_pw)
        };
        assert_eq!(check_against(&r, &e), Err(Reject::AuthMismatch), "{ours:?}");
    }
    // And a peer without auth, for an instance with a password.
    let plain = v2_advert();
    let r = parsed(&plain);
    let e = Expected {
        auth: with_pw.auth,
        ..expected_for(&plain)
    };
    assert_eq!(check_against(&r, &e), Err(Reject::AuthMismatch));
    assert_eq!(
        check_against(&parsed(&with_pw), &expected_for(&with_pw)),
        Ok(AddressCheck::Match)
    );
}

#[test]
fn interval_mismatch() {
    let theirs = Advert {
        interval: Centis::from_secs(2),
        ..v2_advert()
    };
    let r = parsed(&theirs);
    let plain = v2_advert();
    let ours = expected_for(&plain);
    assert_eq!(
        check_against(&r, &ours),
        Err(Reject::IntervalMismatch {
            ours: Centis::from_secs(1),
            theirs: Centis::from_secs(2)
        })
    );
}

#[test]
fn zero_interval() {
    let mut m = msg(&v3_advert4(), SRC4, DST4);
    m[4..6].copy_from_slice(&[0xf0, 0x00]); // only reserved bits set
    refix(&mut m, SRC4, DST4, true);
    assert_eq!(parse_vrrp(&m, SRC4, DST4, 255), Err(Reject::ZeroInterval));
    let mut m = msg(&v2_advert(), SRC4, DST4);
    m[5] = 0;
    refix(&mut m, SRC4, DST4, false);
    assert_eq!(parse_vrrp(&m, SRC4, DST4, 255), Err(Reject::ZeroInterval));
}

#[test]
fn an_advert_without_addresses_is_accepted_in_both_versions() {
    // keepalived's VRRPv2 advert for an instance without VIPs: the header and the auth
    // data, count 0; and its VRRPv3 form from an election-only vipd.
    for (advert, src, dst) in [
        (v2_advert(), SRC4, DST4),
        (v3_advert4(), SRC4, DST4),
        (v3_advert6(), SRC6, DST6),
    ] {
        let empty = Advert {
            addresses: smallvec::smallvec![],
            ..advert
        };
        let m = msg(&empty, src, dst);
        let header_and_auth = if empty.version == Version::V2 { 16 } else { 8 };
        assert_eq!(m.len(), header_and_auth);
        assert_eq!(m[3], 0);
        let r = parse_vrrp(&m, src, dst, 255).expect("count 0 parses");
        assert_eq!(r.advert, empty);
    }
    // A count of 0 with addresses after the header is still a length error.
    let mut m = msg(&v2_advert(), SRC4, DST4);
    m[3] = 0;
    refix(&mut m, SRC4, DST4, false);
    assert!(matches!(
        parse_vrrp(&m, SRC4, DST4, 255),
        Err(Reject::BadLength { .. })
    ));
}

#[test]
fn unknown_vrid() {
    let r = parsed(&v3_advert4());
    let ours = Expected {
        vrid: 99,
        ..expected_for(&r.advert)
    };
    assert_eq!(check_against(&r, &ours), Err(Reject::UnknownVrid(8)));
}

#[test]
fn labels_are_distinct_snake_case_and_messages_say_something() {
    let all = [
        Reject::TooShort(0),
        Reject::BadLength {
            expected: 1,
            actual: 0,
        },
        Reject::NotIpv4(6),
        Reject::NotVrrp(17),
        Reject::MixedFamilies,
        Reject::TtlNot255(1),
        Reject::VersionForFamily {
            version: 2,
            family: Family::V6,
        },
        Reject::VersionMismatch {
            ours: Version::V2,
            theirs: Version::V3,
        },
        Reject::BadType(2),
        Reject::BadChecksum,
        Reject::AuthAh,
        Reject::AuthType(9),
        Reject::AuthMismatch,
        Reject::IntervalMismatch {
            ours: Centis::new(100),
            theirs: Centis::new(200),
        },
        Reject::ZeroInterval,
        Reject::UnknownVrid(3),
    ];
    let mut labels: Vec<_> = all.iter().map(Reject::label).collect();
    for l in &labels {
        assert!(
            l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{l}"
        );
    }
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), all.len());
    assert_eq!(
        Reject::IntervalMismatch {
            ours: Centis::new(100),
            theirs: Centis::new(50)
        }
        .to_string(),
        "advert interval 500ms differs from ours (1s)"
    );
    assert_eq!(
        Reject::VersionForFamily {
            version: 2,
            family: Family::V6
        }
        .to_string(),
        "VRRP version 2 is not valid over IPv6"
    );
}
