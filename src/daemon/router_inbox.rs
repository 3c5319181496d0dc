//! A router's control lane: a bounded queue with one reader, the router's serving task.
//!
//! Inputs travel boxed, and the queue is a plain locked list. A tokio channel allocates room
//! for 32 messages when it is made, and its shared part is laid out in cache lines of its
//! own: some 820 bytes per instance, for control inputs (reloads, trackers, gates, links)
//! that come a few a minute. This one is about 200 bytes, and each input costs an
//! allocation it can afford. It keeps what the daemon relies on from a tokio channel: a
//! full inbox makes [`RouterInbox::send`] wait and [`RouterInbox::try_send`] fail, sending
//! fails once the router has stopped, and the router sees the end once every sender is
//! gone and the queue is drained.
//!
//! The router has a task only while it has something to do (see `driver`), so the inbox
//! does not wake a waiting reader: it knocks on the router's cell after each input, which
//! wakes the task serving it or starts one.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::{Semaphore, TryAcquireError};

use super::end_signal::{EndSignal, until_ended};

use crate::vrrp::router::Input;

struct Shared {
    queue: Mutex<Queue>,
    /// One permit per free place: a sender takes one before it queues, the reader gives it
    /// back when it takes the input out. Closed when the reader is gone.
    room: Semaphore,
    /// Told of every input queued and of the last sender's end: the router's cell.
    knock: Weak<dyn Knock>,
}

/// What an inbox tells that it has something for its reader.
pub trait Knock: Send + Sync {
    /// An input was queued, or the last sender went. Never called with the inbox's lock
    /// held.
    fn knock(self: Arc<Self>);
}

struct Queue {
    inputs: VecDeque<Box<Input>>,
    /// Live [`RouterInbox`] handles. A u32, as the inbox (one per instance) then fits a
    /// smaller allocation; handles are a few per instance.
    senders: u32,
    /// The [`InboxReceiver`] was dropped.
    closed: bool,
    /// Told when the receiver is dropped, for [`RouterInbox::closed`] (a stop).
    ended: EndSignal,
}

/// A router's control inbox; clones share it.
pub struct RouterInbox(Arc<Shared>);

/// The router's end of its inbox.
pub struct InboxReceiver(Arc<Shared>);

impl RouterInbox {
    /// An inbox for `capacity` inputs, the receiving end the router reads, and whom each
    /// input is announced to.
    pub fn channel(capacity: usize, knock: Weak<dyn Knock>) -> (RouterInbox, InboxReceiver) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                inputs: VecDeque::new(),
                senders: 1,
                closed: false,
                ended: EndSignal::default(),
            }),
            room: Semaphore::new(capacity),
            knock,
        });
        (RouterInbox(shared.clone()), InboxReceiver(shared))
    }

    /// An inbox that knocks on nobody, for tests that read no input.
    #[cfg(test)]
    pub fn unread(capacity: usize) -> (RouterInbox, InboxReceiver) {
        struct Nobody;
        impl Knock for Nobody {
            fn knock(self: Arc<Self>) {}
        }
        RouterInbox::channel(capacity, Weak::<Nobody>::new())
    }

    /// The size of what an inbox's ends share (without its `Arc`'s counts), for the
    /// daemon's size budget.
    #[cfg(test)]
    pub fn shared_size() -> usize {
        size_of::<Shared>()
    }

    /// Completes once the receiving end is gone: the router has stopped (or was lost), and
    /// every action it took is queued where it goes.
    pub async fn closed(&self) {
        until_ended(|| {
            let mut queue = self.0.lock();
            (!queue.closed).then(|| queue.ended.watch())
        })
        .await;
    }

    /// Queues `input`, waiting while the inbox is full; fails once the router task is gone.
    pub async fn send(&self, input: Input) -> Result<(), SendError<Box<Input>>> {
        let input = Box::new(input);
        match self.0.room.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(SendError(input)),
        }
        self.0.push(input).map_err(SendError)
    }

    /// Queues `input` if there is room now.
    pub fn try_send(&self, input: Input) -> Result<(), TrySendError<Box<Input>>> {
        let input = Box::new(input);
        match self.0.room.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::NoPermits) => return Err(TrySendError::Full(input)),
            Err(TryAcquireError::Closed) => return Err(TrySendError::Closed(input)),
        }
        self.0.push(input).map_err(TrySendError::Closed)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an input that holds a place; gives it back if the reader is gone.
    fn push(&self, input: Box<Input>) -> Result<(), Box<Input>> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(input);
        }
        queue.inputs.push_back(input);
        drop(queue);
        self.knock();
        Ok(())
    }

    fn knock(&self) {
        if let Some(reader) = self.knock.upgrade() {
            reader.knock();
        }
    }
}

impl Clone for RouterInbox {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        RouterInbox(self.0.clone())
    }
}

impl Drop for RouterInbox {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.senders -= 1;
        let last = queue.senders == 0;
        drop(queue);
        if last {
            self.0.knock();
        }
    }
}

impl fmt::Debug for RouterInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterInbox").finish_non_exhaustive()
    }
}

impl InboxReceiver {
    /// An input, or the end (`Some(None)`: every sender is gone and the queue drained), if
    /// either is there now. An input is taken out only when it is returned.
    pub fn try_recv(&self) -> Option<Option<Box<Input>>> {
        let mut queue = self.0.lock();
        match queue.inputs.pop_front() {
            Some(input) => {
                // Control inputs are rare: an empty queue gives its room back rather than
                // keep it for the instance's life.
                if queue.inputs.is_empty() {
                    queue.inputs = VecDeque::new();
                }
                drop(queue);
                self.0.room.add_permits(1);
                Some(Some(input))
            }
            None if queue.senders == 0 => Some(None),
            None => None,
        }
    }
}

impl InboxReceiver {
    /// Whether [`InboxReceiver::try_recv`] has something now: an input, or the end.
    pub fn waiting(&self) -> bool {
        let queue = self.0.lock();
        !queue.inputs.is_empty() || queue.senders == 0
    }

    /// Whom the inbox knocks on, if it is still there.
    pub fn reader(&self) -> Option<Arc<dyn Knock>> {
        self.0.knock.upgrade()
    }
}

impl Drop for InboxReceiver {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.closed = true;
        let dropped = std::mem::take(&mut queue.inputs);
        let ended = queue.ended.take();
        drop(queue);
        // Senders waiting for room fail now.
        self.0.room.close();
        drop(dropped);
        drop(ended);
    }
}

#[cfg(test)]
mod tests;
