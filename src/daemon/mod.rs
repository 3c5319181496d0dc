//! The daemon: one task per virtual router, wired to sockets, netlink and signals.
//!
//! Tasks per instance: the router task ([`driver`]) and its address worker ([`vips`]).
//! Shared: one receive task per (interface, family, source) socket, and one link watcher.
//! Tasks talk through channels only; the router task never waits on I/O.

pub mod driver;
mod groups;
mod instance;
mod io;
mod links;
pub mod logging;
mod receiver;
pub mod stats;
mod vips;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::net::{Announcer, LinkEvents, NetError, Netlink, VrrpSocket};
use crate::vrrp::group::SyncGroup;
use crate::vrrp::packet::{self, Auth};
use crate::vrrp::router::{Input, Router};
use crate::vrrp::{Family, Version};
use instance::{PrepareError, Prepared};

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
    /// Signal handlers could not be installed.
    #[error("installing signal handlers: {0}")]
    Signals(std::io::Error),
}

/// One socket per interface, family and source address.
type SocketKey = (String, Family, IpAddr);
/// The instances a socket serves, by VRID.
type Routes = HashMap<u8, receiver::Route>;

struct Running {
    name: String,
    inbox: mpsc::Sender<Input>,
    driver: JoinHandle<io::LiveIo>,
    worker: JoinHandle<()>,
}

/// Runs every instance of `config` until SIGTERM or SIGINT, then stops them cleanly.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    let nl = Netlink::new()?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    // Subscribe before reading link states, so no change falls between the two.
    let link_events = LinkEvents::subscribe().await?;

    let mut prepared = Vec::new();
    for (name, inst) in &config.instances {
        match instance::prepare(&nl, name, inst).await {
            Ok(p) => prepared.push(p),
            Err(e) => {
                for p in &prepared {
                    instance::teardown(&nl, p).await;
                }
                return Err(e.into());
            }
        }
    }
    let running = match start(&nl, &prepared, &config, link_events).await {
        Ok(r) => r,
        Err(e) => {
            for p in &prepared {
                instance::teardown(&nl, p).await;
            }
            return Err(e);
        }
    };
    info!(instances = running.len(), "vipd running");

    loop {
        tokio::select! {
            _ = sigterm.recv() => { info!("SIGTERM: stopping"); break; }
            _ = sigint.recv() => { info!("SIGINT: stopping"); break; }
            _ = sighup.recv() => warn!("SIGHUP: configuration reload is not implemented yet; ignoring"),
        }
    }
    tokio::spawn(async move {
        tokio::select! {
            _ = sigterm.recv() => {}
            _ = sigint.recv() => {}
        }
        error!("second signal: exiting at once, VIPs may be left on the interface");
        std::process::exit(1);
    });
    stop(running).await;
    for p in &prepared {
        instance::teardown(&nl, p).await;
    }
    info!("vipd stopped");
    Ok(())
}

async fn start(
    nl: &Netlink,
    prepared: &[Prepared],
    config: &Config,
    link_events: LinkEvents,
) -> Result<Vec<Running>, DaemonError> {
    let mut group_of = HashMap::new();
    let mut group_tasks = Vec::new();
    for (name, members) in &config.groups {
        let (tx, rx) = mpsc::unbounded_channel();
        for m in members {
            group_of.insert(m.clone(), tx.clone());
        }
        group_tasks.push((SyncGroup::new(name.clone(), members.clone()), rx));
    }
    let mut inboxes: HashMap<String, mpsc::Sender<Input>> = HashMap::new();
    let mut sockets: HashMap<SocketKey, (Arc<VrrpSocket>, Routes)> = HashMap::new();
    let mut watchers: HashMap<u32, Vec<(String, mpsc::Sender<Input>)>> = HashMap::new();
    let mut running = Vec::new();
    let mut starts = Vec::new();
    for p in prepared {
        let inst = &p.instance;
        let family = inst.family();
        let key = (p.iface.clone(), family, p.primary);
        if !sockets.contains_key(&key) {
            let socket = match (family, p.primary) {
                (Family::V4, IpAddr::V4(src)) => VrrpSocket::open_v4(&p.iface, Some(src))?,
                (_, IpAddr::V6(src)) => VrrpSocket::open_v6(&p.iface, Some(src))?,
                (Family::V6, IpAddr::V4(_)) => unreachable!("an IPv6 instance has an IPv6 source"),
            };
            sockets.insert(key.clone(), (Arc::new(socket), HashMap::new()));
        }
        let (socket, routes) = sockets.get_mut(&key).expect("inserted above");
        let (inbox, inbox_rx) = mpsc::channel(256);
        let stats = Arc::new(stats::Stats::default());
        let auth = match (&inst.auth, inst.version) {
            (Some(a), Version::V2) => Auth::simple(a.password.as_bytes()).unwrap_or(Auth::None),
            _ => Auth::None,
        };
        let vips = p.vip_addrs();
        let peers = inst.unicast.as_ref().map(|u| u.peers.clone());
        routes.insert(
            inst.vrid,
            receiver::Route {
                name: p.name.clone(),
                inbox: inbox.clone(),
                version: inst.version,
                auth,
                interval: inst.advert_interval,
                vips: vips.clone(),
                checksum: inst.v3_checksum,
                unicast_peers: peers.clone(),
                stats: stats.clone(),
            },
        );
        let mut announcer = Announcer::new(p.ifindex)?;
        announcer.set_vips(p.mac, &vips, p.src_ll(), false)?;
        let (ops_tx, ops_rx) = mpsc::unbounded_channel();
        let worker = tokio::spawn(vips::run(
            p.name.clone(),
            nl.clone(),
            p.ifindex,
            p.iface.clone(),
            inst.vips.clone(),
            announcer,
            ops_rx,
        ));
        let io = io::LiveIo {
            name: p.name.clone(),
            socket: socket.clone(),
            advert: packet::Advert {
                version: inst.version,
                vrid: inst.vrid,
                priority: inst.priority,
                interval: inst.advert_interval,
                addresses: vips,
                auth,
            },
            src: p.primary,
            dests: peers.unwrap_or_else(|| vec![socket.group()]),
            checksum: inst.v3_checksum,
            vip_ops: ops_tx,
            stats,
            group: group_of.get(&p.name).cloned(),
        };
        let router = Router::new(inst.router_config(&p.name, p.primary));
        let driver = tokio::spawn(driver::drive(router, inbox_rx, io));
        watchers
            .entry(p.parent.index)
            .or_default()
            .push((p.name.clone(), inbox.clone()));
        if !p.parent.usable() {
            warn!(instance = %p.name, interface = %p.parent.name, "interface is down: starting in FAULT");
            starts.push((
                inbox.clone(),
                Input::Fault {
                    source: links::fault_source(&p.parent.name),
                    active: true,
                },
            ));
        }
        starts.push((inbox.clone(), Input::Start));
        inboxes.insert(p.name.clone(), inbox.clone());
        running.push(Running {
            name: p.name.clone(),
            inbox,
            driver,
            worker,
        });
    }
    let socket_stats = Arc::new(stats::Stats::default());
    for ((iface, _, primary), (socket, routes)) in sockets {
        let mut own = socket.local_addrs().unwrap_or_default();
        own.push(primary);
        tokio::spawn(receiver::run(
            socket,
            iface,
            routes,
            own,
            socket_stats.clone(),
        ));
    }
    tokio::spawn(links::run(link_events, watchers));
    for (group, rx) in group_tasks {
        let members = group
            .members
            .iter()
            .filter_map(|m| Some((m.clone(), inboxes.get(m)?.clone())))
            .collect();
        tokio::spawn(groups::run(group, members, rx));
    }
    for (inbox, input) in starts {
        let _ = inbox.send(input).await;
    }
    Ok(running)
}

/// Stops every router (priority 0 from Masters, VIPs released) and waits for the address
/// workers to finish, within [`STOP_BUDGET`].
async fn stop(running: Vec<Running>) {
    for r in &running {
        let _ = r.inbox.send(Input::Stop).await;
    }
    let finish = async {
        for r in running {
            match r.driver.await {
                // Dropping the I/O closes the worker's queue; the worker drains it and ends.
                Ok(io) => drop(io),
                Err(e) => error!(instance = %r.name, error = %e, "router task failed"),
            }
            let _ = r.worker.await;
        }
    };
    if tokio::time::timeout(STOP_BUDGET, finish).await.is_err() {
        error!("stop took longer than {STOP_BUDGET:?}; exiting anyway");
    }
}
