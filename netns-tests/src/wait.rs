//! Polling for a condition with a deadline.

use std::time::{Duration, Instant};

/// Polls `cond` every `poll` until it holds or `timeout` has passed. Returns how long it took,
/// or an error naming the timeout. The condition is checked once more at the deadline, so a
/// slow poll never turns a success into a timeout.
pub fn wait_until(
    timeout: Duration,
    poll: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        if cond() {
            return Ok(start.elapsed());
        }
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(format!("condition still false after {timeout:?}"));
        }
        std::thread::sleep(poll.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_when_condition_holds() {
        let mut n = 0;
        let took = wait_until(Duration::from_secs(5), Duration::from_millis(1), || {
            n += 1;
            n == 3
        })
        .unwrap();
        assert_eq!(n, 3);
        assert!(took < Duration::from_secs(5));
    }

    #[test]
    fn times_out_and_checks_at_the_deadline() {
        let mut calls = 0;
        let r = wait_until(
            Duration::from_millis(30),
            Duration::from_millis(100),
            || {
                calls += 1;
                false
            },
        );
        assert!(r.is_err());
        // Once at the start, once at the (clamped) deadline.
        assert_eq!(calls, 2);
    }
}
