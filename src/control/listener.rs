//! What the two local listeners (control socket, metrics) share so that no client can cost
//! more than a few descriptors: a cap on open connections, eviction of idle ones, and an
//! accept loop that backs off when descriptors run out.
//!
//! Decisions are pure ([`Slots`], [`Backoff`], [`LogBudget`]); [`run`] carries them out.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::warn;

/// Connections open at once per listener. Both listeners together stay far below a
/// 1,024-descriptor limit, leaving the rest for sockets, netlink, checks and notify scripts.
pub const CAP: usize = 32;
/// How long a client may take to send its request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one answer (or one event) may take to be written.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a new connection gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// A free slot, under this id.
    Open(u64),
    /// The slot of `victim`, the oldest connection that has not sent its request yet.
    Evict {
        /// The new connection's id.
        id: u64,
        /// The idle connection to close.
        victim: u64,
    },
    /// Every slot is busy with a request: closed at once.
    Refuse,
}

/// The connection slots of one listener. A client that connected and sent nothing is the
/// cheapest to drop: when all slots are taken, a new connection takes the oldest idle one's
/// slot, so a flood of idle connections cannot lock out `vipd status`. Connections that
/// sent a request keep their slot until they finish (their writes are bounded by a timeout).
#[derive(Debug)]
pub struct Slots {
    cap: usize,
    next: u64,
    live: HashSet<u64>,
    idle: VecDeque<u64>,
}

impl Slots {
    /// Slots for at most `cap` connections.
    pub fn new(cap: usize) -> Slots {
        Slots {
            cap,
            next: 0,
            live: HashSet::new(),
            idle: VecDeque::new(),
        }
    }

    /// A connection arrived.
    pub fn admit(&mut self) -> Admit {
        if self.live.len() >= self.cap {
            let Some(victim) = self.idle.pop_front() else {
                return Admit::Refuse;
            };
            self.live.remove(&victim);
            let id = self.open();
            return Admit::Evict { id, victim };
        }
        Admit::Open(self.open())
    }

    fn open(&mut self) -> u64 {
        let id = self.next;
        self.next += 1;
        self.live.insert(id);
        self.idle.push_back(id);
        id
    }

    /// Connection `id` sent its request: it can no longer be evicted.
    pub fn answered(&mut self, id: u64) {
        self.idle.retain(|&i| i != id);
    }

    /// Connection `id` ended (a no-op for an evicted one: its slot was handed on).
    pub fn closed(&mut self, id: u64) {
        self.live.remove(&id);
        self.idle.retain(|&i| i != id);
    }

    /// Connections holding a slot.
    pub fn open_count(&self) -> usize {
        self.live.len()
    }
}

/// The pause after a failed accept. Without one, a listener whose accept fails with EMFILE
/// wakes up at once for the same pending connection, for ever (a busy loop). The pause
/// doubles with each failure in a row, up to one second, and starts again after a success.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The first pause.
    pub const MIN: Duration = Duration::from_millis(10);
    /// The longest pause.
    pub const MAX: Duration = Duration::from_secs(1);

    /// An accept failed: how long to wait before the next one.
    pub fn failed(&mut self) -> Duration {
        let pause = Self::MIN.saturating_mul(1 << self.failures.min(7));
        self.failures = self.failures.saturating_add(1);
        pause.min(Self::MAX)
    }

    /// An accept succeeded.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }
}

/// At most one log line per `every`; the lines held back are counted and reported with the
/// next one.
#[derive(Debug)]
pub struct LogBudget {
    every: Duration,
    last: Option<Instant>,
    held: u64,
}

impl LogBudget {
    /// A budget of one line per `every`.
    pub fn new(every: Duration) -> LogBudget {
        LogBudget {
            every,
            last: None,
            held: 0,
        }
    }

    /// Something worth a line happened at `now`: `Some(lines held back since the last one)`
    /// if it may be logged.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.every => {
                self.held += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held))
            }
        }
    }
}

/// What happened to a listener's connections, for the metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections accepted and served.
    pub accepted: AtomicU64,
    /// Connections closed at once because every slot was busy.
    pub refused: AtomicU64,
    /// Idle connections closed to make room for a new one.
    pub evicted: AtomicU64,
    /// Connections closed because a request or a write took too long.
    pub timed_out: AtomicU64,
    /// Failed accepts (EMFILE, ENFILE, ENOBUFS...).
    pub accept_errors: AtomicU64,
}

impl Counters {
    /// (outcome, count) pairs, for the metrics.
    pub fn snapshot(&self) -> [(&'static str, u64); 5] {
        [
            ("accepted", self.accepted.load(Relaxed)),
            ("refused", self.refused.load(Relaxed)),
            ("evicted", self.evicted.load(Relaxed)),
            ("timed_out", self.timed_out.load(Relaxed)),
            ("accept_errors", self.accept_errors.load(Relaxed)),
        ]
    }
}

struct Book {
    slots: Slots,
    kick: HashMap<u64, oneshot::Sender<()>>,
}

/// A listener's shared state: its slots and counters.
pub struct Board {
    name: &'static str,
    book: Mutex<Book>,
    /// Its counters.
    pub counters: Arc<Counters>,
}

impl Board {
    /// The board of the listener called `name` (for the logs), with `cap` slots.
    pub fn new(name: &'static str, cap: usize, counters: Arc<Counters>) -> Arc<Board> {
        Arc::new(Board {
            name,
            book: Mutex::new(Book {
                slots: Slots::new(cap),
                kick: HashMap::new(),
            }),
            counters,
        })
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection, or `None` if it must be closed at once.
    pub fn admit(self: &Arc<Board>) -> Option<Ticket> {
        let mut book = self.book();
        let id = match book.slots.admit() {
            Admit::Refuse => {
                self.counters.refused.fetch_add(1, Relaxed);
                return None;
            }
            Admit::Open(id) => id,
            Admit::Evict { id, victim } => {
                if let Some(kick) = book.kick.remove(&victim) {
                    let _ = kick.send(());
                }
                self.counters.evicted.fetch_add(1, Relaxed);
                id
            }
        };
        let (tx, rx) = oneshot::channel();
        book.kick.insert(id, tx);
        self.counters.accepted.fetch_add(1, Relaxed);
        Some(Ticket {
            id,
            board: self.clone(),
            evicted: Some(rx),
        })
    }

    /// Connections holding a slot now.
    pub fn open_count(&self) -> usize {
        self.book().slots.open_count()
    }
}

/// One connection's slot; dropping it frees the slot.
pub struct Ticket {
    id: u64,
    board: Arc<Board>,
    evicted: Option<oneshot::Receiver<()>>,
}

impl Ticket {
    /// The request arrived: the connection is no longer idle and cannot be evicted.
    pub fn answered(&self) {
        let mut book = self.board.book();
        book.slots.answered(self.id);
        book.kick.remove(&self.id);
    }

    /// The signal that this connection was evicted, to wait on beside its work.
    pub fn eviction(&mut self) -> Eviction {
        Eviction(self.evicted.take())
    }

    /// Counts a timeout on this listener.
    pub fn timed_out(&self) {
        self.board.counters.timed_out.fetch_add(1, Relaxed);
    }
}

/// See [`Ticket::eviction`].
pub struct Eviction(Option<oneshot::Receiver<()>>);

impl Eviction {
    /// Resolves when the connection was evicted; never, once it has sent its request.
    pub async fn wait(self) {
        if let Some(rx) = self.0
            && rx.await.is_ok()
        {
            return;
        }
        // Answered: the sender was dropped, and no eviction can come any more.
        std::future::pending().await
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut book = self.board.book();
        book.slots.closed(self.id);
        book.kick.remove(&self.id);
    }
}

/// A listening socket that yields connected streams.
pub trait Accept {
    /// A connected stream.
    type Stream: Send + 'static;
    /// The next connection.
    fn next(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Accept for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn next(&self) -> io::Result<Self::Stream> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Accept for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn next(&self) -> io::Result<Self::Stream> {
        self.accept().await.map(|(s, _)| s)
    }
}

/// Accepts connections for ever, serving each admitted one with `serve` in a task of its own
/// and closing the others at once.
pub async fn run<L, F, Fut>(listener: L, board: Arc<Board>, serve: F)
where
    L: Accept,
    F: Fn(L::Stream, Ticket) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = Backoff::default();
    let mut budget = LogBudget::new(Duration::from_secs(10));
    loop {
        match listener.next().await {
            Ok(stream) => {
                backoff.succeeded();
                match board.admit() {
                    Some(ticket) => {
                        tokio::spawn(serve(stream, ticket));
                    }
                    None => drop(stream),
                }
            }
            Err(e) => {
                board.counters.accept_errors.fetch_add(1, Relaxed);
                let pause = backoff.failed();
                if let Some(held) = budget.allow(Instant::now()) {
                    warn!(
                        listener = board.name,
                        error = %e,
                        ?pause,
                        "accept failed; pausing ({held} more such lines suppressed)"
                    );
                }
                tokio::time::sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests;
