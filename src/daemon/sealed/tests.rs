//! Judging sealed frames: acceptance, replay, our own frames.

use std::net::Ipv4Addr;

use tokio::sync::mpsc;

use super::*;
use crate::daemon::receiver::RxChannel;
use crate::vrrp::packet::{Advert, Auth, emit};
use crate::vrrp::router::Packet;
use crate::vrrp::timing::Centis;
use crate::vrrp::{V3Checksum, Version};

const fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}
/// Our address on the channel: the origin sealed into our frames.
const ORIGIN: IpAddr = ip(10, 99, 0, 1);
const PEER: IpAddr = ip(10, 99, 0, 2);
/// Another address of this host, on another interface.
const HOST: IpAddr = ip(192, 0, 2, 1);
const VIP: IpAddr = ip(192, 0, 2, 100);

fn key() -> Arc<FrameKey> {
    Arc::new(FrameKey::new(b"a key of some twenty bytes".to_vec()).unwrap())
}

/// Instance web, VRID 51, whose UDP channel lists `peers`.
fn table(peers: Vec<IpAddr>) -> (SealedRoutes, mpsc::Receiver<Box<Packet>>) {
    let (packets, rx) = mpsc::channel(8);
    let route = Route {
        name: "web".into(),
        router: Arc::new(packets),
        channels: vec![RxChannel {
            index: 1,
            peers: Some(peers),
            stats: Arc::new(Stats::default()),
        }],
        stats: Arc::new(Stats::default()),
    };
    let udp = SealedRoute {
        route,
        key: key(),
        origin: ORIGIN,
    };
    (SealedRoutes::from_iter([(51, udp)]), rx)
}

/// A sealed VRID 51 advert from `origin`, stamped as a new sender would stamp it now.
fn frame(origin: IpAddr) -> Vec<u8> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    sealed(origin, udp_frame::Stamper::new(1).next(now))
}

fn sealed(origin: IpAddr, stamp: udp_frame::Stamp) -> Vec<u8> {
    let advert = Advert {
        version: Version::V3,
        vrid: 51,
        priority: 100,
        interval: Centis::ONE_SECOND,
        addresses: smallvec::smallvec![VIP],
        auth: Auth::None,
    };
    let vrrp = emit(&advert, origin, origin, V3Checksum::PseudoHeader).unwrap();
    udp_frame::seal(&key(), stamp, origin, &vrrp)
}

fn reason(r: Result<(&Route, Received), Dropped<'_>>) -> &'static str {
    match r {
        Ok(_) => "accepted",
        Err(d) => {
            assert_eq!(d.counted_on.len(), 1, "counted on the instance");
            d.reason
        }
    }
}

#[test]
fn every_frame_reason_has_a_twin_under_each_transports_prefix() {
    use udp_frame::FrameReject as R;
    let reasons = [
        R::Truncated(0),
        R::BadMagic,
        R::BadVersion(1),
        R::BadMac,
        R::Replayed { seq: 1, highest: 1 },
        R::Stale {
            age: Duration::ZERO,
        },
        R::Ahead {
            ahead: Duration::ZERO,
        },
    ];
    for prefix in ["tcp", "serial"] {
        let t = Transport::new(prefix);
        for r in reasons {
            let twin = t.label(r.label());
            assert_eq!(
                twin.strip_prefix(prefix).and_then(|s| s.strip_prefix('_')),
                r.label().strip_prefix("udp_"),
                "{r:?}"
            );
            assert!(std::ptr::eq(twin, t.label(r.label())), "made once");
            assert_eq!(Transport::UDP.label(r.label()), r.label());
        }
        assert_eq!(t.label("own_frame"), "own_frame");
    }
}

#[test]
fn on_a_line_without_addresses_only_the_peers_sealed_identity_is_accepted() {
    let (t, _rx) = table(vec![PEER]);
    let got = judge(&frame(PEER), None, &t, &mut HashMap::new(), &[]);
    let (_, rx) = got.unwrap_or_else(|d| panic!("dropped: {}", d.why));
    assert_eq!(rx.src, PEER);
    // Sealed with the right key by another node (a third node on the line's far side):
    // not this line's peer.
    let other = ip(10, 99, 0, 7);
    let got = judge(&frame(other), None, &t, &mut HashMap::new(), &[]);
    assert_eq!(reason(got), "not_a_unicast_peer");
    // Our own frame echoed back by the line.
    let got = judge(&frame(ORIGIN), None, &t, &mut HashMap::new(), &[]);
    assert_eq!(reason(got), "own_frame");
}

#[test]
fn a_peer_frame_is_accepted() {
    let (t, _rx) = table(vec![PEER]);
    let got = judge(
        &frame(PEER),
        Some(PEER),
        &t,
        &mut HashMap::new(),
        &[ORIGIN, HOST],
    );
    let (route, rx) = got.unwrap_or_else(|d| panic!("dropped: {}", d.why));
    assert_eq!((&*route.name, rx.src), ("web", PEER));
}

#[test]
fn a_future_dated_frame_is_counted_and_the_sender_is_heard_right_after() {
    let (t, _rx) = table(vec![PEER]);
    let mut guards = HashMap::new();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let mut stamps = udp_frame::Stamper::new(7);
    let future = sealed(PEER, stamps.next(now + Duration::from_secs(3600)));
    let got = judge(&future, Some(PEER), &t, &mut guards, &[]);
    assert_eq!(reason(got), "udp_future");
    let normal = sealed(PEER, stamps.next(now));
    assert_eq!(
        reason(judge(&normal, Some(PEER), &t, &mut guards, &[])),
        "accepted"
    );
    let got = judge(&normal, Some(PEER), &t, &mut guards, &[]);
    assert_eq!(reason(got), "udp_replayed");
    let old = sealed(PEER, stamps.next(now - 2 * REPLAY_WINDOW));
    assert_eq!(
        reason(judge(&old, Some(PEER), &t, &mut guards, &[])),
        "udp_stale"
    );
}

#[test]
fn a_frame_of_ours_reflected_by_a_peer_is_dropped_as_our_own() {
    let (t, _rx) = table(vec![PEER]);
    // The reflecting host sends from its own address, so only the sealed origin tells.
    let reflected = frame(ORIGIN);
    let got = judge(&reflected, Some(PEER), &t, &mut HashMap::new(), &[]);
    assert_eq!(reason(got), "own_frame", "the route's origin is ours");
    // Sealed with another address of this host (the origin of an instance on another
    // socket, say): ours as well.
    let got = judge(&frame(HOST), Some(PEER), &t, &mut HashMap::new(), &[HOST]);
    assert_eq!(reason(got), "own_frame");
}

#[test]
fn a_frame_from_one_of_our_addresses_is_dropped_even_from_a_listed_peer() {
    // The peer list names an address of this host (one added after the channel opened,
    // which the open-time refusal could not see).
    let (t, _rx) = table(vec![PEER, HOST]);
    let got = judge(&frame(HOST), Some(HOST), &t, &mut HashMap::new(), &[HOST]);
    assert_eq!(reason(got), "own_frame");
    let got = judge(&frame(PEER), Some(ORIGIN), &t, &mut HashMap::new(), &[]);
    assert_eq!(reason(got), "own_frame", "the channel's own source");
}

#[test]
fn own_addresses_are_read_at_start_and_again_only_after_the_refresh_period() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static READS: AtomicUsize = AtomicUsize::new(0);
    fn read() -> std::io::Result<Vec<IpAddr>> {
        let n = READS.fetch_add(1, Ordering::SeqCst);
        Ok(vec![ip(192, 0, 2, n as u8 + 1)])
    }
    let t0 = Instant::now();
    let mut own = OwnAddrs::new(t0, read);
    assert_eq!(own.at(t0), [ip(192, 0, 2, 1)]);
    assert_eq!(own.at(t0 + OWN_REFRESH / 2), [ip(192, 0, 2, 1)]);
    assert_eq!(READS.load(Ordering::SeqCst), 1, "no read per frame");
    assert_eq!(own.at(t0 + OWN_REFRESH), [ip(192, 0, 2, 2)]);
    assert_eq!(READS.load(Ordering::SeqCst), 2);
}
