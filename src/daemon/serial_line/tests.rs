//! The serial line over pseudo-terminal pairs, in-process: the line task opens the pty's
//! slave as a node opens its tty, and the test plays the far end on the master. Frames both
//! ways; forged, replayed, foreign, truncated and garbled input refused and counted; a
//! device that goes away is reopened.

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::pty::openpty;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::*;
use crate::daemon::receiver::{Route, RxChannel};
use crate::daemon::sealed::{SealedRoute, Transport};
use crate::net::serial_port::make_raw;
use crate::vrrp::packet::{Advert, Auth, emit};
use crate::vrrp::router::{Arrival, Packet};
use crate::vrrp::timing::Centis;
use crate::vrrp::udp_frame::stream::{Deframer, MAX_FRAME_LEN};
use crate::vrrp::udp_frame::{self, FrameKey, Stamper};
use crate::vrrp::{V3Checksum, Version};

/// Our identity, sealed into our own frames.
const ORIGIN: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1));
/// The peer's identity, the channel's `peer`.
const PEER_ID: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2));
const KEY: &[u8] = b"a key of some twenty bytes";

fn none_ours() -> std::io::Result<Vec<IpAddr>> {
    Ok(Vec::new())
}

/// A pty pair, raw from the start (a cooked pty would echo the far end's bytes back).
struct Pty {
    master: std::fs::File,
    /// Held so the slave side stays usable whatever the line task does.
    _slave: OwnedFd,
    path: PathBuf,
}

fn pty() -> Pty {
    let pair = openpty(None, None).expect("openpty");
    make_raw(&pair.slave, None).expect("raw pty");
    let path = std::fs::read_link(format!("/proc/self/fd/{}", pair.slave.as_raw_fd())).unwrap();
    Pty {
        master: std::fs::File::from(pair.master),
        _slave: pair.slave,
        path,
    }
}

struct Rig {
    channel: Arc<Stats>,
    packets: mpsc::Receiver<Box<Packet>>,
    sink: Arc<LineSink>,
    task: JoinHandle<()>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A line on `device` whose one instance (VRID 51, channel 1) has the peer `PEER_ID`.
fn rig(device: PathBuf) -> Rig {
    let (tx, packets) = mpsc::channel(64);
    let channel = Arc::new(Stats::default());
    let route = SealedRoute {
        route: Route {
            name: "web".into(),
            router: Arc::new(tx),
            channels: vec![RxChannel {
                index: 1,
                peers: Some(vec![PEER_ID]),
                stats: channel.clone(),
            }],
            stats: Arc::new(Stats::default()),
        },
        key: Arc::new(FrameKey::new(KEY.to_vec()).unwrap()),
        origin: ORIGIN,
    };
    let routes = Arc::new(RwLock::new(SealedRoutes::from_iter([(51, route)])));
    let line = Arc::new(SerialLine::new(device));
    let sink = line.sink(PEER_ID, channel.clone());
    let judge = FrameJudge::with_own_addrs(Transport::new(PREFIX), none_ours);
    let task = tokio::spawn(run(line, 115200, routes, judge));
    Rig {
        channel,
        packets,
        sink,
        task,
    }
}

/// A sealed VRID 51 advert from `who`, stamped now, under `key`.
fn frame(stamps: &mut Stamper, who: IpAddr, key: &[u8]) -> Vec<u8> {
    let advert = Advert {
        version: Version::V3,
        vrid: 51,
        priority: 100,
        interval: Centis::ONE_SECOND,
        addresses: smallvec::smallvec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
        auth: Auth::None,
    };
    let vrrp = emit(&advert, who, who, V3Checksum::PseudoHeader).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let key = FrameKey::new(key.to_vec()).unwrap();
    udp_frame::seal(&key, stamps.next(now), who, &vrrp)
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

fn up(stats: &Stats) -> bool {
    stats.links().get(&PEER_ID) == Some(&true)
}

async fn advert(rig: &mut Rig) -> Box<Packet> {
    tokio::time::timeout(Duration::from_secs(5), rig.packets.recv())
        .await
        .expect("an advert in time")
        .expect("lane open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_cross_the_line_both_ways() {
    let mut p = pty();
    let mut rig = rig(p.path.clone());
    until("the line open", || up(&rig.channel)).await;
    // The far end's frame reaches the router as a sealed advert from the peer's identity.
    let mut stamps = Stamper::new(1);
    p.master
        .write_all(&prefixed(&frame(&mut stamps, PEER_ID, KEY)))
        .unwrap();
    let got = advert(&mut rig).await;
    assert_eq!((got.channel, got.arrival), (1, Arrival::Sealed));
    assert_eq!(got.received.src, PEER_ID);
    // Ours reach the far end, length-prefixed, whole.
    let ours = frame(&mut Stamper::new(2), ORIGIN, KEY);
    rig.sink.push(&ours).unwrap();
    let mut d = Deframer::new();
    let mut buf = [0u8; 512];
    let piece = loop {
        let want = d.wants();
        let n = p.master.read(&mut buf[..want]).unwrap();
        d.push(&buf[..n]);
        if let Some(piece) = d.piece().unwrap() {
            break piece;
        }
    };
    assert_eq!(piece, Piece::Frame(ours));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_foreign_garbled_and_truncated_input_is_refused_and_counted() {
    let mut p = pty();
    let mut rig = rig(p.path.clone());
    until("the line open", || up(&rig.channel)).await;
    let mut stamps = Stamper::new(7);
    let good = frame(&mut stamps, PEER_ID, KEY);
    let forged = frame(&mut stamps, PEER_ID, b"not the key but as long as it is");
    let foreign = frame(&mut stamps, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 9)), KEY);
    let c = rig.channel.clone();

    p.master.write_all(&prefixed(&forged)).unwrap();
    until("the forged frame", || count(&c, "serial_bad_mac") == 1).await;
    p.master.write_all(&prefixed(&good)).unwrap();
    advert(&mut rig).await;
    p.master.write_all(&prefixed(&good)).unwrap();
    until("the replay", || count(&c, "serial_replayed") == 1).await;
    p.master.write_all(&prefixed(&foreign)).unwrap();
    until("the foreign identity", || {
        count(&c, "not_a_unicast_peer") == 1
    })
    .await;

    // Line noise, then a good frame: skipped, counted once, and the frame still gets in.
    let mut noisy = vec![0xff, 0x13, 0x00, 0x60, b'X', b'Y', b'Z', b'W'];
    noisy.extend_from_slice(&prefixed(&frame(&mut stamps, PEER_ID, KEY)));
    p.master.write_all(&noisy).unwrap();
    advert(&mut rig).await;
    assert_eq!(count(&c, "serial_bad_length"), 1);

    // The longest frame the format allows (not a valid one): read whole, judged, refused.
    let mut longest = b"VIPD".to_vec();
    longest.resize(MAX_FRAME_LEN, 0);
    longest[udp_frame::HEADER_LEN + 1] = 51; // the VRID, so the instance counts it
    p.master.write_all(&prefixed(&longest)).unwrap();
    until("the longest frame", || count(&c, "serial_bad_version") == 1).await;
    p.master
        .write_all(&prefixed(&frame(&mut stamps, PEER_ID, KEY)))
        .unwrap();
    advert(&mut rig).await;

    // A frame cut short, then silence: dropped when the gap runs out; the line goes on.
    let cut = prefixed(&frame(&mut stamps, PEER_ID, KEY));
    p.master.write_all(&cut[..cut.len() - 20]).unwrap();
    until("the cut frame", || count(&c, "serial_truncated") == 1).await;
    p.master
        .write_all(&prefixed(&frame(&mut stamps, PEER_ID, KEY)))
        .unwrap();
    advert(&mut rig).await;
    assert!(
        rig.packets.try_recv().is_err(),
        "no refused frame got through"
    );
    assert_eq!(
        count(&c, "serial_reconnects"),
        0,
        "the line stayed open throughout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_goes_away_is_reopened_when_it_comes_back() {
    // The configured device is a link, so the test can point it at a new pty, as udev
    // names a USB adapter plugged in again.
    let dir = std::env::temp_dir().join(format!("vipd-serial-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let device = dir.join("ttyHB");
    let _ = std::fs::remove_file(&device);
    let first = pty();
    std::os::unix::fs::symlink(&first.path, &device).unwrap();
    let mut rig = rig(device.clone());
    let c = rig.channel.clone();
    until("the line open", || up(&c)).await;

    // Unplugged: the line is down, sends are refused, attempts to open are counted.
    std::fs::remove_file(&device).unwrap();
    drop(first);
    until("the line down", || !up(&c)).await;
    assert!(
        rig.sink.push(b"frame").is_err(),
        "a down line refuses frames"
    );
    until("failed opens", || count(&c, "serial_connect_failures") >= 2).await;

    // Plugged in again: reopened within the backoff, and frames flow.
    let mut second = pty();
    std::os::unix::fs::symlink(&second.path, &device).unwrap();
    until("the line open again", || up(&c)).await;
    assert_eq!(count(&c, "serial_reconnects"), 1);
    second
        .master
        .write_all(&prefixed(&frame(&mut Stamper::new(3), PEER_ID, KEY)))
        .unwrap();
    advert(&mut rig).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_gap_that_ends_a_frame_follows_the_line_speed() {
    assert_eq!(gap_timeout(115200), Duration::from_millis(200));
    let slow = gap_timeout(1200);
    assert!(
        slow > Duration::from_millis(400) && slow < Duration::from_millis(420),
        "{slow:?}"
    );
}
