//! The isolation guard's check: before a Backup takes over because every channel went
//! silent, can it still reach what `isolation_check` names? Run once per question, on the
//! scripts runtime, never on the routers' thread.

use std::time::Duration;

use tokio::time::timeout;

use crate::config::{Config, IsolationCheck, IsolationTarget};
use crate::track::{self, CheckSpec, TrackError};

/// A ready-to-run isolation check.
#[derive(Debug)]
pub struct IsolationProbe {
    what: What,
    limit: Duration,
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
        })
    }

    /// Runs the check once: (reachable, what was seen).
    pub async fn run(&self) -> (bool, String) {
        let limit = self.limit;
        match &self.what {
            What::Ping(a) => {
                let p = track::probe::ping(*a, None, limit).await;
                (p.ok, p.detail)
            }
            What::Tcp { host, port } => {
                let p = track::probe::tcp(host, *port, limit).await;
                (p.ok, p.detail)
            }
            What::Check(spec) => {
                // A script's own timeout applies inside; the outer one bounds the rest.
                match timeout(limit + spec.timeout, track::runner::probe_once(spec)).await {
                    Ok(r) => r,
                    Err(_) => (
                        false,
                        format!("{} gave no answer within {limit:?}", spec.source),
                    ),
                }
            }
        }
    }
}
