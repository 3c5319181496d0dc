//! The control socket server, inside the daemon. It reads what router tasks publish and
//! sends them inputs; it never touches protocol state directly.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::timeout;
use tracing::{debug, info, warn};

use super::listener::{self, Ticket};
use super::protocol::{
    ChannelStatus, Command, Event, Request, Response, Status, TrackerStatus, VERSION,
};
use crate::daemon::latest::Reader;
use crate::daemon::router_inbox::RouterInbox;
use crate::daemon::stats::Stats;
use crate::notify::NotifyCounters;
use crate::track;
use crate::vrrp::router::Input;

/// `vipd events` sessions open at once: they hold their slot for as long as they follow, so
/// at most half the slots, and `vipd status` always finds one.
const MAX_EVENT_SESSIONS: usize = listener::CAP / 2;

/// The longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;

pub use super::view::View;

/// Every running instance's handle, as the daemon publishes them. Shared, not copied:
/// the supervisor keeps each handle, and a copy for the list (and another per metrics
/// scrape) was some 200 bytes per instance each.
pub type Instances = Vec<Arc<Instance>>;

/// The control server's handle on one instance.
#[derive(Clone)]
pub struct Instance {
    /// Name.
    pub name: Arc<str>,
    /// The latest view published by its router task.
    pub view: Reader<View>,
    /// Its counters.
    pub stats: Arc<Stats>,
    /// Its heartbeat channels' labels and counters, primary first.
    pub channels: Vec<(String, Arc<Stats>)>,
    /// Its router task's inbox.
    pub inbox: RouterInbox,
    /// Every instance's trackers (this one's under its name).
    pub trackers: track::Board,
    /// Its notify command counters.
    pub notify: Arc<NotifyCounters>,
    /// Its arbiter's figures, when it has `arbiter: true`.
    pub arbiter: Option<Arc<crate::arbiter::board::ArbiterBoard>>,
}

impl Instance {
    /// This instance's trackers as status shows them.
    pub fn tracker_status(&self) -> Vec<TrackerStatus> {
        let board = self.trackers.read().unwrap_or_else(|e| e.into_inner());
        board
            .get(&*self.name)
            .map(|list| {
                list.iter()
                    .map(|t| TrackerStatus {
                        name: t.source.clone(),
                        weight: t.weight,
                        state: t.health.word(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Binds the control socket at `path` with mode 0600 (root only), or 0660 owned by `group`
/// when one is given, replacing a stale socket but refusing to steal a running vipd's.
/// Non-blocking and not yet tied to a runtime: [`serve`] adopts it on the listeners' thread.
pub fn bind(path: &Path, group: Option<&str>) -> io::Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is in use: is another vipd running?", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    let mode = match group {
        None => 0o600,
        Some(name) => {
            let gid = nix::unistd::Group::from_name(name)
                .map_err(io::Error::from)?
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("no group named {name}"))
                })?
                .gid;
            nix::unistd::chown(path, None, Some(gid)).map_err(io::Error::from)?;
            0o660
        }
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}

/// A reload request: the answer comes back on the oneshot.
pub type ReloadRequest = oneshot::Sender<Result<String, String>>;

/// What the server needs from the daemon.
pub struct Daemon {
    /// `global.router_id`.
    pub router_id: Option<String>,
    /// The running instances; follows reloads.
    pub instances: watch::Receiver<Instances>,
    /// The transition stream.
    pub events: broadcast::Sender<Event>,
    /// Where reload requests go.
    pub reload: mpsc::Sender<ReloadRequest>,
}

/// Serves clients until the task is dropped, at most [`listener::CAP`] at once; a client
/// must send its request within [`listener::REQUEST_TIMEOUT`], and each write must finish
/// within [`listener::WRITE_TIMEOUT`].
pub async fn serve(
    listener: std::os::unix::net::UnixListener,
    daemon: Daemon,
    counters: Arc<listener::Counters>,
) -> io::Result<()> {
    let listener = UnixListener::from_std(listener)?;
    let daemon = Arc::new(daemon);
    let board = listener::Board::new("control socket", listener::CAP, counters);
    listener::run(listener, board, move |stream, ticket| {
        let daemon = daemon.clone();
        async move {
            if let Err(e) = client(stream, &daemon, ticket).await {
                debug!(error = %e, "control client");
            }
        }
    })
    .await;
    Ok(())
}

async fn client(stream: UnixStream, daemon: &Daemon, mut ticket: Ticket) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
    let eviction = ticket.eviction();
    tokio::select! {
        read = timeout(listener::REQUEST_TIMEOUT, reader.read_line(&mut line)) => match read {
            Ok(r) => r?,
            Err(_) => {
                ticket.timed_out();
                return Ok(());
            }
        },
        () = eviction.wait() => return Ok(()),
    };
    ticket.answered();
    let instances = daemon.instances.borrow().clone();
    let (router_id, instances, events) = (&daemon.router_id, &instances[..], &daemon.events);
    let response = match serde_json::from_str::<Request>(&line) {
        Err(e) => Response::error(format!("bad request: {e}")),
        Ok(r) if r.version != VERSION => Response::error(format!(
            "protocol version {} not supported; this vipd speaks {VERSION}",
            r.version
        )),
        Ok(Request {
            command: Command::Status,
            ..
        }) => {
            let mut r = Response::message("status");
            r.status = Some(status(router_id, instances));
            r
        }
        Ok(Request {
            command: Command::Maintenance { on, instance },
            ..
        }) => maintenance(instances, on, instance.as_deref()).await,
        Ok(Request {
            command: Command::Reload,
            ..
        }) => {
            let (tx, rx) = oneshot::channel();
            match daemon.reload.send(tx).await {
                Err(_) => Response::error("the daemon is stopping"),
                Ok(()) => match rx.await {
                    Ok(Ok(summary)) => Response::message(format!("reloaded: {summary}")),
                    Ok(Err(e)) => Response::error(format!("reload refused, nothing changed:\n{e}")),
                    Err(_) => Response::error("the daemon is stopping"),
                },
            }
        }
        Ok(Request {
            command: Command::Events,
            ..
        }) if events.receiver_count() >= MAX_EVENT_SESSIONS => Response::error(format!(
            "{MAX_EVENT_SESSIONS} `vipd events` sessions are open already; try again later"
        )),
        Ok(Request {
            command: Command::Events,
            ..
        }) => {
            let mut rx = events.subscribe();
            send(&mut write, &Response::message("following events"), &ticket).await?;
            // The read half is watched while waiting, so a client that hung up is noticed at
            // once rather than at the next event (its descriptor would be held till then).
            let mut read = reader.into_inner().into_inner();
            let mut scrap = [0u8; 256];
            loop {
                tokio::select! {
                    got = read.read(&mut scrap) => match got {
                        Ok(0) | Err(_) => return Ok(()),
                        Ok(_) => {}
                    },
                    event = rx.recv() => match event {
                        Ok(event) => send(&mut write, &event, &ticket).await?,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            warn!(missed = n, "events client too slow; events dropped for it")
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    },
                }
            }
        }
    };
    send(&mut write, &response, &ticket).await
}

/// Writes one line, within [`listener::WRITE_TIMEOUT`]: a client that stops reading is
/// dropped rather than kept with its descriptor.
async fn send(
    write: &mut (impl AsyncWriteExt + Unpin),
    value: &impl serde::Serialize,
    ticket: &Ticket,
) -> io::Result<()> {
    let mut text = serde_json::to_string(value).map_err(io::Error::other)?;
    text.push('\n');
    match timeout(listener::WRITE_TIMEOUT, write.write_all(text.as_bytes())).await {
        Ok(r) => r,
        Err(_) => {
            ticket.timed_out();
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client not reading",
            ))
        }
    }
}

fn counters(stats: &Stats) -> std::collections::BTreeMap<String, u64> {
    stats
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The status of every instance, with counters and time in state filled in now.
pub fn status(router_id: &Option<String>, instances: &[Arc<Instance>]) -> Status {
    let now = SystemTime::now();
    let instances = instances
        .iter()
        .map(|i| {
            let view = i.view.borrow();
            let mut s = view.status();
            s.seconds_in_state = now
                .duration_since(view.since)
                .unwrap_or_default()
                .as_secs_f64();
            s.since = humantime::format_rfc3339_millis(view.since).to_string();
            s.trackers = i.tracker_status();
            s.arbiter = i
                .arbiter
                .as_ref()
                .map(|a| a.status(std::time::Instant::now()));
            s.counters = counters(&i.stats);
            s.last_fence = i.stats.last_fence();
            s.counters.insert(
                "notify_failed".into(),
                i.notify.failed.load(Ordering::Relaxed),
            );
            s.counters.insert(
                "notify_dropped".into(),
                i.notify.dropped.load(Ordering::Relaxed),
            );
            // The view has the channels as the router task last judged them (lost or not);
            // counters and the last sighting are read now.
            let lost: Vec<(String, bool)> = s
                .channels
                .iter()
                .map(|c| (c.name.clone(), c.lost))
                .collect();
            s.channels = i
                .channels
                .iter()
                .map(|(name, stats)| ChannelStatus {
                    name: name.clone(),
                    lost: lost.iter().any(|(n, l)| n == name && *l),
                    last_advert_ms_ago: stats
                        .last_advert()
                        .map(|t| now.duration_since(t).unwrap_or_default().as_millis() as u64),
                    counters: counters(stats),
                    connections: stats
                        .links()
                        .into_iter()
                        .map(|(peer, up)| {
                            let state = if up { "connected" } else { "connecting" };
                            (peer.to_string(), state.to_owned())
                        })
                        .collect(),
                })
                .collect();
            s
        })
        .collect();
    Status {
        router_id: router_id.clone(),
        instances,
    }
}

async fn maintenance(instances: &[Arc<Instance>], on: bool, only: Option<&str>) -> Response {
    let chosen: Vec<&Instance> = instances
        .iter()
        .map(|i| &**i)
        .filter(|i| only.is_none_or(|n| *n == *i.name))
        .collect();
    if chosen.is_empty() {
        return Response::error(format!("no instance named {}", only.unwrap_or("")));
    }
    let mut names = Vec::new();
    for i in chosen {
        if i.inbox.send(Input::Drain(on)).await.is_ok() {
            names.push(&*i.name);
        }
    }
    let what = if on { "on" } else { "off" };
    info!(instances = ?names, "maintenance {what} (control socket)");
    Response::message(format!("maintenance {what}: {}", names.join(", ")))
}

/// Removes the socket file at shutdown.
pub fn unlink(path: &PathBuf) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests;
