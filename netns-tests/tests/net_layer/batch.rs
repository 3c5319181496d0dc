//! `VrrpSocket::recv_each`: packets queued before the reader wakes come back many per call,
//! all of them, in order, each with its own addresses and hop limit; one that is too long
//! for its buffer is flagged truncated without costing its neighbours.

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::Duration;

use vipd::net::{BATCH_SLOTS, RecvPacket};

use super::lab::{A4, Lab, join, run_in_netns};
use super::{GROUP4, GROUP6, PAYLOAD, WAIT, a_socket_and_group, b_socket};

/// Packets sent before B reads any: more than two batches' worth.
const SENT: usize = 40;
/// The one sent longer than a receive buffer (9216 bytes): A's kernel fragments it, B's
/// reassembles it, and the socket hands over its first 9216 bytes.
const LONG_ONE: usize = 20;
const LONG: usize = 10_000;
/// The one whose VRRP message is a single byte: the socket passes it on, the codec rejects it.
const SHORT_ONE: usize = 10;

/// The message of packet `i`: the test payload and its index, so order can be checked.
fn message(i: usize) -> Vec<u8> {
    let mut m = PAYLOAD.to_vec();
    m.push(i as u8);
    match i {
        LONG_ONE => m.resize(LONG, 0xEE),
        SHORT_ONE => m.truncate(1),
        _ => {}
    }
    m
}

/// Sends [`SENT`] packets from A to the group while B's socket is open but not reading, then
/// lets B read them with `recv_each`. Returns the packets and the size of each batch.
fn queue_then_read(lab: &Lab, v6: bool) -> (Vec<RecvPacket>, Vec<usize>) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    let if_b = lab.if_b.clone();
    let reader = run_in_netns(&lab.ns_b, move || async move {
        let sock = b_socket(&if_b, v6);
        ready_tx.send(()).unwrap();
        sent_rx.recv_timeout(WAIT).expect("A sent");
        // Let the last packets (and the fragments of the long one) reach B's queue.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (mut got, mut sizes) = (Vec::new(), Vec::new());
        while got.len() < SENT {
            let heard = got.len();
            let each = |packets: &[std::io::Result<RecvPacket>]| {
                got.extend(
                    packets
                        .iter()
                        .map(|p| p.as_ref().expect("a readable packet").clone()),
                )
            };
            let n = tokio::time::timeout(WAIT, sock.recv_each(std::time::Instant::now(), each))
                .await
                .unwrap_or_else(|_| panic!("B heard only {heard} packets"))
                .expect("recv_each in B");
            sizes.push(n);
        }
        (got, sizes)
    });
    ready_rx.recv_timeout(WAIT).expect("B ready");
    let if_a = lab.if_a.clone();
    join(run_in_netns(&lab.ns_a, move || async move {
        let (sock, group) = a_socket_and_group(&if_a, v6);
        for i in 0..SENT {
            sock.try_send_to(&message(i), group).expect("send from A");
        }
    }));
    sent_tx.send(()).unwrap();
    join(reader)
}

/// The VRRP message of `p`: IPv4 raw sockets deliver the IP header too.
fn vrrp_of(p: &RecvPacket, v6: bool) -> &[u8] {
    if v6 {
        &p.data
    } else {
        &p.data[usize::from(p.data[0] & 0x0F) * 4..]
    }
}

fn check(lab: &Lab, v6: bool, src: IpAddr, group: IpAddr) {
    let (got, sizes) = queue_then_read(lab, v6);
    assert_eq!(
        sizes[0], BATCH_SLOTS,
        "all {SENT} were queued: the first call fills the batch ({sizes:?})"
    );
    assert_eq!(got.len(), SENT, "batches {sizes:?}");
    let ifindex = lab.ifindex(&lab.ns_b, &lab.if_b);
    for (i, p) in got.iter().enumerate() {
        assert_eq!(
            (p.src, p.dst, p.ifindex, p.hop_limit),
            (src, group, ifindex, 255),
            "packet {i}"
        );
        let m = vrrp_of(p, v6);
        if i == LONG_ONE {
            assert!(p.truncated, "packet {i} is longer than the buffer");
            assert_eq!(p.data.len(), 9216, "the buffer is full");
            assert_eq!(&m[..=PAYLOAD.len()], &message(i)[..=PAYLOAD.len()]);
        } else {
            assert!(!p.truncated, "packet {i}");
            assert_eq!(m, message(i), "packet {i} whole and in order");
        }
    }
}

#[test]
fn v4_queued_adverts_come_back_in_batches_in_order() {
    if !super::lab::privileged() {
        return;
    }
    let lab = Lab::new(false);
    let src = IpAddr::V4(A4.parse().unwrap());
    check(&lab, false, src, IpAddr::V4(GROUP4));
}

#[test]
fn v6_queued_adverts_come_back_in_batches_in_order() {
    if !super::lab::privileged() {
        return;
    }
    let lab = Lab::new(false);
    let src = IpAddr::V6(lab.link_local(&lab.ns_a, &lab.if_a));
    check(&lab, true, src, IpAddr::V6(GROUP6));
}
