//! Privileged tests of `vipd::net` against a real kernel: two network namespaces joined by
//! a veth pair. They need root; without it they say SKIPPED loudly (and fail under CI=true).

#[path = "net_layer/announce.rs"]
mod announce;
#[path = "net_layer/batch.rs"]
mod batch;
#[path = "net_layer/lab.rs"]
mod lab;
#[path = "net_layer/netlink.rs"]
mod netlink;
#[path = "net_layer/sniff.rs"]
mod sniff;
#[path = "net_layer/split.rs"]
mod split;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::Duration;

use lab::{A4, B4, Lab, join, privileged, run_in_netns};
use vipd::net::{NetError, Netlink, VrrpSocket};

const GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const PAYLOAD: &[u8] = b"\x31\x33\x64\x01\x00\x64\x00\x00not-a-real-advert";
/// How long any step may take before the test calls it lost.
const WAIT: Duration = Duration::from_secs(3);

/// A's socket of one family on `if_a` (sending from A4 or A's link-local address), and the
/// VRRP group of that family; to be called inside A's namespace.
fn a_socket_and_group(if_a: &str, v6: bool) -> (VrrpSocket, IpAddr) {
    if v6 {
        let s = VrrpSocket::open_v6(if_a, None).expect("v6 socket in A");
        (s, IpAddr::V6(GROUP6))
    } else {
        let s = VrrpSocket::open_v4(if_a, Some(A4.parse().unwrap())).expect("v4 in A");
        (s, IpAddr::V4(GROUP4))
    }
}

/// B's socket of one family on `if_b` (IPv4 sending from B4); inside B's namespace.
fn b_socket(if_b: &str, v6: bool) -> VrrpSocket {
    if v6 {
        VrrpSocket::open_v6(if_b, None).expect("v6 socket in B")
    } else {
        VrrpSocket::open_v4(if_b, Some(B4.parse().unwrap())).expect("v4 socket in B")
    }
}

/// Opens a v4 or v6 socket in B, reports ready, and returns the first packet it gets.
fn receive_in_b(
    lab: &Lab,
    v6: bool,
) -> (
    mpsc::Receiver<()>,
    std::thread::JoinHandle<vipd::net::RecvPacket>,
) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let if_b = lab.if_b.clone();
    let h = run_in_netns(&lab.ns_b, move || async move {
        let sock = b_socket(&if_b, v6);
        ready_tx.send(()).unwrap();
        tokio::time::timeout(WAIT, sock.recv())
            .await
            .expect("B heard nothing")
            .expect("recv in B")
    });
    (ready_rx, h)
}

/// Sends from A to `dst`, then checks that A's own socket hears nothing back.
/// An IPv4 socket sends from `A4`, or lets the kernel choose when `kernel_src` is set.
fn send_from_a(lab: &Lab, v6: bool, dst: IpAddr, kernel_src: bool) {
    let if_a = lab.if_a.clone();
    join(run_in_netns(&lab.ns_a, move || async move {
        let sock = if v6 {
            VrrpSocket::open_v6(&if_a, None).expect("v6 socket in A")
        } else {
            let src = if kernel_src {
                None
            } else {
                Some(A4.parse().unwrap())
            };
            VrrpSocket::open_v4(&if_a, src).expect("v4 socket in A")
        };
        sock.try_send_to(PAYLOAD, dst).expect("send from A");
        let own = tokio::time::timeout(Duration::from_millis(500), sock.recv()).await;
        assert!(own.is_err(), "A received its own packet: {own:?}");
    }));
}

#[test]
fn v4_multicast_advert_arrives_with_full_header_ttl_255_and_no_loopback() {
    if !privileged() {
        return;
    }
    let lab = Lab::new(false);
    let (ready, rx) = receive_in_b(&lab, false);
    ready.recv_timeout(WAIT).expect("B ready");
    send_from_a(&lab, false, IpAddr::V4(GROUP4), false);
    let p = join(rx);
    assert_eq!(p.src, IpAddr::V4(A4.parse().unwrap()));
    assert_eq!(p.dst, IpAddr::V4(GROUP4));
    assert_eq!(p.ifindex, lab.ifindex(&lab.ns_b, &lab.if_b));
    assert_eq!(p.hop_limit, 255);
    assert!(!p.truncated);
    let d = &p.data;
    assert_eq!(d[0], 0x45, "IPv4, IHL 5");
    assert_eq!(d[1], 0xC0, "TOS");
    assert_eq!(d[8], 255, "TTL in the header");
    assert_eq!(d[9], 112, "protocol VRRP");
    assert_eq!(&d[12..16], &A4.parse::<Ipv4Addr>().unwrap().octets());
    assert_eq!(&d[16..20], &GROUP4.octets());
    assert_eq!(&d[20..], PAYLOAD);
}

#[test]
fn v6_multicast_advert_arrives_from_link_local_with_hop_limit_255() {
    if !privileged() {
        return;
    }
    let lab = Lab::new(false);
    let (ready, rx) = receive_in_b(&lab, true);
    ready.recv_timeout(WAIT).expect("B ready");
    send_from_a(&lab, true, IpAddr::V6(GROUP6), false);
    let p = join(rx);
    assert_eq!(p.src, IpAddr::V6(lab.link_local(&lab.ns_a, &lab.if_a)));
    assert_eq!(p.dst, IpAddr::V6(GROUP6));
    assert_eq!(p.ifindex, lab.ifindex(&lab.ns_b, &lab.if_b));
    assert_eq!(p.hop_limit, 255);
    assert_eq!(
        p.data, PAYLOAD,
        "IPv6 raw sockets deliver the payload alone"
    );
}

#[test]
fn unicast_to_the_peer_works_on_the_same_sockets() {
    if !privileged() {
        return;
    }
    let lab = Lab::new(false);
    let (ready, rx) = receive_in_b(&lab, false);
    ready.recv_timeout(WAIT).expect("B ready");
    send_from_a(&lab, false, IpAddr::V4(B4.parse().unwrap()), true);
    let p = join(rx);
    assert_eq!(p.dst, IpAddr::V4(B4.parse().unwrap()));
    assert_eq!(p.src, IpAddr::V4(A4.parse().unwrap()));
    assert_eq!((p.hop_limit, p.data[8]), (255, 255));

    let b_ll = lab.link_local(&lab.ns_b, &lab.if_b);
    let (ready, rx) = receive_in_b(&lab, true);
    ready.recv_timeout(WAIT).expect("B ready");
    send_from_a(&lab, true, IpAddr::V6(b_ll), false);
    let p = join(rx);
    assert_eq!(p.dst, IpAddr::V6(b_ll));
    assert_eq!(p.hop_limit, 255);
    assert_eq!(p.data, PAYLOAD);
}

#[test]
fn local_addrs_and_missing_interfaces() {
    if !privileged() {
        return;
    }
    let lab = Lab::new(false);
    let if_a = lab.if_a.clone();
    let ll = lab.link_local(&lab.ns_a, &lab.if_a);
    join(run_in_netns(&lab.ns_a, move || async move {
        let v4 = VrrpSocket::open_v4(&if_a, None).unwrap();
        assert_eq!(
            v4.local_addrs().unwrap(),
            vec![IpAddr::V4(A4.parse().unwrap())]
        );
        let v6 = VrrpSocket::open_v6(&if_a, None).unwrap();
        assert_eq!(v6.src(), Some(IpAddr::V6(ll)));
        assert!(v6.local_addrs().unwrap().contains(&IpAddr::V6(ll)));
        let err = VrrpSocket::open_v4("vtnosuch9", None).unwrap_err();
        assert_eq!(err.to_string(), "interface vtnosuch9 not found");
        let nl = Netlink::new().unwrap();
        let err = nl.link_by_name("vtnosuch9").await.unwrap_err();
        assert!(matches!(err, NetError::InterfaceNotFound(_)), "{err:?}");
        let link = nl.link_by_name(&if_a).await.unwrap();
        assert!(link.up && link.oper_up, "{link:?}");
    }));
}
