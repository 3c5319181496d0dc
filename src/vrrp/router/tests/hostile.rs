//! What forged adverts from the LAN can and cannot do: a unicast advert must carry TTL 255,
//! only sealed adverts decide when the configuration says so, and one advert cannot stretch
//! a v3 Backup's down timer without bound.

use super::*;
use crate::vrrp::channels::HealthChange;
use crate::vrrp::packet::{self, ChecksumKind, Received, Reject};

/// A v3 advert from `from` as the receive loop hands it over.
fn heard(from: &str, priority: u8, cs: u16, arrival: Arrival, ttl: u8) -> Input {
    let advert = packet::Advert {
        version: Version::V3,
        vrid: 51,
        priority,
        interval: Centis::new(cs),
        addresses: Default::default(),
        auth: packet::Auth::None,
    };
    Input::Packet(Box::new(Packet {
        received: Received {
            advert,
            src: ip(from),
            dst: ip(US),
            ttl,
            checksum: ChecksumKind::V3Ipv4PseudoHeader,
        },
        channel: 0,
        arrival,
    }))
}

fn receipt(actions: &[Action]) -> Receipt {
    match actions.first() {
        Some(Action::Receipt { receipt, .. }) => receipt.clone(),
        other => panic!("no receipt first: {other:?}"),
    }
}

fn sealed_only(config: RouterConfig) -> RouterConfig {
    RouterConfig {
        authenticated_decisions: true,
        ..config
    }
}

#[test]
fn a_unicast_advert_must_arrive_with_ttl_255() {
    let t0 = Instant::now();
    let mut r = backup(v3(100, 10), t0);
    let routed = r.handle(t0, heard(PEER, 200, 10, Arrival::Unicast, 1));
    assert_eq!(receipt(&routed), Receipt::Rejected(Reject::TtlNot255(1)));
    assert_eq!(r.master(), None);
    let on_link = r.handle(t0, heard(PEER, 200, 10, Arrival::Unicast, 255));
    assert!(matches!(receipt(&on_link), Receipt::Accepted { .. }));
}

#[test]
fn routed_unicast_peers_may_be_allowed_any_ttl() {
    let t0 = Instant::now();
    let config = RouterConfig {
        unicast_ttl_check: false,
        ..v3(100, 10)
    };
    let mut r = backup(config, t0);
    let routed = r.handle(t0, heard(PEER, 200, 10, Arrival::Unicast, 61));
    assert!(matches!(receipt(&routed), Receipt::Accepted { .. }));
    let multicast = r.handle(t0, heard(PEER, 200, 10, Arrival::Multicast, 61));
    assert_eq!(
        receipt(&multicast),
        Receipt::Rejected(Reject::TtlNot255(61))
    );
}

#[test]
fn a_sealed_advert_needs_no_ttl() {
    let t0 = Instant::now();
    let mut r = backup(v3(100, 10), t0);
    let sealed = r.handle(t0, heard(PEER, 200, 10, Arrival::Sealed, 64));
    assert!(matches!(receipt(&sealed), Receipt::Accepted { .. }));
}

#[test]
fn with_sealed_decisions_a_raw_resignation_changes_nothing() {
    let t0 = Instant::now();
    let mut r = backup(sealed_only(v3(100, 10)), t0);
    r.handle(t0, heard(PEER, 200, 10, Arrival::Sealed, 255));
    let before = r.deadlines();
    let forged = r.handle(t0 + ms(10), heard(PEER, 0, 10, Arrival::Multicast, 255));
    assert_eq!(forged.len(), 1, "{forged:?}");
    assert_eq!(receipt(&forged), Receipt::Unauthenticated);
    assert_eq!(r.deadlines(), before, "the down timer is untouched");
    // The same resignation sealed is the real one: take over after Skew_Time.
    r.handle(t0 + ms(20), heard(PEER, 0, 10, Arrival::Sealed, 255));
    let skew = r.next_deadline().unwrap() - (t0 + ms(20));
    assert_eq!(
        skew,
        Duration::from_nanos(60_937_500),
        "(256 - 100) * 100 ms / 256"
    );
}

#[test]
fn with_sealed_decisions_raw_adverts_keep_no_dead_master_alive() {
    let t0 = Instant::now();
    let mut r = backup(sealed_only(v3(100, 10)), t0);
    r.handle(t0, heard(PEER, 200, 10, Arrival::Sealed, 255));
    let down = r.next_deadline().unwrap();
    for k in 1..100 {
        r.handle(t0 + ms(k), heard(PEER, 200, 10, Arrival::Multicast, 255));
    }
    assert_eq!(r.next_deadline(), Some(down));
    r.handle(down, Input::Timer);
    assert_eq!(r.state(), State::Master);
}

#[test]
fn with_sealed_decisions_a_master_neither_answers_nor_yields_to_raw_adverts() {
    let t0 = Instant::now();
    let (mut r, t) = master(sealed_only(v3(100, 10)), t0);
    let lower = r.handle(t + ms(1000), heard(PEER, 50, 10, Arrival::Multicast, 255));
    assert_eq!(lower.len(), 1, "{lower:?}");
    let higher = r.handle(t + ms(1001), heard(PEER, 250, 10, Arrival::Multicast, 255));
    assert_eq!(higher.len(), 1, "{higher:?}");
    assert_eq!(r.state(), State::Master);
    r.handle(t + ms(1002), heard(PEER, 250, 10, Arrival::Sealed, 255));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn one_advert_with_a_long_interval_stretches_the_down_timer_at_most_tenfold() {
    let t0 = Instant::now();
    let mut r = backup(v3(100, 10), t0);
    r.handle(t0, heard(PEER, 200, 4095, Arrival::Multicast, 255));
    // Capped at 1 s (ten times 100 ms is less): 3 s plus skew, not 122.85 s.
    let wait = r.next_deadline().unwrap() - t0;
    assert!(wait <= ms(3000) + ms(1000), "{wait:?}");
    assert!(wait >= ms(3000), "{wait:?}");
    // An interval within the cap is adopted as advertised.
    let mut r = backup(v3(100, 100), t0);
    r.handle(t0, heard(PEER, 200, 500, Arrival::Multicast, 255));
    let wait = r.next_deadline().unwrap() - t0;
    assert!(wait >= ms(15_000), "{wait:?}");
}

/// Skew_Time of a v3 Backup at priority 100 behind a 100 ms Master.
const SKEW_100: Duration = Duration::from_nanos(60_937_500);

#[test]
fn a_resignation_the_master_contradicts_makes_its_next_ones_count_for_nothing() {
    let t0 = Instant::now();
    let mut r = backup(v3(100, 10), t0);
    r.handle(t0, heard(PEER, 200, 10, Arrival::Multicast, 255));
    // A forged resignation lands just after the Master's advert: the takeover is armed...
    r.handle(t0 + ms(10), heard(PEER, 0, 10, Arrival::Multicast, 255));
    assert_eq!(r.next_deadline(), Some(t0 + ms(10) + SKEW_100));
    // ...and the Master's own next advert, 50 ms on, proves it was not the Master's.
    r.handle(t0 + ms(50), heard(PEER, 200, 10, Arrival::Multicast, 255));
    let down = r.next_deadline();
    // The next resignation is ignored: the down timer waits for the Master's silence.
    let ignored = r.handle(t0 + ms(60), heard(PEER, 0, 10, Arrival::Multicast, 255));
    assert!(ignored.contains(&Action::Suppressed(Suppressed::Resignation)));
    assert_eq!(r.next_deadline(), down);
    // A real resignation (the Master goes quiet) hands over at Master_Down_Interval.
    r.handle(down.unwrap(), Input::Timer);
    assert_eq!(r.state(), State::Master);
}

#[test]
fn doubt_ends_a_minute_after_the_last_contradiction() {
    let t0 = Instant::now();
    let mut r = backup(v3(100, 10), t0);
    r.handle(t0, heard(PEER, 0, 10, Arrival::Multicast, 255));
    r.handle(t0 + ms(20), heard(PEER, 200, 10, Arrival::Multicast, 255));
    let later = t0 + ms(20) + Duration::from_secs(60);
    for k in 0..600u64 {
        // The Master advertising all along, nothing resigned meanwhile.
        r.handle(
            t0 + ms(100 * (k + 1)),
            heard(PEER, 200, 10, Arrival::Multicast, 255),
        );
    }
    r.handle(later - ms(1), heard(PEER, 200, 10, Arrival::Multicast, 255));
    let doubted = r.handle(later - ms(1), heard(PEER, 0, 10, Arrival::Multicast, 255));
    assert!(doubted.contains(&Action::Suppressed(Suppressed::Resignation)));
    r.handle(later, heard(PEER, 0, 10, Arrival::Multicast, 255));
    assert_eq!(r.next_deadline(), Some(later + SKEW_100));
}

#[test]
fn another_senders_contradiction_casts_no_doubt_on_the_master() {
    let t0 = Instant::now();
    let mut r = backup(v3(100, 10), t0);
    r.handle(t0, heard("10.0.0.9", 0, 10, Arrival::Multicast, 255));
    r.handle(
        t0 + ms(20),
        heard("10.0.0.9", 200, 10, Arrival::Multicast, 255),
    );
    // A second later 10.0.0.9 is long gone, and PEER, never contradicted, resigns.
    let at = t0 + ms(1000);
    r.handle(at, heard(PEER, 200, 10, Arrival::Multicast, 255));
    r.handle(at + ms(10), heard(PEER, 0, 10, Arrival::Multicast, 255));
    assert_eq!(r.next_deadline(), Some(at + ms(10) + SKEW_100));
}

#[test]
fn a_forger_that_keeps_at_it_keeps_the_doubt_alive() {
    let t0 = Instant::now();
    let mut r = backup(v3(100, 10), t0);
    r.handle(t0, heard(PEER, 0, 10, Arrival::Multicast, 255));
    r.handle(t0 + ms(20), heard(PEER, 200, 10, Arrival::Multicast, 255));
    // Two minutes of forged resignations between the Master's adverts: all doubted.
    for k in 1..1200u64 {
        let at = t0 + ms(100 * k);
        r.handle(at, heard(PEER, 200, 10, Arrival::Multicast, 255));
        let forged = r.handle(at + ms(30), heard(PEER, 0, 10, Arrival::Multicast, 255));
        assert!(
            forged.contains(&Action::Suppressed(Suppressed::Resignation)),
            "resignation {k} believed"
        );
    }
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn with_sealed_decisions_a_raw_channel_carrying_the_master_is_not_reported_lost() {
    let t0 = Instant::now();
    let config = RouterConfig {
        channel_addrs: vec![ip(US), ip(US)].into(),
        channel_names: vec!["eth0".into(), "udp eth1:5405".into()].into(),
        ..sealed_only(v3(100, 10))
    };
    let mut r = backup(config, t0);
    let sealed = |priority| {
        let mut input = heard(PEER, priority, 10, Arrival::Sealed, 64);
        if let Input::Packet(p) = &mut input {
            p.channel = 1;
        }
        input
    };
    let mut changes = Vec::new();
    for k in 1..=80u64 {
        let at = t0 + ms(100 * k);
        changes.extend(r.handle(at, sealed(200)));
        changes.extend(r.handle(at, heard(PEER, 200, 10, Arrival::Multicast, 255)));
    }
    let lost: Vec<_> = changes
        .iter()
        .filter(|a| matches!(a, Action::Channel(HealthChange::Lost { .. })))
        .collect();
    assert!(lost.is_empty(), "{lost:?}");
    assert_eq!(r.state(), State::Backup);
}
