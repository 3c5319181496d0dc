//! The pure part of tracking that belongs to a check: rise/fall hysteresis. The weight
//! arithmetic that turns health into priority and faults is the router's
//! ([`crate::vrrp::health`]), re-exported here.
//!
//! Nothing here reads a clock or runs anything; the runners feed results in.

pub use crate::vrrp::health::{Health, Tracker, Verdict, evaluate};

/// keepalived's rise/fall counter for one check.
///
/// Like keepalived (without `init_fail`), the first result decides at once: one success makes
/// a new check healthy, one failure makes it failed. After that, `fall` consecutive failures
/// take a healthy check to failed and `rise` consecutive successes take a failed check back;
/// any result in the other direction restarts the count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    state: Counter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counter {
    Init,
    Ok { failures: u32 },
    Failed { successes: u32 },
}

impl Hysteresis {
    /// A counter in the initial (no result) state. Zero counts are treated as 1, as keepalived
    /// does.
    pub fn new(rise: u32, fall: u32) -> Self {
        Hysteresis {
            rise: rise.max(1),
            fall: fall.max(1),
            state: Counter::Init,
        }
    }

    /// The current verdict.
    pub fn health(&self) -> Health {
        match self.state {
            Counter::Init => Health::Init,
            Counter::Ok { .. } => Health::Ok,
            Counter::Failed { .. } => Health::Failed,
        }
    }

    /// Records one probe result; returns the new verdict if it changed.
    pub fn record(&mut self, ok: bool) -> Option<Health> {
        let before = self.health();
        self.state = match (self.state, ok) {
            (Counter::Init, true) => Counter::Ok { failures: 0 },
            (Counter::Init, false) => Counter::Failed { successes: 0 },
            (Counter::Ok { .. }, true) => Counter::Ok { failures: 0 },
            (Counter::Ok { failures }, false) if failures + 1 >= self.fall => {
                Counter::Failed { successes: 0 }
            }
            (Counter::Ok { failures }, false) => Counter::Ok {
                failures: failures + 1,
            },
            (Counter::Failed { .. }, false) => Counter::Failed { successes: 0 },
            (Counter::Failed { successes }, true) if successes + 1 >= self.rise => {
                Counter::Ok { failures: 0 }
            }
            (Counter::Failed { successes }, true) => Counter::Failed {
                successes: successes + 1,
            },
        };
        let after = self.health();
        (after != before).then_some(after)
    }
}

#[cfg(test)]
#[path = "priority_tests.rs"]
mod tests;
