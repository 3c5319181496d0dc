//! A batch sends through any datagram socket: these use UDP on loopback, which needs no
//! privilege and takes the same IP_PKTINFO control message as a raw VRRP socket.

use std::cell::RefCell;
use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use super::{Addressing, Held, SendBatch, SendBatches};

const LOOPBACK_INDEX: u32 = 1;
/// An interface index no host has: a datagram sent out of it fails on its own (ENODEV).
const NO_SUCH_INTERFACE: u32 = 0x7fff_fff0;

fn receiver() -> UdpSocket {
    let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    rx
}

fn to(rx: &UdpSocket, ifindex: u32) -> Addressing {
    // `v4` makes a raw socket's address, with no port: the test's receiver has one.
    Addressing::v4(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, ifindex)
        .with_port(rx.local_addr().unwrap().port())
}

fn sender() -> (Held, i32) {
    let tx = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap());
    let fd = tx.as_raw_fd();
    (tx, fd)
}

/// Queues `payload` with `token` on the socket of `sender`, addressed `to`.
fn queue<T>(
    batch: &mut SendBatch<T>,
    sender: &(Held, i32),
    to: Addressing,
    payload: &[u8],
    token: T,
    settle: &mut impl FnMut(T, io::Result<()>),
) {
    let held = sender.0.clone();
    batch.queue(|| held, sender.1, to, payload, token, settle);
}

/// Receives `n` datagrams, in order.
fn received(rx: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
    let mut buf = [0u8; 64];
    (0..n)
        .map(|_| {
            let len = rx.recv(&mut buf).unwrap();
            buf[..len].to_vec()
        })
        .collect()
}

#[test]
fn queued_datagrams_leave_in_order_when_flushed_each_settled_once() {
    let rx = receiver();
    let tx = sender();
    let mut batch = SendBatch::new();
    let settled = RefCell::new(Vec::new());
    let mut settle =
        |token: usize, r: io::Result<()>| settled.borrow_mut().push((token, r.is_ok()));
    for k in 0..5usize {
        let to = to(&rx, LOOPBACK_INDEX);
        queue(&mut batch, &tx, to, &[k as u8; 3], k, &mut settle);
    }
    assert_eq!(batch.len(), 5);
    batch.flush(&mut settle);
    assert!(batch.is_empty());
    assert_eq!(
        *settled.borrow(),
        (0..5).map(|k| (k, true)).collect::<Vec<_>>()
    );
    let want: Vec<Vec<u8>> = (0..5u8).map(|k| vec![k; 3]).collect();
    assert_eq!(received(&rx, 5), want);
}

#[test]
fn a_failing_datagram_is_settled_with_its_error_and_the_rest_still_leave() {
    let rx = receiver();
    let tx = sender();
    let mut batch = SendBatch::new();
    let settled = RefCell::new(Vec::new());
    let mut settle = |token: u8, r: io::Result<()>| settled.borrow_mut().push((token, r.is_ok()));
    let ifindexes = [
        LOOPBACK_INDEX,
        NO_SUCH_INTERFACE,
        LOOPBACK_INDEX,
        NO_SUCH_INTERFACE,
    ];
    for (k, ifindex) in (0u8..).zip(ifindexes) {
        queue(&mut batch, &tx, to(&rx, ifindex), &[k], k, &mut settle);
    }
    batch.flush(&mut settle);
    assert_eq!(
        *settled.borrow(),
        [(0, true), (1, false), (2, true), (3, false)]
    );
    assert_eq!(received(&rx, 2), [vec![0], vec![2]]);
}

#[test]
fn a_full_batch_or_another_socket_sends_what_waits_first() {
    let rx = receiver();
    let (a, b) = (sender(), sender());
    let mut batch = SendBatch::new();
    let settled = RefCell::new(Vec::new());
    let mut settle =
        |token: usize, r: io::Result<()>| settled.borrow_mut().push((token, r.is_ok()));
    let max = SendBatch::<usize>::MAX;
    for k in 0..max {
        queue(
            &mut batch,
            &a,
            to(&rx, LOOPBACK_INDEX),
            &[1],
            k,
            &mut settle,
        );
    }
    assert!(
        settled.borrow().is_empty(),
        "nothing leaves before the batch is full"
    );
    queue(
        &mut batch,
        &a,
        to(&rx, LOOPBACK_INDEX),
        &[1],
        max,
        &mut settle,
    );
    assert_eq!(
        settled.borrow().len(),
        max,
        "a full batch left before the next was queued"
    );
    assert_eq!(batch.len(), 1);
    queue(
        &mut batch,
        &b,
        to(&rx, LOOPBACK_INDEX),
        &[2],
        max + 1,
        &mut settle,
    );
    assert_eq!(
        settled.borrow().len(),
        max + 1,
        "the other socket's datagram waited for the first's"
    );
    batch.flush(&mut settle);
    assert_eq!(
        *settled.borrow(),
        (0..max + 2).map(|k| (k, true)).collect::<Vec<_>>()
    );
    let got = received(&rx, max + 2);
    assert_eq!(got.last(), Some(&vec![2]));
}

#[test]
fn datagrams_for_sockets_taken_in_turn_wait_in_a_batch_each() {
    let (rx_a, rx_b) = (receiver(), receiver());
    let (a, b) = (sender(), sender());
    let mut batches = SendBatches::new();
    let settled = RefCell::new(Vec::new());
    let mut settle =
        |token: usize, r: io::Result<()>| settled.borrow_mut().push((token, r.is_ok()));
    for k in 0..10usize {
        let (tx, rx) = if k % 2 == 0 { (&a, &rx_a) } else { (&b, &rx_b) };
        let batch = batches.batch_for(tx.1);
        queue(
            batch,
            tx,
            to(rx, LOOPBACK_INDEX),
            &[k as u8],
            k,
            &mut settle,
        );
    }
    assert!(
        settled.borrow().is_empty(),
        "a change of socket sent nothing"
    );
    assert_eq!(batches.len(), 10);
    batches.flush(&mut settle);
    assert!(batches.is_empty());
    let mut tokens: Vec<usize> = settled
        .borrow()
        .iter()
        .map(|&(t, ok)| {
            assert!(ok);
            t
        })
        .collect();
    tokens.sort_unstable();
    assert_eq!(tokens, (0..10).collect::<Vec<_>>(), "each settled once");
    assert_eq!(
        received(&rx_a, 5),
        [vec![0], vec![2], vec![4], vec![6], vec![8]]
    );
    assert_eq!(
        received(&rx_b, 5),
        [vec![1], vec![3], vec![5], vec![7], vec![9]]
    );
}
