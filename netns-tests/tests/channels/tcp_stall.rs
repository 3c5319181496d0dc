//! A TCP peer that accepts the connection and never reads: the Master's writes stall, its
//! queue drops the oldest adverts, the connection is given up and re-opened, and none of it
//! touches the timing of its adverts on the LAN.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use netns_tests::decode::is_vrrp_advert;
use netns_tests::vipd::{Vipd, VipdConfig, VrrpState};
use netns_tests::{Capture, Node, in_netns, require_root};

use crate::common::*;
use crate::setup::*;
use crate::tcp::channel;

/// A listener on `node`'s heartbeat address that accepts and never reads, with the
/// smallest receive buffer, so a sender's writes stall within a few kilobytes.
struct BlackHole {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl BlackHole {
    fn open(node: &Node) -> BlackHole {
        let addr = SocketAddr::new(node.hb_ip4().unwrap().into(), TCP_PORT);
        let listener = in_netns(node.ns(), move || {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            sock.set_recv_buffer_size(1)?;
            sock.bind(&addr.into())?;
            sock.listen(8)?;
            sock.set_nonblocking(true)?;
            std::io::Result::Ok(std::net::TcpListener::from(sock))
        })
        .unwrap()
        .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            held.len()
        });
        BlackHole {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops accepting; how many connections it took.
    fn close(mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

#[test]
fn a_tcp_peer_that_never_reads_leaves_the_masters_advert_timing_alone() {
    if !require_root() {
        return;
    }
    let lab = hb_lab();
    let key = key_file(&lab);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let hole = BlackHole::open(n1);
    let vip: IpAddr = lab.vip4(0).into();
    // node0's send buffers at their smallest, and 20 ms adverts: a stalled connection's
    // buffer fills within a second, so writes block and the queue overflows.
    n0.exec_ok(&["sysctl", "-qw", "net.ipv4.tcp_wmem=4096 4096 4096"])
        .unwrap();
    let mut s = spec(vip, 150);
    s.advert_interval = Duration::from_millis(20);
    s.extra = vec![tcp_channel(n1, &key)];
    let mut d0 = Vipd::start(&lab, n0, &VipdConfig::single(n0.name(), s.clone())).unwrap();
    settle(&mut d0, &s, VrrpState::Master);
    let cap = Capture::start(n0, "eth0", "ip proto 112", lab.log_path("n0-adverts.pcap")).unwrap();
    // Long enough for writes to stall and the link to give up on the connection (a write
    // stuck for 2 s, or the kernel's 2 s TCP_USER_TIMEOUT on the zero window) and
    // reconnect, twice, dropping queued adverts meanwhile.
    netns_tests::wait_until(Duration::from_secs(30), POLL, || {
        channel_counter(&d0, &channel(), "tcp_reconnects") >= 2
            && channel_counter(&d0, &channel(), "tcp_queue_dropped") > 0
    })
    .unwrap_or_else(|_| {
        panic!(
            "the black hole never stalled a write: {}",
            channel_status(&d0, &channel())
        )
    });
    let frames = cap.stop().unwrap();
    let taken = hole.close();
    let times: Vec<f64> = frames
        .iter()
        .filter(|f| is_vrrp_advert(&f.data).is_some())
        .map(|f| f.ts)
        .collect();
    let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) * 1000.0).collect();
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let (median, p99, max) = (
        sorted[sorted.len() / 2],
        sorted[sorted.len() * 99 / 100],
        sorted[sorted.len() - 1],
    );
    let counters = channel_status(&d0, &channel())["counters"].clone();
    eprintln!(
        "black-hole TCP peer: {} adverts on eth0 over {:.1} s, gaps median {median:.1} ms, \
         p99 {p99:.1} ms, max {max:.1} ms; {taken} connections taken; {counters}",
        times.len(),
        times.last().unwrap() - times[0],
    );
    assert!(
        channel_counter(&d0, &channel(), "tcp_queue_dropped") > 0,
        "{counters}"
    );
    assert!(taken >= 2, "the link reconnected: {taken}");
    // 20 ms adverts; a stalled stream must not delay one. Generous for a loaded machine:
    // a router task blocked on the stream would miss whole seconds (the write timeout).
    assert!((15.0..30.0).contains(&median), "median gap {median} ms");
    assert!(max < 250.0, "an advert gap of {max} ms on eth0");
    assert_stays(&d0, &s.name, VrrpState::Master, Duration::ZERO);
}
