//! Round trips, every rejection and never-panics properties; the replay rules are tested in
//! `replay.rs`.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::vrrp::packet::{Advert, Auth, emit, parse_vrrp};
use crate::vrrp::timing::Centis;
use crate::vrrp::{V3Checksum, Version};

const ORIGIN4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
const ORIGIN6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
const STAMP: Stamp = Stamp {
    epoch: 0x0102_0304_0506_0708,
    seq: 77,
    time_us: 1_704_067_200_000_000,
};

fn key() -> FrameKey {
    FrameKey::new(b"0123456789abcdef-test-key".to_vec()).unwrap()
}

fn advert(version: Version, vrid: u8, addresses: Vec<IpAddr>) -> Advert {
    Advert {
        version,
        vrid,
        priority: 150,
        interval: Centis::from_secs(1),
        addresses: addresses.into(),
        auth: Auth::None,
    }
}

/// The VRRP message as the sender builds it for this channel.
fn message(a: &Advert, origin: IpAddr) -> Vec<u8> {
    emit(a, origin, origin, V3Checksum::PseudoHeader).unwrap()
}

fn sample() -> Vec<u8> {
    let msg = message(
        &advert(
            Version::V3,
            42,
            vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))],
        ),
        ORIGIN4,
    );
    seal(&key(), STAMP, ORIGIN4, &msg)
}

#[test]
fn every_payload_kind_round_trips_and_parses() {
    let v4 = |d| IpAddr::V4(Ipv4Addr::new(192, 0, 2, d));
    let v6 = |d| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, d));
    let cases = [
        (advert(Version::V2, 1, vec![v4(1), v4(2)]), ORIGIN4),
        (advert(Version::V3, 200, vec![v4(3)]), ORIGIN4),
        (advert(Version::V3, 255, vec![v6(1), v6(2), v6(3)]), ORIGIN6),
    ];
    for (a, origin) in cases {
        let msg = message(&a, origin);
        let frame = seal(&key(), STAMP, origin, &msg);
        assert_eq!(frame.len(), HEADER_LEN + msg.len() + MAC_LEN);
        assert_eq!(vrid_hint(&frame), Some(a.vrid));
        let opened = open(&key(), &frame).unwrap();
        assert_eq!(opened.stamp, STAMP);
        assert_eq!(opened.origin, origin, "IPv4 comes back as IPv4, not mapped");
        assert_eq!(opened.vrrp, &msg[..]);
        let parsed = parse_vrrp(opened.vrrp, opened.origin, opened.origin, 255).unwrap();
        assert_eq!(parsed.advert, a);
    }
}

#[test]
fn the_layout_is_the_documented_one() {
    let frame = sample();
    assert_eq!(&frame[..8], b"VIPD\x02\0\0\0");
    assert_eq!(frame[8..16], STAMP.epoch.to_be_bytes());
    assert_eq!(frame[16..24], 77u64.to_be_bytes());
    assert_eq!(frame[24..32], STAMP.time_us.to_be_bytes());
    assert_eq!(
        frame[32..48],
        Ipv4Addr::new(198, 51, 100, 7).to_ipv6_mapped().octets()
    );
    // The tag is HMAC-SHA256 over everything before it, computed independently here.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"0123456789abcdef-test-key").unwrap();
    mac.update(&frame[..frame.len() - MAC_LEN]);
    assert_eq!(
        &frame[frame.len() - MAC_LEN..],
        &mac.finalize().into_bytes()[..]
    );
}

#[test]
fn a_flipped_bit_anywhere_is_refused() {
    let frame = sample();
    for byte in 0..frame.len() {
        for bit in 0..8 {
            let mut bad = frame.clone();
            bad[byte] ^= 1 << bit;
            let err = open(&key(), &bad).unwrap_err();
            let expected = match byte {
                0..4 => FrameReject::BadMagic,
                4..8 => FrameReject::BadVersion(bad[4]),
                _ => FrameReject::BadMac,
            };
            assert_eq!(err, expected, "byte {byte} bit {bit}");
        }
    }
}

#[test]
fn another_key_is_refused() {
    let other = FrameKey::new(b"0123456789abcdef-other-key".to_vec()).unwrap();
    assert_eq!(open(&other, &sample()), Err(FrameReject::BadMac));
}

#[test]
fn every_length_below_the_minimum_is_truncated() {
    let frame = sample();
    for len in 0..MIN_FRAME_LEN {
        assert_eq!(
            open(&key(), &frame[..len]),
            Err(FrameReject::Truncated(len))
        );
        assert_eq!(vrid_hint(&frame[..len]), None);
    }
    // Cut at or above the minimum, the tag no longer matches.
    for len in MIN_FRAME_LEN..frame.len() {
        assert_eq!(open(&key(), &frame[..len]), Err(FrameReject::BadMac));
    }
}

#[test]
fn magic_version_and_reserved_bytes_are_checked() {
    let mut bad = sample();
    bad[..4].copy_from_slice(b"VRRP");
    assert_eq!(open(&key(), &bad), Err(FrameReject::BadMagic));
    assert_eq!(vrid_hint(&bad), None);

    let mut bad = sample();
    bad[4] = 1;
    let err = open(&key(), &bad).unwrap_err();
    assert_eq!(err, FrameReject::BadVersion(1));
    assert!(err.to_string().contains("older vipd"), "{err}");
    bad[4] = 3;
    assert_eq!(open(&key(), &bad), Err(FrameReject::BadVersion(3)));

    for i in 5..8 {
        let mut bad = sample();
        bad[i] = 0x80;
        let err = open(&key(), &bad).unwrap_err();
        assert_eq!(err, FrameReject::BadVersion(2));
        assert!(err.to_string().contains("reserved"), "{err}");
    }
}

#[test]
fn labels_and_messages() {
    let all = [
        (FrameReject::Truncated(3), "udp_truncated", "3 bytes"),
        (FrameReject::BadMagic, "udp_bad_magic", "magic"),
        (FrameReject::BadVersion(9), "udp_bad_version", "version 9"),
        (FrameReject::BadMac, "udp_bad_mac", "wrong key"),
        (
            FrameReject::Replayed { seq: 5, highest: 9 },
            "udp_replayed",
            "5 is not above 9",
        ),
        (
            FrameReject::Stale {
                age: Duration::from_secs(90),
            },
            "udp_stale",
            "90s ago",
        ),
        (
            FrameReject::Ahead {
                ahead: Duration::from_secs(90),
            },
            "udp_future",
            "90s ahead",
        ),
    ];
    for (reject, label, text) in all {
        assert_eq!(reject.label(), label);
        assert!(reject.to_string().contains(text), "{reject}");
    }
}

#[test]
fn short_keys_are_refused_and_keys_are_not_printed() {
    assert_eq!(
        FrameKey::new(vec![7; MIN_KEY_LEN - 1]).unwrap_err(),
        KeyError::TooShort { len: 15 }
    );
    let k = FrameKey::new(b"super-secret-key-material".to_vec()).unwrap();
    assert_eq!(format!("{k:?}"), "<redacted>");
}

proptest! {
    #[test]
    fn open_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = vrid_hint(&bytes);
        prop_assert!(open(&key(), &bytes).is_err());
    }

    #[test]
    fn open_never_panics_on_well_headed_garbage(
        body in prop::collection::vec(any::<u8>(), 0..300),
        seq in any::<u64>(),
    ) {
        let mut frame = b"VIPD\x02\0\0\0".to_vec();
        frame.extend_from_slice(&seq.to_be_bytes());
        frame.extend_from_slice(&body);
        prop_assert!(open(&key(), &frame).is_err());
    }
}
