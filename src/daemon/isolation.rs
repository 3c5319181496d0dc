//! The isolation guard's check: before a Backup takes over because every channel went
//! silent, can it still reach what `isolation_check` names? Run once per question, on the
//! scripts runtime, never on the routers' thread.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::timeout;

use crate::config::{Config, IsolationCheck, IsolationTarget};
use crate::control::listener::LogBudget;
use crate::track::{self, CheckSpec, TrackError};

/// A ready-to-run isolation check.
#[derive(Debug)]
pub struct IsolationProbe {
    what: What,
    limit: Duration,
    /// Local errors are logged at most once a minute.
    local_errors: Mutex<LogBudget>,
}

#[derive(Debug)]
enum What {
    Ping(std::net::IpAddr),
    Tcp { host: String, port: u16 },
    Check(Box<CheckSpec>),
}

impl IsolationProbe {
    /// The probe for `check` of a validated `config`.
    pub fn new(config: &Config, check: &IsolationCheck) -> Result<IsolationProbe, TrackError> {
        let what = match &check.target {
            IsolationTarget::Ping(a) => What::Ping(*a),
            IsolationTarget::Tcp { host, port } => What::Tcp {
                host: host.clone(),
                port: *port,
            },
            IsolationTarget::Check(name) => What::Check(Box::new(track::named_spec(config, name)?)),
        };
        Ok(IsolationProbe {
            what,
            limit: check.timeout,
            local_errors: Mutex::new(LogBudget::new(Duration::from_secs(60))),
        })
    }

    /// Runs the check once: what it found, and what was seen.
    pub async fn run(&self) -> (Finding, String) {
        let limit = self.limit;
        let probed = match &self.what {
            What::Ping(a) => track::probe::ping(*a, None, limit).await,
            What::Tcp { host, port } => track::probe::tcp(host, *port, limit).await,
            What::Check(spec) => {
                // A script's own timeout applies inside; the outer one bounds the rest.
                match timeout(limit + spec.timeout, track::runner::probe_once(spec)).await {
                    Ok(p) => p,
                    Err(_) => {
                        let detail = format!("{} gave no answer within {limit:?}", spec.source);
                        return (Finding::Unreachable, detail);
                    }
                }
            }
        };
        (Finding::of(probed.ok, probed.local), probed.detail)
    }

    /// Whether a local-error line may be logged now: `Some(lines held back since the last)`.
    pub fn may_log_local_error(&self) -> Option<u64> {
        self.local_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow(std::time::Instant::now())
    }
}

/// What one run of the isolation check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The target answered.
    Reachable,
    /// The target did not answer: evidence that this node is cut off.
    Unreachable,
    /// The probe could not even start here (no descriptor, no memory, no buffer).
    LocalError,
}

impl Finding {
    /// From a probe's pass and whether its failure was local.
    pub fn of(ok: bool, local: bool) -> Finding {
        match (ok, local) {
            (true, _) => Finding::Reachable,
            (false, false) => Finding::Unreachable,
            (false, true) => Finding::LocalError,
        }
    }

    /// Whether the takeover may go on. Only evidence of isolation holds it back: a probe
    /// that failed for want of a local resource learnt nothing about the network, and
    /// treating it as isolation would hold a Backup in FAULT (re-checked every
    /// Master_Down_Interval) while the Master it should replace is gone.
    pub fn grants(self) -> bool {
        self != Finding::Unreachable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unanswered_probe_refuses_the_takeover() {
        assert!(Finding::of(true, false).grants());
        assert!(!Finding::of(false, false).grants());
        assert_eq!(Finding::of(false, true), Finding::LocalError);
        assert!(Finding::of(false, true).grants());
    }
}
