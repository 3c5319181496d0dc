//! Running code of this process inside a lab namespace.
//!
//! Sockets belong to the namespace of the thread that creates them and stay there, so a
//! short-lived thread that enters the namespace can open and use sockets without affecting
//! the rest of the test process (setns on a network namespace only moves the calling thread).

use std::fs::File;

use nix::sched::{CloneFlags, setns};

use crate::error::{HarnessError, Result};

/// Runs `f` on a fresh thread that has joined the network namespace `ns` (a name under
/// /run/netns, as made by `ip netns add`). A panic in `f` is propagated to the caller.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    let path = format!("/run/netns/{ns}");
    let file = File::open(&path).map_err(|e| HarnessError::io(format!("open {path}"), e))?;
    std::thread::scope(|s| {
        let handle = s.spawn(|| {
            setns(&file, CloneFlags::CLONE_NEWNET)
                .map_err(|e| HarnessError::io(format!("setns {ns}"), e.into()))?;
            Ok(f())
        });
        handle
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Runs the future `fut` to completion on a single-threaded tokio runtime on a thread inside
/// namespace `ns`: every socket it opens (and every task it spawns) lives there.
pub fn block_on_in<F>(ns: &str, fut: F) -> Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    in_netns(ns, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(fut)
    })
}
