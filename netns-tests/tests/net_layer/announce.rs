//! Gratuitous ARP and unsolicited NA, checked on the wire and in the peer's neighbour table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::Duration;

use vipd::net::{Announcer, MacAddr};

use crate::lab::{Lab, join, privileged, run_in_netns, sh};
use crate::{WAIT, sniff};

fn parse_mac(s: &str) -> MacAddr {
    s.parse().expect("a MAC address")
}

#[test]
fn garp_is_seen_by_the_peer_and_fills_its_arp_table() {
    if !privileged() {
        return;
    }
    let lab = Lab::new(false);
    let mac_a = parse_mac(&lab.mac(&lab.ns_a, &lab.if_a));
    // Let B learn from a gratuitous ARP without having asked.
    sh(&[
        "ip",
        "netns",
        "exec",
        &lab.ns_b,
        "sysctl",
        "-qw",
        &format!("net.ipv4.conf.{}.arp_accept=1", lab.if_b),
    ]);
    let vip = Ipv4Addr::new(10, 77, 0, 100);
    let (ready_tx, ready_rx) = mpsc::channel();
    let if_b = lab.if_b.clone();
    let capture = run_in_netns(&lab.ns_b, move || async move {
        let rx = sniff::Sniffer::open(&if_b);
        ready_tx.send(()).unwrap();
        rx.frames_where(3, WAIT, |f| f.len() >= 42 && f[12..14] == [0x08, 0x06])
    });
    ready_rx.recv_timeout(WAIT).unwrap();
    let if_a = lab.if_a.clone();
    join(run_in_netns(&lab.ns_a, move || async move {
        let idx = vipd::net::ifindex_by_name(&if_a).unwrap();
        let ann = Announcer::new(idx).unwrap();
        for _ in 0..3 {
            ann.send(mac_a, IpAddr::V4(vip), None, false).unwrap();
        }
    }));
    let frames = join(capture);
    assert_eq!(frames.len(), 3, "three gratuitous ARPs back to back");
    let f = &frames[0];
    assert_eq!(&f[0..6], &[0xff; 6], "broadcast");
    assert_eq!(&f[6..12], &mac_a.octets());
    assert_eq!(&f[20..22], &[0, 1], "ARP request");
    assert_eq!(&f[22..28], &mac_a.octets(), "sender MAC");
    assert_eq!(&f[28..32], &vip.octets(), "sender IP");
    assert_eq!(&f[32..38], &[0; 6], "target MAC");
    assert_eq!(&f[38..42], &vip.octets(), "target IP");
    let entry = lab
        .neigh(&lab.ns_b, &lab.if_b, "10.77.0.100")
        .expect("B learned the VIP");
    assert_eq!(parse_mac(entry["lladdr"].as_str().unwrap()), mac_a);
}

#[test]
fn unsolicited_na_overrides_the_peer_neighbour_entry() {
    if !privileged() {
        return;
    }
    let lab = Lab::new(false);
    let mac_a = parse_mac(&lab.mac(&lab.ns_a, &lab.if_a));
    let ll_a = lab.link_local(&lab.ns_a, &lab.if_a);
    let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
    // Linux hosts only update existing entries from unsolicited NAs; a stale entry with a
    // different MAC is replaced only if the Override flag is set.
    sh(&[
        "ip",
        "-n",
        &lab.ns_b,
        "neigh",
        "add",
        "2001:db8::100",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        &lab.if_b,
        "nud",
        "stale",
    ]);
    let (ready_tx, ready_rx) = mpsc::channel();
    let if_b = lab.if_b.clone();
    let capture = run_in_netns(&lab.ns_b, move || async move {
        let rx = sniff::Sniffer::open(&if_b);
        ready_tx.send(()).unwrap();
        // IPv6, ICMPv6, type 136, target = the VIP.
        rx.frames_where(1, WAIT, |f| {
            f.len() >= 78
                && f[12..14] == [0x86, 0xdd]
                && f[20] == 58
                && f[54] == 136
                && f[62..78] == vip.octets()
        })
    });
    ready_rx.recv_timeout(WAIT).unwrap();
    let if_a = lab.if_a.clone();
    join(run_in_netns(&lab.ns_a, move || async move {
        let idx = vipd::net::ifindex_by_name(&if_a).unwrap();
        vipd::net::announce::send_unsolicited_na(idx, mac_a, ll_a, vip).unwrap();
    }));
    let frames = join(capture);
    let f = &frames[0];
    assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(&f[6..12], &mac_a.octets());
    assert_eq!(f[21], 255, "hop limit");
    assert_eq!(&f[22..38], &ll_a.octets(), "link-local source");
    assert_eq!(&f[38..54], &"ff02::1".parse::<Ipv6Addr>().unwrap().octets());
    assert_eq!(f[58], 0x20, "Override, not Solicited, not Router");
    assert_eq!(&f[78..80], &[2, 1], "target link-layer address option");
    assert_eq!(&f[80..86], &mac_a.octets());
    // The kernel checks hop limit and checksum before it touches the neighbour table.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let entry = lab
            .neigh(&lab.ns_b, &lab.if_b, "2001:db8::100")
            .expect("entry kept");
        if parse_mac(entry["lladdr"].as_str().unwrap()) == mac_a {
            break;
        }
        if std::time::Instant::now() >= deadline {
            let snmp = sh(&["ip", "netns", "exec", &lab.ns_b, "cat", "/proc/net/snmp6"]);
            let icmp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Icmp6In")).collect();
            panic!("B kept the old MAC: {entry}; B's ICMPv6 counters: {icmp:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
