//! One budget for every log line about a received packet, over all sources and reasons.
//!
//! The per-(source, reason) limit in [`super::stats::LogLimiter`] is per key, and a flood
//! from spoofed sources brings a new key with every packet. So every such line must also
//! take a token from one bucket shared by the whole process; what the bucket refuses is
//! counted, and a summary line says how many every [`SUMMARY_EVERY`]. The packets themselves
//! are all counted by reason whatever the log says.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use tracing::warn;

/// Lines per second the bucket refills with, shared by every receive loop and router task.
pub const LINES_PER_SEC: u32 = 10;
/// Lines the bucket holds: a short burst of different problems still shows at once.
pub const BURST: u32 = 50;
/// How often held-back lines are summed up in one line.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// A token bucket; the time is passed in.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens, refilled at `per_sec`.
    pub fn new(per_sec: u32, burst: u32) -> Self {
        TokenBucket {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            at: None,
        }
    }

    /// Takes one token if there is one at `now`.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(at) = self.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * self.per_sec;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The shared bucket and the count of lines it held back.
#[derive(Debug)]
pub struct LogBudget {
    bucket: Mutex<TokenBucket>,
    suppressed: AtomicU64,
}

static GLOBAL: LazyLock<Arc<LogBudget>> =
    LazyLock::new(|| Arc::new(LogBudget::new(LINES_PER_SEC, BURST)));

impl LogBudget {
    /// A budget of `per_sec` lines a second, `burst` at once.
    pub fn new(per_sec: u32, burst: u32) -> Self {
        LogBudget {
            bucket: Mutex::new(TokenBucket::new(per_sec, burst)),
            suppressed: AtomicU64::new(0),
        }
    }

    /// The process's budget, which every limiter shares.
    pub fn global() -> Arc<LogBudget> {
        GLOBAL.clone()
    }

    /// Whether one line may be written at `now`; if not, it is counted as held back.
    pub fn take(&self, now: Instant) -> bool {
        let ok = self
            .bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(now);
        if !ok {
            self.held_back(1);
        }
        ok
    }

    /// Counts `n` lines held back for another reason (a limiter forgetting its keys).
    pub fn held_back(&self, n: u64) {
        self.suppressed.fetch_add(n, Ordering::Relaxed);
    }

    /// The lines held back since the last call.
    pub fn take_held_back(&self) -> u64 {
        self.suppressed.swap(0, Ordering::Relaxed)
    }
}

/// Writes the summary line every [`SUMMARY_EVERY`] when lines were held back, and says
/// when the log queue itself dropped lines (stderr not read fast enough).
pub async fn report() {
    let budget = LogBudget::global();
    let mut tick = tokio::time::interval(SUMMARY_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dropped_before = super::logging::dropped_lines();
    loop {
        tick.tick().await;
        let held = budget.take_held_back();
        if held > 0 {
            warn!(
                suppressed = held,
                "{held} similar log lines about received packets suppressed in the last {}s \
                 (the log allows {LINES_PER_SEC} a second for them); every packet is still \
                 counted by reason in `vipd status`",
                SUMMARY_EVERY.as_secs()
            );
        }
        let dropped = super::logging::dropped_lines();
        if dropped > dropped_before {
            warn!(
                dropped = dropped - dropped_before,
                "the log queue was full (stderr not read fast enough): {} lines were dropped",
                dropped - dropped_before
            );
            dropped_before = dropped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let mut b = TokenBucket::new(10, 50);
        let t0 = Instant::now();
        let burst = (0..1000).filter(|_| b.take(t0)).count();
        assert_eq!(burst, 50);
        // Over the next ten seconds, at a packet every millisecond: ten a second.
        let later = (1..=10_000)
            .filter(|ms| b.take(t0 + Duration::from_millis(*ms)))
            .count();
        assert_eq!(later, 100);
        // A quiet minute refills it to the burst, not beyond.
        let refilled = (0..1000).filter(|_| b.take(t0 + 70 * S)).count();
        assert_eq!(refilled, 50);
    }

    #[test]
    fn a_budget_counts_what_it_holds_back() {
        let budget = LogBudget::new(1, 2);
        let t0 = Instant::now();
        let taken = (0..10).filter(|_| budget.take(t0)).count();
        assert_eq!(taken, 2);
        budget.held_back(5);
        assert_eq!(budget.take_held_back(), 13);
        assert_eq!(budget.take_held_back(), 0);
    }
}
