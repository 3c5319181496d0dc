//! The latest value of something one side replaces and others read: an instance's
//! status view and the settings a reload changes in place.
//!
//! A tokio watch channel did this, and also lets a reader wait for a change. Nothing here
//! waits: readers look when they act. The wake-up lists that waiting needs made each
//! channel some 330 bytes larger, two channels per instance.
//!
//! The value sits behind an [`ArcSwap`], not a lock: the router thread, which runs at
//! realtime priority, publishes the status view that the control listener's thread reads,
//! and a reader preempted on a saturated host must never hold up the next advert.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, Guard};

struct Shared<T> {
    /// Counts replacements, raised after each is stored: a reader that notes a number
    /// and then loads the value sees that replacement or a later one.
    version: AtomicU64,
    value: ArcSwap<T>,
}

/// The side that replaces the value; the only one that does.
pub struct Latest<T>(Arc<Shared<T>>);

/// A side that reads it; each remembers the version it last took note of.
pub struct Reader<T> {
    shared: Arc<Shared<T>>,
    seen: u64,
}

impl<T> Clone for Reader<T> {
    fn clone(&self) -> Self {
        Reader {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Latest<T> {
    /// A value, with no reader yet.
    pub fn new(value: T) -> Self {
        Latest(Arc::new(Shared {
            version: AtomicU64::new(0),
            value: ArcSwap::from_pointee(value),
        }))
    }

    /// A reader that has seen the value as it is now.
    pub fn reader(&self) -> Reader<T> {
        Reader {
            shared: self.0.clone(),
            seen: self.0.version.load(Ordering::Acquire),
        }
    }

    /// The value now.
    pub fn borrow(&self) -> Guard<Arc<T>> {
        self.0.value.load()
    }

    /// Replaces the value; every reader finds it changed.
    pub fn replace(&self, value: T) {
        self.0.value.store(Arc::new(value));
        self.0.version.fetch_add(1, Ordering::Release);
    }

    /// Changes a copy of the value and publishes it; every reader finds it changed.
    pub fn modify(&self, change: impl FnOnce(&mut T))
    where
        T: Clone,
    {
        let mut value = T::clone(&self.0.value.load());
        change(&mut value);
        self.replace(value);
    }
}

impl<T> Reader<T> {
    /// Whether the value changed since this reader last took note
    /// ([`Self::borrow_and_update`]).
    pub fn has_changed(&self) -> bool {
        self.shared.version.load(Ordering::Acquire) != self.seen
    }

    /// The value now.
    pub fn borrow(&self) -> Guard<Arc<T>> {
        self.shared.value.load()
    }

    /// The value now, noted as seen.
    pub fn borrow_and_update(&mut self) -> Guard<Arc<T>> {
        self.seen = self.shared.version.load(Ordering::Acquire);
        self.shared.value.load()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_each_change_once() {
        let latest = Latest::new(1);
        let mut a = latest.reader();
        let b = a.clone();
        assert!(!a.has_changed());
        latest.replace(2);
        assert!(a.has_changed() && b.has_changed());
        assert_eq!(**a.borrow_and_update(), 2);
        assert!(!a.has_changed());
        assert!(b.has_changed());
        latest.modify(|v| *v += 1);
        assert!(a.has_changed());
        assert_eq!(**a.borrow(), 3);
        assert!(a.has_changed(), "borrow does not take note");
        assert_eq!(**latest.borrow(), 3);
        let c = latest.reader();
        assert!(!c.has_changed());
    }

    #[test]
    fn a_reader_holding_the_value_never_holds_up_the_writer() {
        let latest = Latest::new(1);
        let reader = latest.reader();
        let held = reader.borrow();
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            latest.modify(|v| *v = 2);
            let _ = done.send(());
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the writer went on while a reader held the value");
        assert_eq!(**held, 1, "the reader keeps what it took");
        assert_eq!(**reader.borrow(), 2);
        assert!(reader.has_changed());
    }
}
