//! One timerfd for every router task of the daemon.
//!
//! A timerfd per router cost two system calls per advert: a Backup re-armed its
//! Master_Down timer on every advert it heard (RFC 9568 §6.4.2 moves it each time), and a
//! Master re-armed its advert timer and read its expiry every interval. Here the deadlines
//! of all routers wait in one ordered map and the one timerfd is armed for the earliest.
//!
//! A deadline that is not the earliest moves without a system call. When the earliest comes
//! sooner, or the timer expired, it is armed again before the thread sleeps: it must never
//! be late. The daemon's router thread arms it as it parks ([`before_park`], its runtime's
//! `on_thread_park`), once every task that was ready has run; elsewhere (a runtime without
//! the hook, a change from another thread) the first change wakes the timer's own task,
//! which arms it after the tasks queued before it. Either way the routers of one pass share
//! one system call. Armed at once, fifty Backups reading late (50 × 10 ms) armed the timer
//! fifty times per wake-up, their tasks running in the reverse order of their adverts'
//! arrival, each deadline sooner than the last: 680 `timerfd_settime` a second. Armed at
//! park, once per wake-up; and with the timer no longer armed for the next router's
//! deadline while the first one's read is in progress, fewer routers come due during it and
//! need a task started: 19 per wake-up where there were 27. When the earliest moves
//! later (a Backup hearing its Master), the timer may stay armed for the old time: it then
//! expires early, finds nothing due, and is armed for the new earliest. That costs a wake-up
//! of the thread, dearer than the system call it saves when it happens every few adverts (one
//! Backup at 10 ms adverts), so a later earliest re-arms the timer unless it was armed less
//! than [`LATER_REARM_AFTER`] ago. Fifty Backups hearing a burst of their Master's adverts
//! re-arm it once per burst, not once per turn of the runtime (measured: about 14 turns per
//! burst at 50 instances and 10 ms adverts), and Masters whose advert deadlines meet on the
//! grid (see [`super::advert_grid`]) share one expiry and one wake-up.
//!
//! A Backup's Master_Down, which moves later with every advert, need not move in the map at
//! all while its wait there is more than one and a half advert intervals ahead: the next
//! advert comes first ([`Slot::reschedule`]). It moves with every second or third advert,
//! and only those lock the map and may re-arm the timerfd.
//!
//! A Backup reading late (see [`crate::daemon::late_reads`]) has its Master_Down judged only
//! after its Master's adverts, waiting in a socket nobody polls, were read: the timer asks
//! for the reads once per expiry and serves those deadlines on its next pass, after the
//! receive loops ran, and only those still due ([`Then::CallAfterReads`]). Served at once,
//! fifty Backups at 10 ms adverts came due about thirty at a time, and each started its
//! task only to ask for the same reads and find its deadline moved: 955 tasks a second.
//!
//! The adverts that the owners called in one pass send are batched
//! ([`crate::daemon::senders::sent_together`]): Masters whose deadlines met on the grid send
//! with one `sendmmsg` per socket, not one `sendmsg` each.
//!
//! The timer is armed in absolute CLOCK_MONOTONIC time, the clock of `Instant`, so every
//! deadline is kept to the microsecond as with a timerfd of its own.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::vrrp::router::Stall;
use crate::vrrp::stamp::Stamp;

/// The daemon's shared precise timer; clones share it. Made once, in the runtime whose
/// router tasks use it, where a task serves its expiries.
#[derive(Clone)]
pub struct SharedTimer {
    inner: Arc<Inner>,
}

struct Inner {
    fd: AsyncFd<Fd>,
    /// `Instant` and CLOCK_MONOTONIC read together (the `Instant` first, so an absolute
    /// time computed from them is never early).
    base: (Instant, Duration),
    timers: Mutex<Timers>,
    /// The runtime the timer serves, where a router's task is started when a deadline or
    /// an input needs one (see `driver`).
    runtime: tokio::runtime::Handle,
    /// Whether the runtime calls [`before_park`] before its thread sleeps: the timer is then
    /// armed there, once every task that could move a deadline has run.
    armed_at_park: std::sync::atomic::AtomicBool,
}

/// How long after arming the timer a deadline that moved later re-arms it (see the module
/// documentation). Shorter than the shortest advert interval (10 ms), so one Backup re-arms
/// on every advert; longer than a burst of adverts from a Master of many instances.
const LATER_REARM_AFTER: Duration = Duration::from_millis(5);

#[derive(Default)]
struct Timers {
    /// What the timerfd is armed for, if it is armed and its expiry not yet served.
    armed: Option<Instant>,
    /// When the timerfd was last armed.
    armed_when: Option<Instant>,
    /// [`LATER_REARM_AFTER`] (tests move it).
    later_rearm_after: Duration,
    /// Every waiting deadline, with the router it belongs to and what its coming does.
    waiting: BTreeMap<(Instant, u64), Then>,
    next_id: u64,
    /// How many times the timerfd was armed (`timerfd_settime`).
    arms: u64,
    /// The timer's own task, once it ran: it arms the timer for a sooner earliest deadline.
    server: Option<Waker>,
    /// Whether the timer's task will look at the earliest deadline before the thread can
    /// sleep (it was woken for that, or is serving expiries now).
    arming_due: bool,
    /// The receive loops were asked to read before the deadlines due that wait for it are
    /// served: the timer's task serves them on its next pass, and arms the timer after it.
    reads_asked: bool,
}

/// How long the thread must have stood still past the time it was set to wake for a wake-up
/// to be kept as a [`Stall`]: a thread that keeps time wakes within a fraction of this.
const STALL_FLOOR: Duration = Duration::from_millis(1);

thread_local! {
    /// The last wake-up of this thread's shared timer that came over [`STALL_FLOOR`] late.
    static LAST_STALL: Cell<Option<Stall>> = const { Cell::new(None) };
    /// The shared timer started on this thread, for [`before_park`].
    static PARKING: Cell<Option<Weak<Inner>>> = const { Cell::new(None) };
    /// What the deadlines of one expiry do, kept between expiries with its room: a Master of
    /// many instances serves dozens at a time on its advert grid, and a list made for each
    /// expiry was allocated and grown again on every pass. Its room stays at the most one
    /// expiry served.
    static DUE: Cell<Vec<((Instant, u64), Then)>> = const { Cell::new(Vec::new()) };
}

/// What the timer does when a deadline comes.
enum Then {
    /// Wakes a task, which then acts.
    Wake(Waker),
    /// Calls its owner, which acts at once, in the timer's task (a Master's next advert).
    Call(Weak<dyn Expiry>),
    /// Calls its owner as `Call` does, once the receive loops have read the routine sockets
    /// that wait for a deadline ([`crate::daemon::late_reads`]): a Backup reading late,
    /// whose Master's adverts, handed over first, move its Master_Down on.
    CallAfterReads(Weak<dyn Expiry>),
}

impl Then {
    /// Does it. Never with the timer's lock held: the task or owner may wait again.
    fn run(self) {
        match self {
            Then::Wake(waker) => waker.wake(),
            Then::Call(owner) | Then::CallAfterReads(owner) => {
                if let Some(owner) = owner.upgrade() {
                    owner.expired();
                }
            }
        }
    }
}

/// What the shared timer may call at a deadline instead of waking a task: a Master's
/// adverts then cost no poll of its task (see [`Slot::call_at`]).
pub trait Expiry: Send + Sync {
    /// The deadline came, or an earlier one that a later move left in place (see
    /// [`Slot::reschedule`]): the owner looks at its own deadlines and asks again for what
    /// is not due. Runs in the timer's task, with none of the timer's locks held.
    fn expired(self: Arc<Self>);
}

/// A timerfd that tokio can poll.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl SharedTimer {
    /// A timer and the task that serves it, on the current runtime.
    pub fn start() -> io::Result<SharedTimer> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        // SAFETY: `Fd` owns the timerfd, keeps it open until it is dropped together with
        // the `AsyncFd`, and always returns that same descriptor.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(fd), Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        let base = (Instant::now(), monotonic()?);
        let timer = SharedTimer {
            inner: Arc::new(Inner {
                fd,
                base,
                runtime: tokio::runtime::Handle::current(),
                armed_at_park: std::sync::atomic::AtomicBool::new(false),
                timers: Mutex::new(Timers {
                    later_rearm_after: LATER_REARM_AFTER,
                    ..Timers::default()
                }),
            }),
        };
        PARKING.set(Some(Arc::downgrade(&timer.inner)));
        tokio::spawn(timer.clone().serve());
        Ok(timer)
    }

    /// Whether this thread arms the timer when it parks (see [`before_park`]).
    fn armed_here_at_park(&self) -> bool {
        use std::sync::atomic::Ordering;
        if !self.inner.armed_at_park.load(Ordering::Relaxed) {
            return false;
        }
        let parking = PARKING.take();
        let here = parking
            .as_ref()
            .is_some_and(|p| std::ptr::eq(p.as_ptr(), Arc::as_ptr(&self.inner)));
        PARKING.set(parking);
        here
    }

    /// A place in the timer for one router task.
    pub fn slot(&self) -> Slot {
        let mut t = self.timers();
        t.next_id += 1;
        Slot {
            timer: self.clone(),
            id: t.next_id,
            waiting: None,
        }
    }

    /// The first multiple of `step` (counted from CLOCK_MONOTONIC's zero, the same grid
    /// for every task) at or after `deadline`.
    pub fn grid_point(&self, deadline: Instant, step: Duration) -> Instant {
        let abs = self.absolute(deadline);
        let step = step.as_nanos().max(1);
        // Nanoseconds of CLOCK_MONOTONIC fit a u64 for 584 years of uptime.
        let rounded = Duration::from_nanos((abs.as_nanos().div_ceil(step) * step) as u64);
        deadline + (rounded - abs)
    }

    /// How many times the timerfd was armed so far.
    #[cfg(test)]
    pub fn arms(&self) -> u64 {
        self.timers().arms
    }

    /// The earliest deadline any router waits for, if one waits.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers().waiting.keys().next().map(|&(at, _)| at)
    }

    fn absolute(&self, at: Instant) -> Duration {
        let (instant, mono) = self.inner.base;
        match at.checked_duration_since(instant) {
            Some(after) => mono + after,
            None => mono.saturating_sub(instant - at),
        }
    }

    fn timers(&self) -> MutexGuard<'_, Timers> {
        self.inner.timers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the timer armed no later than the earliest waiting deadline, after it changed:
    /// for a sooner one, armed before the thread sleeps (as it parks, or by the timer's
    /// task); for a later one, as [`LATER_REARM_AFTER`] says.
    fn earliest_changed(&self, t: &mut Timers, now: Instant) {
        let Some(&(earliest, _)) = t.waiting.keys().next() else {
            // Nothing waits: an armed timer expires for nothing, once.
            return;
        };
        let rearm = match t.armed {
            Some(armed) if earliest > armed => t
                .armed_when
                .is_none_or(|when| now.saturating_duration_since(when) >= t.later_rearm_after),
            Some(armed) => earliest < armed,
            None => true,
        };
        if !rearm || t.arming_due {
            return;
        }
        if self.armed_here_at_park() {
            // This thread runs every task that could move a deadline before it parks.
            t.arming_due = true;
            return;
        }
        match &t.server {
            Some(server) => {
                t.arming_due = true;
                server.wake_by_ref();
            }
            // Before the timer's task first ran: nothing else would arm it.
            None => self.rearm(t, now),
        }
    }

    /// Arms the timerfd for the earliest waiting deadline, unless it is armed for it.
    fn rearm(&self, t: &mut Timers, now: Instant) {
        let Some(&(at, _)) = t.waiting.keys().next() else {
            return;
        };
        if t.armed == Some(at) {
            return;
        }
        let when = TimeSpec::from_duration(self.absolute(at));
        let set = self.inner.fd.get_ref().0.set(
            Expiration::OneShot(when),
            TimerSetTimeFlags::TFD_TIMER_ABSTIME,
        );
        match set {
            Ok(()) => {
                t.armed = Some(at);
                t.armed_when = Some(now);
                t.arms += 1;
            }
            // Never seen: a valid timerfd and a valid time. Say so; the next arming tries
            // again.
            Err(error) => tracing::error!(%error, "cannot arm the shared timer"),
        }
    }

    /// Wakes the tasks whose deadlines have come, each time the timerfd expires, and keeps
    /// the timer armed for the earliest deadline.
    async fn serve(self) {
        loop {
            match std::future::poll_fn(|cx| self.poll_serve(cx)).await {
                Pass::Stopped => return,
                // What the receive loops hand over moves the waiting deadlines, and only
                // those still due are served on the next pass.
                Pass::ReadsFirst => crate::daemon::late_reads::read_first().await,
            }
        }
    }

    fn poll_serve(&self, cx: &mut Context<'_>) -> Poll<Pass> {
        loop {
            let fired = match self.inner.fd.poll_read_ready(cx) {
                // The expiry count is never read: arming the timer again resets it, and that
                // is a system call a wake-up needs anyway when another deadline waits. The
                // readiness is cleared instead, and the next expiry signals afresh (tokio
                // polls in edge-triggered mode).
                Poll::Ready(Ok(mut guard)) => {
                    guard.clear_ready();
                    true
                }
                Poll::Ready(Err(error)) => {
                    tracing::error!(%error, "the shared timer cannot be polled: timers stop");
                    return Poll::Ready(Pass::Stopped);
                }
                Poll::Pending => false,
            };
            let at_park = self.armed_here_at_park();
            let (mut due, reads_first) = {
                let mut t = self.timers();
                if !t.server.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    t.server = Some(cx.waker().clone());
                }
                // Deadlines that the expiries served below move are armed for after them.
                t.arming_due = true;
                let now = Instant::now();
                // An expiry: the timer is no longer armed. (A readiness from an expiry that
                // arming the timer again discarded finds it armed for a later time.)
                if let Some(armed) = t.armed.filter(|armed| *armed <= now) {
                    t.armed = None;
                    if fired {
                        note_stall(armed, t.armed_when, now);
                    }
                }
                // Taken one by one, not split off: splitting built a new tree, and with it a
                // node allocated for every expiry of a lone Master's advert timer.
                let mut due = DUE.take();
                while let Some(entry) = t.waiting.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    due.push(entry.remove_entry());
                }
                // Backups reading late wait in the map for the reads, which move most of
                // them on (see the module); the rest due now is served at once.
                let reads_first = !t.reads_asked
                    && due
                        .iter()
                        .any(|(_, then)| matches!(then, Then::CallAfterReads(_)));
                t.reads_asked = reads_first;
                if reads_first {
                    due.retain_mut(|(key, then)| {
                        if !matches!(then, Then::CallAfterReads(_)) {
                            return true;
                        }
                        let then = std::mem::replace(then, Then::Wake(Waker::noop().clone()));
                        t.waiting.insert(*key, then);
                        false
                    });
                } else if !at_park {
                    self.rearm(&mut t, now);
                }
                (due, reads_first)
            };
            // Served once the lock is released: a woken task or a called owner may move its
            // own deadline. The adverts of Masters whose deadlines came together leave
            // together, one `sendmmsg` per socket.
            let served = !due.is_empty();
            crate::daemon::senders::sent_together(|| {
                due.drain(..).for_each(|(_, then)| then.run());
            });
            DUE.set(due);
            if reads_first {
                // Armed after the next pass, which serves what is still due.
                return Poll::Ready(Pass::ReadsFirst);
            }
            if !at_park {
                let mut t = self.timers();
                if served {
                    // A called owner asked for its next deadline (a Master's next advert).
                    self.rearm(&mut t, Instant::now());
                }
                t.arming_due = false;
            }
            if !fired {
                return Poll::Pending;
            }
        }
    }
}

/// What a pass of the timer's task ends with, other than waiting for the next expiry.
enum Pass {
    /// The timerfd failed: the task ends.
    Stopped,
    /// Deadlines due wait for the routine sockets to be read ([`Then::CallAfterReads`]).
    ReadsFirst,
}

/// Keeps a wake-up of the timer armed for `armed` (at `armed_when`) that came at `woke`, if
/// it came over [`STALL_FLOOR`] late. Armed for a time already past, the timer was due to
/// wake at once, when it was armed. On the daemon's router thread the timer is armed only
/// as the thread parks, so the lateness is how long the thread stood still asleep: a
/// paused virtual machine, or a starved thread.
fn note_stall(armed: Instant, armed_when: Option<Instant>, woke: Instant) {
    let from = armed_when.map_or(armed, |when| armed.max(when));
    if woke.saturating_duration_since(from) > STALL_FLOOR {
        LAST_STALL.set(Some(Stall { from, to: woke }));
    }
}

/// The last time this thread's shared timer woke it over a millisecond late: the router
/// decides whether a deadline that came inside it could be heard
/// ([`crate::vrrp::router::Router::timer_after_stall_into`]).
pub fn last_stall() -> Option<Stall> {
    LAST_STALL.get()
}

/// Arms the shared timer started on this thread for its earliest deadline, if a change or
/// an expiry left that to the thread's parking. The runtime calls it before its thread
/// sleeps (`on_thread_park`), after every task that was ready ran: the deadlines those
/// tasks moved cost one arming between them.
pub fn before_park() {
    let Some(parking) = PARKING.take() else {
        return;
    };
    if let Some(inner) = parking.upgrade() {
        inner
            .armed_at_park
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let timer = SharedTimer { inner };
        let mut t = timer.timers();
        // While reads were asked, the earliest deadline is one already due, served next.
        if t.arming_due && !t.reads_asked {
            timer.rearm(&mut t, Instant::now());
            t.arming_due = false;
        }
    }
    PARKING.set(Some(parking));
}

/// One router task's deadline in the shared timer.
pub struct Slot {
    timer: SharedTimer,
    id: u64,
    /// The deadline this slot may have in the map (served deadlines leave it early). A
    /// stamp, half an `Instant`: every router's cell holds a slot, at the edge of its size
    /// class.
    waiting: Option<Stamp>,
}

impl Slot {
    /// Returns at `at`, to the microsecond (at once if it has passed). Router tasks poll
    /// through [`super::Wakeup`]; the tests wait with this.
    #[cfg(test)]
    pub async fn until(&mut self, at: Instant) {
        std::future::poll_fn(|cx| self.poll_until(cx, at)).await;
    }

    /// The grid point of `deadline` (see [`SharedTimer::grid_point`]).
    pub fn grid_point(&self, deadline: Instant, step: Duration) -> Instant {
        self.timer.grid_point(deadline, step)
    }

    /// The runtime the timer serves.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.timer.inner.runtime
    }

    /// Takes this slot's deadline out of the timer: it waits for nothing now. The timer
    /// stays armed: taking a deadline out never makes the earliest sooner, and an expiry
    /// that finds nothing due arms it for the earliest then.
    pub fn clear(&mut self) {
        if let Some(old) = self.waiting.take() {
            self.timer.timers().waiting.remove(&(old.get(), self.id));
        }
    }

    pub(super) fn poll_until(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        let now = Instant::now();
        if now >= at {
            self.clear();
            return Poll::Ready(());
        }
        let Slot { timer, id, waiting } = self;
        let mut t = timer.timers();
        if let Some(old) = waiting.replace(Stamp::new(at)).map(Stamp::get)
            && old != at
        {
            t.waiting.remove(&(old, *id));
        }
        t.waiting
            .entry((at, *id))
            .and_modify(|then| match then {
                Then::Wake(w) => w.clone_from(cx.waker()),
                Then::Call(_) | Then::CallAfterReads(_) => *then = Then::Wake(cx.waker().clone()),
            })
            .or_insert_with(|| Then::Wake(cx.waker().clone()));
        timer.earliest_changed(&mut t, now);
        Poll::Pending
    }

    /// Calls `owner` at `at` (at the next expiry if it has passed) instead of waking a
    /// task: the timer's task, which wakes for the deadline anyway, acts for the owner, and
    /// the owner's own task is not polled. For a Master's adverts, which a waiting task cost
    /// a wake-up and a poll each. With `after_reads`, the routine sockets are read first and
    /// the owner is called only if the deadline is still due then (see [`Then`]).
    pub(super) fn call_at(&mut self, at: Instant, owner: Weak<dyn Expiry>, after_reads: bool) {
        let now = Instant::now();
        let Slot { timer, id, waiting } = self;
        let mut t = timer.timers();
        if let Some(old) = waiting.replace(Stamp::new(at)).map(Stamp::get)
            && old != at
        {
            t.waiting.remove(&(old, *id));
        }
        let then = if after_reads {
            Then::CallAfterReads(owner)
        } else {
            Then::Call(owner)
        };
        t.waiting.insert((at, *id), then);
        timer.earliest_changed(&mut t, now);
    }

    /// Moves the wait in progress to `at`, keeping the task it wakes (or the owner it calls),
    /// so the task sleeps on (a Backup's Master_Down moving with each advert its receive loop
    /// handed the router). Returns whether the task must be woken to wait afresh: it waits
    /// in no slot now, so there is nothing to move, or `at` has come and the wait calls an
    /// owner, which must not be called here (the caller holds its lock). A wait whose
    /// deadline came already has been served.
    ///
    /// `next_move`, when given, is how soon the deadline will move again if all goes well
    /// (a Backup's next advert): a later deadline then leaves a wait that the next move will
    /// reach first where it is (see [`left_for_the_next_move`]). `now` is the time the
    /// deadline moved at (the caller read the clock for it).
    pub(super) fn reschedule(
        &mut self,
        at: Instant,
        next_move: Option<Duration>,
        now: Instant,
    ) -> bool {
        let Some(old) = self.waiting.map(Stamp::get) else {
            return true;
        };
        if old == at {
            return false;
        }
        if at > old && next_move.is_some_and(|step| left_for_the_next_move(old, step, now)) {
            return false;
        }
        let mut t = self.timer.timers();
        let Some(then) = t.waiting.remove(&(old, self.id)) else {
            self.waiting = None;
            return false;
        };
        if now >= at {
            self.waiting = None;
            drop(t);
            return match then {
                Then::Wake(waker) => {
                    waker.wake();
                    false
                }
                Then::Call(_) | Then::CallAfterReads(_) => true,
            };
        }
        t.waiting.insert((at, self.id), then);
        self.waiting = Some(Stamp::new(at));
        self.timer.earliest_changed(&mut t, now);
        false
    }
}

/// Whether a wait at `old` may stay there when its deadline moves later, since the next
/// move is expected within `step`: the wait then comes early, and its task or owner, which
/// looks at its own deadlines, waits again for the rest, so nothing is ever late. A Backup's
/// Master_Down lies more than three advert intervals ahead and moves later with each advert
/// it hears (RFC 9568 §6.4.2); while the wait in the timer is more than one and a half
/// intervals away, the next advert comes first and decides again. So the wait moves with
/// every second or third advert, not every one, and the others skip the timer's lock, its
/// map and the re-arming of the timerfd (a system call keepalived makes for every advert).
/// A wait left early costs a wake-up only when an advert is half an interval late or more.
fn left_for_the_next_move(old: Instant, step: Duration, now: Instant) -> bool {
    old.checked_duration_since(now)
        .is_some_and(|ahead| ahead > step + step / 2)
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.clear();
    }
}

/// CLOCK_MONOTONIC now, the clock of `Instant` and of the timerfd.
pub(super) fn monotonic() -> io::Result<Duration> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
    let (Ok(secs), Ok(nanos)) = (u64::try_from(t.tv_sec()), u32::try_from(t.tv_nsec())) else {
        return Err(io::Error::other("CLOCK_MONOTONIC before its zero"));
    };
    Ok(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests;
