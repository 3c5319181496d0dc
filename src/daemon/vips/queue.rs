//! A work queue whose worker task exists only while there is work.
//!
//! An instance's address worker acts at a state change and during the announcement burst
//! that follows, and is idle the rest of the time: with a thousand instances on a host, a
//! parked task and an unbounded channel each (some 3 KB) would be most of what an instance
//! costs. Here the worker's state waits in the queue, and the first operation pushed onto an
//! idle queue spawns a task that takes the state, drains the queue (and whatever the state
//! still has to do on its own: a paced burst), puts the state back and ends.
//!
//! At most one task holds the state, so operations run one at a time and in push order: an
//! operation pushed while a task runs is left to that task, which looks at the queue again
//! before it gives the state back, under the same lock the push takes.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::daemon::end_signal::{EndSignal, until_ended};
use tokio::time::Instant as TokioInstant;

/// What a queue's worker does with its operations.
pub trait Work: Send + 'static {
    /// One queued operation.
    type Op: Send + 'static;
    /// Carries out one operation.
    fn run(&mut self, op: Self::Op) -> impl Future<Output = ()> + Send;
    /// When the worker has something of its own to do next (the next paced frame), if
    /// ever; the task stays while this says so, and waits for it or the next operation.
    fn next_due(&self) -> Option<Instant>;
    /// Does what is due now; called after every operation and when `next_due` comes.
    fn tick(&mut self);
}

/// The sending side of a worker's queue; clones share the queue.
pub struct WorkQueue<W: Work>(Arc<Shared<W>>);

impl<W: Work> Clone for WorkQueue<W> {
    fn clone(&self) -> Self {
        WorkQueue(self.0.clone())
    }
}

struct Shared<W: Work> {
    inner: Mutex<Inner<W>>,
    /// Where the worker task runs: the runtime the queue was made on, whoever pushes.
    runtime: Handle,
    /// Wakes a worker that waits for a paced frame, so a new operation runs at once.
    wake: Notify,
}

struct Inner<W: Work> {
    ops: VecDeque<W::Op>,
    /// The worker's state while no task runs; `None` while one holds it. Operations are
    /// queued only while a task runs: a push onto an idle queue starts one. Boxed so that
    /// a task carries a pointer, not the state: when every instance changes state at once
    /// (a host's first start), each has a task, and their memory stays with the allocator.
    idle: Option<Box<W>>,
    closed: bool,
    /// A worker task ended without giving its state back (it panicked, or the runtime shut
    /// down): nothing runs operations any more, as when a channel's receiver is gone.
    lost: bool,
    /// Told when the worker task ends, for [`WorkQueue::finished`].
    ended: EndSignal,
}

impl<W: Work> WorkQueue<W> {
    /// An idle queue around `state`. Must be called inside a tokio runtime: workers run on
    /// it.
    pub fn new(state: W) -> Self {
        WorkQueue(Arc::new(Shared {
            inner: Mutex::new(Inner {
                ops: VecDeque::new(),
                idle: Some(Box::new(state)),
                closed: false,
                lost: false,
                ended: EndSignal::default(),
            }),
            runtime: Handle::current(),
            wake: Notify::new(),
        }))
    }

    /// Queues `op` behind the others, starting a worker if none runs. Returns at once;
    /// `false` (and `op` dropped) once the queue is closed or its worker is lost.
    pub fn push(&self, op: W::Op) -> bool {
        let mut inner = self.0.lock();
        if inner.closed || inner.lost {
            return false;
        }
        inner.ops.push_back(op);
        let idle = inner.idle.take();
        drop(inner);
        match idle {
            Some(state) => {
                let running = Running {
                    shared: self.0.clone(),
                    gave_back: false,
                };
                self.0.runtime.spawn(running.drive(state));
            }
            // The running task sees the op at its next look; this wakes it if it waits.
            None => self.0.wake.notify_one(),
        }
        true
    }

    /// Takes no more operations; those queued still run. See [`Self::finished`].
    pub fn close(&self) {
        self.0.lock().closed = true;
        // A worker waiting for a paced frame ends now rather than at the frame.
        self.0.wake.notify_one();
    }

    /// Completes once the queue is closed and its worker has ended (or was lost), i.e.
    /// every operation pushed before [`Self::close`] has run. Frames of a paced burst that
    /// were not due yet are not waited for, as a worker fed by a channel stopped when the
    /// channel closed.
    pub async fn finished(&self) {
        until_ended(|| {
            let mut inner = self.0.lock();
            let ended = inner.closed && (inner.idle.is_some() || inner.lost);
            (!ended).then(|| inner.ended.watch())
        })
        .await;
    }

    /// Whether no worker task holds the state (nothing queued, no burst going out).
    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        self.0.lock().idle.is_some()
    }

    /// The size of what clones of a queue share (without its `Arc`'s counts), for the
    /// daemon's size budget.
    #[cfg(test)]
    pub fn shared_size() -> usize {
        size_of::<Shared<W>>()
    }

    /// How many operations the queue has room for without growing.
    #[cfg(test)]
    pub fn room(&self) -> usize {
        self.0.lock().ops.capacity()
    }

    /// Runs `f` on the idle worker's state; `None` while a task holds it.
    #[cfg(test)]
    pub fn with_idle<T>(&self, f: impl FnOnce(&W) -> T) -> Option<T> {
        self.0.lock().idle.as_deref().map(f)
    }
}

impl<W: Work> Shared<W> {
    fn lock(&self) -> MutexGuard<'_, Inner<W>> {
        // A panic never happens with the lock held (no user code runs under it); if one
        // did, the queue's data is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The one running worker task's claim on the queue; dropped without giving the state back
/// (a panic, a runtime shutting down), it marks the worker lost so nothing waits for it.
struct Running<W: Work> {
    shared: Arc<Shared<W>>,
    gave_back: bool,
}

impl<W: Work> Running<W> {
    async fn drive(mut self, mut state: Box<W>) {
        loop {
            let op = {
                let mut inner = self.shared.lock();
                match inner.ops.pop_front() {
                    Some(op) => Some(op),
                    None => {
                        // A closed queue ends once drained, even with a burst still paced.
                        let due = state.next_due().filter(|_| !inner.closed);
                        if due.is_none() {
                            // Under the lock: a push after this finds the state and starts
                            // a new task; one before it was popped above.
                            inner.idle = Some(state);
                            // The drained queue's room goes back: state changes are seconds
                            // or hours apart, and every instance has a queue.
                            inner.ops = VecDeque::new();
                            let ended = inner.ended.take();
                            drop(inner);
                            self.gave_back = true;
                            drop(ended);
                            return;
                        }
                        None
                    }
                }
            };
            match op {
                Some(op) => {
                    state.run(op).await;
                    state.tick();
                }
                None => {
                    let due = state.next_due().map(TokioInstant::from_std);
                    let due = due.unwrap_or_else(TokioInstant::now);
                    tokio::select! {
                        // A new operation (or a stale wake-up from one already taken):
                        // look at the queue again.
                        _ = self.shared.wake.notified() => {}
                        _ = tokio::time::sleep_until(due) => state.tick(),
                    }
                }
            }
        }
    }
}

impl<W: Work> Drop for Running<W> {
    fn drop(&mut self) {
        if !self.gave_back {
            let mut inner = self.shared.lock();
            inner.lost = true;
            let ended = inner.ended.take();
            drop(inner);
            drop(ended);
        }
    }
}
