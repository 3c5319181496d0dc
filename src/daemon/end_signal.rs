//! A wait for something to end (a worker, a router), paid for only while someone waits.
//!
//! Every instance has an address worker's queue and a router inbox, and each is waited for
//! once, at the instance's stop. A `Notify` kept in the queue for that one wait put it in
//! jemalloc's next size class, and the inbox sits at the edge of its own; here a `watch`
//! sender is made by the first waiter, under the lock the end is marked under, and dropped
//! at the end, which wakes every waiter.

use tokio::sync::watch;

/// The end's signal, held with the state it watches (under the same lock).
#[derive(Debug, Default)]
pub struct EndSignal(Option<watch::Sender<()>>);

impl EndSignal {
    /// A receiver told of the end. Made under the state's lock, after seeing it has not
    /// ended: the end, marked under that lock, comes after.
    pub fn watch(&mut self) -> watch::Receiver<()> {
        self.0
            .get_or_insert_with(|| watch::channel(()).0)
            .subscribe()
    }

    /// Taken under the state's lock as the end is marked, to drop once the lock is
    /// released: dropping it wakes every waiter.
    #[must_use]
    pub fn take(&mut self) -> EndSignal {
        EndSignal(self.0.take())
    }
}

/// Waits until `look` (which takes the state's lock) finds the end: it returns `None` then,
/// or a receiver from [`EndSignal::watch`] to wait on.
pub async fn until_ended(mut look: impl FnMut() -> Option<watch::Receiver<()>>) {
    while let Some(mut ended) = look() {
        // Only ever an error: the sender is dropped, never sent on.
        let _ = ended.changed().await;
    }
}
