//! The per-path writer's queue of a sealed channel whose frames go over a link that can be
//! slow or down (a TCP connection, a serial line): the router task pushes and never waits;
//! the link's own task takes frames out and writes them.
//!
//! The queue holds [`QUEUE_FRAMES`]. When the link stops draining it, the oldest frame is
//! dropped and counted (`{type}_queue_dropped`), since a fresh advert is worth more than a
//! stale one. While the link is down, a push is refused ([`NotConnected`]): the caller
//! counts it as a send error. The link's state is shown per peer in the channel's status.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::stats::{Stats, prefixed};

/// Frames queued for a peer while the link is slow; the oldest goes first.
pub const QUEUE_FRAMES: usize = 8;

/// A frame could not be queued: the link to the peer is down now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotConnected;

/// Tells links apart in the channel's link table (see [`Stats::link`]).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One link's queue, shared by the router task's sending half and the link's task.
pub struct FrameQueue {
    /// The transport's `type:` word: its counters' prefix.
    prefix: &'static str,
    id: u64,
    /// Whom the link reaches: shown with its state in the channel's status.
    peer: IpAddr,
    queue: Mutex<VecDeque<Vec<u8>>>,
    /// Woken on every push: the queue's own, or its line's when one writer drains several.
    wake: Arc<Notify>,
    up: AtomicBool,
    /// The channel's counters.
    stats: Arc<Stats>,
}

impl FrameQueue {
    /// An empty queue of a link (down) to `peer`, counting on `stats` under `prefix`.
    pub fn new(prefix: &'static str, peer: IpAddr, stats: Arc<Stats>) -> Self {
        Self::waking(prefix, peer, stats, Arc::new(Notify::new()))
    }

    /// The same, waking `wake` on every push: one writer draining several queues (a
    /// serial line shared by instances) waits on it.
    pub fn waking(
        prefix: &'static str,
        peer: IpAddr,
        stats: Arc<Stats>,
        wake: Arc<Notify>,
    ) -> Self {
        let q = FrameQueue {
            prefix,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            peer,
            queue: Mutex::new(VecDeque::with_capacity(QUEUE_FRAMES)),
            wake,
            up: AtomicBool::new(false),
            stats,
        };
        q.stats.link(peer, q.id, false);
        q
    }

    /// Queues a sealed frame, dropping the oldest queued one if the queue is full. Never
    /// waits.
    pub fn push(&self, frame: Vec<u8>) -> Result<(), NotConnected> {
        if !self.up.load(Ordering::Acquire) {
            return Err(NotConnected);
        }
        let mut queue = lock(&self.queue);
        if queue.len() >= QUEUE_FRAMES {
            queue.pop_front();
            self.count("queue_dropped");
        }
        queue.push_back(frame);
        drop(queue);
        self.wake.notify_one();
        Ok(())
    }

    /// Marks the link up or down. Frames queued for an earlier link are stale either way.
    pub fn set_up(&self, up: bool) {
        lock(&self.queue).clear();
        self.up.store(up, Ordering::Release);
        self.stats.link(self.peer, self.id, up);
    }

    /// The oldest queued frame, if any; never waits.
    pub fn pop(&self) -> Option<Vec<u8>> {
        lock(&self.queue).pop_front()
    }

    /// The next frame to write, waiting for one at most `idle`; `None` when none came (the
    /// link's writer sends a keepalive then).
    pub async fn next(&self, idle: Duration) -> Option<Vec<u8>> {
        loop {
            if let Some(frame) = lock(&self.queue).pop_front() {
                return Some(frame);
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(idle) => return lock(&self.queue).pop_front(),
            }
        }
    }

    /// Counts a link event (`reconnects`, `connect_failures`, `write_timeouts`) under the
    /// transport's prefix.
    pub fn count(&self, event: &'static str) {
        self.stats.bump(prefixed(self.prefix, event));
    }
}

impl FrameQueue {
    /// Takes the link off the channel's status now (its handle is gone, though its task
    /// may hold the queue a moment longer).
    pub fn forget(&self) {
        self.stats.forget_link(self.peer, self.id);
    }
}

impl Drop for FrameQueue {
    fn drop(&mut self) {
        self.forget();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_down_link_refuses_and_a_full_queue_drops_its_oldest_frame() {
        let stats = Arc::new(Stats::default());
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let q = FrameQueue::new("serial", peer, stats.clone());
        assert_eq!(q.push(vec![0]), Err(NotConnected));
        assert_eq!(stats.links().get(&peer), Some(&false));
        q.set_up(true);
        for n in 0..20u8 {
            q.push(vec![n]).unwrap();
        }
        let dropped = 20 - QUEUE_FRAMES as u64;
        assert_eq!(stats.snapshot()["serial_queue_dropped"], dropped);
        // The newest frames are kept, oldest first.
        let kept: Vec<u8> = std::iter::from_fn(|| q.pop()).map(|f| f[0]).collect();
        assert_eq!(kept, (dropped as u8..20).collect::<Vec<_>>());
        // Going down drops what is queued: stale by the time the link is back.
        q.push(vec![99]).unwrap();
        q.set_up(false);
        assert_eq!(q.pop(), None);
        drop(q);
        assert!(
            stats.links().is_empty(),
            "a dropped queue leaves no link state"
        );
    }
}
