//! `VrrpSocket::split_off_routine` and `RoutineSocket::follow`: once it follows A, the
//! routine socket gets A's adverts but its resignations (priority 0) and the one too short
//! to hold a priority, the socket it was split from everything else, each datagram exactly
//! once, in both families (the IPv6 source read through the network header); and a datagram
//! read late is dated by when it arrived, not by when it was read.

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vipd::net::RecvPacket;

use super::lab::{A4, Lab, join, run_in_netns};
use super::{PAYLOAD, WAIT, a_socket_and_group, b_socket};

/// Packets sent: every third a resignation, one too short to hold a priority.
const SENT: usize = 30;
const SHORT_ONE: usize = 7;
/// How long B leaves them queued before reading.
const LATE: Duration = Duration::from_millis(400);

fn message(i: usize) -> Vec<u8> {
    let mut m = PAYLOAD.to_vec();
    m[2] = if i.is_multiple_of(3) { 0 } else { 100 };
    m.push(i as u8);
    if i == SHORT_ONE {
        m.truncate(2);
    }
    m
}

/// The index A wrote into the message of `p` (its last byte), or the short one's.
fn index_of(p: &RecvPacket, v6: bool) -> usize {
    let m = if v6 {
        &p.data[..]
    } else {
        &p.data[usize::from(p.data[0] & 0x0F) * 4..]
    };
    if m.len() == 2 {
        SHORT_ONE
    } else {
        usize::from(*m.last().expect("a message"))
    }
}

fn split(lab: &Lab, v6: bool) {
    let a = if v6 {
        IpAddr::V6(lab.link_local(&lab.ns_a, &lab.if_a))
    } else {
        IpAddr::V4(A4.parse().unwrap())
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel::<Instant>();
    let if_b = lab.if_b.clone();
    let reader = run_in_netns(&lab.ns_b, move || async move {
        let sock = b_socket(&if_b, v6);
        let mut routine = sock.split_off_routine().expect("the split");
        assert!(!routine.polled(), "a routine socket starts unwatched");
        routine.follow(&sock, &[a]).expect("follow A");
        let floor = Instant::now();
        ready_tx.send(()).unwrap();
        let sent = sent_rx.recv_timeout(WAIT).expect("A sent");
        tokio::time::sleep(LATE).await;
        let (mut resignations, mut others) = (Vec::new(), Vec::new());
        let keep = |into: &mut Vec<RecvPacket>, packets: &[std::io::Result<RecvPacket>]| {
            into.extend(
                packets
                    .iter()
                    .map(|p| p.as_ref().expect("readable").clone()),
            )
        };
        while routine
            .read_now(floor, |p| keep(&mut others, p))
            .expect("read the routine socket")
            > 0
        {}
        while resignations.len() < SENT / 3 + 1 {
            tokio::time::timeout(WAIT, sock.recv_each(floor, |p| keep(&mut resignations, p)))
                .await
                .expect("the resignations came")
                .expect("recv_each");
        }
        let fill = routine.fill().expect("SO_MEMINFO");
        (resignations, others, sent, fill)
    });
    ready_rx.recv_timeout(WAIT).expect("B ready");
    let if_a = lab.if_a.clone();
    let sent = join(run_in_netns(&lab.ns_a, move || async move {
        let (sock, group) = a_socket_and_group(&if_a, v6);
        for i in 0..SENT {
            sock.try_send_to(&message(i), group).expect("send from A");
        }
        Instant::now()
    }));
    sent_tx.send(sent).unwrap();
    let (resignations, others, sent, fill) = join(reader);
    let got = |packets: &[RecvPacket]| -> Vec<usize> {
        packets.iter().map(|p| index_of(p, v6)).collect()
    };
    let to_socket = |i: &usize| i.is_multiple_of(3) || *i == SHORT_ONE;
    let expected_resignations: Vec<usize> = (0..SENT).filter(to_socket).collect();
    let expected_others: Vec<usize> = (0..SENT).filter(|i| !to_socket(i)).collect();
    assert_eq!(
        got(&resignations),
        expected_resignations,
        "resignations and the short one, in order"
    );
    assert_eq!(
        got(&others),
        expected_others,
        "A's routine adverts, in order"
    );
    for p in &others {
        let dated = sent.saturating_duration_since(p.arrived);
        assert!(
            p.arrived <= sent + Duration::from_millis(100) && dated < Duration::from_secs(1),
            "read {LATE:?} late, dated by its arrival: {:?} from the last send",
            p.arrived.saturating_duration_since(sent)
        );
    }
    assert_eq!(fill.queued, 0, "read empty: {fill:?}");
    // The datagrams its filter refused are not drops: `queue_full` counts only a full queue.
    assert_eq!(fill.drops, 0, "{fill:?}");
    assert!(fill.room >= 1 << 20, "the room asked for: {fill:?}");
}

#[test]
fn v4_a_followed_masters_routine_adverts_go_to_their_own_socket_dated_by_arrival() {
    if !super::lab::privileged() {
        return;
    }
    split(&Lab::new(false), false);
}

#[test]
fn v6_a_followed_masters_routine_adverts_go_to_their_own_socket_dated_by_arrival() {
    if !super::lab::privileged() {
        return;
    }
    split(&Lab::new(false), true);
}
