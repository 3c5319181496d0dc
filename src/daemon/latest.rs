//! The latest value of something one side replaces and others read: an instance's
//! status view and the settings a reload changes in place.
//!
//! A tokio watch channel did this, and also lets a reader wait for a change. Nothing here
//! waits: readers look when they act. The wake-up lists that waiting needs made each
//! channel some 330 bytes larger, two channels per instance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

struct Shared<T> {
    /// Counts replacements; written under the write lock, so a reader holding the read
    /// lock sees the number that goes with the value.
    version: AtomicU64,
    value: RwLock<T>,
}

impl<T> Shared<T> {
    fn read(&self) -> RwLockReadGuard<'_, T> {
        self.value.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// The side that replaces the value.
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
            value: RwLock::new(value),
        }))
    }

    /// A reader that has seen the value as it is now.
    pub fn reader(&self) -> Reader<T> {
        let _value = self.0.read();
        Reader {
            shared: self.0.clone(),
            seen: self.0.version.load(Ordering::Acquire),
        }
    }

    /// The value now.
    pub fn borrow(&self) -> RwLockReadGuard<'_, T> {
        self.0.read()
    }

    /// Replaces the value; every reader finds it changed.
    pub fn replace(&self, value: T) {
        self.modify(|old| *old = value);
    }

    /// Changes the value in place; every reader finds it changed.
    pub fn modify(&self, change: impl FnOnce(&mut T)) {
        let mut value = self.0.value.write().unwrap_or_else(|e| e.into_inner());
        change(&mut value);
        self.0.version.fetch_add(1, Ordering::Release);
    }
}

impl<T> Reader<T> {
    /// Whether the value changed since this reader last took note
    /// ([`Self::borrow_and_update`]).
    pub fn has_changed(&self) -> bool {
        self.shared.version.load(Ordering::Acquire) != self.seen
    }

    /// The value now.
    pub fn borrow(&self) -> RwLockReadGuard<'_, T> {
        self.shared.read()
    }

    /// The value now, noted as seen.
    pub fn borrow_and_update(&mut self) -> RwLockReadGuard<'_, T> {
        let value = self.shared.read();
        self.seen = self.shared.version.load(Ordering::Acquire);
        value
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
        assert_eq!(*a.borrow_and_update(), 2);
        assert!(!a.has_changed());
        assert!(b.has_changed());
        latest.modify(|v| *v += 1);
        assert!(a.has_changed());
        assert_eq!(*a.borrow(), 3);
        assert!(a.has_changed(), "borrow does not take note");
        assert_eq!(*latest.borrow(), 3);
        let c = latest.reader();
        assert!(!c.has_changed());
    }
}
