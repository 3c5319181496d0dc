//! A router task's control lane: a bounded queue with one reader, the router task.
//!
//! Inputs travel boxed, and the queue is a plain locked list. A tokio channel allocates room
//! for 32 messages when it is made, and its shared part is laid out in cache lines of its
//! own: some 820 bytes per instance, for control inputs (reloads, trackers, gates, links)
//! that come a few a minute. This one is about 200 bytes, and each input costs an
//! allocation it can afford. It keeps what the daemon relies on from a tokio channel: a
//! full inbox makes [`RouterInbox::send`] wait and [`RouterInbox::try_send`] fail, sending
//! fails once the router task is gone, and the router task sees the end once every sender
//! is gone and the queue is drained.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::{Semaphore, TryAcquireError};

use crate::vrrp::router::Input;

struct Shared {
    queue: Mutex<Queue>,
    /// One permit per free place: a sender takes one before it queues, the reader gives it
    /// back when it takes the input out. Closed when the reader is gone.
    room: Semaphore,
    /// The router task, while it waits for an input.
    reader: AtomicWaker,
}

struct Queue {
    inputs: VecDeque<Box<Input>>,
    /// Live [`RouterInbox`] handles. A u32, as the inbox (one per instance) then fits a
    /// smaller allocation; handles are a few per instance.
    senders: u32,
    /// The [`InboxReceiver`] was dropped.
    closed: bool,
}

/// A router task's control inbox; clones share it.
pub struct RouterInbox(Arc<Shared>);

/// The router task's end of its inbox.
pub struct InboxReceiver(Arc<Shared>);

impl RouterInbox {
    /// An inbox for `capacity` inputs and the receiving end the router task reads.
    pub fn channel(capacity: usize) -> (RouterInbox, InboxReceiver) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                inputs: VecDeque::new(),
                senders: 1,
                closed: false,
            }),
            room: Semaphore::new(capacity),
            reader: AtomicWaker::new(),
        });
        (RouterInbox(shared.clone()), InboxReceiver(shared))
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
        self.reader.wake();
        Ok(())
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
            self.0.reader.wake();
        }
    }
}

impl fmt::Debug for RouterInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterInbox").finish_non_exhaustive()
    }
}

impl InboxReceiver {
    /// The next input; `None` once every sender is gone and the queue is drained.
    /// Cancel-safe: an input is taken out only when it is returned.
    pub async fn recv(&mut self) -> Option<Box<Input>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Box<Input>>> {
        if let Some(ready) = self.try_take() {
            return Poll::Ready(ready);
        }
        // Registered before looking again, so a push in between is not missed.
        self.0.reader.register(cx.waker());
        match self.try_take() {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }

    /// An input, or the end, if either is there now.
    fn try_take(&self) -> Option<Option<Box<Input>>> {
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

impl Drop for InboxReceiver {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.closed = true;
        let dropped = std::mem::take(&mut queue.inputs);
        drop(queue);
        // Senders waiting for room fail now.
        self.0.room.close();
        drop(dropped);
    }
}

#[cfg(test)]
mod tests;
