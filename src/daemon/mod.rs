//! The daemon: virtual routers wired to sockets, netlink and signals. A router has a task
//! of its own only while it has something to do besides a Master's adverts and a Backup's
//! listening (see `driver`).
//!
//! Every decision is the router's ([`crate::vrrp::router`]); the tasks here carry inputs in
//! and actions out, and talk through channels only, except that a receive loop hands a
//! parsed advert to its router directly ([`driver::PacketDoor`]), which judges it there and
//! then. Neither the router task nor a receive loop ever waits on I/O.
//!
//! ```text
//!  raw VRRP socket ─ receiver ──┐ Packet (handed over)   ┌─> address worker (vips): add,
//!  UDP socket ─ udp_receiver ───┤ (parsed, by VRID)      │   remove, announce (netlink, ARP/NA)
//!  TCP listener ─ tcp_receiver ─┤ (sealed frames: sealed)│
//!  serial line ─ serial_line ───┤                        │
//!  link watcher (links) ────────┤ Fault(Link)            ├─> senders: adverts on every channel
//!  check tasks ─ tracker task ──┤ Health                 ├─> notify queue (one per instance,
//!  sync-group task (groups) ────┤ Sync, Gate, Fault      │   kept across reloads), events
//!  isolation probe (scripts rt) ┤ Gate                   ├─> sync-group task: transitions,
//!  control server ──────────────┤ Drain                  │   faults, Ask/Withdraw, Refused
//!  supervisor (reload) ─────────┘ Configure, Start, Stop └─> status view, counters
//!                    │                                   │
//!                    └──> router task (driver) ──────────┘
//! ```
//!
//! | inbox | owner | message | senders |
//! |---|---|---|---|
//! | router control inbox (256, bounded) | the router's cell ([`driver::RouterCell`]): each input knocks on it, which wakes its task or starts one | [`crate::vrrp::router::Input`] | trackers, links, group, isolation probe, control, supervisor (`send`: a reload's `Configure` is never dropped); nothing from the network, so a flood cannot delay these |
//! | address worker queue (unbounded) | `vips::WorkQueue`: a task spawned by a push onto an idle queue, ended when drained | [`driver::VipOp`] | the router task, in action order; the supervisor (reload) |
//! | group events (unbounded) | `groups::run` | `groups::GroupEvent` | member router tasks |
//! | tracker reports (unbounded) | `track::runner::run_instance` | `track::Report` | check tasks, only on a change |
//! | notify queue (1024, bounded) | `notify` task | a note with its commands | the router task (`try_send`: dropped and counted when full) |
//! | reload requests (4) | [`run`] | `control::server::ReloadRequest` | control server |
//! | TCP link queue (8 frames, one per peer) | `tcp_link::keep_connected` | a sealed frame | the router task's senders (`frame_queue::FrameQueue::push` never waits: a full queue drops its oldest frame, counted `tcp_queue_dropped`) |
//! | serial line queue (8 frames, one per instance on the line) | `serial_line::run` | a sealed frame | the router task's senders (the same queue: `serial_queue_dropped`) |

mod allocator;
mod arbiter;
mod burst;
mod checked;
pub mod driver;
mod end_signal;
mod fence;
mod frame_queue;
mod groups;
mod instance;
mod io;
mod isolation;
pub mod keys;
mod late_reads;
pub mod latest;
mod links;
mod log_budget;
pub mod logging;
mod realtime;
mod receipts;
mod receiver;
mod reload;
pub mod router_inbox;
mod sealed;
mod senders;
mod serial_line;
pub mod socket_counters;
mod sockets;
pub mod stats;
mod supervisor;
mod systemd;
mod tcp_link;
mod tcp_receiver;
mod udp_receiver;
mod vips;
mod vrid_table;
mod wakeup;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc};
use tracing::{error, info, warn};

use crate::config::Config;
use crate::control;
use crate::net::{LinkEvents, NetError, Netlink};
use checked::Checked;
use instance::PrepareError;
use reload::Read;
use supervisor::Supervisor;

/// How long a clean stop may take before vipd gives up waiting (issue: exit within 2 s).
const STOP_BUDGET: Duration = Duration::from_millis(1500);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// An instance could not be prepared.
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// A socket or netlink failure at start.
    #[error("{0}")]
    Net(#[from] NetError),
    /// The configuration asks for something this daemon cannot do: trackers or notify
    /// commands that cannot run (bad command line, unknown user, insecure script), or a
    /// feature not implemented yet.
    #[error("{0}")]
    Scripts(String),
    /// The control socket could not be created.
    #[error("{0}: {1}")]
    Control(String, std::io::Error),
    /// The configuration file is not valid (the text lists every problem).
    #[error("{0}")]
    Config(String),
    /// Part of a configuration was applied; some instances failed to start. Shown as the
    /// failures alone (what matters at start); a reload reports the summary too.
    #[error("{failed}")]
    Partial {
        /// What was applied.
        summary: String,
        /// The instances that failed, and why.
        failed: String,
    },
    /// Signal handlers or the scripts' thread could not be set up.
    #[error("starting up: {0}")]
    Signals(std::io::Error),
}

/// Resolves on SIGTERM or SIGINT: what a reload's read races, so that it cannot block a stop.
async fn stopped(
    sigterm: &mut tokio::signal::unix::Signal,
    sigint: &mut tokio::signal::unix::Signal,
) {
    tokio::select! {
        _ = sigterm.recv() => info!("SIGTERM during a reload"),
        _ = sigint.recv() => info!("SIGINT during a reload"),
    }
}

/// Runs every instance of `config` (read from `path`) until SIGTERM or SIGINT, then stops
/// them cleanly. SIGHUP and `vipd reload` re-read `path` and apply it.
/// The router runtime's `on_thread_park` hook: the shared timer started on the thread is
/// armed there, once for all the deadlines its tasks moved (see `wakeup`).
pub use wakeup::before_park;

pub async fn run(path: PathBuf, config: Config) -> Result<(), DaemonError> {
    raise_descriptor_limit();
    // The routers, receive loops and timers run on this thread.
    realtime::apply(config.global.realtime_priority);
    let nl = Netlink::new()?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    // Subscribe before reading link states, so no change falls between the two.
    let link_events = LinkEvents::subscribe().await?;
    let watchers: links::Watchers = Arc::new(RwLock::new(HashMap::new()));
    let (events, _) = broadcast::channel(256);
    let socket_path = config.global.control_socket.clone();
    let listener = control::server::bind(&socket_path, config.global.control_group.as_deref())
        .map_err(|e| {
            DaemonError::Control(format!("control socket {}", socket_path.display()), e)
        })?;
    let (global, router_id) = (config.global.clone(), config.global.router_id.clone());

    let scripts = scripts_runtime().map_err(DaemonError::Signals)?;
    let mut supervisor = Supervisor::new(nl, watchers.clone(), events.clone(), scripts);
    let checked = Checked::off_thread(move || Checked::new(config)).await;
    if let Err(e) = match checked {
        Ok(checked) => supervisor.apply(checked).await,
        Err(e) => Err(e),
    } {
        supervisor.stop_all().await;
        control::server::unlink(&socket_path);
        return Err(e);
    }
    tokio::spawn(links::run(link_events, watchers));
    // Both local listeners run on a thread of their own: however many clients connect, the
    // router tasks' thread never serves one.
    let listeners = side_runtime("vipd-listeners").map_err(DaemonError::Signals)?;
    // So do the periodic duties, the log summary and the watchdog: a timer of tokio's
    // waiting on the router thread makes each of its sleeps arm a kernel timeout (an
    // `epoll_wait` with one), about 3 µs per wake-up, a hundred wake-ups a second for a
    // Master at 10 ms adverts. The router thread then has none while its routers need none.
    listeners.spawn(log_budget::report());
    let control_counters = Arc::new(control::listener::Counters::default());
    if let Some(addr) = global.metrics_listen {
        let bound = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| DaemonError::Control(format!("metrics listener {addr}"), e))?;
        let counters = Arc::new(control::listener::Counters::default());
        let all = vec![
            ("control", control_counters.clone()),
            ("metrics", counters.clone()),
        ];
        let instances = supervisor.controls();
        listeners.spawn(async move {
            if let Err(e) = control::metrics::serve(bound, instances, counters, all).await {
                error!(%addr, error = %e, "metrics listener stopped");
            }
        });
        info!(%addr, "metrics on http://{addr}/metrics");
    }
    let (reload_tx, mut reload_rx) = mpsc::channel::<control::server::ReloadRequest>(4);
    let daemon = control::server::Daemon {
        router_id,
        instances: supervisor.controls(),
        events,
        reload: reload_tx,
    };
    listeners.spawn(async move {
        if let Err(e) = control::server::serve(listener, daemon, control_counters).await {
            error!(error = %e, "control socket stopped");
        }
    });
    info!(instances = supervisor.len(), "vipd running");
    systemd::ready(&format!("{} instances running", supervisor.len()));
    systemd::spawn_watchdog(&listeners);

    loop {
        tokio::select! {
            _ = sigterm.recv() => { info!("SIGTERM: stopping"); break; }
            _ = sigint.recv() => { info!("SIGINT: stopping"); break; }
            _ = sighup.recv() => {
                info!("SIGHUP: reloading {}", path.display());
                match reload::read(&path, stopped(&mut sigterm, &mut sigint)).await {
                    Read::Stop => {
                        info!("stopping during a reload");
                        break;
                    }
                    Read::Done(read) => {
                        let _ = reload::apply(&mut supervisor, *read, &global).await;
                    }
                }
            }
            Some(reply) = reload_rx.recv() => {
                info!("reload requested on the control socket");
                match reload::read(&path, stopped(&mut sigterm, &mut sigint)).await {
                    Read::Stop => {
                        let _ = reply.send(Err("vipd is stopping".into()));
                        info!("stopping during a reload");
                        break;
                    }
                    Read::Done(read) => {
                        let _ = reply.send(reload::apply(&mut supervisor, *read, &global).await);
                    }
                }
            }
        }
    }
    tokio::spawn(async move {
        tokio::select! {
            _ = sigterm.recv() => {}
            _ = sigint.recv() => {}
        }
        // Written directly: the log writer thread's queue is not flushed by exit().
        eprintln!("vipd: second signal: exiting at once, VIPs may be left on the interface");
        std::process::exit(1);
    });
    systemd::stopping();
    if tokio::time::timeout(STOP_BUDGET, supervisor.stop_all())
        .await
        .is_err()
    {
        error!("stop took longer than {STOP_BUDGET:?}; exiting anyway");
    }
    control::server::unlink(&socket_path);
    info!("vipd stopped");
    Ok(())
}

/// A second single-threaded runtime, on its own OS thread, for check scripts and notify
/// commands. Starting a process forks the daemon; a hundred checks starting at once kept the
/// router tasks' thread busy for milliseconds (advert jitter p99 2.6 ms measured with 100
/// two-second scripts, against 0.2 ms without). On their own thread they cannot delay an
/// advert.
fn scripts_runtime() -> std::io::Result<tokio::runtime::Handle> {
    side_runtime("vipd-scripts")
}

/// A single-threaded runtime on an OS thread of its own, called `name`.
fn side_runtime(name: &str) -> std::io::Result<tokio::runtime::Handle> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => {
                    let _ = tx.send(Ok(rt.handle().clone()));
                    rt.block_on(std::future::pending::<()>());
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })?;
    rx.recv().map_err(std::io::Error::other)?
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, as far as it goes: sockets, checks and
/// notify scripts then have room beyond the default 1,024. A failure only costs that room.
fn raise_descriptor_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => {
                info!(from = soft, to = hard, "raised the open-file limit");
                crate::track::process::children_get_descriptor_limit(soft);
            }
            Err(e) => warn!(soft, hard, error = %e, "could not raise the open-file limit"),
        },
        Ok(_) => {}
        Err(e) => warn!(error = %e, "could not read the open-file limit"),
    }
}
