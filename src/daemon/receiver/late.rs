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
    /// When it must be read next at the latest, while unwatched.
    due: Option<tokio::time::Instant>,
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
            due: None,
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
            if self.due.is_none() {
                self.due = Some(tokio::time::Instant::now() + LONGEST_WAIT);
            }
        }
        let due = self
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
        let fill = (!self.socket.polled())
            .then(|| self.socket.fill().ok())
            .flatten();
        let since = self.read_queued(each);
        if let Some(since) = since {
            self.due = (!self.socket.polled())
                .then(|| tokio::time::Instant::now() + wait(fill.unwrap_or_default(), since));
        } else {
            self.due = Some(tokio::time::Instant::now() + LONGEST_WAIT);
        }
        let drops = fill.map_or(self.drops, |f| f.drops);
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
        match self.due {
            Some(due) if !self.socket.polled() => tokio::time::sleep_until(due).await,
            _ => std::future::pending().await,
        }
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
}
