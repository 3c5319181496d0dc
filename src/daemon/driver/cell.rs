//! A router shared by its task and the receive loops that hand it adverts.
//!
//! A receive loop used to queue each advert for the router's task: a boxed packet, a
//! channel, a wake-up and a poll of that task per advert, about a fifth of a Backup's user
//! time at 5,000 adverts a second. Now the loop that parsed an advert hands it to the router
//! itself, under a lock nobody else holds in that instant (every router task and receive loop
//! runs on the daemon's one runtime thread), and moves the router's wait in the shared timer
//! to the new deadline.
//!
//! A Master's next advert is sent the same way: the shared timer, whose task wakes for the
//! deadline anyway, calls the router's cell ([`Expiry`]), which sends the advert and waits
//! for the next. Waking the router's task for it cost a wake-up and a poll per advert: 13 %
//! of a lone Master's user-space instructions per advert (callgrind).
//!
//! So on the shared timer a router needs a task only while it has something else to do:
//! a deadline other than a Master's advert (Master_Down above all, with its ordering), or a
//! control input. A knock on the cell starts one then ([`Knock`]); it serves until nothing
//! is due and the inbox is empty, leaves the next deadline to the timer as a call, and ends.
//! A parked tokio task is 256 bytes whatever it holds (its cell is aligned to 128 bytes),
//! about 6 % of what an idle instance kept. On tokio's timer (no timerfd, and the paused-clock
//! tests) nothing calls the cell at a deadline, so the task stays until the router stops.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{RouterIo, Task, now, slack};
use crate::daemon::late_reads;
use crate::daemon::router_inbox::{InboxReceiver, Knock};
use crate::daemon::wakeup::{Expiry, Slack, Wakeup};
use crate::vrrp::router::{Input, Packet, Router};
use crate::vrrp::stamp::Stamp;

/// Where a receive loop hands a well-formed advert: to its router, at once. Packets come
/// from anyone on the network; every one is judged by the router and counted.
pub trait PacketDoor: Send + Sync {
    /// Hands `packet` to the router now, as arrived at `arrived` (`None`: now); dropped if
    /// the router is not running.
    fn deliver(&self, packet: Packet, arrived: Option<Instant>);

    /// The Master whose routine adverts the router may be handed late (see `late_reads`);
    /// `None`: every advert as it comes.
    fn late_source(&self) -> Option<IpAddr> {
        None
    }
}

/// A shared handle on a [`PacketDoor`].
pub type Door = Arc<dyn PacketDoor>;

/// One router, its outside world and its wait, shared by its task and the receive loops.
/// Empty until [`super::drive`] installs the router; holds the I/O alone once it stopped.
pub struct RouterCell<I> {
    held: Mutex<Life<I>>,
}

// The running router is kept in place: it is what the cell is for, and boxing it would be
// one more allocation per instance.
#[allow(clippy::large_enum_variant)]
enum Life<I> {
    /// Not installed yet.
    Unborn,
    Running(Held<I>),
    /// Stopped: the I/O, for whoever waited for the stop; `None` once taken, or if the task
    /// was lost (it panicked, or its runtime shut down).
    Ended(Option<I>),
}

struct Held<I> {
    task: Task<I>,
    control: InboxReceiver,
    wakeup: Wakeup,
    /// The waker of the task serving the router, while one does (a no-op waker from its
    /// start to its first poll): `None` while no task runs.
    waiter: Option<Waker>,
}

/// What the serving task does next.
pub(super) enum Step {
    /// The router's next deadline came; whether it is Master_Down, and whether the router
    /// reads late (its routine adverts wait in their socket).
    Due { master_down: bool, late: bool },
    /// A control input, and whether the router reads late (as for `Due`).
    Input { input: Box<Input>, late: bool },
    /// Every sender of the inbox is gone.
    Closed,
    /// Nothing is due and nothing queued: the timer calls the cell at the next deadline and
    /// the inbox knocks at the next input, so the task ends.
    Idle,
}

impl<I> Default for RouterCell<I> {
    fn default() -> Self {
        RouterCell {
            held: Mutex::new(Life::Unborn),
        }
    }
}

impl<I> Life<I> {
    fn running(&mut self) -> Option<&mut Held<I>> {
        match self {
            Life::Running(held) => Some(held),
            _ => None,
        }
    }
}

impl<I: RouterIo + 'static> RouterCell<I> {
    /// An empty cell: receive loops and the inbox may be given it before the router exists.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// This cell as its inbox's reader, knocked on for each input.
    pub fn reader(self: &Arc<Self>) -> Weak<dyn Knock> {
        Arc::downgrade(self) as Weak<dyn Knock>
    }

    /// Installs the router and starts its task.
    pub(super) fn install(
        self: &Arc<Self>,
        router: Router,
        io: I,
        control: InboxReceiver,
        wakeup: Wakeup,
    ) {
        let due = router.next_deadline().is_some();
        let mut guard = self.lock();
        *guard = Life::Running(Held {
            task: Task::new(router, io),
            control,
            wakeup,
            waiter: None,
        });
        // A task only for work already there: a deadline, or inputs queued before the
        // install, whose knock found no router. Looked at after the router is in place, so
        // an input queued from now on knocks for itself. A new router has neither: a task
        // started for each and ended at once, at 1,000 instances, left a 256-byte hole
        // beside each router's configuration in the allocator's slabs (half of that class's
        // pages held nothing).
        let waiting = guard.running().is_some_and(|held| held.control.waiting());
        drop(guard);
        if due || waiting {
            self.clone().knock();
        }
    }

    /// The router stopped: keeps its I/O for [`RouterCell::take_ended`] and lets the rest
    /// go, the inbox's receiving end with it (which tells a stop waiting on the inbox).
    pub(super) fn end(&self) {
        let mut guard = self.lock();
        let Life::Running(held) = std::mem::replace(&mut *guard, Life::Ended(None)) else {
            return;
        };
        let Held {
            task,
            control,
            wakeup,
            ..
        } = held;
        let Task {
            router,
            io,
            deferred,
        } = task;
        *guard = Life::Ended(Some(io));
        drop(guard);
        // Out of the lock: what goes may knock on this cell as it goes.
        drop((router, deferred, wakeup, control));
    }

    /// The serving task was dropped before the router stopped: nothing serves it any more,
    /// as when a task dies; a stop waiting on the inbox goes on.
    pub(super) fn lost(&self) {
        let life = std::mem::replace(&mut *self.lock(), Life::Ended(None));
        drop(life);
    }

    /// The I/O of a stopped router, once; `None` while it runs or if it was lost.
    pub fn take_ended(&self) -> Option<I> {
        match &mut *self.lock() {
            Life::Ended(io) => io.take(),
            _ => None,
        }
    }

    /// Whether a task serves the router now.
    #[cfg(test)]
    pub(super) fn serving(&self) -> bool {
        self.lock()
            .running()
            .is_some_and(|held| held.waiter.is_some())
    }

    /// Feeds one input to the router.
    pub(super) fn handle(&self, input: Input) {
        if let Some(held) = self.lock().running() {
            watching(&mut held.task, |task| task.handle(input));
        }
    }

    /// Feeds a timer expiry to the router; returns whether it left actions for
    /// [`RouterCell::finish`] (see `Task::timer`).
    pub(super) fn timer(&self) -> bool {
        self.lock()
            .running()
            .is_some_and(|held| watching(&mut held.task, Task::timer))
    }

    /// Carries out the actions a timer expiry left.
    pub(super) fn finish(&self) {
        if let Some(held) = self.lock().running() {
            watching(&mut held.task, Task::finish);
        }
    }

    /// What the serving task of `cx` does next: the router's next deadline if it has come,
    /// else the next control input; until either, the task is woken when it comes, or on
    /// the shared timer it ends ([`Step::Idle`]), leaving the deadline to the timer and the
    /// input to the inbox's knock. Timers first: nothing the daemon queues may hold back an
    /// advert.
    pub(super) fn poll_step(self: &Arc<Self>, cx: &mut Context<'_>) -> Poll<Step> {
        let mut guard = self.lock();
        let Some(held) = guard.running() else {
            // Stopped, or lost, under it: nothing to serve.
            return Poll::Ready(Step::Closed);
        };
        if !held
            .waiter
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            held.waiter = Some(cx.waker().clone());
        }
        let router = &held.task.router;
        let deadline = router.next_deadline();
        let master_down = is_master_down(router, deadline);
        let late = router.reads_late();
        let slack = slack(router, deadline);
        let calls = held.wakeup.calls_owners();
        // On the shared timer a deadline not yet come is left to it as a call on this cell
        // (the task, if it ends, needs nothing more); on tokio's, the task waits for it.
        let due = if calls {
            !self.leave_to_timer(held, deadline, slack)
        } else {
            held.wakeup.poll_until(cx, deadline, slack).is_ready()
        };
        if due {
            return Poll::Ready(Step::Due { master_down, late });
        }
        match held.control.try_recv() {
            Some(Some(input)) => return Poll::Ready(Step::Input { input, late }),
            Some(None) => return Poll::Ready(Step::Closed),
            None => {}
        }
        if calls {
            // Checked under the cell's lock, which a knock takes after queueing: an input
            // queued after the look above finds no task and starts one.
            held.waiter = None;
            return Poll::Ready(Step::Idle);
        }
        Poll::Pending
    }

    /// Has the shared timer call this cell at `deadline`, whatever it is, or wait for
    /// nothing if there is none; returns whether it could (on the shared timer, with the
    /// deadline not yet come).
    fn leave_to_timer(
        self: &Arc<Self>,
        held: &mut Held<I>,
        deadline: Option<Instant>,
        slack: Slack,
    ) -> bool {
        let Some(deadline) = deadline else {
            if let Wakeup::Precise(slot) = &mut held.wakeup {
                slot.clear();
                return true;
            }
            return false;
        };
        // A Backup reading late has its Master's adverts read before its Master_Down is
        // judged: the timer asks for the reads itself, once for every router due with it.
        let router = &held.task.router;
        let after_reads = router.reads_late() && is_master_down(router, Some(deadline));
        held.wakeup.call_at(deadline, slack, after_reads, || {
            Arc::downgrade(self) as Weak<dyn Expiry>
        })
    }

    fn lock(&self) -> MutexGuard<'_, Life<I>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<I: RouterIo + 'static> Expiry for RouterCell<I> {
    /// A deadline left to the timer came, or a Backup's wait that its Master_Down moved past
    /// (nothing is due then). A Master's next advert is sent here, as the task would have
    /// on waking, and the next deadline left to the timer the same way. Anything
    /// else found due (Master_Down, or a preemption that moved the wait) needs the task,
    /// which acts on it with its ordering: it is woken, or started.
    fn expired(self: Arc<Self>) {
        let mut guard = self.lock();
        let Some(held) = guard.running() else {
            return;
        };
        let router = &held.task.router;
        let deadline = router.next_deadline();
        let advert_due =
            deadline.is_some_and(|d| d <= now()) && deadline == router.advert_deadline();
        if advert_due && watching(&mut held.task, Task::timer) {
            // Something else came due at the same instant: carried out now, after the
            // advert. (The task defers this past other routers' adverts of the instant; a
            // Master's advert timer takes nobody over, so nobody waits for it.)
            watching(&mut held.task, Task::finish);
        }
        let router = &held.task.router;
        let next = router.next_deadline();
        let slack = slack(router, next);
        if !self.leave_to_timer(held, next, slack) {
            drop(guard);
            self.knock();
        }
    }
}

impl<I: RouterIo + 'static> Knock for RouterCell<I> {
    /// A control input came, the inbox's last sender went, or a deadline needs the task:
    /// the task serving the router is woken, or, if none does, one is started.
    fn knock(self: Arc<Self>) {
        let mut guard = self.lock();
        let Some(held) = guard.running() else {
            return;
        };
        if let Some(waiter) = &held.waiter {
            waiter.wake_by_ref();
            return;
        }
        held.waiter = Some(Waker::noop().clone());
        let runtime = held.wakeup.runtime();
        // Started once the lock is released (starting a task allocates); detached: the
        // task's end is seen in this cell, not through a handle.
        drop(guard);
        drop(runtime.spawn(super::serve(self)));
    }
}

impl<I: RouterIo + 'static> PacketDoor for RouterCell<I> {
    fn deliver(&self, packet: Packet, arrived: Option<Instant>) {
        let mut guard = self.lock();
        let Some(held) = guard.running() else {
            return;
        };
        let before = held.task.router.next_stamp();
        let at = watching(&mut held.task, |task| task.packet(packet, arrived));
        let router = &held.task.router;
        let after = router.next_stamp();
        if after == before {
            return;
        }
        let after = after.map(Stamp::get);
        if held
            .wakeup
            .moved(after, slack(router, after), next_move(router, after), at)
        {
            // Rare: the wait could not simply move (none was left to the timer, or the new
            // deadline has come). This cell, as its inbox knows it, is knocked on.
            let cell = held.control.reader();
            drop(guard);
            if let Some(cell) = cell {
                cell.knock();
            }
        }
    }

    fn late_source(&self) -> Option<IpAddr> {
        self.lock()
            .running()
            .and_then(|held| held.task.router.late_source())
    }
}

/// Runs `step` on `task`, and tells the receive loops when the router started or stopped
/// reading late, or follows another Master.
fn watching<I: RouterIo, R>(task: &mut Task<I>, step: impl FnOnce(&mut Task<I>) -> R) -> R {
    let before = task.router.late_source();
    let out = step(task);
    if task.router.late_source() != before {
        late_reads::changed();
    }
    out
}

/// How soon `deadline`, the router's next, moves again if all goes well: Master_Down with
/// the Master's next advert; `None` for any other.
fn next_move(router: &Router, deadline: Option<Instant>) -> Option<Duration> {
    is_master_down(router, deadline).then(|| router.master_adver_interval().as_duration())
}

/// Whether `deadline` is the router's Master_Down (and there is one).
fn is_master_down(router: &Router, deadline: Option<Instant>) -> bool {
    deadline.is_some() && router.master_down_deadline() == deadline
}

/// Tests watch what a receive loop hands over on a channel of their own.
#[cfg(test)]
impl PacketDoor for tokio::sync::mpsc::Sender<Box<Packet>> {
    fn deliver(&self, packet: Packet, _arrived: Option<Instant>) {
        let _ = self.try_send(Box::new(packet));
    }
}
