//! Decodes adverts captured from real keepalived 2.2.7 and FRR 8.4.4 peers
//! (scripts/capture-fixtures.sh; provenance in tests/fixtures/README.txt) and checks every
//! field, then that our encoder reproduces the peer's VRRP bytes exactly.

#[path = "support/pcap.rs"]
mod pcap;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vipd::vrrp::packet::{
    self, AddressCheck, Advert, Auth, ChecksumKind, Expected, Received, check_against,
};
use vipd::vrrp::timing::Centis;
use vipd::vrrp::{V3Checksum, Version};

const PEER_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1));
const PEER_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0x77, 1));

fn v4(d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 77, d))
}

/// One decoded frame, and the VRRP message bytes it carried.
struct Decoded {
    received: Received,
    vrrp_bytes: Vec<u8>,
}

fn decode_fixture(name: &str) -> Vec<Decoded> {
    let path = format!("{}/tests/fixtures/{name}.pcap", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let capture = pcap::read(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(capture.linktype, pcap::LINKTYPE_ETHERNET, "{path}");
    assert_eq!(
        capture.records.len(),
        3,
        "{path}: three adverts were captured"
    );
    capture
        .records
        .iter()
        .map(|record| {
            let (_, ethertype, payload) = pcap::ethernet(&record.data).expect("ethernet frame");
            match ethertype {
                pcap::ETHERTYPE_IPV4 => {
                    let received = packet::parse_ipv4(payload)
                        .unwrap_or_else(|e| panic!("{name}: keepalived's advert rejected: {e}"));
                    let ihl = usize::from(payload[0] & 0x0f) * 4;
                    let total = usize::from(u16::from_be_bytes([payload[2], payload[3]]));
                    Decoded {
                        received,
                        vrrp_bytes: payload[ihl..total].to_vec(),
                    }
                }
                pcap::ETHERTYPE_IPV6 => {
                    let ip = pcap::ipv6(payload).expect("IPv6 header");
                    assert_eq!(
                        ip.next_header,
                        packet::PROTOCOL,
                        "{name}: no extension headers"
                    );
                    let received = packet::parse_vrrp(&ip.payload, ip.src, ip.dst, ip.hop_limit)
                        .unwrap_or_else(|e| panic!("{name}: peer's advert rejected: {e}"));
                    Decoded {
                        received,
                        vrrp_bytes: ip.payload,
                    }
                }
                other => panic!("{name}: unexpected EtherType {other:#06x}"),
            }
        })
        .collect()
}

/// Asserts every field of every advert in a fixture, re-encodes each and compares bytes,
/// and checks it against an instance configured like the peer.
fn assert_fixture(name: &str, src: IpAddr, expected: &Advert, checksum: ChecksumKind) {
    let dst: IpAddr = match src {
        IpAddr::V4(_) => packet::MULTICAST_V4.into(),
        IpAddr::V6(_) => packet::MULTICAST_V6.into(),
    };
    for (i, decoded) in decode_fixture(name).iter().enumerate() {
        let r = &decoded.received;
        let at = format!("{name} advert {i}");
        assert_eq!(r.advert.version, expected.version, "{at}: version");
        assert_eq!(r.advert.vrid, expected.vrid, "{at}: vrid");
        assert_eq!(r.advert.priority, expected.priority, "{at}: priority");
        assert_eq!(r.advert.interval, expected.interval, "{at}: interval");
        assert_eq!(r.advert.addresses, expected.addresses, "{at}: addresses");
        assert_eq!(r.advert.auth, expected.auth, "{at}: auth");
        assert_eq!(r.checksum, checksum, "{at}: checksum convention");
        assert_eq!(r.ttl, 255, "{at}: TTL / hop limit");
        assert_eq!(r.src, src, "{at}: source");
        assert_eq!(r.dst, dst, "{at}: destination");

        let mode = match checksum {
            ChecksumKind::V3Ipv4Rfc9568 => V3Checksum::Rfc9568,
            _ => V3Checksum::PseudoHeader,
        };
        let ours = packet::emit(&r.advert, src, dst, mode).expect("emit");
        assert_eq!(
            ours, decoded.vrrp_bytes,
            "{at}: our encoding differs from the peer's"
        );

        let vips = expected.addresses.clone();
        let instance = Expected {
            version: expected.version,
            vrid: expected.vrid,
            auth: expected.auth,
            interval: expected.interval,
            vips: &vips,
            ttl_must_be_255: true,
        };
        assert_eq!(check_against(r, &instance), Ok(AddressCheck::Match), "{at}");
    }
}

#[test]
fn keepalived_v2_two_vips() {
    let advert = Advert {
        version: Version::V2,
        vrid: 51,
        priority: 150,
        interval: Centis::from_secs(1),
        addresses: smallvec::smallvec![v4(10), v4(11)],
        auth: Auth::None,
    };
    assert_fixture("v2", PEER_V4, &advert, ChecksumKind::V2);
}

#[test]
fn keepalived_v2_simple_password() {
    let advert = Advert {
        version: Version::V2,
        vrid: 52,
        priority: 100,
        interval: Centis::from_secs(1),
        addresses: smallvec::smallvec![v4(20)],
        auth: Auth::Simple(*b"secret\0\0"),
    };
    assert_fixture("v2_auth", PEER_V4, &advert, ChecksumKind::V2);
}

#[test]
fn keepalived_v2_wrong_password_is_rejected() {
    let decoded = decode_fixture("v2_auth");
    let vips = [v4(20)];
    let instance = Expected {
        version: Version::V2,
        vrid: 52,
        auth: Auth::simple(b"secreT").unwrap(),
        interval: Centis::from_secs(1),
        vips: &vips,
        ttl_must_be_255: true,
    };
    assert_eq!(
        check_against(&decoded[0].received, &instance),
        Err(packet::Reject::AuthMismatch)
    );
}

#[test]
fn keepalived_v3_ipv4_half_second() {
    let advert = Advert {
        version: Version::V3,
        vrid: 53,
        priority: 200,
        interval: Centis::new(50),
        addresses: smallvec::smallvec![v4(30), v4(31)],
        auth: Auth::None,
    };
    assert_fixture(
        "v3_ipv4",
        PEER_V4,
        &advert,
        ChecksumKind::V3Ipv4PseudoHeader,
    );
}

#[test]
fn keepalived_v3_ipv6_link_local_source() {
    let advert = Advert {
        version: Version::V3,
        vrid: 55,
        priority: 120,
        interval: Centis::new(50),
        addresses: smallvec::smallvec![IpAddr::V6(Ipv6Addr::new(
            0x2001, 0xdb8, 0x77, 0, 0, 0, 0, 0x55,
        ))],
        auth: Auth::None,
    };
    assert_fixture("v3_ipv6", PEER_V6, &advert, ChecksumKind::V3Ipv6);
}

#[test]
fn frr_v3_ipv4_700ms() {
    let advert = Advert {
        version: Version::V3,
        vrid: 54,
        priority: 180,
        interval: Centis::new(70),
        addresses: smallvec::smallvec![v4(54)],
        auth: Auth::None,
    };
    assert_fixture(
        "v3_ipv4_frr",
        PEER_V4,
        &advert,
        ChecksumKind::V3Ipv4PseudoHeader,
    );
}
