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
mod systemd;
mod vips;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::control;
use crate::control::protocol::InstanceStatus;
use crate::net::{Announcer, LinkEvents, NetError, Netlink, VrrpSocket};
use crate::notify::{Commands, EventStream, Notifier, Subject};
use crate::track::{self, RunAs};
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
    /// Trackers or notify commands cannot run (bad command line, unknown user, insecure
    /// script).
    #[error("{0}")]
    Scripts(String),
    /// The control socket could not be created.
    #[error("{0}: {1}")]
    Control(String, std::io::Error),
    /// Signal handlers could not be installed.
    #[error("installing signal handlers: {0}")]
    Signals(std::io::Error),
}

/// What `start` wires in besides the instances.
struct Wiring {
    link_events: LinkEvents,
    listener: UnixListener,
    plan: track::Plan,
    notifiers: HashMap<String, Notifier>,
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

    let plan = track::plan(&config).map_err(|e| DaemonError::Scripts(e.to_string()))?;
    let run_as = RunAs::for_scripts(config.global.script_user.as_deref())
        .map_err(|e| DaemonError::Scripts(e.to_string()))?;
    let event_log = match &config.global.event_log {
        Some(path) => Some(
            EventStream::open(path.clone())
                .map_err(|e| DaemonError::Control(format!("event log {}", path.display()), e))?,
        ),
        None => None,
    };
    let mut notifiers = HashMap::new();
    for (name, inst) in &config.instances {
        let commands = Commands::from_config(&inst.notify, run_as)
            .map_err(|e| DaemonError::Scripts(format!("instance {name}: notify: {e}")))?;
        let vips = inst.vips.iter().map(|v| v.addr.to_string()).collect();
        let (notifier, _task) =
            Notifier::spawn(Subject::Instance, name, vips, commands, event_log.clone());
        notifiers.insert(name.clone(), notifier);
    }

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
    let socket_path = config.global.control_socket.clone();
    let listener = match control::server::bind(&socket_path) {
        Ok(l) => l,
        Err(e) => {
            for p in &prepared {
                instance::teardown(&nl, p).await;
            }
            return Err(DaemonError::Control(
                format!("control socket {}", socket_path.display()),
                e,
            ));
        }
    };
    let wiring = Wiring {
        link_events,
        listener,
        plan,
        notifiers,
    };
    let running = match start(&nl, &prepared, &config, wiring).await {
        Ok(r) => r,
        Err(e) => {
            for p in &prepared {
                instance::teardown(&nl, p).await;
            }
            return Err(e);
        }
    };
    info!(instances = running.len(), "vipd running");
    systemd::ready(&format!("{} instances running", running.len()));
    systemd::spawn_watchdog();

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
    systemd::stopping();
    stop(running).await;
    for p in &prepared {
        instance::teardown(&nl, p).await;
    }
    control::server::unlink(&socket_path);
    info!("vipd stopped");
    Ok(())
}

async fn start(
    nl: &Netlink,
    prepared: &[Prepared],
    config: &Config,
    wiring: Wiring,
) -> Result<Vec<Running>, DaemonError> {
    let Wiring {
        link_events,
        listener,
        plan,
        mut notifiers,
    } = wiring;
    let mut initial: HashMap<String, Vec<Input>> = plan
        .instances
        .iter()
        .map(|t| (t.instance.clone(), t.initial_inputs()))
        .collect();
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
    let mut controls = Vec::new();
    let (events, _) = broadcast::channel(256);
    let mut sockets: HashMap<SocketKey, (Arc<VrrpSocket>, Routes)> = HashMap::new();
    let mut watchers: HashMap<u32, Vec<(String, mpsc::Sender<Input>)>> = HashMap::new();
    let mut running = Vec::new();
    let mut starts = Vec::new();
    for p in prepared {
        let inst = &p.instance;
        let family = inst.family();
        // Adverts are received on the parent even with a virtual MAC: the Master sends from
        // the virtual MAC, which this node's macvlan also has, and a macvlan never delivers
        // a frame whose source MAC is its own. Listening on the macvlan, a Backup would
        // hear no Master and take over too.
        let key = (p.parent.name.clone(), family, p.primary);
        if !sockets.contains_key(&key) {
            let socket = open_socket(&p.parent.name, family, p.primary)?;
            sockets.insert(key.clone(), (Arc::new(socket), HashMap::new()));
        }
        // ...and sent from the macvlan, so that they carry the virtual MAC (RFC 9568 §7.3).
        // Nothing reads this socket; the kernel drops what overflows its receive buffer.
        let send_socket = if p.vmac.is_some() {
            Some(Arc::new(open_socket(&p.iface, family, p.primary)?))
        } else {
            None
        };
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
        let (view_tx, view_rx) = watch::channel(initial_view(p));
        controls.push(control::server::Instance {
            name: p.name.clone(),
            view: view_rx,
            stats: stats.clone(),
            inbox: inbox.clone(),
        });
        let io = io::LiveIo {
            name: p.name.clone(),
            socket: send_socket.unwrap_or_else(|| socket.clone()),
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
            view: view_tx,
            events: events.clone(),
            notifier: notifiers.remove(&p.name),
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
        for input in initial.remove(&p.name).unwrap_or_default() {
            starts.push((inbox.clone(), input));
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
    if let Some(addr) = config.global.metrics_listen {
        control::metrics::serve(addr, controls.clone())
            .await
            .map_err(|e| DaemonError::Control(format!("metrics listener {addr}"), e))?;
        info!(%addr, "metrics on http://{addr}/metrics");
    }
    tokio::spawn(control::server::serve(
        listener,
        config.global.router_id.clone(),
        controls,
        events,
    ));
    tokio::spawn(links::run(link_events, watchers));
    plan.spawn(&inboxes, |_| track::Baseline::Initial);
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

/// Opens the VRRP socket of `family` on `iface`, sending from `src`.
fn open_socket(iface: &str, family: Family, src: IpAddr) -> Result<VrrpSocket, NetError> {
    match (family, src) {
        (Family::V4, IpAddr::V4(src)) => VrrpSocket::open_v4(iface, Some(src)),
        (_, IpAddr::V6(src)) => VrrpSocket::open_v6(iface, Some(src)),
        (Family::V6, IpAddr::V4(_)) => unreachable!("an IPv6 instance has an IPv6 source"),
    }
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

/// What the control server shows for an instance before its router task has said anything.
fn initial_view(p: &Prepared) -> control::server::View {
    let inst = &p.instance;
    let interval_ms = inst.advert_interval.as_duration().as_millis() as u64;
    let status = InstanceStatus {
        name: p.name.clone(),
        interface: p.iface.clone(),
        vrid: inst.vrid,
        version: if inst.version == Version::V2 { 2 } else { 3 },
        state: crate::vrrp::State::Initialize.to_string(),
        base_priority: inst.priority,
        effective_priority: inst.priority,
        master: None,
        vips: inst.vips.iter().map(|v| v.addr.to_string()).collect(),
        vips_held: false,
        advert_interval_ms: interval_ms,
        master_advert_interval_ms: interval_ms,
        since: String::new(),
        seconds_in_state: 0.0,
        last_reason: "not started".into(),
        faults: Vec::new(),
        maintenance: false,
        counters: Default::default(),
    };
    control::server::View {
        status,
        since: std::time::SystemTime::now(),
    }
}
