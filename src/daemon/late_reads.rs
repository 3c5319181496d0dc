//! Reading a Backup's routine adverts at its deadlines instead of as they come.
//!
//! A Backup of a Master that advertises every 10 ms was woken a hundred times a second to
//! learn, each time, that the Master is still there; the wake-up, not the advert, was most
//! of its CPU, as much as keepalived's. Yet a routine advert (any priority but 0) only moves
//! the Backup's Master_Down deadline ([`crate::vrrp::router::Router::reads_late`]): handed
//! over just before that deadline, dated by when it arrived, it decides the same.
//!
//! So the routine adverts of an interface have a socket of their own
//! ([`crate::net::RoutineSocket`]), which the poller stops watching while every router it
//! serves reads late. It is read:
//! - when a router that reads late is due, before the router acts ([`read_now`]): from the
//!   shared timer, once for every such router due in one expiry, which it serves after the
//!   receive loops have run and only if still due (most are moved on by what was read);
//!   and again from the router's task, which then yields to the receive loops;
//! - when a resignation comes, before it is handed over: the adverts that came before it
//!   are judged before it;
//! - before the queue could fill (the receive loop's own wait, from how fast it filled).
//!
//! The moment any router it serves stops reading late (it becomes Master, asks a gate, a
//! reload adds a router), the poller watches it again ([`changed`]).
//!
//! The signals are the process's: every receive loop runs on the daemon's one runtime
//! thread, and a loop that reads for nothing pays one system call.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// Bumped when a router may have started or stopped reading late, or a route came or went.
static CHANGES: AtomicU64 = AtomicU64::new(0);
/// Bumped when a router that reads late is due.
static READS: AtomicU64 = AtomicU64::new(0);
/// Wakes the receive loops for either.
static SIGNAL: Notify = Notify::const_new();

/// Whether any router may read late is no longer what the receive loops last saw.
pub fn changed() {
    CHANGES.fetch_add(1, Ordering::Relaxed);
    SIGNAL.notify_waiters();
}

/// A router that reads late is due: the receive loops read what their routine sockets hold.
pub fn read_now() {
    READS.fetch_add(1, Ordering::Relaxed);
    SIGNAL.notify_waiters();
}

/// Has the receive loops read what their routine sockets hold, and lets them run (they run
/// before a task that yields is polled again), before the caller acts on what they hand
/// over.
pub async fn read_first() {
    read_now();
    tokio::task::yield_now().await;
}

/// What one receive loop has seen of the signals.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen {
    changes: u64,
    reads: u64,
}

/// What came since a receive loop last looked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct News {
    pub changed: bool,
    pub read: bool,
}

impl Seen {
    /// Nothing seen yet: the first look reports a change, so a loop decides its mode.
    pub fn new() -> Self {
        Seen {
            changes: u64::MAX,
            reads: u64::MAX,
        }
    }

    /// What came since the last look.
    pub fn look(&mut self) -> News {
        let changes = CHANGES.load(Ordering::Relaxed);
        let reads = READS.load(Ordering::Relaxed);
        let news = News {
            changed: changes != self.changes,
            read: reads != self.reads,
        };
        *self = Seen { changes, reads };
        news
    }
}

/// The next signal. Enabled before a loop looks ([`Seen::look`]), it misses none given
/// after the look.
pub fn signal() -> tokio::sync::futures::Notified<'static> {
    SIGNAL.notified()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    // Other tests of the process signal too: only what they cannot undo is asserted.
    async fn a_loop_sees_each_signal_and_is_woken_by_it() {
        let mut seen = Seen::new();
        assert!(seen.look().changed, "the first look decides the mode");
        let woken = tokio::spawn(async {
            let mut signal = std::pin::pin!(signal());
            signal.as_mut().enable();
            signal.await;
        });
        tokio::task::yield_now().await;
        read_now();
        woken.await.expect("the waiting loop was woken");
        assert!(seen.look().read);
        changed();
        assert!(seen.look().changed);
    }
}
