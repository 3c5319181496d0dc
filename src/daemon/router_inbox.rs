//! The sending side of a router task's control lane.
//!
//! Inputs travel boxed. A tokio channel allocates room for 32 messages when it is made, and
//! an `Input` is 64 bytes: a thousand idle instances paid 2 KB each for room that control
//! inputs (reloads, trackers, gates, links), a few a minute, never use. Boxed, the room is
//! 256 bytes, and each input costs an allocation it can afford.

use tokio::sync::mpsc::{self, error::SendError, error::TrySendError};

use crate::vrrp::router::Input;

/// A router task's control inbox; clones share it.
#[derive(Clone, Debug)]
pub struct RouterInbox(mpsc::Sender<Box<Input>>);

impl RouterInbox {
    /// An inbox for `capacity` inputs and the receiving end the router task reads.
    pub fn channel(capacity: usize) -> (RouterInbox, mpsc::Receiver<Box<Input>>) {
        let (tx, rx) = mpsc::channel(capacity);
        (RouterInbox(tx), rx)
    }

    /// Queues `input`, waiting while the inbox is full; fails once the router task is gone.
    pub async fn send(&self, input: Input) -> Result<(), SendError<Box<Input>>> {
        self.0.send(Box::new(input)).await
    }

    /// Queues `input` if there is room now.
    pub fn try_send(&self, input: Input) -> Result<(), TrySendError<Box<Input>>> {
        self.0.try_send(Box::new(input))
    }
}
