//! A local user floods vipd's own listeners: far more idle connections to the metrics port
//! and to the control socket than they admit, and `vipd events` sessions that hang up. vipd
//! must keep answering `vipd status`, hold a bounded number of descriptors, log a bounded
//! number of lines and move no VIP.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use netns_tests::in_netns;
use netns_tests::require_root;
use netns_tests::vipd::metrics::scrape;
use netns_tests::vipd::{VrrpState, holds, vipd_bin};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::common::*;

/// Connections per listener: well over both its cap and the 1,024 descriptors vipd is given.
const FLOOD: usize = 1500;
/// Descriptors vipd may hold beyond its idle count while flooded: two listeners' caps (32
/// each) and some slack.
const FD_SLACK: usize = 100;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(usize::MAX)
}

/// Sets vipd's descriptor limit to 1,024 (soft and hard), the default a daemon gets: a flood
/// that is not bounded then runs out, as it did in the field.
fn limit_descriptors(pid: u32) {
    let lim = libc::rlimit {
        rlim_cur: 1024,
        rlim_max: 1024,
    };
    // SAFETY: prlimit reads `lim` and writes nothing (the old-limit pointer is null).
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// Raises this test process's own limit, to hold the flood's client ends.
fn raise_own_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

/// How long each flood may take: a listener that stopped accepting leaves connects waiting
/// on a full backlog, and the test must then fail, not hang.
const FLOOD_TIME: Duration = Duration::from_secs(20);

/// Up to `n` idle TCP connections to `addr` from inside `ns`, within [`FLOOD_TIME`].
fn tcp_flood(ns: &str, addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let start = Instant::now();
    in_netns(ns, || {
        (0..n)
            .take_while(|_| start.elapsed() < FLOOD_TIME)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
            .collect()
    })
    .unwrap()
}

/// A connection to the Unix socket at `path`, or `None` if its backlog is full (a blocking
/// connect would wait for ever on a listener that stopped accepting).
fn unix_connect(path: &Path) -> Option<UnixStream> {
    let s = Socket::new(Domain::UNIX, Type::STREAM, None).ok()?;
    s.set_nonblocking(true).ok()?;
    s.connect(&SockAddr::unix(path).ok()?).ok()?;
    s.set_nonblocking(false).ok()?;
    Some(UnixStream::from(OwnedFd::from(s)))
}

/// Up to `n` idle connections to the control socket at `path`, within [`FLOOD_TIME`],
/// paced so that a listener that accepts at all keeps up with them.
fn unix_flood(path: &Path, n: usize) -> Vec<UnixStream> {
    let start = Instant::now();
    (0..n)
        .take_while(|_| start.elapsed() < FLOOD_TIME)
        .filter_map(|i| {
            if i % 64 == 63 {
                std::thread::sleep(Duration::from_millis(5));
            }
            unix_connect(path)
        })
        .collect()
}

/// Starts a `vipd events` session on `path`, reads its first line and hangs up.
fn events_and_hang_up(path: &Path) -> bool {
    let Some(mut s) = unix_connect(path) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "{{\"version\":{},\"command\":\"events\"}}\n",
        vipd::control::protocol::VERSION
    );
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).is_ok() && line.contains("following events")
}

fn wait_fds_at_most(pid: u32, bound: usize, within: Duration) -> usize {
    let start = Instant::now();
    loop {
        let n = open_fds(pid);
        if n <= bound || start.elapsed() > within {
            return n;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn idle_floods_and_hung_up_events_sessions_cost_no_descriptors_nor_the_vip() {
    if !require_root() {
        return;
    }
    raise_own_limit();
    let lab = lab();
    let vip = lab.vip4(0);
    let n0 = lab.node(0);
    let addr: SocketAddr = "127.0.0.1:9742".parse().unwrap();
    let mut cfg = config(n0, vec![inst("web", 51, vip, 150)]);
    cfg.metrics_listen = Some(addr);
    let mut d0 = start(&lab, 0, &cfg);
    settle_all(&mut d0, &cfg, VrrpState::Master);
    let (pid, sock) = (d0.pid(), d0.socket_path().unwrap().to_path_buf());
    limit_descriptors(pid);
    scrape(n0, addr).unwrap();
    d0.status().unwrap();
    let (idle_fds, log_lines) = (open_fds(pid), d0.log_text().lines().count());
    let moves = d0.transitions("web").len();

    let tcp = tcp_flood(n0.ns(), addr, FLOOD);
    let unix = unix_flood(&sock, FLOOD);
    // Most connects succeed: the listeners keep accepting (and closing) rather than leaving
    // the flood in the backlog, where it would prove nothing.
    assert!(tcp.len() > FLOOD / 2, "only {} TCP connects", tcp.len());
    assert!(unix.len() > FLOOD / 2, "only {} unix connects", unix.len());

    // Every flood connection is still open on the client side, idle.
    // Under `timeout`: a vipd that stopped accepting makes an older client wait for ever.
    let bin = vipd_bin().unwrap();
    let status = n0
        .exec(&[
            "timeout",
            "15",
            &bin.to_string_lossy(),
            "status",
            "--socket",
            &sock.to_string_lossy(),
        ])
        .unwrap();
    assert!(
        status.status.success(),
        "vipd status while flooded: {status:?}"
    );
    let scraped = scrape(n0, addr);
    assert!(scraped.is_ok(), "metrics while flooded: {scraped:?}");
    let flooded = open_fds(pid);
    assert!(
        flooded <= idle_fds + FD_SLACK,
        "vipd holds {flooded} descriptors under the flood, {idle_fds} idle"
    );
    let (tcp_n, unix_n) = (tcp.len(), unix.len());
    drop((tcp, unix));

    // Ended `vipd events` sessions: each must be closed by vipd when its client hangs up,
    // not at the next state change (none comes here).
    let start = Instant::now();
    let ended = (0..300)
        .take_while(|_| start.elapsed() < FLOOD_TIME)
        .filter(|_| events_and_hang_up(&sock))
        .count();
    assert!(ended >= 290, "only {ended} of 300 events sessions started");
    let after = wait_fds_at_most(pid, idle_fds + 5, Duration::from_secs(15));
    assert!(
        after <= idle_fds + 5,
        "vipd holds {after} descriptors after the floods and the events sessions ended, {idle_fds} before"
    );
    d0.status().expect("vipd status after the floods");

    assert_eq!(
        d0.transitions("web").len(),
        moves,
        "state changes during the flood:\n{}",
        d0.log_text()
    );
    assert_eq!(d0.state("web"), Some(VrrpState::Master));
    assert!(holds(n0, vip));
    let logged = d0.log_text().lines().count() - log_lines;
    eprintln!(
        "floods: {} TCP + {} unix connections; vipd descriptors idle {idle_fds}, flooded {flooded}, after {after}; {logged} log lines",
        tcp_n, unix_n
    );
    assert!(
        logged <= 20,
        "{logged} log lines during the flood:\n{}",
        d0.log_text()
    );
}
