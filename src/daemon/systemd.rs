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

/// Starts the watchdog pings when the unit has `WatchdogSec=`: every half period, each once
/// the runtime that drives the routers (the caller's) has run a task for it, so a stuck
/// router runtime stops the pings and systemd restarts vipd. The period is kept on `side`:
/// a timer of tokio's on the router thread would make every sleep of that thread arm a
/// kernel timeout (see `daemon::run`).
pub fn spawn_watchdog(side: &tokio::runtime::Handle) {
    let Some(timeout) = sd_notify::watchdog_enabled().filter(|t| !t.is_zero()) else {
        return;
    };
    let period = timeout / 2;
    debug!(?period, "systemd watchdog enabled");
    let routers = tokio::runtime::Handle::current();
    side.spawn(watchdog(routers, period, || {
        notify(&[NotifyState::Watchdog])
    }));
}

/// Pings every `period`, each time after `routers` ran a task: a ping waits for the router
/// runtime as long as it takes, and one it never serves is never sent.
async fn watchdog(
    routers: tokio::runtime::Handle,
    period: std::time::Duration,
    mut ping: impl FnMut(),
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if routers.spawn(async {}).await.is_err() {
            // The router runtime shut down: vipd is stopping.
            return;
        }
        ping();
    }
}

fn notify(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "sd_notify failed");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::watchdog;

    #[test]
    fn no_ping_leaves_while_the_router_runtime_stands_still() {
        let routers = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let handle = routers.handle().clone();
        let side = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        let pings = Arc::new(AtomicUsize::new(0));
        let counted = pings.clone();
        let (stuck_tx, stuck_rx) = std::sync::mpsc::channel::<()>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        // The router runtime's thread blocked inside a task: nothing else runs there. Once
        // released it runs the watchdog's tasks until told to stop, and shuts down.
        let router_thread = std::thread::spawn(move || {
            routers.block_on(async move {
                stuck_rx.recv().expect("released");
                let _ = stop_rx.await;
            });
        });
        let (ended_tx, ended_rx) = std::sync::mpsc::channel();
        let side_thread = std::thread::spawn(move || {
            side.block_on(watchdog(handle, Duration::from_millis(10), move || {
                counted.fetch_add(1, Ordering::Relaxed);
            }));
            let _ = ended_tx.send(());
        });
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            pings.load(Ordering::Relaxed),
            0,
            "a ping left while the router runtime stood still"
        );
        stuck_tx.send(()).expect("the router thread waits");
        let start = Instant::now();
        while pings.load(Ordering::Relaxed) < 3 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the pings did not resume once the router runtime ran again"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        stop_tx.send(()).expect("the router runtime runs");
        router_thread.join().expect("the router runtime shut down");
        ended_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the watchdog ended once the router runtime shut down");
        side_thread.join().expect("the side thread ended");
    }
}
