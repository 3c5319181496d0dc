//! A router shared by its task and the receive loops that hand it adverts.
//!
//! A receive loop used to queue each advert for the router's task: a boxed packet, a
//! channel, a wake-up and a poll of that task per advert, about a fifth of a Backup's user
//! time at 5,000 adverts a second. Now the loop that parsed an advert hands it to the router
//! itself, under a lock nobody else holds in that instant (every router task and receive loop
//! runs on the daemon's one runtime thread), and moves the router's wait in the shared timer
//! to the new deadline; its task sleeps on until a deadline comes or a control input arrives.
//!
//! A Master's next advert is sent the same way, without its task: the shared timer, whose
//! task wakes for the deadline anyway, calls the router's cell ([`Expiry`]), which sends the
//! advert and waits for the next. Waking the router's task for it cost a wake-up and a poll
//! per advert: 13 % of a lone Master's user-space instructions per advert (callgrind). Every
//! other deadline (Master_Down above all, with its ordering) still wakes the task.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::{RouterIo, Task, now, slack};
use crate::daemon::wakeup::{Expiry, Slack, Wakeup};
use crate::vrrp::router::{Input, Packet, Router};

/// Where a receive loop hands a well-formed advert: to its router, at once. Packets come
/// from anyone on the network; every one is judged by the router and counted.
pub trait PacketDoor: Send + Sync {
    /// Hands `packet` to the router now; dropped if the router is not running.
    fn deliver(&self, packet: Packet);
}

/// A shared handle on a [`PacketDoor`].
pub type Door = Arc<dyn PacketDoor>;

/// One router, its outside world and its wait, shared by its task and the receive loops.
/// Empty until the task is made ([`super::drive`]), and again once it has stopped.
pub struct RouterCell<I> {
    held: Mutex<Option<Held<I>>>,
}

struct Held<I> {
    task: Task<I>,
    wakeup: Wakeup,
    /// The task's waker, from its last wait: woken when a packet moved the router's
    /// deadline where the shared timer cannot follow by itself.
    waiter: Option<Waker>,
}

impl<I> Default for RouterCell<I> {
    fn default() -> Self {
        RouterCell {
            held: Mutex::new(None),
        }
    }
}

impl<I: RouterIo + 'static> RouterCell<I> {
    /// An empty cell: receive loops may be given its door before the router exists.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(super) fn install(&self, router: Router, io: I, wakeup: Wakeup) {
        *self.lock() = Some(Held {
            task: Task::new(router, io),
            wakeup,
            waiter: None,
        });
    }

    /// Takes the router out when its task ends; later packets are dropped.
    pub(super) fn take_io(&self) -> Option<I> {
        self.lock().take().map(|held| held.task.io)
    }

    /// Feeds one input to the router.
    pub(super) fn handle(&self, input: Input) {
        if let Some(held) = self.lock().as_mut() {
            held.task.handle(input);
        }
    }

    /// Feeds a timer expiry to the router; returns whether it left actions for
    /// [`RouterCell::finish`] (see `Task::timer`).
    pub(super) fn timer(&self) -> bool {
        self.lock().as_mut().is_some_and(|held| held.task.timer())
    }

    /// Carries out the actions a timer expiry left.
    pub(super) fn finish(&self) {
        if let Some(held) = self.lock().as_mut() {
            held.task.finish();
        }
    }

    /// Ready when the router's next deadline has come, with whether it is Master_Down;
    /// until then the task of `cx` is woken when it comes, or, for a Master's next advert
    /// on the shared timer, the timer sends it ([`Expiry`]) and the task sleeps on.
    pub(super) fn poll_due(self: &Arc<Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut guard = self.lock();
        let Some(held) = guard.as_mut() else {
            return Poll::Pending;
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
        let master_down = deadline.is_some() && router.deadlines().master_down == deadline;
        let slack = slack(router, deadline);
        if self.timer_sends(held, deadline, slack) {
            return Poll::Pending;
        }
        held.wakeup
            .poll_until(cx, deadline, slack)
            .map(|()| master_down)
    }

    /// Leaves `deadline` to the shared timer to serve by calling this cell, if it is a
    /// Master's next advert (the only deadline kept on the grid) not yet due; returns
    /// whether it did.
    fn timer_sends(
        self: &Arc<Self>,
        held: &mut Held<I>,
        deadline: Option<Instant>,
        slack: Slack,
    ) -> bool {
        let (Some(deadline), Slack::Grid(_)) = (deadline, slack) else {
            return false;
        };
        held.wakeup
            .call_at(deadline, slack, || Arc::downgrade(self) as Weak<dyn Expiry>)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Held<I>>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<I: RouterIo + 'static> Expiry for RouterCell<I> {
    /// A Master's next advert came: sent here, as the task would have on waking, and the
    /// next one waited for the same way. Anything else found due (a preemption moved the
    /// wait to Master_Down) wakes the task, which acts on it with its ordering.
    fn expired(self: Arc<Self>) {
        let mut guard = self.lock();
        let Some(held) = guard.as_mut() else {
            return;
        };
        let router = &held.task.router;
        let deadline = router.next_deadline();
        let advert_due =
            deadline.is_some_and(|d| d <= now()) && deadline == router.deadlines().advert;
        if advert_due && held.task.timer() {
            // Something else came due at the same instant: carried out now, after the
            // advert. (The task defers this past other routers' adverts of the instant; a
            // Master's advert timer takes nobody over, so nobody waits for it.)
            held.task.finish();
        }
        let router = &held.task.router;
        let next = router.next_deadline();
        let slack = slack(router, next);
        if !(advert_due && self.timer_sends(held, next, slack))
            && let Some(waiter) = &held.waiter
        {
            waiter.wake_by_ref();
        }
    }
}

impl<I: RouterIo + 'static> PacketDoor for RouterCell<I> {
    fn deliver(&self, packet: Packet) {
        let mut guard = self.lock();
        let Some(held) = guard.as_mut() else {
            return;
        };
        let before = held.task.router.next_deadline();
        held.task.packet(packet);
        let router = &held.task.router;
        let after = router.next_deadline();
        if after != before && held.wakeup.moved(after, slack(router, after)) {
            if let Some(waiter) = &held.waiter {
                waiter.wake_by_ref();
            }
        }
    }
}

/// Tests watch what a receive loop hands over on a channel of their own.
#[cfg(test)]
impl PacketDoor for tokio::sync::mpsc::Sender<Box<Packet>> {
    fn deliver(&self, packet: Packet) {
        let _ = self.try_send(Box::new(packet));
    }
}
