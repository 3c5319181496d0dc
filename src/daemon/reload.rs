//! Reloading: read and check the file off the routers' thread, then apply it.
//!
//! The read is the part that can hang (a file on a dead network filesystem, a slow user
//! database), so it runs under a time budget and races the stop signals: a stuck reload
//! must never make SIGTERM a no-op.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use tracing::{info, warn};

use super::checked::Checked;
use super::supervisor::Supervisor;
use super::{DaemonError, systemd};
use crate::config::Config;

/// The longest a reload may spend reading and checking its files; the previous
/// configuration keeps running if it takes longer.
pub const READ_BUDGET: Duration = Duration::from_secs(30);

/// How a reload's read ended.
pub enum Read {
    /// Read and checked, or refused with the reason.
    Done(Box<Result<Checked, String>>),
    /// A stop signal came first; the read is abandoned (its thread ends on its own).
    Stop,
}

/// Runs `work` until it ends, `stop` fires (then `None`) or `budget` passes (then an error).
pub async fn race<T>(
    work: impl Future<Output = Result<T, String>>,
    stop: impl Future<Output = ()>,
    budget: Duration,
) -> Option<Result<T, String>> {
    tokio::select! {
        _ = stop => None,
        r = tokio::time::timeout(budget, work) => Some(r.unwrap_or_else(|_| {
            Err(format!("reading the configuration took longer than {budget:?}; abandoned"))
        })),
    }
}

/// Reads and checks `path` off the routers' thread, giving up when `stop` fires.
pub async fn read(path: &Path, stop: impl Future<Output = ()>) -> Read {
    let file = path.to_owned();
    let work = async move {
        Checked::off_thread(move || {
            let config =
                Config::load(&file).map_err(|errors| DaemonError::Config(errors.to_string()))?;
            Checked::new(config)
        })
        .await
        .map_err(|e| e.to_string())
    };
    match race(work, stop, READ_BUDGET).await {
        None => Read::Stop,
        Some(r) => Read::Done(Box::new(r)),
    }
}

/// Applies what [`read`] read. On any error the running configuration stays untouched.
pub async fn apply(
    supervisor: &mut Supervisor,
    read: Result<Checked, String>,
    running: &crate::config::Global,
) -> Result<String, String> {
    let checked = match read {
        Ok(c) => c,
        Err(text) => {
            warn!("reload refused, still running the previous configuration:\n{text}");
            return Err(text);
        }
    };
    let config = checked.config();
    let mut needs_restart = Vec::new();
    if config.global.control_socket != running.control_socket {
        needs_restart.push("global.control_socket");
    }
    if config.global.metrics_listen != running.metrics_listen {
        needs_restart.push("global.metrics_listen");
    }
    if config.global.router_id != running.router_id {
        needs_restart.push("global.router_id");
    }
    if config.global.realtime_priority != running.realtime_priority {
        needs_restart.push("global.realtime_priority");
    }
    match supervisor.apply(checked).await {
        Ok(mut summary) => {
            if !needs_restart.is_empty() {
                summary.push_str(&format!(
                    "; takes effect at the next restart: {}",
                    needs_restart.join(", ")
                ));
            }
            systemd::ready(&format!("{} instances running", supervisor.len()));
            info!("reloaded: {summary}");
            Ok(summary)
        }
        Err(e) => {
            let text = match e {
                DaemonError::Partial { summary, failed } => {
                    format!("{summary}; FAILED to start: {failed}")
                }
                e => e.to_string(),
            };
            warn!("reload failed: {text}");
            Err(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stop_signal_ends_a_read_that_never_ends() {
        let never = std::future::pending::<Result<(), String>>();
        let stop = tokio::time::sleep(Duration::from_secs(1));
        assert!(race(never, stop, READ_BUDGET).await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_past_its_budget_is_refused_and_a_quick_one_is_kept() {
        let never = std::future::pending::<Result<(), String>>();
        let e = race(never, std::future::pending(), READ_BUDGET)
            .await
            .unwrap()
            .unwrap_err();
        assert!(e.contains("took longer than 30s"), "{e}");
        let quick = async { Ok::<_, String>(7) };
        assert_eq!(
            race(quick, std::future::pending(), READ_BUDGET).await,
            Some(Ok(7))
        );
    }
}
