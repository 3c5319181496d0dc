//! What the daemon asks of jemalloc, the allocator `main.rs` installs.

use tracing::debug;

/// Hands the calling thread's cached free blocks back to its arena, which returns free pages
/// to the kernel at once (`dirty_decay_ms:0`). A thread keeps the small blocks it frees in a
/// cache of its own, for its next allocations, until it allocates and frees enough more to
/// turn them over; the router thread, which makes no allocation per advert, never does.
/// Measured after applying 1,000 instances: about 0.1 MB of anonymous memory held that way.
pub fn flush_thread_cache() {
    let errno = flush();
    // Only when the thread has no cache (jemalloc built or configured without): nothing
    // is held then.
    if errno != 0 {
        debug!(errno, "no allocation cache to flush on this thread");
    }
}

/// `thread.tcache.flush`: 0, or the errno jemalloc's `mallctl` returns.
fn flush() -> std::ffi::c_int {
    // SAFETY: "thread.tcache.flush" reads and writes nothing: null pointers, length 0.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"thread.tcache.flush".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_threads_cache_is_flushed_by_that_name() {
        // A name jemalloc does not know would do nothing, quietly, in the daemon.
        assert_eq!(super::flush(), 0);
    }
}
