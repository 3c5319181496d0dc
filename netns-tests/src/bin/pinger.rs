//! Pings one address on a fixed grid (default every 10 ms) with a raw ICMP socket and prints a
//! JSON [`PingReport`] at the end: the loss windows a client saw, to one interval.
//!
//! Usage: `pinger --dst IP [--duration-ms N] [--interval-ms N] [--linger-ms N]`
//! With `--duration-ms 0` (the default) it runs until SIGTERM or SIGINT.
//! Prints `pinger: started` on stderr once the socket is open and the first request is out.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use netns_tests::ping::{PingReport, longest, loss_windows};
use netns_tests::probe::internet_checksum;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::time::TimeSpec;
use socket2::{Domain, Protocol, Socket, Type};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// A send later than this behind its slot counts as late.
const LATE: Duration = Duration::from_millis(2);

struct Args {
    dst: IpAddr,
    duration: Option<Duration>,
    interval: Duration,
    linger: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        dst: IpAddr::from([0; 4]),
        duration: None,
        interval: Duration::from_millis(10),
        linger: Duration::from_millis(300),
    };
    let mut dst = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let ms = || {
            value
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--dst" => dst = Some(value.parse().map_err(|e| format!("--dst: {e}"))?),
            "--duration-ms" => args.duration = Some(ms()?).filter(|d| !d.is_zero()),
            "--interval-ms" => args.interval = ms()?.max(Duration::from_millis(1)),
            "--linger-ms" => args.linger = ms()?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    args.dst = dst.ok_or("--dst is required")?;
    Ok(args)
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a).map_err(|e| e.to_string())) {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string(&report).expect("report serialises")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pinger: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The state of one run: per-request send times and answers.
struct Run {
    id: u16,
    v6: bool,
    start: Instant,
    wall_start: f64,
    sent: Vec<f64>,
    sent_at: Vec<Instant>,
    answered: Vec<bool>,
    duplicates: u64,
    late: u64,
    max_rtt: Duration,
}

fn run(args: &Args) -> std::io::Result<PingReport> {
    let sa = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(sig, &sa) }.map_err(std::io::Error::from)?;
    }
    let v6 = args.dst.is_ipv6();
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let sock = Socket::new(domain, Type::RAW, Some(proto))?;
    // A connected raw socket only receives packets from the destination.
    sock.connect(&SocketAddr::new(args.dst, 0).into())?;
    sock.set_nonblocking(true)?;

    let wall_start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let mut r = Run {
        id: (std::process::id() & 0xffff) as u16,
        v6,
        start: Instant::now(),
        wall_start,
        sent: Vec::new(),
        sent_at: Vec::new(),
        answered: Vec::new(),
        duplicates: 0,
        late: 0,
        max_rtt: Duration::ZERO,
    };
    let stop_at = args.duration.map(|d| r.start + d);
    let mut buf = [0u8; 1500];
    loop {
        let now = Instant::now();
        if STOP.load(Ordering::Relaxed) || stop_at.is_some_and(|s| now >= s) {
            break;
        }
        // Absolute slots: a late send does not push later ones back.
        let slot = r.start + args.interval * r.sent.len() as u32;
        if now >= slot {
            r.send(&sock, now - slot)?;
            if r.sent.len() == 1 {
                eprintln!("pinger: started");
            }
            continue;
        }
        r.receive(&sock, &mut buf, stop_at.map_or(slot, |s| s.min(slot)))?;
    }
    let end = r.wall(Instant::now());
    // Late replies still count; a reply that takes longer than the linger is a loss.
    let linger_until = Instant::now() + args.linger;
    while Instant::now() < linger_until && r.answered.iter().any(|a| !a) {
        r.receive(&sock, &mut buf, linger_until)?;
    }
    Ok(r.report(args, end))
}

impl Run {
    fn wall(&self, t: Instant) -> f64 {
        self.wall_start + (t - self.start).as_secs_f64()
    }

    fn send(&mut self, sock: &Socket, lateness: Duration) -> std::io::Result<()> {
        let seq = self.sent.len() as u16;
        let mut pkt = vec![if self.v6 { 128 } else { 8 }, 0, 0, 0];
        pkt.extend_from_slice(&self.id.to_be_bytes());
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(b"vipd-pinger-grid");
        if !self.v6 {
            // The kernel fills in ICMPv6 checksums, not ICMPv4 ones.
            let sum = internet_checksum(&pkt);
            pkt[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        let now = Instant::now();
        self.sent.push(self.wall(now));
        self.sent_at.push(now);
        self.answered.push(false);
        if lateness > LATE {
            self.late += 1;
        }
        match sock.send(&pkt) {
            Ok(_) => Ok(()),
            // No route or neighbour while a link is down, or a full queue: that request is
            // simply lost, which the report shows.
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || matches!(
                        e.raw_os_error(),
                        Some(
                            libc::ENETUNREACH
                                | libc::EHOSTUNREACH
                                | libc::ENOBUFS
                                | libc::EHOSTDOWN
                        )
                    ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Reads replies until `until`.
    fn receive(&mut self, sock: &Socket, buf: &mut [u8], until: Instant) -> std::io::Result<()> {
        loop {
            match (&*sock).read(buf) {
                Ok(n) => self.on_packet(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // An ICMP error queued for the socket (unreachable): not a reply.
                Err(e)
                    if e.raw_os_error()
                        .is_some_and(|c| c == libc::EHOSTUNREACH || c == libc::ENETUNREACH) =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            // ppoll has nanosecond timeouts: a millisecond poll would blur the 10 ms grid.
            let ts = TimeSpec::from_duration(until - now);
            let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
            match ppoll(&mut fds, Some(ts), None) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            if STOP.load(Ordering::Relaxed) {
                return Ok(());
            }
        }
    }

    fn on_packet(&mut self, pkt: &[u8]) {
        // IPv4 raw sockets deliver the IP header, IPv6 ones start at ICMPv6.
        let icmp = if self.v6 {
            pkt
        } else {
            pkt.get(usize::from(pkt.first().map_or(0, |b| b & 0x0f)) * 4..)
                .unwrap_or(&[])
        };
        let Some(h) = icmp.get(..8) else { return };
        let reply_type = if self.v6 { 129 } else { 0 };
        if h[0] != reply_type || u16::from_be_bytes([h[4], h[5]]) != self.id || self.sent.is_empty()
        {
            return;
        }
        // Sequence numbers wrap at 65536: take the latest request with these low 16 bits.
        let last = self.sent.len() - 1;
        let back = (last as u16).wrapping_sub(u16::from_be_bytes([h[6], h[7]]));
        let Some(i) = last.checked_sub(usize::from(back)) else {
            return;
        };
        if self.answered[i] {
            self.duplicates += 1;
        } else {
            self.answered[i] = true;
            self.max_rtt = self.max_rtt.max(self.sent_at[i].elapsed());
        }
    }

    fn report(&self, args: &Args, end: f64) -> PingReport {
        let windows = loss_windows(&self.sent, &self.answered, end);
        let received = self.answered.iter().filter(|a| **a).count() as u64;
        let longest = longest(&windows).cloned();
        PingReport {
            dst: args.dst,
            interval_ms: args.interval.as_secs_f64() * 1e3,
            sent: self.sent.len() as u64,
            received,
            lost: self.sent.len() as u64 - received,
            duplicates: self.duplicates,
            late_sends: self.late,
            max_rtt_ms: self.max_rtt.as_secs_f64() * 1e3,
            longest_gap_ms: longest.as_ref().map_or(0.0, |w| w.ms),
            loss_window: longest,
            windows,
            start: self.sent.first().copied().unwrap_or(self.wall_start),
            end,
        }
    }
}
