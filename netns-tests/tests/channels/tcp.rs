//! The TCP channel carries the pair alone (VRRP dropped on the LAN by the switch): through a
//! partition of the heartbeat link and its heal, a stopped and a killed Master, a reload;
//! forged, replayed, truncated and mis-framed input on it is refused and counted. (A peer
//! that never reads: `tcp_stall.rs`.)

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netns_tests::vipd::{Vipd, VipdConfig, VrrpState};
use netns_tests::{Cut, Node, in_netns, require_root};
use nix::sys::signal::Signal;
use vipd::vrrp::packet::{self, Advert, Auth};
use vipd::vrrp::timing::Centis;
use vipd::vrrp::udp_frame::stream::prefixed;
use vipd::vrrp::udp_frame::{self, FrameKey, Stamp};
use vipd::vrrp::{V3Checksum, Version};

use crate::common::*;
use crate::setup::*;

pub fn channel() -> String {
    format!("tcp eth1:{TCP_PORT}")
}

/// Whether `vipd`'s TCP channel reports its connection to `peer` up.
fn connected(vipd: &Vipd, peer: &Node) -> bool {
    let peer = peer.hb_ip4().unwrap().to_string();
    channel_status(vipd, &channel())["connections"][&peer] == "connected"
}

fn wait_connected(vipd: &Vipd, peer: &Node, within: Duration) {
    netns_tests::wait_until(within, POLL, || connected(vipd, peer)).unwrap_or_else(|_| {
        panic!(
            "{} never connected to {}: {}",
            vipd.node().name(),
            peer.name(),
            channel_status(vipd, &channel())
        )
    });
}

#[test]
fn tcp_alone_carries_the_pair_and_a_healed_partition_leaves_one_master() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        vip,
        high,
        low,
        d0,
        mut d1,
    } = tcp_pair(&[]);
    let (n0, n1) = (lab.node(0), lab.node(1));
    wait_connected(&d0, n1, TOLERANCE);
    wait_connected(&d1, n0, TOLERANCE);
    let lan = lab.cut(Cut::VrrpOnLan).unwrap();
    // With VRRP gone from the LAN, only TCP carries node0's adverts.
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
    assert!(lan.dropped().unwrap() > 0, "the cut dropped no VRRP");
    let carried = channel_counter(&d1, &channel(), "adverts_received");
    assert!(carried > 10, "TCP carried {carried} adverts");
    let table = d1.ctl_ok(&["status"]).unwrap();
    let up = format!("{} connected", n0.hb_ip4().unwrap());
    assert!(table.contains(&up), "{table}");
    assert!(lab.client.ping_once(vip));
    // A reload that changes the channel list but not this channel's source, interface and
    // peer (here: its source written out) keeps the connection: no new one is opened.
    let ups = |d: &Vipd| d.log_text().matches("heartbeat connection up").count();
    assert_eq!(ups(&d0), 1, "{}", d0.log_text());
    let mut same = high.clone();
    let line = tcp_channel(n1, &lab.log_path("heartbeat.key"));
    let source = format!(", source: {} }}]", n0.hb_ip4().unwrap());
    same.extra = vec![line.replacen(" }]", &source, 1)];
    assert_ne!(same.extra, high.extra);
    d0.rewrite(&VipdConfig::single(n0.name(), same)).unwrap();
    d0.ctl_ok(&["reload"]).unwrap();
    let heard = channel_counter(&d1, &channel(), "adverts_received");
    netns_tests::wait_until(TOLERANCE, POLL, || {
        channel_counter(&d1, &channel(), "adverts_received") > heard + 5
    })
    .expect("TCP carries the adverts after the reload");
    assert!(connected(&d0, n1), "{}", channel_status(&d0, &channel()));
    assert_eq!(channel_counter(&d0, &channel(), "tcp_reconnects"), 0);
    assert_eq!(ups(&d0), 1, "{}", d0.log_text());

    // The heartbeat link cut as well: no path is left, so two Masters.
    let hb = lab.cut(Cut::Heartbeat(n0)).unwrap();
    let t = d1
        .wait_state(
            &low.name,
            VrrpState::Master,
            low.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("master down"), "{t:?}");
    // Data left unacknowledged for 2 s aborts the connections (TCP_USER_TIMEOUT).
    netns_tests::wait_until(Duration::from_secs(10), POLL, || {
        !connected(&d0, n1) && !connected(&d1, n0)
    })
    .expect("both sides notice the partition");
    let reconnects = channel_counter(&d0, &channel(), "tcp_reconnects");

    let healed_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    hb.heal().unwrap();
    let t = d1
        .wait_state(&low.name, VrrpState::Backup, Duration::from_secs(5))
        .unwrap();
    let two_masters = t.at - healed_at.as_secs_f64();
    eprintln!(
        "TCP only: two Masters for {:.0} ms after the heal",
        two_masters * 1000.0
    );
    // A connection attempt a second while cut (1 s timeout, backoff capped at 1 s), then
    // one advert interval: well under 3 s even on a loaded machine.
    assert!(two_masters < 3.0, "two Masters for {two_masters:.2}s");
    assert!(channel_counter(&d0, &channel(), "tcp_reconnects") > reconnects);
    wait_holds(n1, "eth0", vip, false, TOLERANCE);
    assert_only_holder(&[n0, n1], n0, "eth0", vip);
    netns_tests::wait_until(TOLERANCE, POLL, || {
        lab.client.neigh_mac(vip).ok().flatten() == Some(n0.mac("eth0").unwrap())
    })
    .expect("the client's neighbour entry points at the winner again");
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
}

#[test]
fn tcp_alone_hands_over_when_the_master_is_stopped_and_when_it_is_killed() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        vip,
        high,
        low,
        mut d0,
        mut d1,
    } = tcp_pair(&[]);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let _lan = lab.cut(Cut::VrrpOnLan).unwrap();
    wait_connected(&d1, n0, TOLERANCE);

    // SIGSTOP: node0 neither sends nor reads; the kernel still holds its connections.
    d0.signal(Signal::SIGSTOP).unwrap();
    let t = d1
        .wait_state(
            &low.name,
            VrrpState::Master,
            low.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("master down"), "{t:?}");
    wait_holds(n1, "eth0", vip, true, TOLERANCE);
    // Long enough for node1 to give up the silent connection (5 s without a byte).
    std::thread::sleep(Duration::from_secs(6));
    d0.signal(Signal::SIGCONT).unwrap();
    // node0 comes back as Master with the higher priority; node1 hears it over TCP as
    // soon as node0's link notices the closed connection and reconnects.
    d1.wait_state(&low.name, VrrpState::Backup, Duration::from_secs(8))
        .unwrap();
    wait_holds(n1, "eth0", vip, false, TOLERANCE);
    assert_only_holder(&[n0, n1], n0, "eth0", vip);
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);

    // SIGKILL, with node0's LAN port cut too, as a dead host would be: the VIP it leaves on
    // its interface must not answer the client.
    let _port = lab.cut(Cut::Node(n0)).unwrap();
    d0.kill();
    let t = d1
        .wait_state(
            &low.name,
            VrrpState::Master,
            low.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("master down"), "{t:?}");
    wait_holds(n1, "eth0", vip, true, TOLERANCE);
    assert_client_sees(&lab, vip, n1.mac("eth0").unwrap());
}

/// A sealed advert "from" node0 (its identity is its LAN address).
pub fn frame_from(key: &[u8], stamp: Stamp, priority: u8, origin: IpAddr, vip: IpAddr) -> Vec<u8> {
    let advert = Advert {
        version: Version::V3,
        vrid: 51,
        priority,
        interval: Centis::new(10),
        addresses: vec![vip],
        auth: Auth::None,
    };
    let vrrp = packet::emit(&advert, origin, origin, V3Checksum::PseudoHeader).unwrap();
    udp_frame::seal(&FrameKey::new(key.to_vec()).unwrap(), stamp, origin, &vrrp)
}

/// Opens a connection in `from`'s namespace from `src` to `to`, writes `bytes`, and closes
/// it. The listener may close first (a refusal): only the connection must succeed; the
/// counters say what became of the bytes.
fn send_stream(from: &Node, src: IpAddr, to: SocketAddr, bytes: Vec<u8>) {
    in_netns(from.ns(), move || {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        sock.bind(&SocketAddr::new(src, 0).into())?;
        sock.connect_timeout(&to.into(), Duration::from_secs(2))?;
        let mut stream: TcpStream = sock.into();
        let _ = stream.write_all(&bytes);
        // Let the listener read it all before the end of the stream arrives.
        std::thread::sleep(Duration::from_millis(100));
        let _ = stream.shutdown(std::net::Shutdown::Write);
        std::io::Result::Ok(())
    })
    .unwrap()
    .unwrap_or_else(|e| panic!("sending to {to}: {e}"));
}

#[test]
fn forged_replayed_truncated_and_misframed_tcp_input_is_refused_and_counted() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        vip,
        high,
        low,
        d0,
        d1,
    } = tcp_pair(&[]);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let _lan = lab.cut(Cut::VrrpOnLan).unwrap();
    wait_connected(&d1, n0, TOLERANCE);
    let origin: IpAddr = n0.ip4().into();
    let (src, to): (IpAddr, _) = (
        n0.hb_ip4().unwrap().into(),
        SocketAddr::new(n1.hb_ip4().unwrap().into(), TCP_PORT),
    );
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let hour = 3_600_000_000;
    let at = |epoch, time_us| Stamp {
        epoch,
        seq: 1,
        time_us,
    };
    let resign = |key, stamp| frame_from(key, stamp, 0, origin, vip);
    let wrong_key = b"not the key, but as long as it..";
    let good = resign(KEY, at(1, now_us));
    // Accepted once it changes nothing (node0's own priority); then replayed.
    let once = frame_from(KEY, at(3, now_us), high.priority, origin, vip);
    let mut stream = Vec::new();
    for f in [
        resign(wrong_key, at(1, now_us)),
        resign(KEY, at(1, now_us - hour)),
        frame_from(KEY, at(2, now_us + hour), high.priority, origin, vip),
        once.clone(),
        once.clone(),
    ] {
        stream.extend(prefixed(&f));
    }
    send_stream(n0, src, to, stream);
    // Replayed on a connection of its own: the guard is the listener's.
    send_stream(n0, src, to, prefixed(&once));
    // Cut short by the end of the stream.
    let cut = prefixed(&good);
    send_stream(n0, src, to, cut[..cut.len() - 1].to_vec());
    // A length no frame has.
    send_stream(n0, src, to, vec![0xff, 0xff, 1, 2, 3]);
    // From another address of node0 on the heartbeat link, which is no peer of the channel.
    let [a, b, c, d] = n0.hb_ip4().unwrap().octets();
    let stranger = std::net::Ipv4Addr::new(a, b, c, d.wrapping_add(100));
    n0.exec_ok(&[
        "ip",
        "addr",
        "add",
        &format!("{stranger}/32"),
        "dev",
        "eth1",
    ])
    .unwrap();
    send_stream(n0, stranger.into(), to, prefixed(&good));
    let reasons = [
        ("tcp_bad_mac", 1),
        ("tcp_stale", 1),
        ("tcp_future", 1),
        ("tcp_replayed", 2),
        ("tcp_truncated", 1),
        ("tcp_bad_length", 1),
        ("tcp_unknown_peer", 1),
    ];
    netns_tests::wait_until(TOLERANCE, POLL, || {
        reasons
            .iter()
            .all(|(r, n)| channel_counter(&d1, &channel(), r) >= *n)
    })
    .unwrap_or_else(|_| panic!("not all counted: {}", channel_status(&d1, &channel())));
    let before = channel_counter(&d1, &channel(), "adverts_received");
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
    let after = channel_counter(&d1, &channel(), "adverts_received");
    assert!(
        after > before + 10,
        "node0 still heard over TCP: {before} -> {after}"
    );
    assert!(
        connected(&d1, n0),
        "node0's own connection was not disturbed"
    );
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());
}
