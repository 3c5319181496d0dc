//! What forged adverts from the LAN can and cannot do: a unicast advert must carry TTL 255,
//! only sealed adverts decide when the configuration says so, and one advert cannot stretch
//! a v3 Backup's down timer without bound.

use super::*;
use crate::vrrp::packet::{self, ChecksumKind, Received, Reject};

/// A v3 advert from `from` as the receive loop hands it over.
fn heard(from: &str, priority: u8, cs: u16, arrival: Arrival, ttl: u8) -> Input {
    let advert = packet::Advert {
        version: Version::V3,
        vrid: 51,
        priority,
        interval: Centis::new(cs),
        addresses: Vec::new(),
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
