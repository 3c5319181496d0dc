//! The serial channel carries the pair alone: two nodes joined by a null-modem cable (two
//! pty pairs and a relay, `netns_tests::null_modem`) with every network path of node0 cut
//! in the switch; a killed Master is taken over from, and after the heal and its restart
//! there is one Master. Forged, replayed, foreign, garbled and truncated frames written
//! into the line are refused and counted, and change nothing.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netns_tests::null_modem::NullModem;
use netns_tests::vipd::{Vipd, VipdConfig, VrrpState};
use netns_tests::{Cut, Lab, LabSpec, Node, require_root};
use vipd::vrrp::udp_frame::Stamp;
use vipd::vrrp::udp_frame::stream::prefixed;

use crate::common::*;
use crate::setup::sealed_advert;
use crate::setup::*;

/// The channel's name in status, for node `i` of `line`.
fn channel(line: &NullModem, i: usize) -> String {
    format!("serial {}", line.device(i).display())
}

/// The `channels:` line of node `i`: its end of the cable, the other node's identity (its
/// primary address, on the LAN) as the peer.
fn serial_channel(line: &NullModem, i: usize, peer: &Node, key_file: &std::path::Path) -> String {
    format!(
        "channels: [{{ type: serial, device: {}, baud: 115200, peer: {}, key_file: {} }}]",
        line.device(i).display(),
        peer.ip4(),
        key_file.display()
    )
}

/// A settled pair joined by the LAN and the cable.
fn serial_pair() -> (HbPair, NullModem) {
    let lab = Lab::new(LabSpec {
        nodes: 2,
        ..Default::default()
    })
    .expect("lab");
    let line = NullModem::new().expect("null modem");
    let key = key_file(&lab);
    let pair = hb_pair(lab, |lab, i| {
        vec![serial_channel(&line, i, lab.node(1 - i), &key)]
    });
    (pair, line)
}

/// Whether `vipd`'s end of the line (node `i`) is open, per its status.
fn open(vipd: &Vipd, line: &NullModem, i: usize, peer: &Node) -> bool {
    channel_status(vipd, &channel(line, i))["connections"][peer.ip4().to_string()] == "connected"
}

#[test]
fn serial_alone_carries_the_pair_through_a_kill_and_a_heal() {
    if !require_root() {
        return;
    }
    let (pair, line) = serial_pair();
    let HbPair {
        lab,
        vip,
        high,
        low,
        mut d0,
        mut d1,
    } = pair;
    let (n0, n1) = (lab.node(0), lab.node(1));
    assert!(open(&d0, &line, 0, n1) && open(&d1, &line, 1, n0));

    // Every network path cut: VRRP on the LAN, and node0's LAN port altogether.
    let _lan = lab.cut(Cut::VrrpOnLan).unwrap();
    let port = lab.cut(Cut::Node(n0)).unwrap();
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
    let carried = channel_counter(&d1, &channel(&line, 1), "adverts_received");
    assert!(carried > 10, "the line carried {carried} adverts");
    let table = d1.ctl_ok(&["status"]).unwrap();
    assert!(
        table.contains(&format!("{} connected", n0.ip4())),
        "{table}"
    );
    port.heal().unwrap();
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());

    // Killed, its LAN port cut as a dead host's would be: node1 takes over.
    let port = lab.cut(Cut::Node(n0)).unwrap();
    let killed_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    d0.kill();
    let t = d1
        .wait_state(
            &low.name,
            VrrpState::Master,
            low.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("master down"), "{t:?}");
    eprintln!(
        "serial only: node1 Master {:.0} ms after the kill (Master_Down_Interval {} ms)",
        (t.at - killed_at.as_secs_f64()) * 1000.0,
        low.master_down_interval().as_millis()
    );
    wait_holds(n1, "eth0", vip, true, TOLERANCE);
    assert_client_sees(&lab, vip, n1.mac("eth0").unwrap());

    // Healed and restarted (VRRP still cut on the LAN): node0 hears node1 over the line,
    // preempts it with the higher priority, and one Master is left.
    port.heal().unwrap();
    let mut d0 =
        Vipd::start(&lab, n0, &VipdConfig::single(n0.name(), high.clone())).expect("restart vipd");
    settle(&mut d0, &high, VrrpState::Master);
    d1.wait_state(&low.name, VrrpState::Backup, TOLERANCE)
        .unwrap();
    wait_holds(n1, "eth0", vip, false, TOLERANCE);
    assert_only_holder(&[n0, n1], n0, "eth0", vip);
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
    assert!(
        open(&d0, &line, 0, n1),
        "{}",
        channel_status(&d0, &channel(&line, 0))
    );
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());
}

#[test]
fn forged_replayed_foreign_garbled_and_truncated_serial_input_is_refused_and_counted() {
    if !require_root() {
        return;
    }
    let (pair, line) = serial_pair();
    let HbPair {
        lab,
        vip,
        high,
        low,
        d0,
        d1,
    } = pair;
    let n0 = lab.node(0);
    let origin: IpAddr = n0.ip4().into();
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
    let resign = |key, stamp, from| sealed_advert(key, stamp, 0, from, vip);
    let wrong_key = b"not the key, but as long as it..";
    // Accepted once it changes nothing (node0's own priority); then replayed.
    let once = sealed_advert(KEY, at(3, now_us), high.priority, origin, vip);
    // Sealed with the key by a node that is not this line's peer (node1's own identity
    // would be "our own": take another address).
    let stranger: IpAddr = std::net::Ipv4Addr::new(192, 0, 2, 77).into();
    let mut forged = Vec::new();
    for f in [
        resign(wrong_key, at(1, now_us), origin),
        resign(KEY, at(1, now_us - hour), origin),
        sealed_advert(KEY, at(2, now_us + hour), high.priority, origin, vip),
        once.clone(),
        once.clone(),
        resign(KEY, at(4, now_us), stranger),
    ] {
        forged.extend(prefixed(&f));
    }
    // Line noise before a frame.
    forged.extend([0xff, 0x13, 0x00, 0x60, b'X', b'Y', b'Z', b'W']);
    forged.extend(prefixed(&resign(wrong_key, at(5, now_us), origin)));

    // node0's own bytes wait in the pty meanwhile, so nothing is interleaved with ours; the
    // LAN still carries node0, so node1 has no reason to move unless a forgery got in.
    line.pause(0, true);
    line.inject(1, &forged).unwrap();
    // Cut short, then quiet for longer than a frame's gap.
    let cut = prefixed(&resign(KEY, at(6, now_us), origin));
    line.inject(1, &cut[..cut.len() - 7]).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    line.pause(0, false);

    let ch = channel(&line, 1);
    let reasons = [
        ("serial_bad_mac", 2),
        ("serial_stale", 1),
        ("serial_future", 1),
        ("serial_replayed", 1),
        ("not_a_unicast_peer", 1),
        ("serial_bad_length", 1),
        ("serial_truncated", 1),
    ];
    netns_tests::wait_until(TOLERANCE, POLL, || {
        reasons
            .iter()
            .all(|(r, n)| channel_counter(&d1, &ch, r) >= *n)
    })
    .unwrap_or_else(|_| panic!("not all counted: {}", channel_status(&d1, &ch)));
    let before = channel_counter(&d1, &ch, "adverts_received");
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
    let after = channel_counter(&d1, &ch, "adverts_received");
    assert!(
        after > before + 10,
        "node0 still heard over the line: {before} -> {after}"
    );
    assert!(open(&d1, &line, 1, n0), "the line stayed open");
    assert_eq!(channel_counter(&d1, &ch, "serial_reconnects"), 0);
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());
}
