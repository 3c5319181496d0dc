//! What drives one virtual router: its task feeds it timer expiries and the daemon's control
//! inputs, and hands its actions to the outside world through [`RouterIo`]. The router lives
//! in a [`RouterCell`] it shares with the receive loops, which feed it adverts themselves,
//! and with the shared timer, which sends a Master's adverts itself; on the shared timer the
//! task runs only while the router has something else to do (see `cell`).
//!
//! This is the only place where protocol time meets the tokio clock. Nothing here waits on
//! I/O: `RouterIo` implementations queue slow work (netlink, scripts) elsewhere, so an
//! advert or a timer is never delayed by it.

mod cell;

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use tokio::time::Instant as TokioInstant;

use cell::Step;
pub use cell::{Door, PacketDoor, RouterCell};

use super::late_reads;
use super::router_inbox::InboxReceiver;
use super::wakeup::{Slack, Wakeup, advert_grid};

use std::net::IpAddr;

use crate::net::announce::Pacing;
use crate::vrrp::channels::HealthChange;
use crate::vrrp::router::{
    Action, GateKind, Input, Packet, Receipt, Router, Suppressed, Takeover, Transition,
};

/// What to do with the virtual addresses; queued to an address worker, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VipOp {
    /// Add every VIP, then announce it.
    Add,
    /// Remove every VIP.
    Remove,
    /// Send this many gratuitous ARPs / unsolicited NAs per VIP, paced as the router's
    /// configuration says at the time.
    Announce {
        /// Rounds over every VIP.
        count: u32,
        /// The least gaps between two frames of a kind.
        pacing: Pacing,
    },
    /// A reload changed the VIPs: while they are held, add the new ones (and announce them)
    /// and remove the dropped ones; the others stay untouched.
    Set {
        /// The new list.
        vips: std::sync::Arc<[crate::config::Vip]>,
        /// The link-local source of their NAs (an IPv4 instance's first IPv6 VIP needs one
        /// it did not have before).
        src_ll: Option<std::net::Ipv6Addr>,
    },
}

/// One [`Action::AskGate`], as the shell answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateQuestion {
    /// The gate asked.
    pub gate: GateKind,
    /// The attempt its answer must name.
    pub attempt: u64,
    /// What kind of takeover it is.
    pub takeover: Takeover,
    /// The Master the takeover replaces, as last heard (what a fence fences).
    pub peer: Option<IpAddr>,
    /// An earlier gate of this attempt fenced `peer`.
    pub after_fence: bool,
}

/// The outside world of one router task. Every method must return at once. The methods the
/// router waits on (the gates) have no default body: an implementation that forgot one would
/// leave a takeover waiting for an answer nobody sends.
pub trait RouterIo: Send {
    /// Sends an advert with `priority` on every channel, now; its content (VIPs, interval)
    /// is the router's configuration.
    fn send_advert(&mut self, router: &Router, priority: u8);
    /// Queues an address operation.
    fn vips(&mut self, op: VipOp);
    /// Reports a state change (logs, notify, events).
    fn transition(&mut self, router: &Router, transition: &Transition);
    /// Asks a gate about a takeover attempt; the answer comes back as [`Input::Gate`].
    fn ask_gate(&mut self, router: &Router, question: GateQuestion);
    /// Takeover `attempt` no longer waits for `gate`.
    fn withdraw_gate(&mut self, gate: GateKind, attempt: u64);
    /// The router left Master under an arbiter: the lease goes back at once.
    fn release_lease(&mut self);
    /// The router refused its sync group's order to Master; the group must hear of it.
    fn sync_refused(&mut self);
    /// The router's fault sources changed (`router.faults()` has the new set). A sync group
    /// needs this even when the state did not change.
    fn faults_changed(&mut self, _router: &Router) {}
    /// Called after every input, to publish what changed (status views).
    fn after_input(&mut self, _router: &Router) {}
    /// A heartbeat channel was lost or recovered (`router.channel_health()` describes it).
    fn channel(&mut self, router: &Router, change: HealthChange);
    /// A limit held back an answer (counters).
    fn suppressed(&mut self, what: Suppressed);
    /// A received advert was judged (counters, logs).
    fn receipt(&mut self, router: &Router, channel: usize, from: IpAddr, receipt: Receipt);
}

/// Installs `router` in `cell` and starts its task, which runs it until `control` closes or
/// the router has handled [`Input::Stop`]. The stop is seen on the inbox
/// ([`super::router_inbox::RouterInbox::closed`]); the I/O then waits in the cell
/// ([`RouterCell::take_ended`]) so the caller can wait for queued work to finish.
///
/// Control inputs (reloads, trackers, gates, links, the group) come from this daemon and
/// are never dropped. Received adverts do not pass through here: receive loops hand them to
/// the router in `cell` directly ([`PacketDoor`]). `control` must knock on `cell`
/// ([`RouterCell::reader`]).
pub fn drive<I: RouterIo + 'static>(
    cell: &Arc<RouterCell<I>>,
    router: Router,
    control: InboxReceiver,
    io: I,
    wakeup: Wakeup,
) {
    cell.install(router, io, control, wakeup);
}

/// The task serving the router in `cell`: on the shared timer, only until nothing is due
/// and no input waits (see `cell`); else until the router stops.
async fn serve<I: RouterIo + 'static>(cell: Arc<RouterCell<I>>) {
    let mut serving = Serving { cell, ended: false };
    let cell = &serving.cell;
    loop {
        match std::future::poll_fn(|cx| cell.poll_step(cx)).await {
            Step::Due { master_down, late } => {
                if late {
                    // Its routine adverts wait in their socket: read them first, as below.
                    late_reads::read_now();
                }
                if master_down || late {
                    // A Backup whose thread was held up (a loaded host) wakes with the
                    // Master's adverts still in the socket: the timerfd and the socket
                    // become ready in the same poll, in either order. Yielding lets the
                    // runtime poll its I/O driver and run the receive loops first (tokio
                    // runs a yielded task after the I/O woken in that poll): they hand the
                    // router the adverts, which move Master_Down on, and the timer below
                    // finds nothing due. Only Master_Down pays for this, and it fires
                    // rarely.
                    tokio::task::yield_now().await;
                }
                if cell.timer() {
                    // The expiry made this router Master and its first advert is out; the
                    // rest (addresses, announcements, the transition's log, status, events
                    // and notify) waits until every other router due at this instant has
                    // sent its own. A Master of 1,000 instances that dies lets all its
                    // Backups' timers expire together: each reporting its transition before
                    // the next could send made the last advert leave 12-14 ms late.
                    tokio::task::yield_now().await;
                    cell.finish();
                }
            }
            Step::Input { input, late } => {
                if late {
                    // The adverts that came before the input are judged before it, as when
                    // they are read as they come.
                    late_reads::read_first().await;
                }
                let stopping = *input == Input::Stop;
                cell.handle(*input);
                if stopping {
                    cell.end();
                    break;
                }
            }
            Step::Closed => {
                cell.end();
                break;
            }
            Step::Idle => break,
        }
    }
    serving.ended = true;
}

/// A serving task's hold on its cell: dropped before it ended well (a panic, a runtime
/// shutting down), it marks the router lost, so a stop waiting for it goes on.
struct Serving<I: RouterIo + 'static> {
    cell: Arc<RouterCell<I>>,
    ended: bool,
}

impl<I: RouterIo + 'static> Drop for Serving<I> {
    fn drop(&mut self) {
        if !self.ended {
            self.cell.lost();
        }
    }
}

/// How exactly `deadline`, the router's next, must be kept: a Master's next advert may wait
/// for the grid (see `wakeup`); nothing else may.
fn slack(router: &Router, deadline: Option<Instant>) -> Slack {
    if deadline.is_some() && router.advert_deadline() == deadline {
        Slack::Grid(advert_grid(router.config().advert_interval.as_duration()))
    } else {
        Slack::Exact
    }
}

thread_local! {
    /// The router's actions for one input, kept between inputs: a Backup of fifty
    /// instances at 10 ms adverts feeds 5,000 adverts a second through here. One buffer per
    /// thread, not per router: every router runs on the daemon's one runtime thread, and a
    /// buffer each kept some 350 bytes per instance. A call made while the buffer is out
    /// (none is) would find it empty and use a new one.
    static ACTIONS: Cell<Vec<Action>> = const { Cell::new(Vec::new()) };
}

/// A router and its outside world, inside the task.
struct Task<I> {
    router: Router,
    io: I,
    /// What a timer expiry left for [`Task::finish`] (see [`Task::timer`]); `None` but in
    /// the instant of a takeover. Behind a thin pointer (a boxed Vec: a boxed slice is a
    /// fat one): every router's task holds one, and eight more bytes put the router's cell
    /// in jemalloc's next size class, 128 bytes up.
    #[allow(clippy::box_collection)]
    deferred: Option<Box<Vec<Action>>>,
}

impl<I: RouterIo> Task<I> {
    fn new(router: Router, io: I) -> Self {
        Task {
            router,
            io,
            deferred: None,
        }
    }

    fn handle(&mut self, input: Input) {
        self.finish();
        // Received adverts never change faults, and they are nearly every input (timers come
        // through `Task::timer`): only the rest pay for the comparison.
        let faults_before =
            (!matches!(input, Input::Advert(_) | Input::Packet(_))).then(|| self.router.faults());
        let mut actions = ACTIONS.take();
        self.router.handle_into(now(), input, &mut actions);
        self.act(&mut actions);
        ACTIONS.set(actions);
        if faults_before.is_some_and(|before| before != self.router.faults()) {
            self.io.faults_changed(&self.router);
        }
        self.io.after_input(&self.router);
    }

    /// A received advert, as [`Task::handle`] would take it in an [`Input::Packet`], as
    /// arrived at `arrived` (`None`: now). Returns the time the router was given: a deadline
    /// it moved is judged against it.
    ///
    /// `arrived` is never later than now: the receive loop dated it by a clock it read after
    /// the read (see `net::vrrp_socket::arrival`). So the clock is not read again here, once
    /// per advert: at 5,000 adverts a second that was about 1 % of a Backup's time.
    fn packet(&mut self, packet: Packet, arrived: Option<Instant>) -> Instant {
        self.finish();
        let mut actions = ACTIONS.take();
        let at = arrived.unwrap_or_else(now);
        self.router.receive_into(at, packet, &mut actions);
        self.act(&mut actions);
        ACTIONS.set(actions);
        self.io.after_input(&self.router);
        at
    }

    /// A timer expiry, as [`Task::handle`] would take [`Input::Timer`], except that when it
    /// sends adverts and then does more (a takeover), only the adverts go out now; returns
    /// whether the rest waits for [`Task::finish`]. Every other input finishes it first, so
    /// the actions keep their order.
    fn timer(&mut self) -> bool {
        self.finish();
        let mut actions = ACTIONS.take();
        // A Master_Down deadline that came while this thread stood still is judged as one
        // the router ran late for (see "A stalled host" in the README).
        match super::wakeup::last_stall() {
            Some(stall) => self
                .router
                .timer_after_stall_into(now(), stall, &mut actions),
            None => self.router.handle_into(now(), Input::Timer, &mut actions),
        }
        let adverts = actions
            .iter()
            .take_while(|a| matches!(a, Action::SendAdvert { .. }))
            .count();
        let deferring = adverts > 0 && adverts < actions.len();
        if deferring {
            // The adverts go out before the rest is kept: keeping it allocates.
            let mut due = actions.drain(..);
            for action in due.by_ref().take(adverts) {
                self.act_one(action);
            }
            self.deferred = Some(Box::new(due.collect()));
        } else {
            self.act(&mut actions);
        }
        ACTIONS.set(actions);
        if !deferring {
            self.io.after_input(&self.router);
        }
        deferring
    }

    /// Carries out what [`Task::timer`] left.
    fn finish(&mut self) {
        if let Some(mut deferred) = self.deferred.take() {
            self.act(&mut deferred);
            self.io.after_input(&self.router);
        }
    }

    /// Carries out the router's actions, in order, leaving the buffer empty for the next
    /// input.
    fn act(&mut self, actions: &mut Vec<Action>) {
        for action in actions.drain(..) {
            self.act_one(action);
        }
    }

    /// Carries out one of the router's actions.
    fn act_one(&mut self, action: Action) {
        let Task { router, io, .. } = self;
        match action {
            Action::SendAdvert { priority } => io.send_advert(router, priority),
            Action::AddVips => io.vips(VipOp::Add),
            Action::RemoveVips => io.vips(VipOp::Remove),
            Action::Announce { count } => {
                let schedule = router.config().announce();
                let pacing = Pacing {
                    arp: schedule.arp_interval,
                    na: schedule.na_interval,
                };
                io.vips(VipOp::Announce { count, pacing })
            }
            Action::Notify(t) => io.transition(router, &t),
            Action::AskGate {
                gate,
                attempt,
                takeover,
                peer,
                after_fence,
            } => io.ask_gate(
                router,
                GateQuestion {
                    gate,
                    attempt,
                    takeover,
                    peer,
                    after_fence,
                },
            ),
            Action::WithdrawGate { gate, attempt } => io.withdraw_gate(gate, attempt),
            Action::ReleaseLease => io.release_lease(),
            Action::RefuseSyncOrder { .. } => io.sync_refused(),
            Action::Channel(change) => io.channel(router, change),
            Action::Suppressed(what) => io.suppressed(what),
            Action::Receipt {
                channel,
                from,
                receipt,
            } => io.receipt(router, channel, from, receipt),
        }
    }
}

/// Protocol time, from the tokio clock (which tests may pause and advance).
fn now() -> Instant {
    TokioInstant::now().into_std()
}

#[cfg(test)]
mod tests;
