//! A receive loop's routine socket (see `late_reads`): whether the poller watches it, and
//! reading it all when a router's deadline asks, or before its queue could fill.

use std::io;
use std::net::IpAddr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use tracing::warn;

use super::Routes;
use crate::daemon::late_reads::Seen;
use crate::net::vrrp_socket::MOST_SOURCES;
use crate::net::{BATCH_SLOTS, QueueFill, RecvPacket, RoutineSocket, VrrpSocket};

/// The longest an unwatched socket goes unread: its routers' deadlines read it sooner.
const LONGEST_WAIT: Duration = Duration::from_secs(1);
/// The shortest: under a flood the socket is read this often at most, a batch at a time.
const SHORTEST_WAIT: Duration = Duration::from_millis(1);

/// The routine socket of one receive loop, and what the loop knows of it.
pub(super) struct LateReader {
    socket: RoutineSocket,
    seen: Seen,
    /// When the socket was last found empty: nothing read later can have arrived before.
    floor: Instant,
    /// When it must be read next at the latest, while unwatched, and when its fill is next
    /// asked.
    backstop: Backstop,
    /// Datagrams the kernel dropped from it so far, as last counted.
    drops: u32,
}

/// What the datagrams read are handed to.
pub(super) type Each<'a> = dyn FnMut(&[io::Result<RecvPacket>]) + 'a;

impl LateReader {
    pub(super) fn new(socket: RoutineSocket) -> Self {
        LateReader {
            socket,
            seen: Seen::new(),
            floor: Instant::now(),
            backstop: Backstop::default(),
            drops: 0,
        }
    }

    /// Acts on the signals since the last look: the Masters the routers of `routes` follow
    /// decide which adverts wait here (`beside` keeps the rest), and whether every router
    /// reads late whether the poller watches; a router due, or the end of the wait, has the
    /// socket read now. Returns the datagrams the kernel dropped since the last look.
    pub(super) fn look(
        &mut self,
        routes: &RwLock<Routes>,
        beside: &VrrpSocket,
        each: &mut Each<'_>,
    ) -> u32 {
        let news = self.seen.look();
        if news.changed {
            let (sources, late) = followed(routes);
            if let Err(error) = self.socket.follow(beside, &sources) {
                warn!(%error, "the routine VRRP socket's filter could not be changed");
            }
            let late =
                late && !self.socket.sources().is_empty() && self.socket.sources() == sources;
            if let Err(error) = self.socket.set_polled(!late) {
                warn!(%error, "the routine VRRP socket could not be watched or left");
            }
            if !late {
                // What waited is judged now, by routers that no longer wait for it.
                return self.read_all(each);
            }
            if self.backstop.due.is_none() {
                self.backstop.due = Some(tokio::time::Instant::now() + LONGEST_WAIT);
            }
        }
        let due = self
            .backstop
            .due
            .is_some_and(|due| due <= tokio::time::Instant::now());
        if !self.socket.polled() && (news.read || due) {
            return self.read_all(each);
        }
        0
    }

    /// Reads every datagram queued, oldest first, and works out how long the socket may go
    /// unread from how much came since the last read. Returns the drops since the last
    /// count (counted while unwatched: a watched socket is read as its datagrams come).
    pub(super) fn read_all(&mut self, each: &mut Each<'_>) -> u32 {
        // Only an unwatched queue needs its fill: it decides how long it may go unread.
        let unwatched = !self.socket.polled();
        let asked = (unwatched && self.backstop.asks(tokio::time::Instant::now()))
            .then(|| self.socket.fill().ok());
        let since = self.read_queued(each);
        let now = tokio::time::Instant::now();
        match (since, asked) {
            (None, _) => self.backstop.due = Some(now + LONGEST_WAIT),
            (Some(_), _) if !unwatched => self.backstop = Backstop::default(),
            (Some(since), Some(fill)) => self
                .backstop
                .asked(now, wait(fill.unwrap_or_default(), since)),
            (Some(_), None) => self.backstop.read(now),
        }
        let drops = asked.flatten().map_or(self.drops, |f| f.drops);
        let before = std::mem::replace(&mut self.drops, drops);
        drops.wrapping_sub(before)
    }

    /// Reads every datagram queued, oldest first; returns how long the socket filled since
    /// it was last found empty, `None` if reading failed.
    pub(super) fn read_queued(&mut self, each: &mut Each<'_>) -> Option<Duration> {
        loop {
            let before = Instant::now();
            match self.socket.read_now(self.floor, &mut *each) {
                Ok(n) if n == BATCH_SLOTS => continue,
                Ok(_) => {
                    let since = before.saturating_duration_since(self.floor);
                    self.floor = before;
                    return Some(since);
                }
                Err(error) => {
                    warn!(%error, "reading the routine VRRP socket failed");
                    return None;
                }
            }
        }
    }

    /// The poller reports datagrams queued; never while it does not watch.
    pub(super) async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Reads a batch the poller reported, as the loop reads its other socket.
    pub(super) fn read_ready(&mut self, each: &mut Each<'_>) -> usize {
        let ready = match self.socket.ready_now() {
            Some(Ok(ready)) => ready,
            Some(Err(error)) => {
                warn!(%error, "the routine VRRP socket failed");
                return 0;
            }
            None => return 0,
        };
        let before = Instant::now();
        match ready.read_each(self.floor, each) {
            Ok(Some(n)) => {
                if n < BATCH_SLOTS {
                    self.floor = before;
                }
                n
            }
            Ok(None) => 0,
            Err(error) => {
                warn!(%error, "reading the routine VRRP socket failed");
                0
            }
        }
    }

    /// Until the socket must be read, while the poller does not watch it; never else.
    pub(super) async fn wait(&self) {
        match self.backstop.due {
            Some(due) if !self.socket.polled() => tokio::time::sleep_until(due).await,
            _ => std::future::pending().await,
        }
    }
}

/// When an unwatched socket must be read at the latest, and when a read next asks the kernel
/// how full its queue is (`SO_MEMINFO`: one system call, about 1 % of a Backup's time at
/// 5,000 adverts a second when every read made it).
///
/// A read between two asks counts the wait the last ask set from itself, as that ask would
/// have: the wait allows for four times the rate seen, and that rate is at most half a wait
/// old. So the fill is asked about twice per wait (at 50 instances at 10 ms, every second or
/// third read of the routers' deadlines; with one instance, twice a second where it was
/// thirty times). The wait moves with every read, as it did when every read asked: a wait
/// left where an ask set it would come within the runtime's next timer level, which wakes
/// the thread to move it there.
#[derive(Clone, Copy, Debug, Default)]
struct Backstop {
    due: Option<tokio::time::Instant>,
    next_ask: Option<tokio::time::Instant>,
    /// How long the last ask allowed the socket to go unread.
    wait: Duration,
}

impl Backstop {
    /// Whether a read at `now` asks the fill: when no wait is set, or half of it has passed.
    fn asks(&self, now: tokio::time::Instant) -> bool {
        self.due.is_none() || self.next_ask.is_none_or(|at| at <= now)
    }

    /// A read at `now` asked the fill, which allows the socket to go unread `wait`.
    fn asked(&mut self, now: tokio::time::Instant, wait: Duration) {
        self.wait = wait;
        self.next_ask = Some(now + wait / 2);
        self.read(now);
    }

    /// A read at `now` emptied the queue without asking its fill.
    fn read(&mut self, now: tokio::time::Instant) {
        self.due = Some(now + self.wait);
    }
}

/// The Masters the routers of `routes` follow while they read late, sorted, and whether
/// every one of them does (and the filter can name them all).
fn followed(routes: &RwLock<Routes>) -> (Vec<IpAddr>, bool) {
    let table = routes.read().unwrap_or_else(|e| e.into_inner());
    let mut sources = Vec::new();
    let mut all = true;
    for route in table.values() {
        match route.router.late_source() {
            Some(source) => sources.push(source),
            None => all = false,
        }
    }
    sources.sort_unstable();
    sources.dedup();
    if sources.len() > MOST_SOURCES {
        sources.clear();
        all = false;
    }
    (sources, all)
}

/// How long the socket may go unread after a read that found `fill` queued `since` the read
/// before: until it would be a quarter full at the same rate, which leaves room for a
/// rate four times as high. Between [`SHORTEST_WAIT`] and [`LONGEST_WAIT`].
fn wait(fill: QueueFill, since: Duration) -> Duration {
    if fill.queued == 0 {
        return LONGEST_WAIT;
    }
    let share = f64::from(fill.room / 4) / f64::from(fill.queued);
    since
        .mul_f64(share.min(1e6))
        .clamp(SHORTEST_WAIT, LONGEST_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(queued: u32, room: u32) -> QueueFill {
        QueueFill {
            queued,
            room,
            drops: 0,
        }
    }

    #[test]
    fn the_wait_ends_before_the_queue_is_a_quarter_full() {
        let ms = Duration::from_millis;
        // A tenth of the room in 40 ms: a quarter in 100 ms.
        assert_eq!(wait(fill(100_000, 1_000_000), ms(40)), ms(100));
        // Nothing came: the routers' deadlines read it.
        assert_eq!(wait(fill(0, 1_000_000), ms(40)), LONGEST_WAIT);
        // A flood: as short as allowed.
        assert_eq!(wait(fill(900_000, 1_000_000), ms(1)), SHORTEST_WAIT);
        // Slow: capped.
        assert_eq!(wait(fill(10, 1_000_000), ms(500)), LONGEST_WAIT);
    }

    const ROOM: u32 = 1 << 21;

    /// Reads every `every` of a queue that fills at `bytes_per_ms(read)`, as a Backup's
    /// deadlines read it: how many of them asked the fill. At every read, the queue that
    /// the rate then would have filled by the backstop must fit the room.
    fn reads(every: Duration, bytes_per_ms: impl Fn(u32) -> u32, count: u32) -> u32 {
        let start = tokio::time::Instant::now();
        let mut backstop = Backstop::default();
        let mut asks = 0;
        for i in 1..=count {
            let now = start + every * i;
            let rate = bytes_per_ms(i);
            if backstop.asks(now) {
                asks += 1;
                let queued = rate * every.as_millis() as u32;
                backstop.asked(now, wait(fill(queued, ROOM), every));
            } else {
                backstop.read(now);
            }
            let due = backstop.due.expect("a read sets the backstop");
            let by_due = u64::from(rate) * (due - now).as_millis() as u64;
            assert!(due > now, "read {i}: due before the read");
            assert!(
                by_due <= u64::from(ROOM),
                "read {i}: {by_due} bytes by the backstop"
            );
        }
        asks
    }

    #[test]
    fn the_fill_is_asked_twice_a_wait_and_the_backstop_holds_a_rate_four_times_as_high() {
        let ms = Duration::from_millis;
        // 50 instances at 10 ms: about 150 adverts of 1 KB (the kernel's count) each 30 ms,
        // a wait of about 100 ms: every other read asks.
        let asks = reads(ms(30), |_| 5_000, 100);
        assert!((45..=55).contains(&asks), "{asks} asks in 100 reads");
        // One instance: the longest wait, asked twice a second.
        let asks = reads(ms(30), |_| 33, 100);
        assert!((5..=7).contains(&asks), "{asks} asks in 100 reads over 3 s");
        // A flood: the shortest wait, asked at every read.
        assert_eq!(reads(ms(1), |_| 2_000_000, 50), 50);
        // The rate four times as high from one read to the next: the backstop still holds
        // before the next ask sees it.
        let asks = reads(ms(30), |i| if i % 4 < 2 { 5_000 } else { 20_000 }, 100);
        assert!(asks >= 50, "{asks} asks in 100 reads");
    }
}
