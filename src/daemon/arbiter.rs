//! The arbiter tasks: one per arbitrated key (an instance, or a sync group's members
//! together), carrying its [`Keeper`]'s requests to etcd and its answers to the routers.
//!
//! The keeper decides; this task only runs the one request it has in flight, the watch, and
//! its timer. A task outlives reloads (the lease must not be dropped because a file was
//! re-read): members join and leave, settings change in place, and the task ends only when
//! no instance uses its key any more, revoking its lease on the way out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant as TokioInstant;
use tracing::{info, warn};

use crate::arbiter::board::ArbiterBoard;
use crate::arbiter::etcd::{Acquire, EtcdClient, StoreSettings};
use crate::arbiter::keeper::{Keeper, KeeperAction, KeeperConfig, KeeperInput, Reply, StoreOp};
use crate::arbiter::{LeaseView, StoreError};
use crate::config::{ArbiterStore, CLOCK_SKEW_PPM, Config};
use crate::daemon::router_inbox::RouterInbox;
use crate::vrrp::router::{GateAnswer, GateKind, Input};

/// What a router task and the supervisor tell an arbiter task.
pub enum ArbiterMsg {
    /// A member's router task, and where its answers go (replaces an earlier one).
    Join { member: String, inbox: RouterInbox },
    /// The member stopped.
    Leave { member: String },
    /// A gate request, a withdrawal or a release from a member's router.
    Keeper(KeeperInput),
    /// New settings (a reload).
    Configure(KeeperConfig, EtcdClient),
    /// Revoke the lease and end; answered when done.
    Stop(oneshot::Sender<()>),
}

/// How long a stop waits for the request in flight (a revoke, most likely).
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// How a router task reaches its arbiter.
pub type ArbiterLink = mpsc::UnboundedSender<ArbiterMsg>;

struct Running {
    link: ArbiterLink,
    board: Arc<ArbiterBoard>,
    task: JoinHandle<()>,
}

/// Every arbiter task, by key.
#[derive(Default)]
pub struct Arbiters {
    running: HashMap<String, Running>,
    /// The keys the configuration applied last uses.
    used: Vec<String>,
}

impl Arbiters {
    /// Starts a task for every key `config` uses and tells each its settings. Returns each
    /// arbitrated instance's link and board. Tasks of keys no longer used run on until
    /// [`Arbiters::retire`], once their instances have stopped and let go of the addresses.
    pub fn apply(
        &mut self,
        config: &Config,
    ) -> Result<HashMap<String, (ArbiterLink, Arc<ArbiterBoard>)>, String> {
        let mut out = HashMap::new();
        let mut used = Vec::new();
        if let Some(store) = &config.arbiter {
            let client =
                EtcdClient::new(&store_settings(store)).map_err(|e| format!("arbiter: {e}"))?;
            let holder = identity(config);
            for name in config.instances.keys() {
                let Some(key) = config.arbiter_key(name) else {
                    continue;
                };
                let kc = keeper_config(store, key.clone(), holder.clone());
                let running = self.running.entry(key.clone()).or_insert_with(|| {
                    let board = Arc::new(ArbiterBoard::new(key.clone()));
                    let (link, inbox) = mpsc::unbounded_channel();
                    let keeper = Keeper::new(kc.clone());
                    let task = tokio::spawn(run(keeper, client.clone(), board.clone(), inbox));
                    Running { link, board, task }
                });
                let _ = running.link.send(ArbiterMsg::Configure(kc, client.clone()));
                out.insert(name.clone(), (running.link.clone(), running.board.clone()));
                used.push(key);
            }
        }
        self.used = used;
        Ok(out)
    }

    /// Stops the tasks of keys the configuration applied last does not use, each revoking
    /// its lease.
    pub async fn retire(&mut self) {
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|k| !self.used.contains(k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(r) = self.running.remove(&key) {
                stop(r).await;
            }
        }
    }

    /// Stops every task, each revoking its lease.
    pub async fn stop_all(&mut self) {
        for (_, r) in self.running.drain() {
            stop(r).await;
        }
    }
}

async fn stop(r: Running) {
    let (tx, rx) = oneshot::channel();
    if r.link.send(ArbiterMsg::Stop(tx)).is_ok() {
        let _ = rx.await;
    }
    let _ = r.task.await;
}

fn store_settings(s: &ArbiterStore) -> StoreSettings {
    StoreSettings {
        endpoints: s.endpoints.clone(),
        ca: s.ca.clone(),
        cert: s.cert.clone(),
        key: s.key.clone(),
        request_timeout: s.request_timeout,
    }
}

/// What this node writes into the keys it holds: `global.router_id`, else the host name.
fn identity(config: &Config) -> String {
    config.global.router_id.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "vipd".into())
    })
}

fn keeper_config(s: &ArbiterStore, key: String, holder: String) -> KeeperConfig {
    KeeperConfig {
        key,
        holder,
        ttl: s.ttl,
        margin: s.margin,
        skew_ppm: CLOCK_SKEW_PPM,
        on_store_loss: s.on_store_loss,
    }
}

/// Carries one request to etcd.
async fn carry(client: EtcdClient, key: String, holder: String, op: StoreOp) -> Reply {
    let failed = Reply::Failed;
    match op {
        StoreOp::Grant(ttl) => client
            .grant(ttl)
            .await
            .map_or_else(failed, |(id, ttl)| Reply::Granted(id, ttl)),
        StoreOp::KeepAlive(id) => client
            .keep_alive(id)
            .await
            .map_or_else(failed, Reply::KeptAlive),
        StoreOp::Acquire(id) => match client.acquire(&key, &holder, id).await {
            Ok(Acquire::Won { .. }) => Reply::Won,
            Ok(Acquire::Held {
                holder,
                lease,
                revision,
            }) => Reply::Held {
                holder,
                lease,
                revision,
            },
            Err(e) => Reply::Failed(e),
        },
        StoreOp::TakeOver { id, old } => client
            .take_over(&key, &holder, id, old)
            .await
            .map_or_else(failed, Reply::TookOver),
        StoreOp::Revoke(id) => client
            .revoke(id)
            .await
            .map_or_else(failed, |()| Reply::Revoked),
    }
}

/// One key's task.
async fn run(
    mut keeper: Keeper,
    mut client: EtcdClient,
    board: Arc<ArbiterBoard>,
    mut inbox: mpsc::UnboundedReceiver<ArbiterMsg>,
) {
    let mut members: HashMap<String, RouterInbox> = HashMap::new();
    let (reply_tx, mut replies) = mpsc::unbounded_channel::<(StoreOp, Instant, Reply)>();
    let (watch_tx, mut watched) = mpsc::unbounded_channel::<Result<(), StoreError>>();
    let mut watch: Option<JoinHandle<()>> = None;
    // The last request sent: a stop lets it finish, so the revoke a stopping Master's
    // release just sent is not cut off by the runtime shutting down.
    let mut last_request: Option<JoinHandle<()>> = None;
    loop {
        let deadline = keeper.next_deadline().map(TokioInstant::from_std);
        let input = tokio::select! {
            biased;
            Some((op, sent, reply)) = replies.recv() => {
                note_reply(&board, &op, sent, &reply);
                KeeperInput::Reply(reply)
            }
            Some(result) = watched.recv() => match result {
                Ok(()) => KeeperInput::Deleted,
                Err(e) => KeeperInput::WatchFailed(e),
            },
            msg = inbox.recv() => match msg {
                Some(ArbiterMsg::Keeper(input)) => input,
                Some(ArbiterMsg::Join { member, inbox }) => {
                    members.insert(member, inbox);
                    continue;
                }
                Some(ArbiterMsg::Leave { member }) => {
                    members.remove(&member);
                    KeeperInput::Release { member }
                }
                Some(ArbiterMsg::Configure(config, c)) => {
                    keeper.configure(config);
                    client = c;
                    continue;
                }
                Some(ArbiterMsg::Stop(done)) => {
                    if let Some(w) = watch.take() {
                        w.abort();
                    }
                    if let Some(request) = last_request.take() {
                        let _ = tokio::time::timeout(STOP_WAIT, request).await;
                    }
                    if let Some(id) = keeper.lease() {
                        // Bounded by the client's request timeout per endpoint.
                        let _ = client.revoke(id).await;
                    }
                    let _ = done.send(());
                    return;
                }
                None => return,
            },
            () = sleep_until(deadline) => KeeperInput::Timer,
        };
        let now = Instant::now();
        for action in keeper.handle(now, input) {
            match action {
                KeeperAction::Store(op) => {
                    let key = keeper.config().key.clone();
                    let holder = keeper.config().holder.clone();
                    let (client, tx) = (client.clone(), reply_tx.clone());
                    last_request = Some(tokio::spawn(async move {
                        let reply = carry(client, key, holder, op.clone()).await;
                        let _ = tx.send((op, now, reply));
                    }));
                }
                KeeperAction::Watch(revision) => {
                    if let Some(w) = watch.take() {
                        w.abort();
                    }
                    let (client, tx) = (client.clone(), watch_tx.clone());
                    let key = keeper.config().key.clone();
                    watch = Some(tokio::spawn(async move {
                        let _ = tx.send(client.wait_deleted(&key, revision).await);
                    }));
                }
                KeeperAction::Unwatch => {
                    if let Some(w) = watch.take() {
                        w.abort();
                    }
                }
                KeeperAction::Answer {
                    member,
                    attempt,
                    granted,
                    detail,
                } => {
                    let counter = if granted {
                        &board.grants
                    } else {
                        &board.denials
                    };
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if granted {
                        info!(instance = %member, key = %keeper.config().key, %detail, "arbiter granted the takeover");
                    } else {
                        warn!(instance = %member, key = %keeper.config().key, %detail, "arbiter refused the takeover");
                    }
                    if let Some(inbox) = members.get(&member) {
                        let answer = GateAnswer {
                            gate: GateKind::Arbiter,
                            attempt,
                            granted,
                            detail,
                            fenced: false,
                        };
                        let _ = inbox.send(Input::Gate(answer)).await;
                    }
                }
                KeeperAction::View(view) => {
                    match &view {
                        LeaseView::Held { .. } => {}
                        LeaseView::Unreachable { detail } => {
                            warn!(key = %keeper.config().key, %detail, "arbiter: cannot renew the lease")
                        }
                        LeaseView::Lost { detail } => {
                            warn!(key = %keeper.config().key, %detail, "arbiter: lease lost")
                        }
                    }
                    for inbox in members.values() {
                        let _ = inbox.send(Input::Lease(view.clone())).await;
                    }
                }
            }
        }
        board.holder(
            keeper.holder().map(str::to_owned),
            keeper.holds(),
            keeper.valid_until(),
        );
    }
}

async fn sleep_until(deadline: Option<TokioInstant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn note_reply(board: &ArbiterBoard, op: &StoreOp, sent: Instant, reply: &Reply) {
    match reply {
        Reply::Failed(e) => {
            if matches!(op, StoreOp::KeepAlive(_)) {
                board
                    .renew_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            board.answered(Err(e.to_string()));
        }
        _ => {
            board.answered(Ok(()));
            if matches!(op, StoreOp::KeepAlive(_)) {
                board.renewed(sent.elapsed());
            }
        }
    }
}
