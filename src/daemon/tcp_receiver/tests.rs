//! The TCP channel over loopback: frames sent by a [`TcpLink`] reach the router; forged,
//! replayed, truncated and mis-framed input is refused and counted; a sender never blocks.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::*;
use crate::daemon::frame_queue::QUEUE_FRAMES;
use crate::daemon::receiver::RxChannel;
use crate::daemon::sealed::{SealedRoute, Transport};
use crate::daemon::stats::Stats;
use crate::daemon::tcp_link::TcpLink;
use crate::vrrp::packet::{Advert, Auth, emit};
use crate::vrrp::router::{Arrival, Packet};
use crate::vrrp::timing::Centis;
use crate::vrrp::udp_frame::stream::prefixed;
use crate::vrrp::udp_frame::{self, FrameKey, Stamper};
use crate::vrrp::{Family, V3Checksum, Version};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Our identity, sealed into our own frames.
const ORIGIN: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1));
/// The peer's identity, sealed into its frames.
const PEER_ID: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2));
const KEY: &[u8] = b"a key of some twenty bytes";

/// Loopback is this host's, so the judge is told that no address is ours.
fn none_ours() -> std::io::Result<Vec<IpAddr>> {
    Ok(Vec::new())
}

struct Rig {
    addr: SocketAddr,
    channel: Arc<Stats>,
    packets: mpsc::Receiver<Box<Packet>>,
    task: JoinHandle<()>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A listener whose one instance (VRID 51, channel 1) lists `peers`.
fn rig(peers: Vec<IpAddr>) -> Rig {
    let listener = tcp_socket::listen(Family::V4, 0, None).unwrap();
    let addr = SocketAddr::new(LOCAL, listener.local_addr().unwrap().port());
    let (tx, packets) = mpsc::channel(64);
    let channel = Arc::new(Stats::default());
    let route = SealedRoute {
        route: Route {
            name: "web".into(),
            router: Arc::new(tx),
            channels: vec![RxChannel {
                index: 1,
                peers: Some(peers),
                stats: channel.clone(),
            }],
            stats: Arc::new(Stats::default()),
        },
        key: Arc::new(FrameKey::new(KEY.to_vec()).unwrap()),
        origin: ORIGIN,
    };
    let routes = Arc::new(RwLock::new(SealedRoutes::from_iter([(51, route)])));
    let judge = FrameJudge::with_own_addrs(Transport::new("tcp"), none_ours);
    let task = tokio::spawn(run(listener, "tcp lo:test".into(), routes, judge));
    Rig {
        addr,
        channel,
        packets,
        task,
    }
}

/// A sealed VRID 51 advert from the peer, stamped now, under `key`.
fn frame(stamps: &mut Stamper, key: &[u8]) -> Vec<u8> {
    let advert = Advert {
        version: Version::V3,
        vrid: 51,
        priority: 100,
        interval: Centis::ONE_SECOND,
        addresses: smallvec::smallvec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
        auth: Auth::None,
    };
    let vrrp = emit(&advert, PEER_ID, PEER_ID, V3Checksum::PseudoHeader).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let key = FrameKey::new(key.to_vec()).unwrap();
    udp_frame::seal(&key, stamps.next(now), PEER_ID, &vrrp)
}

/// Waits (up to 5 s) for `done`.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn count(stats: &Stats, name: &str) -> u64 {
    stats.snapshot().get(name).copied().unwrap_or(0)
}

/// Reads until the peer closes; whether it did within 5 s.
async fn closed(stream: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn frames_a_link_sends_reach_the_router_as_sealed_adverts() {
    let mut rig = rig(vec![LOCAL]);
    let link_stats = Arc::new(Stats::default());
    let link = TcpLink::open(LOCAL, None, rig.addr, link_stats.clone());
    until("the connection", || {
        link_stats.links().get(&LOCAL) == Some(&true)
    })
    .await;
    let mut stamps = Stamper::new(1);
    for _ in 0..3 {
        link.push(frame(&mut stamps, KEY)).unwrap();
    }
    for _ in 0..3 {
        let got = tokio::time::timeout(Duration::from_secs(5), rig.packets.recv())
            .await
            .expect("an advert in time")
            .expect("lane open");
        assert_eq!((got.channel, got.arrival), (1, Arrival::Sealed));
        assert_eq!(
            got.received.src, PEER_ID,
            "the sealed identity, not the TCP source"
        );
    }
    drop(link);
    assert!(
        link_stats.links().is_empty(),
        "a dropped link leaves no state behind"
    );
}

#[tokio::test]
async fn forged_replayed_truncated_and_misframed_input_is_refused_and_counted() {
    let mut rig = rig(vec![LOCAL]);
    let mut stamps = Stamper::new(7);
    let good = frame(&mut stamps, KEY);
    let forged = frame(&mut stamps, b"not the key but as long as it is");

    let mut first = tokio::net::TcpStream::connect(rig.addr).await.unwrap();
    first.write_all(&prefixed(&forged)).await.unwrap();
    first.write_all(&prefixed(&good)).await.unwrap();
    until("the good frame", || count(&rig.channel, "tcp_bad_mac") == 1).await;
    assert!(
        rig.packets.recv().await.is_some(),
        "the good frame is delivered"
    );
    // The same frame again on another connection: the guard is the listener's.
    let mut second = tokio::net::TcpStream::connect(rig.addr).await.unwrap();
    second.write_all(&prefixed(&good)).await.unwrap();
    until("the replay", || count(&rig.channel, "tcp_replayed") == 1).await;
    // Cut short by the end of the stream.
    let cut = prefixed(&frame(&mut stamps, KEY));
    second.write_all(&cut[..cut.len() - 1]).await.unwrap();
    second.shutdown().await.unwrap();
    until("the cut frame", || {
        count(&rig.channel, "tcp_truncated") == 1
    })
    .await;
    // A length no frame has closes the connection.
    first.write_all(&[0xff, 0xff]).await.unwrap();
    until("the bad length", || {
        count(&rig.channel, "tcp_bad_length") == 1
    })
    .await;
    assert!(closed(&mut first).await, "closed after a bad length");
    assert!(
        rig.packets.try_recv().is_err(),
        "nothing else was delivered"
    );
}

#[tokio::test]
async fn a_connection_from_an_address_that_is_no_peer_is_closed_and_counted() {
    let rig = rig(vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))]);
    let mut stream = tokio::net::TcpStream::connect(rig.addr).await.unwrap();
    assert!(closed(&mut stream).await);
    assert_eq!(count(&rig.channel, "tcp_unknown_peer"), 1);
}

#[tokio::test]
async fn a_peer_may_hold_a_bounded_number_of_connections() {
    let rig = rig(vec![LOCAL]);
    let mut held = Vec::new();
    for _ in 0..MAX_PER_PEER {
        held.push(tokio::net::TcpStream::connect(rig.addr).await.unwrap());
    }
    let mut extra = tokio::net::TcpStream::connect(rig.addr).await.unwrap();
    assert!(closed(&mut extra).await);
    assert_eq!(count(&rig.channel, "tcp_too_many_connections"), 1);
    // One closes: room for another.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = tokio::net::TcpStream::connect(rig.addr).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), again.read(&mut [0u8; 1])).await;
    assert!(quiet.is_err(), "kept open: {quiet:?}");
    assert_eq!(count(&rig.channel, "tcp_too_many_connections"), 1);
}

#[tokio::test]
async fn pushing_never_waits_and_a_full_queue_drops_its_oldest_frame() {
    // A peer that accepts and never reads.
    let listener = tcp_socket::listen(Family::V4, 0, None).unwrap();
    let addr = SocketAddr::new(LOCAL, listener.local_addr().unwrap().port());
    let stats = Arc::new(Stats::default());
    let link = TcpLink::open(LOCAL, None, addr, stats.clone());
    let (_silent, _) = listener.accept().await.unwrap();
    until("the connection", || {
        stats.links().get(&LOCAL) == Some(&true)
    })
    .await;
    let mut stamps = Stamper::new(3);
    let f = frame(&mut stamps, KEY);
    // This test runs on one thread: the link's writer cannot run between these pushes.
    let t0 = std::time::Instant::now();
    for _ in 0..100 {
        link.push(f.clone()).unwrap();
    }
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        count(&stats, "tcp_queue_dropped"),
        100 - QUEUE_FRAMES as u64
    );
}

#[tokio::test]
async fn a_link_reconnects_when_the_peer_closes_its_connection() {
    let listener = tcp_socket::listen(Family::V4, 0, None).unwrap();
    let addr = SocketAddr::new(LOCAL, listener.local_addr().unwrap().port());
    let stats = Arc::new(Stats::default());
    let _link = TcpLink::open(LOCAL, None, addr, stats.clone());
    let (first, _) = listener.accept().await.unwrap();
    drop(first);
    // The link finds out on its next keepalive, and connects again.
    let (_second, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("a reconnect in time")
        .unwrap();
    until("the reconnect counted", || {
        count(&stats, "tcp_reconnects") == 1
    })
    .await;
    until("connected again", || {
        stats.links().get(&LOCAL) == Some(&true)
    })
    .await;
}
