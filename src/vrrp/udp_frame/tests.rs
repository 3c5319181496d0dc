//! Round trips, every rejection, the replay rules and a never-panics property.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::vrrp::packet::{Advert, Auth, emit, parse_vrrp};
use crate::vrrp::timing::Centis;
use crate::vrrp::{V3Checksum, Version};

const ORIGIN4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
const ORIGIN6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
/// 2024-01-01T00:00:00Z, a plausible "now".
const NOW: Duration = Duration::from_secs(1_704_067_200);

fn key() -> FrameKey {
    FrameKey::new(b"0123456789abcdef-test-key".to_vec()).unwrap()
}

fn advert(version: Version, vrid: u8, addresses: Vec<IpAddr>) -> Advert {
    Advert {
        version,
        vrid,
        priority: 150,
        interval: Centis::from_secs(1),
        addresses,
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
    seal(&key(), 77, ORIGIN4, &msg)
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
        let frame = seal(&key(), 123_456, origin, &msg);
        assert_eq!(frame.len(), HEADER_LEN + msg.len() + MAC_LEN);
        assert_eq!(vrid_hint(&frame), Some(a.vrid));
        let opened = open(&key(), &frame).unwrap();
        assert_eq!(opened.seq, 123_456);
        assert_eq!(opened.origin, origin, "IPv4 comes back as IPv4, not mapped");
        assert_eq!(opened.vrrp, &msg[..]);
        let parsed = parse_vrrp(opened.vrrp, opened.origin, opened.origin, 255).unwrap();
        assert_eq!(parsed.advert, a);
    }
}

#[test]
fn the_layout_is_the_documented_one() {
    let frame = sample();
    assert_eq!(&frame[..8], b"VIPD\x01\0\0\0");
    assert_eq!(frame[8..16], 77u64.to_be_bytes());
    assert_eq!(
        frame[16..32],
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
    bad[4] = 2;
    assert_eq!(open(&key(), &bad), Err(FrameReject::BadVersion(2)));

    for i in 5..8 {
        let mut bad = sample();
        bad[i] = 0x80;
        let err = open(&key(), &bad).unwrap_err();
        assert_eq!(err, FrameReject::BadVersion(1));
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
                skew: Duration::from_secs(90),
            },
            "udp_stale",
            "90s",
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

#[test]
fn sequence_numbers_follow_the_clock_and_never_go_back() {
    let mut c = SeqCounter::new();
    let first = c.next(NOW);
    assert_eq!(first, micros(NOW));
    // Two frames within the same microsecond still differ.
    assert_eq!(c.next(NOW), first + 1);
    // The clock steps back an hour: numbers keep rising.
    let back = c.next(NOW - Duration::from_secs(3600));
    assert_eq!(back, first + 2);
    // The clock moves on past the counter: the counter follows it.
    let later = NOW + Duration::from_secs(1);
    assert_eq!(c.next(later), micros(later));
    // A restarted sender starts from its clock, above what it sent a second earlier.
    assert!(SeqCounter::new().next(later + Duration::from_millis(1)) > micros(later));
}

#[test]
fn replays_and_reordering_are_refused_per_origin() {
    let mut g = ReplayGuard::new(Duration::from_secs(30));
    let seq = micros(NOW);
    assert_eq!(g.check(ORIGIN4, seq, NOW), Ok(()));
    assert_eq!(
        g.check(ORIGIN4, seq, NOW),
        Err(FrameReject::Replayed { seq, highest: seq })
    );
    assert_eq!(
        g.check(ORIGIN4, seq - 1, NOW),
        Err(FrameReject::Replayed {
            seq: seq - 1,
            highest: seq
        })
    );
    assert_eq!(g.check(ORIGIN4, seq + 1, NOW), Ok(()));
    // Once an origin is known only order matters, not the clock.
    let far = seq + 3_600_000_000;
    assert_eq!(g.check(ORIGIN4, far, NOW), Ok(()));
    // Another origin is tracked apart.
    assert_eq!(g.check(ORIGIN6, seq, NOW), Ok(()));
}

#[test]
fn a_first_frame_must_be_recent() {
    let window = Duration::from_secs(30);
    let mut g = ReplayGuard::new(window);
    let old = micros(NOW - Duration::from_secs(31));
    assert_eq!(
        g.check(ORIGIN4, old, NOW),
        Err(FrameReject::Stale {
            skew: Duration::from_secs(31)
        })
    );
    let ahead = micros(NOW + Duration::from_secs(40));
    assert_eq!(
        g.check(ORIGIN4, ahead, NOW),
        Err(FrameReject::Stale {
            skew: Duration::from_secs(40)
        })
    );
    // A refused first frame is not remembered: the next fresh one is still a first frame.
    let edge = micros(NOW - window);
    assert_eq!(g.check(ORIGIN4, edge, NOW), Ok(()));
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
        let mut frame = b"VIPD\x01\0\0\0".to_vec();
        frame.extend_from_slice(&seq.to_be_bytes());
        frame.extend_from_slice(&body);
        prop_assert!(open(&key(), &frame).is_err());
    }
}
