//! The receive loop of one VRRP socket: parse, validate, and hand each advert to the router
//! of its VRID. Every dropped packet has a reason and a counter.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::burst;
use super::driver::Door;
use super::late_reads;
use super::socket_counters;
use super::stats::{LogLimiter, Stats};
use super::wakeup::SharedTimer;
use crate::net::vrrp_socket::Ready;
use crate::net::{BATCH_SLOTS, RecvPacket, RoutineSocket, VrrpSocket};
use crate::vrrp::packet::{self, Received, Reject};
use crate::vrrp::router::{Arrival, Packet};

use crate::vrrp::Family;

pub use super::vrid_table::ByVrid;

mod late;
use late::LateReader;

/// The instances a socket serves, by VRID; changes with reloads.
pub type Routes = ByVrid<Route>;

/// Where adverts for one VRID go. What they must look like is the router's to judge, by its
/// own configuration.
pub struct Route {
    /// Instance name.
    pub name: Arc<str>,
    /// The router, which judges each advert the moment it is handed over.
    pub router: Door,
    /// The instance's heartbeat channels this socket carries (the primary interface's
    /// multicast or unicast path, and extra channels over the same interface).
    pub channels: Vec<RxChannel>,
    /// Counters.
    pub stats: Arc<Stats>,
}

/// One heartbeat channel as a receive loop sees it.
#[derive(Clone)]
pub struct RxChannel {
    /// Its index: 0 is the primary interface, k the k-th entry of `channels:`.
    pub index: usize,
    /// Unicast peers; when set, adverts from anyone else are not this channel's. `None`:
    /// multicast, anyone on the link.
    pub peers: Option<Vec<IpAddr>>,
    /// The channel's own counters.
    pub stats: Arc<Stats>,
}

impl Route {
    /// The channel an advert from `src` arrived on: a unicast channel that lists `src`, else
    /// the multicast one.
    fn channel_of(&self, src: IpAddr) -> Option<&RxChannel> {
        let listed = |c: &&RxChannel| c.peers.as_ref().is_some_and(|p| p.contains(&src));
        self.channels
            .iter()
            .find(listed)
            .or_else(|| self.channels.iter().find(|c| c.peers.is_none()))
    }
}

thread_local! {
    /// When the last pause after a burst ended, of whichever receive loop of the thread.
    static LAST_PAUSE_END: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Full batches read in a row before the loop yields: a flood of adverts on one interface
/// must not starve the router tasks and timers that share the runtime's threads.
const BATCHES_PER_TURN: usize = 4;

/// Receives on `socket` until it fails for good. `own` are this host's addresses: a packet
/// from one of them is our own and is ignored. `timer` holds the routers' deadlines, which
/// a pause after a burst must not delay ([`burst`]); without it, the loop never pauses.
///
/// With `routine`, `socket` carries resignations only and `routine` every other advert,
/// read late while every router here reads late (see `late_reads`).
pub async fn run(
    socket: Arc<VrrpSocket>,
    routine: Option<RoutineSocket>,
    iface: String,
    routes: Arc<RwLock<Routes>>,
    own: Vec<IpAddr>,
    timer: Option<SharedTimer>,
) {
    // Listed for the metrics while this loop runs (the future is dropped with it).
    let (stats, _listed) = socket_counters::register(&iface, socket.family());
    let mut rx = Receiver {
        family: socket.family(),
        iface,
        own,
        stats,
        limiter: LogLimiter::new(Duration::from_secs(10)),
    };
    let mut late = routine.map(LateReader::new);
    // When `socket` was last found empty.
    let mut floor = Instant::now();
    // Full batches read in a row: the queue has not run dry since the last wait.
    let mut full_batches = 0;
    loop {
        let mut signal = std::pin::pin!(late_reads::signal());
        signal.as_mut().enable();
        if let Some(late) = &mut late {
            let each =
                &mut |packets: &[std::io::Result<RecvPacket>]| rx.handle_all(&routes, packets);
            let drops = late.look(&routes, &socket, each);
            rx.count_drops(drops);
        }
        // Readiness stays set while packets are queued, so only the first batch after the
        // queue ran dry waits for the poller; a batch short of full means it ran dry again.
        // One look at the routes per batch: a reload waits for at most a batch.
        let woke = tokio::select! {
            // The routine socket first: the adverts that came before a resignation
            // are judged before it.
            biased;
            ready = routine_ready(late.as_ref()) => Woke::Routine(ready),
            ready = socket.ready() => Woke::Socket(ready),
            () = &mut signal => Woke::Signal,
            () = routine_wait(late.as_ref()) => Woke::Due,
        };
        let read = match woke {
            Woke::Socket(Ok(ready)) => {
                if let Some(late) = &mut late {
                    // The same, while the routine socket is not watched.
                    late.read_queued(&mut |packets| rx.handle_all(&routes, packets));
                }
                let before = Instant::now();
                match ready.read_each(floor, &mut |packets| rx.handle_all(&routes, packets)) {
                    Ok(Some(read)) => {
                        if read < BATCH_SLOTS {
                            floor = before;
                        }
                        read
                    }
                    Ok(None) => continue,
                    Err(error) => {
                        warn!(interface = %rx.iface, %error, "receive failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
            }
            Woke::Socket(Err(error)) | Woke::Routine(Err(error)) => {
                warn!(interface = %rx.iface, %error, "receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Woke::Routine(Ok(())) => {
                let late = late.as_mut().expect("only a routine socket is ready so");
                late.read_ready(&mut |packets| rx.handle_all(&routes, packets))
            }
            Woke::Signal => continue,
            Woke::Due => {
                let late = late.as_mut().expect("only a routine socket waits so");
                let drops = late.read_all(&mut |packets| rx.handle_all(&routes, packets));
                rx.count_drops(drops);
                continue;
            }
        };
        if read < BATCH_SLOTS {
            full_batches = 0;
            if let Some(timer) = &timer {
                pause_after(read, timer).await;
            }
        } else {
            full_batches += 1;
            if full_batches == BATCHES_PER_TURN {
                full_batches = 0;
                tokio::task::yield_now().await;
            }
        }
    }
}

/// What woke a receive loop.
enum Woke<'a> {
    Socket(std::io::Result<Ready<'a>>),
    /// The routine socket, watched: its guard is taken again to read (see `late`), so that
    /// what woke the loop does not hold the reader.
    Routine(std::io::Result<()>),
    /// A router started or stopped reading late, or one that does is due.
    Signal,
    /// The routine socket, unwatched, must be read before its queue could fill.
    Due,
}

async fn routine_ready(late: Option<&LateReader>) -> std::io::Result<()> {
    match late {
        Some(late) => late.readable().await,
        None => std::future::pending().await,
    }
}

async fn routine_wait(late: Option<&LateReader>) {
    match late {
        Some(late) => late.wait().await,
        None => std::future::pending().await,
    }
}

/// After a read of `read` datagrams, sleeps the thread if [`burst::pause`] says so (the
/// thread's sleep, not the task's: see `burst`). Tasks already runnable run first: a router
/// woken by its deadline, or one a control input woke, waits in no timer, so the timer's
/// earliest deadline cannot speak for it, and the sleep would hold it.
async fn pause_after(read: usize, timer: &SharedTimer) {
    let clock = || burst::Clock {
        next_deadline: timer.next_deadline(),
        last_pause_end: LAST_PAUSE_END.get(),
        now: Instant::now(),
    };
    if burst::pause(read, BATCH_SLOTS, clock).is_none() {
        return;
    }
    tokio::task::yield_now().await;
    // Asked again: the tasks that ran may have moved their deadlines.
    if let Some(pause) = burst::pause(read, BATCH_SLOTS, clock) {
        std::thread::sleep(pause);
        LAST_PAUSE_END.set(Some(Instant::now()));
    }
}

/// What the receive loop of one socket keeps between packets.
struct Receiver {
    family: Family,
    iface: String,
    own: Vec<IpAddr>,
    /// Packets that belong to no instance (malformed, other VRIDs, our own) are counted
    /// here, and exported per socket.
    stats: Arc<Stats>,
    limiter: LogLimiter,
}

impl Receiver {
    /// Judges every packet of a batch, with one look at the routes.
    fn handle_all(&mut self, routes: &RwLock<Routes>, packets: &[std::io::Result<RecvPacket>]) {
        let table = routes.read().unwrap_or_else(|e| e.into_inner());
        for pkt in packets {
            self.handle(&table, pkt);
        }
    }

    /// Counts datagrams the kernel dropped from a full routine socket: read late, it held
    /// more than it had room for (a flood).
    fn count_drops(&self, drops: u32) {
        if drops > 0 {
            self.stats.bump_by("queue_full", u64::from(drops));
            warn!(interface = %self.iface, drops, "the routine VRRP socket was full: adverts dropped");
        }
    }

    /// Judges one packet of a batch and hands it to its instance, or counts why not.
    fn handle(&mut self, table: &Routes, pkt: &std::io::Result<RecvPacket>) {
        let iface = &self.iface;
        let pkt = match pkt {
            Ok(pkt) => pkt,
            Err(error) => {
                // The rest of the batch is fine: count this one and carry on.
                self.stats.bump("unreadable");
                let any = IpAddr::from([0, 0, 0, 0]);
                if let Some(held) = self.limiter.allow(Instant::now(), any, "unreadable") {
                    warn!(interface = %iface, %error, suppressed = held, "unreadable packet");
                }
                return;
            }
        };
        if self.own.contains(&pkt.src) {
            self.stats.bump("own_adverts");
            return;
        }
        let parsed = match self.family {
            Family::V4 => packet::parse_ipv4(&pkt.data),
            Family::V6 => packet::parse_vrrp(&pkt.data, pkt.src, pkt.dst, pkt.hop_limit),
        };
        let rx = match parsed {
            Ok(rx) => rx,
            Err(reject) => {
                self.stats.bump(reject.label());
                if let Some(held) = self.limiter.allow(Instant::now(), pkt.src, reject.label()) {
                    warn!(interface = %iface, src = %pkt.src, reason = reject.label(), suppressed = held, "dropped malformed packet: {reject}");
                }
                return;
            }
        };
        let Some(route) = table.get(&rx.advert.vrid) else {
            // Other clusters share LANs all the time: count, and say so only at debug level.
            self.stats.bump(Reject::UnknownVrid(rx.advert.vrid).label());
            debug!(interface = %iface, src = %rx.src, vrid = rx.advert.vrid, "advert for a VRID we do not run");
            return;
        };
        let Some(channel) = route.channel_of(rx.src) else {
            route.stats.bump("not_a_unicast_peer");
            if let Some(held) = self
                .limiter
                .allow(Instant::now(), rx.src, "not_a_unicast_peer")
            {
                warn!(instance = %route.name, src = %rx.src, suppressed = held, "dropped advert from an address that is not a configured unicast peer");
            }
            return;
        };
        let arrival = match channel.peers {
            None => Arrival::Multicast,
            Some(_) => Arrival::Unicast,
        };
        deliver(route, channel, rx, arrival, Some(pkt.arrived));
    }
}

/// Hands a well-formed advert to the router of `route` as arrived on `channel` at
/// `arrived` (`None`: now); the router judges it and reports what became of it.
pub(super) fn deliver(
    route: &Route,
    channel: &RxChannel,
    rx: Received,
    arrival: Arrival,
    arrived: Option<Instant>,
) {
    route.router.deliver(
        Packet {
            received: rx,
            channel: channel.index,
            arrival,
        },
        arrived,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_task_already_runnable_runs_before_the_pause() {
        let timer = SharedTimer::start().expect("a timerfd");
        // Runnable, not yet run: what a router woken by its deadline is at that moment.
        let woken = tokio::spawn(async { LAST_PAUSE_END.get() });
        pause_after(2, &timer).await;
        assert!(LAST_PAUSE_END.get().is_some(), "the burst paused");
        assert_eq!(
            woken.await.expect("the task ran"),
            None,
            "the runnable task ran only after the thread's sleep"
        );
    }
}
