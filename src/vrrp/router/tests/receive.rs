use super::*;
use crate::vrrp::channels::HealthChange;
use crate::vrrp::packet::{self, Auth, ChecksumKind, Received, Reject};

/// A v2 advert from the peer as the receive loop hands it over.
fn packet(priority: u8, vips: &[&str], password: Option<&[u8]>, channel: usize) -> Input {
    let advert = packet::Advert {
        version: Version::V2,
        vrid: 51,
        priority,
        interval: Centis::ONE_SECOND,
        addresses: vips.iter().map(|v| ip(v)).collect(),
        auth: password.map_or(Auth::None, |p| Auth::simple(p).unwrap()),
    };
    Input::Packet(Box::new(Packet {
        received: Received {
            advert,
            src: ip(PEER),
            dst: ip("224.0.0.18"),
            ttl: 255,
            checksum: ChecksumKind::V2,
        },
        channel,
        arrival: Arrival::Multicast,
    }))
}

fn receipt(r: &[Action]) -> &Receipt {
    match &r[0] {
        Action::Receipt { receipt, .. } => receipt,
        other => panic!("no receipt first: {other:?}"),
    }
}

fn with_password(config: RouterConfig, password: &[u8]) -> RouterConfig {
    RouterConfig {
        auth: Auth::simple(password).unwrap(),
        ..config
    }
}

#[test]
fn a_packet_is_judged_by_the_routers_own_configuration() {
    let t0 = Instant::now();
    let mut r = backup(with_password(v2(100), b"secret"), t0);
    let wrong = r.handle(t0 + ms(10), packet(200, &["192.0.2.100"], Some(b"nope"), 0));
    assert_eq!(receipt(&wrong), &Receipt::Rejected(Reject::AuthMismatch));
    assert_eq!(wrong.len(), 1, "a rejected advert does nothing else");
    assert_eq!(r.master(), None);
    let right = r.handle(
        t0 + ms(20),
        packet(200, &["192.0.2.100"], Some(b"secret"), 0),
    );
    assert_eq!(
        receipt(&right),
        &Receipt::Accepted {
            checksum: ChecksumKind::V2,
            other_addresses: None
        }
    );
    assert_eq!(r.master(), Some(ip(PEER)));
}

#[test]
fn a_reload_changes_what_is_accepted_in_the_same_input() {
    let t0 = Instant::now();
    let mut r = backup(with_password(v2(100), b"old"), t0);
    let new = RouterConfig {
        vips: vec![ip("192.0.2.100"), ip("192.0.2.101")].into(),
        ..with_password(v2(100), b"new")
    };
    r.handle(t0, Input::Configure(new.into()));
    let old_pass = r.handle(t0 + ms(10), packet(200, &["192.0.2.100"], Some(b"old"), 0));
    assert_eq!(receipt(&old_pass), &Receipt::Rejected(Reject::AuthMismatch));
    let listed = r.handle(t0 + ms(20), packet(200, &["192.0.2.100"], Some(b"new"), 0));
    assert_eq!(
        receipt(&listed),
        &Receipt::Accepted {
            checksum: ChecksumKind::V2,
            other_addresses: Some(vec![ip("192.0.2.100")])
        }
    );
    assert_eq!(
        r.master(),
        Some(ip(PEER)),
        "a different list is still processed"
    );
}

#[test]
fn a_channel_silent_while_another_carries_the_master_is_reported_lost_once() {
    let t0 = Instant::now();
    let config = RouterConfig {
        channel_addrs: vec![ip(US), ip("10.9.0.1")].into(),
        channel_names: vec!["eth0".into(), "eth1".into()].into(),
        ..v2(100)
    };
    let mut r = backup(config, t0);
    let mut lost = Vec::new();
    for s in 1..=8 {
        for a in r.handle(t0 + ms(s * 1000), packet(200, &["192.0.2.100"], None, 0)) {
            if let Action::Channel(change) = a {
                lost.push((s, change));
            }
        }
    }
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(matches!(lost[0].1, HealthChange::Lost { channel: 1, .. }));
    assert_eq!(
        r.channel_health()
            .describe(&lost[0].1, &r.config().channel_names),
        "heartbeat over eth1 lost (silent for 4.00s); running on 1 of 2 channels"
    );
    let back = r.handle(t0 + ms(9000), packet(200, &["192.0.2.100"], None, 1));
    assert!(back.contains(&Action::Channel(HealthChange::Recovered { channel: 1 })));
}
