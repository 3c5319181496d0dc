//! systemd integration: readiness, status and the watchdog. Without systemd (no
//! `NOTIFY_SOCKET`) every call here does nothing.

use sd_notify::NotifyState;
use tracing::{debug, warn};

/// Tells systemd that vipd is ready, with a one-line status.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd that vipd is stopping.
pub fn stopping() {
    notify(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: releasing VIPs"),
    ]);
}

/// Starts the watchdog pings when the unit has `WatchdogSec=`: every half period, from a task
/// on the same runtime as the routers, so a stuck runtime stops the pings and systemd
/// restarts vipd.
pub fn spawn_watchdog() {
    let Some(timeout) = sd_notify::watchdog_enabled().filter(|t| !t.is_zero()) else {
        return;
    };
    let period = timeout / 2;
    debug!(?period, "systemd watchdog enabled");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            notify(&[NotifyState::Watchdog]);
        }
    });
}

fn notify(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "sd_notify failed");
    }
}
