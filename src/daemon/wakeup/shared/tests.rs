use super::*;

const MS: Duration = Duration::from_millis(1);

/// Polls `slot` once for `at`: it registers the deadline and returns once the timer's task
/// had its turn to arm the timer.
async fn register(slot: &mut Slot, at: Instant) {
    let _ = tokio::time::timeout(Duration::ZERO, slot.until(at)).await;
    tokio::task::yield_now().await;
}

/// Waits in `slot` for `at`; fails if woken before it, else returns how late.
async fn served(slot: &mut Slot, at: Instant) -> Duration {
    slot.until(at).await;
    let woke = Instant::now();
    assert!(woke >= at, "woken early");
    woke - at
}

#[tokio::test]
async fn grid_points_are_shared_multiples_of_the_step_and_keep_a_period() {
    let timer = SharedTimer::start().unwrap();
    let step = 10 * MS;
    let now = Instant::now();
    let a = timer.grid_point(now + 5 * MS, step);
    assert_eq!(timer.absolute(a).as_nanos() % step.as_nanos(), 0);
    assert!(a >= now + 5 * MS && a < now + 15 * MS);
    // Deadlines within one step before a grid point meet at it.
    assert_eq!(timer.grid_point(a - 9 * MS, step), a);
    assert_eq!(timer.grid_point(a, step), a, "a grid point is its own");
    // A period of whole centiseconds keeps its offset to the grid.
    assert_eq!(timer.grid_point(a - 3 * MS + 100 * MS, step), a + 100 * MS);
}

/// Sets how long after an arming a later earliest deadline arms the timer again: a test
/// of what happens within [`LATER_REARM_AFTER`] must not depend on how fast it runs.
fn rearm_later_after(timer: &SharedTimer, after: Duration) {
    timer.timers().later_rearm_after = after;
}

const HOUR: Duration = Duration::from_secs(3600);
const SEC: Duration = Duration::from_secs(1);

#[tokio::test]
async fn only_a_sooner_earliest_deadline_or_a_stale_arming_arms_the_timer() {
    let timer = SharedTimer::start().unwrap();
    let arms = || timer.timers().arms;
    let armed = || timer.timers().armed;
    // Deadlines far ahead: none comes while the test runs, however slowly.
    let t0 = Instant::now();
    let mut first = timer.slot();
    register(&mut first, t0 + 400 * SEC).await;
    assert_eq!(arms(), 1);
    // Forty-nine Backups hearing adverts: their Master_Down deadlines move later, behind
    // the earliest, and arm nothing.
    let mut others: Vec<_> = (0..49).map(|_| timer.slot()).collect();
    rearm_later_after(&timer, Duration::ZERO);
    for k in 0..3 {
        for (n, slot) in others.iter_mut().enumerate() {
            register(slot, t0 + (500 + 10 * k) * SEC + n as u32 * MS).await;
        }
    }
    assert_eq!(arms(), 1, "a deadline behind the earliest armed the timer");
    assert_eq!(
        timer.timers().waiting.len(),
        50,
        "old deadlines left behind"
    );
    // The earliest moves later just after an arming: the timer stays armed early.
    rearm_later_after(&timer, HOUR);
    register(&mut first, t0 + 450 * SEC).await;
    assert_eq!((arms(), armed()), (1, Some(t0 + 400 * SEC)));
    // Moved later again, long after the arming: armed for the new earliest.
    rearm_later_after(&timer, Duration::ZERO);
    register(&mut first, t0 + 900 * SEC).await;
    assert_eq!(
        (arms(), armed()),
        (2, Some(t0 + 520 * SEC)),
        "not the earliest"
    );
    // A burst: every Backup's deadline moves later, each the earliest in turn; the first
    // arms the timer, the rest follow within LATER_REARM_AFTER and arm nothing.
    for (n, slot) in others.iter_mut().enumerate() {
        register(slot, t0 + 1000 * SEC + n as u32 * MS).await;
        rearm_later_after(&timer, HOUR);
    }
    assert_eq!(
        (arms(), armed()),
        (3, Some(t0 + 520 * SEC + MS)),
        "one arming per burst"
    );
    // A sooner earliest arms the timer before the thread sleeps (here the timer's task, which
    // `register` lets run), however recently it was armed.
    register(&mut first, t0 + 200 * SEC).await;
    assert_eq!((arms(), armed()), (4, Some(t0 + 200 * SEC)));
    // Taking deadlines out arms nothing: the timer expires early, once.
    drop(first);
    others.iter_mut().for_each(Slot::clear);
    assert_eq!((arms(), armed()), (4, Some(t0 + 200 * SEC)));
    assert!(
        timer.timers().waiting.is_empty(),
        "a cleared slot still waits"
    );
}

/// Fifty slots given deadlines in one pass, each sooner than the last: the earliest,
/// `t0 + 300 s - 49 ms`, last.
async fn each_sooner_than_the_last(timer: &SharedTimer, t0: Instant) -> Vec<Slot> {
    let mut slots: Vec<_> = (0..50).map(|_| timer.slot()).collect();
    for (n, slot) in slots.iter_mut().enumerate() {
        let at = t0 + 300 * SEC - n as u32 * MS;
        std::future::poll_fn(|cx| {
            let _ = slot.poll_until(cx, at);
            Poll::Ready(())
        })
        .await;
    }
    slots
}

#[tokio::test]
async fn deadlines_each_sooner_than_the_last_within_one_pass_arm_the_timer_once() {
    let timer = SharedTimer::start().unwrap();
    let t0 = Instant::now();
    let mut first = timer.slot();
    register(&mut first, t0 + 400 * SEC).await;
    let before = timer.timers().arms;
    // Fifty Backups whose tasks run in the reverse order of their adverts' arrival, all
    // before the thread could sleep: each deadline is the earliest, sooner than the last.
    let _slots = each_sooner_than_the_last(&timer, t0).await;
    assert_eq!(timer.timers().arms, before, "armed within the pass");
    // The timer's task runs before the thread can sleep, and arms it for the earliest.
    tokio::task::yield_now().await;
    let t = timer.timers();
    assert_eq!(
        (t.arms, t.armed),
        (before + 1, Some(t0 + 300 * SEC - 49 * MS)),
        "not armed once for the earliest"
    );
}

#[tokio::test]
async fn a_timer_left_armed_early_expires_and_serves_the_moved_deadline_on_time() {
    let timer = SharedTimer::start().unwrap();
    let mut slot = timer.slot();
    let t0 = Instant::now();
    register(&mut slot, t0 + 10 * MS).await;
    // Moved later within LATER_REARM_AFTER of the arming (however slowly the test runs):
    // the timer stays armed for 10 ms.
    rearm_later_after(&timer, HOUR);
    let at = t0 + 40 * MS;
    register(&mut slot, at).await;
    assert_eq!(timer.timers().armed, Some(t0 + 10 * MS));
    let late = served(&mut slot, at).await;
    // Generous for a loaded machine; never early (`served` checks).
    assert!(late < 60 * MS, "served {late:?} late");
    assert_eq!(timer.timers().arms, 2, "the early expiry armed it again");
}

#[tokio::test]
async fn many_routers_are_each_woken_at_their_own_deadline_never_early() {
    let timer = SharedTimer::start().unwrap();
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..40u32)
        .map(|k| {
            let mut slot = timer.slot();
            // Spread over 5..83 ms, several sharing an instant.
            let at = t0 + (5 + (k * 7) % 79) * MS;
            tokio::spawn(async move {
                // Moved later once before it is kept, as a Backup's would be.
                register(&mut slot, at - 3 * MS).await;
                served(&mut slot, at).await
            })
        })
        .collect();
    for task in tasks {
        let late = task.await.unwrap();
        // Generous for a loaded machine.
        assert!(late < 60 * MS, "woken {late:?} late");
    }
    assert!(
        timer.timers().waiting.is_empty(),
        "served deadlines left in the map"
    );
}

/// Routers that keep moving their deadlines, earlier and later, from many tasks at
/// once: every wait ends, none early, none lost (a lost arming leaves a task waiting
/// until the test's timeout).
#[tokio::test]
async fn deadlines_moved_at_random_by_many_tasks_are_all_served() {
    let timer = SharedTimer::start().unwrap();
    let tasks: Vec<_> = (0..50u64)
        .map(|k| {
            let mut slot = timer.slot();
            tokio::spawn(async move {
                let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut next = move || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                };
                let mut worst = Duration::ZERO;
                for _ in 0..40 {
                    let now = Instant::now();
                    // A deadline that is then moved (as a Backup's is by an advert)
                    // before the one that is kept.
                    register(&mut slot, now + Duration::from_micros(next() % 6_000)).await;
                    let at = Instant::now() + Duration::from_micros(next() % 4_000);
                    if next() % 4 == 0 {
                        slot.clear();
                    }
                    worst = worst.max(served(&mut slot, at).await);
                }
                worst
            })
        })
        .collect();
    let all = async {
        let mut worst = Duration::ZERO;
        for task in tasks {
            worst = worst.max(task.await.unwrap());
        }
        worst
    };
    let worst = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("a deadline was never served");
    // Generous for a loaded machine; a lost arming waits for the timeout instead.
    assert!(worst < 200 * MS, "served {worst:?} late");
}

/// Records when the timer called it, and tells a waiting test.
struct Called {
    at: Mutex<Vec<Instant>>,
    told: tokio::sync::Notify,
}

impl Expiry for Called {
    fn expired(self: Arc<Self>) {
        self.at.lock().unwrap().push(Instant::now());
        self.told.notify_one();
    }
}

fn called() -> Arc<Called> {
    Arc::new(Called {
        at: Mutex::new(Vec::new()),
        told: tokio::sync::Notify::new(),
    })
}

fn owner(c: &Arc<Called>) -> Weak<dyn Expiry> {
    let weak: Weak<Called> = Arc::downgrade(c);
    weak
}

#[tokio::test]
async fn a_called_deadline_is_served_by_a_call_on_time_and_a_move_keeps_the_call() {
    let timer = SharedTimer::start().unwrap();
    let c = called();
    let mut slot = timer.slot();
    let t0 = Instant::now();
    slot.call_at(t0 + 20 * MS, owner(&c), false);
    // Moved later, as a preempted Master's wait is to its Master_Down: still a call.
    let at = t0 + 40 * MS;
    assert!(
        !slot.reschedule(at, None, Instant::now()),
        "a wait in the map is moved, not restarted"
    );
    tokio::time::timeout(SEC, c.told.notified())
        .await
        .expect("called");
    let calls = c.at.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "called once, at the moved deadline");
    assert!(calls[0] >= at, "called early");
    // Generous for a loaded machine.
    assert!(calls[0] - at < 60 * MS, "called {:?} late", calls[0] - at);
    assert!(timer.timers().waiting.is_empty());
}

#[tokio::test]
async fn a_called_deadline_moved_into_the_past_is_left_to_the_task() {
    let timer = SharedTimer::start().unwrap();
    let c = called();
    let mut slot = timer.slot();
    slot.call_at(Instant::now() + HOUR, owner(&c), false);
    // The caller holds the owner's lock: calling it here would deadlock. The task acts.
    assert!(
        slot.reschedule(Instant::now() - MS, Some(MS), Instant::now()),
        "the task must be woken"
    );
    assert!(timer.timers().waiting.is_empty());
    assert!(c.at.lock().unwrap().is_empty(), "never called from a move");
}

#[tokio::test]
async fn an_owner_gone_is_not_called_and_a_task_wait_replaces_a_call() {
    let timer = SharedTimer::start().unwrap();
    let gone = called();
    let mut slot = timer.slot();
    slot.call_at(Instant::now() + 5 * MS, owner(&gone), false);
    let weak = Arc::downgrade(&gone);
    drop(gone);
    // Its deadline comes, finds no owner, and the timer serves on.
    let mut other = timer.slot();
    let at = Instant::now() + 30 * MS;
    let late = served(&mut other, at).await;
    assert!(late < 60 * MS, "served {late:?} late");
    assert!(weak.upgrade().is_none());
    assert!(
        timer.timers().waiting.is_empty(),
        "the gone owner's deadline was served and left the map"
    );
    // A task that waits in a slot that had a call is woken, not the owner called.
    let c = called();
    let mut slot = timer.slot();
    slot.call_at(Instant::now() + 10 * MS, owner(&c), false);
    let at = Instant::now() + 20 * MS;
    let late = served(&mut slot, at).await;
    assert!(late < 60 * MS, "served {late:?} late");
    assert!(c.at.lock().unwrap().is_empty(), "the call was replaced");
}

/// A Backup's Master_Down moves later with every advert; the wait stays where it is while the
/// next advert, due within `next_move`, would reach it first, and moves once it would not.
/// A sooner deadline always moves it. (Seconds apart: a stalled test thread only makes the
/// wait nearer, which moves it anyway.)
#[tokio::test]
async fn a_wait_moved_later_stays_while_the_next_move_comes_first() {
    let timer = SharedTimer::start().unwrap();
    let c = called();
    let mut slot = timer.slot();
    let first = Instant::now() + 30 * SEC;
    slot.call_at(first, owner(&c), false);
    let waits = |timer: &SharedTimer| -> Vec<Instant> {
        timer.timers().waiting.keys().map(|&(at, _)| at).collect()
    };
    // 30 s ahead, the next move due within 10 s: left.
    assert!(!slot.reschedule(first + 10 * SEC, Some(10 * SEC), Instant::now()));
    assert_eq!(
        waits(&timer),
        [first],
        "moved though the next move comes first"
    );
    // The next move due within 25 s might come after it (30 < 37.5): moved.
    let second = first + 20 * SEC;
    assert!(!slot.reschedule(second, Some(25 * SEC), Instant::now()));
    assert_eq!(
        waits(&timer),
        [second],
        "left where the next move may come too late"
    );
    // Sooner: moved, whatever the next move.
    let sooner = first - 10 * SEC;
    assert!(!slot.reschedule(sooner, Some(MS), Instant::now()));
    assert_eq!(waits(&timer), [sooner], "a sooner deadline was left behind");
    // Without a next move to expect, a later deadline moves the wait.
    assert!(!slot.reschedule(first, None, Instant::now()));
    assert_eq!(waits(&timer), [first]);
    assert!(c.at.lock().unwrap().is_empty(), "never called from a move");
}

/// A runtime whose thread arms the timer when it parks, as the daemon's router thread.
fn parking_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(before_park)
        .build()
        .unwrap()
}

#[test]
fn a_thread_that_arms_at_park_arms_once_for_every_deadline_its_tasks_moved() {
    parking_runtime().block_on(async {
        let timer = SharedTimer::start().unwrap();
        // The thread parks once: the timer learns that it is armed there.
        tokio::time::sleep(MS).await;
        let before = timer.timers().arms;
        let t0 = Instant::now();
        let _slots = each_sooner_than_the_last(&timer, t0).await;
        // Other tasks running, and the I/O polled between them, arm nothing.
        tokio::task::yield_now().await;
        assert_eq!(
            timer.timers().arms,
            before,
            "armed before the thread parked"
        );
        tokio::time::sleep(MS).await;
        let t = timer.timers();
        assert_eq!(
            (t.arms, t.armed),
            (before + 1, Some(t0 + 300 * SEC - 49 * MS)),
            "not armed once, at park, for the earliest"
        );
    });
}

#[test]
fn a_thread_that_arms_at_park_serves_every_deadline_on_time_and_never_early() {
    parking_runtime().block_on(async {
        let timer = SharedTimer::start().unwrap();
        tokio::time::sleep(MS).await;
        let t0 = Instant::now();
        // Deadlines set in every order, some while others are being served.
        let waits: Vec<_> = (0..40u32)
            .map(|n| {
                let mut slot = timer.slot();
                let at = t0 + (20 + (n * 7) % 40) * MS;
                tokio::spawn(async move { served(&mut slot, at).await })
            })
            .collect();
        for wait in waits {
            let late = tokio::time::timeout(10 * SEC, wait)
                .await
                .expect("a deadline was never served")
                .unwrap();
            // Generous for a loaded machine; never early (`served` checks).
            assert!(late < 60 * MS, "served {late:?} late");
        }
    });
}

/// A late-reading Backup's Master_Down waits for the reads: the receive loops are asked to
/// read and run before it is served, so the advert they hand over moves it on and its owner
/// is not called; one that nothing moved is called next. A Master's advert due at the same
/// instant is not held back by the reads.
#[tokio::test(flavor = "current_thread")]
async fn a_wait_after_reads_is_served_only_once_the_receive_loops_have_read() {
    let timer = SharedTimer::start().unwrap();
    let (heard, silent, advert) = (called(), called(), called());
    let at = Instant::now() + 30 * MS;
    let mut heard_slot = timer.slot();
    heard_slot.call_at(at, owner(&heard), true);
    let mut silent_slot = timer.slot();
    silent_slot.call_at(at, owner(&silent), true);
    let mut advert_slot = timer.slot();
    advert_slot.call_at(at, owner(&advert), false);
    let advert_seen = advert.clone();
    // A receive loop: at the read its deadline asks for, it hands the first Backup its
    // Master's advert. (Other tests signal reads too: one before the deadline is not it.)
    let reader = tokio::spawn(async move {
        loop {
            let mut signal = std::pin::pin!(crate::daemon::late_reads::signal());
            signal.as_mut().enable();
            signal.await;
            if Instant::now() >= at {
                break;
            }
        }
        let advert_sent = advert_seen.at.lock().unwrap().len();
        assert!(
            !heard_slot.reschedule(Instant::now() + HOUR, None, Instant::now()),
            "the wait was still in the map to move"
        );
        (heard_slot, advert_sent)
    });
    tokio::time::timeout(SEC, silent.told.notified())
        .await
        .expect("the deadline no advert moved is served");
    let (_heard_slot, advert_sent) = tokio::time::timeout(SEC, reader)
        .await
        .expect("the timer asked for the reads before serving the Backups")
        .expect("the receive loop read");
    assert_eq!(advert_sent, 1, "the Master's advert waited for the reads");
    assert!(
        heard.at.lock().unwrap().is_empty(),
        "a Backup was called before its Master's advert could be read"
    );
    assert_eq!(silent.at.lock().unwrap().len(), 1);
    let waiting: Vec<Instant> = timer.timers().waiting.keys().map(|k| k.0).collect();
    assert_eq!(waiting.len(), 1, "the moved wait, and nothing due left");
    assert!(waiting[0] > Instant::now() + HOUR / 2);
}
