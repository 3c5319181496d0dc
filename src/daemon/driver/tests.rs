use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::daemon::router_inbox::RouterInbox;
use crate::vrrp::Version;
use crate::vrrp::router::{Advert, Packet, RouterConfig};
use crate::vrrp::timing::Centis;

mod stalled_thread;

#[derive(Default)]
struct Recorder {
    log: Vec<(Duration, String)>,
    t0: Option<TokioInstant>,
    /// Inputs handled, of every kind.
    inputs: usize,
}

impl Recorder {
    fn at(&self) -> Duration {
        TokioInstant::now() - self.t0.unwrap()
    }
}

impl Log for Recorder {
    fn push(&mut self, what: String) {
        let at = self.at();
        self.log.push((at, what));
    }
    fn input(&mut self) {
        self.inputs += 1;
    }
}

/// A test's record of what routers do, one line per action.
trait Log: Send {
    fn push(&mut self, what: String);
    /// An input was handled.
    fn input(&mut self) {}
}

impl<L: Log> RouterIo for L {
    fn after_input(&mut self, _: &Router) {
        self.input();
    }
    fn send_advert(&mut self, _: &Router, priority: u8) {
        self.push(format!("advert {priority}"));
    }
    fn ask_gate(&mut self, _: &Router, q: GateQuestion) {
        self.push(format!("ask {:?} {}", q.gate, q.attempt));
    }
    fn withdraw_gate(&mut self, gate: GateKind, attempt: u64) {
        self.push(format!("withdraw {gate:?} {attempt}"));
    }
    fn release_lease(&mut self) {
        self.push("release lease".into());
    }
    fn sync_refused(&mut self) {
        self.push("sync refused".into());
    }
    fn channel(&mut self, _: &Router, change: HealthChange) {
        self.push(format!("{change:?}"));
    }
    fn suppressed(&mut self, what: Suppressed) {
        self.push(format!("{what:?}"));
    }
    fn receipt(&mut self, _: &Router, _: usize, _: IpAddr, receipt: Receipt) {
        self.push(format!("{receipt:?}"));
    }
    fn vips(&mut self, op: VipOp) {
        self.push(format!("{op:?}"));
    }
    fn transition(&mut self, _: &Router, t: &Transition) {
        self.push(format!("{} -> {}", t.from, t.to));
    }
}

#[test]
fn only_a_masters_advert_timer_may_wait_for_the_grid() {
    let t0 = Instant::now();
    let mut backup = router(100);
    backup.handle(t0, Input::Start);
    assert_eq!(slack(&backup, backup.next_deadline()), Slack::Exact);
    // Its Master_Down_Interval passes: it is Master, and its next deadline is an advert.
    let down = backup.next_deadline().unwrap();
    backup.handle(down, Input::Timer);
    assert_eq!(backup.state(), crate::vrrp::State::Master);
    let next = backup.next_deadline();
    assert_eq!(next, backup.deadlines().advert);
    // 100 ms adverts: a 10 ms grid.
    assert_eq!(slack(&backup, next), Slack::Grid(Duration::from_millis(10)));
}

fn router(priority: u8) -> Router {
    router_every(Centis::new(10), priority)
}

/// A VRRPv3 router of `priority` that advertises every `interval`.
fn router_every(interval: Centis, priority: u8) -> Router {
    let v2 = crate::vrrp::router::tests::v2(priority);
    Router::new(RouterConfig {
        version: Version::V3,
        advert_interval: interval,
        ..v2
    })
}

impl Recorder {
    /// A recording from now on.
    fn started() -> Recorder {
        Recorder {
            t0: Some(TokioInstant::now()),
            ..Recorder::default()
        }
    }
}

/// A router of `priority` started now, before any cell holds it (a Backup waiting for
/// Master_Down), and a recording from now on.
fn started_before_install(priority: u8) -> (Router, Recorder) {
    let mut r = router(priority);
    let start = TokioInstant::now();
    r.handle(start.into_std(), Input::Start);
    let rec = Recorder {
        t0: Some(start),
        ..Recorder::default()
    };
    (r, rec)
}

/// `router` started in `cell` with `io`; returns its inbox.
fn started<I: RouterIo + 'static>(
    cell: &Arc<RouterCell<I>>,
    router: Router,
    io: I,
    wakeup: Wakeup,
) -> RouterInbox {
    let (tx, rx) = RouterInbox::channel(8, cell.reader());
    drive(cell, router, rx, io, wakeup);
    tx
}

/// `router` started in `cell`, recording what it does from now on.
fn recorded(cell: &Arc<RouterCell<Recorder>>, router: Router, wakeup: Wakeup) -> RouterInbox {
    started(cell, router, Recorder::started(), wakeup)
}

/// The I/O of the router in `cell`, once it has stopped.
async fn stopped<I: RouterIo + 'static>(cell: &RouterCell<I>) -> I {
    let poll = async {
        loop {
            if let Some(io) = cell.take_ended() {
                return io;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), poll)
        .await
        .expect("the router did not stop")
}

/// When the recorded router became Master, from the start of the recording.
fn took_over(rec: &Recorder) -> Option<Duration> {
    rec.log
        .iter()
        .find(|(_, e)| e == "BACKUP -> MASTER")
        .map(|(at, _)| *at)
}

#[tokio::test(start_paused = true)]
async fn backup_takes_over_on_the_tokio_clock_at_master_down_interval() {
    let cell = RouterCell::new();
    let tx = recorded(&cell, router(100), Wakeup::tokio());
    tx.send(Input::Start).await.unwrap();
    // v3, 100 ms, priority 100: 3 * 100 ms + 60.9375 ms.
    tokio::time::sleep(Duration::from_millis(500)).await;
    tx.send(Input::Stop).await.unwrap();
    // The stop is seen on the inbox, as the supervisor waits for it.
    tx.closed().await;
    let rec = cell.take_ended().expect("the stopped router's I/O");
    let became_master = took_over(&rec).unwrap();
    // tokio timers tick in whole milliseconds: 360.9375 ms fires at 361 ms.
    assert_eq!(became_master, Duration::from_millis(361));
    let events: Vec<&str> = rec.log.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(&events[..1], &["INIT -> BACKUP"]);
    assert!(
        events.ends_with(&["advert 0", "Remove", "MASTER -> INIT"]),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn adverts_from_a_higher_master_keep_the_backup_quiet() {
    let cell = RouterCell::new();
    let tx = recorded(&cell, router(100), Wakeup::tokio());
    tx.send(Input::Start).await.unwrap();
    let advert = Advert {
        from: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        channel: 0,
        priority: 200,
        interval: Centis::new(10),
    };
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send(Input::Advert(advert)).await.unwrap();
    }
    // The last sender gone ends the router too.
    drop(tx);
    let rec = stopped(&cell).await;
    let events: Vec<&str> = rec.log.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(events, ["INIT -> BACKUP"]);
}

/// The Master's advert as a receive loop hands it over.
fn masters_advert() -> Packet {
    use crate::vrrp::packet::{self, Auth, ChecksumKind, Received};
    let advert = packet::Advert {
        version: Version::V3,
        vrid: 51,
        priority: 200,
        interval: Centis::new(10),
        addresses: Vec::new().into(),
        auth: Auth::None,
    };
    Packet {
        received: Received {
            advert,
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            dst: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
            ttl: 255,
            checksum: ChecksumKind::V3Ipv4PseudoHeader,
        },
        channel: 0,
        arrival: crate::vrrp::router::Arrival::Multicast,
    }
}

#[tokio::test(start_paused = true)]
async fn an_advert_handed_over_in_the_same_turn_as_the_down_timer_counts() {
    let (r, rec) = started_before_install(100);
    let start = rec.t0.unwrap();
    // The router task waits first; a receive loop that finds the Master's advert becomes
    // ready in the same turn as the down timer (both at 361 ms on tokio's clock).
    let cell = RouterCell::new();
    let control = started(&cell, r, rec, Wakeup::tokio());
    tokio::task::yield_now().await;
    let door: Door = cell.clone();
    let receiver = tokio::spawn(async move {
        tokio::time::sleep_until(start + Duration::from_millis(361)).await;
        door.deliver(masters_advert(), None);
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    receiver.await.unwrap();
    control.send(Input::Stop).await.unwrap();
    let rec = stopped(&cell).await;
    let events: Vec<&str> = rec.log.iter().map(|(_, e)| e.as_str()).collect();
    assert!(!events.contains(&"BACKUP -> MASTER"), "{events:?}");
    assert!(
        events.iter().any(|e| e.starts_with("Accepted")),
        "the advert was judged: {events:?}"
    );
}

/// On the daemon's shared timer an advert moves the Backup's wait without waking its task,
/// later with each advert and earlier with a Master's priority-0 advert, which leaves
/// Skew_Time to the takeover (RFC 9568 §6.4.2) though the task sleeps in a wait for the
/// Master_Down the adverts before it set.
#[tokio::test]
async fn adverts_handed_over_move_the_wait_in_the_shared_timer_both_ways() {
    let timer = crate::daemon::wakeup::SharedTimer::start().unwrap();
    // 300 ms adverts, priority 100: Master_Down_Interval 900 + 182.8 ms, Skew_Time 182.8 ms.
    let slow = router_every(Centis::new(30), 100);
    let cell = RouterCell::new();
    let t0 = TokioInstant::now();
    let control = recorded(&cell, slow, Wakeup::precise(Some(&timer)));
    control.send(Input::Start).await.unwrap();
    // Each advert moves Master_Down on; the first wait (1,083 ms from the start) is left
    // behind unless the advert moves it.
    let mut advert = masters_advert();
    advert.received.advert.interval = Centis::new(30);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Started, the Backup waits with no task: the timer will call its cell.
        assert!(!cell.serving(), "a waiting Backup kept a task");
        cell.deliver(advert.clone(), None);
    }
    advert.received.advert.priority = 0;
    let resigned = TokioInstant::now() - t0;
    cell.deliver(advert, None);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    control.send(Input::Stop).await.unwrap();
    let rec = stopped(&cell).await;
    let took_over = took_over(&rec).expect("no takeover after the Master resigned");
    assert!(
        took_over >= resigned,
        "took over while the Master advertised"
    );
    // 183 ms is due; the wait the first advert left would end about 780 ms after the
    // resignation. Generous for a loaded machine.
    let after = took_over - resigned;
    assert!(
        after < Duration::from_millis(600),
        "took over {after:?} after the resignation"
    );
}

/// A Backup hearing its Master at the Master's pace moves its wait in the shared timer with
/// every second or third advert, not every one (each move re-arms the timerfd), and still
/// takes over at the last advert's Master_Down_Interval, never before: a wait left early
/// only makes the timer call the cell, which waits again for the rest.
#[tokio::test]
async fn a_backup_moves_its_wait_with_every_few_adverts_and_takes_over_on_time() {
    let timer = crate::daemon::wakeup::SharedTimer::start().unwrap();
    let cell = RouterCell::new();
    // v3, 100 ms adverts, priority 100: Master_Down_Interval 360.9375 ms.
    let control = recorded(&cell, router(100), Wakeup::precise(Some(&timer)));
    // Read after the recording's start: "never early" below is then on the safe side.
    let t0 = TokioInstant::now();
    control.send(Input::Start).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let armed_before = timer.arms();
    let heard = 12;
    let mut last = Duration::ZERO;
    for k in 1..=heard {
        tokio::time::sleep_until(t0 + Duration::from_millis(100) * k).await;
        last = TokioInstant::now() - t0;
        cell.deliver(masters_advert(), None);
    }
    let moves = timer.arms() - armed_before;
    // Every third advert here, every second if the test runs late, and a stall longer than
    // 160 ms can add an early call's arming. Each advert re-armed it before.
    assert!(
        moves <= u64::from(heard) * 2 / 3,
        "{moves} arms for {heard} adverts"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    control.send(Input::Stop).await.unwrap();
    let rec = stopped(&cell).await;
    let took_over = took_over(&rec).expect("no takeover after the Master went silent");
    let down = last + Duration::from_micros(360_937);
    assert!(took_over >= down, "took over {:?} early", down - took_over);
    // Generous for a loaded machine.
    assert!(
        took_over - down < Duration::from_millis(300),
        "took over {:?} late",
        took_over - down
    );
}

/// Records, for several routers, what each did into one shared log.
struct Named {
    name: &'static str,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Log for Named {
    fn push(&mut self, what: String) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} {what}", self.name));
    }
}

#[tokio::test(start_paused = true)]
async fn backups_due_together_all_send_their_first_advert_before_any_reports_its_takeover() {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let names = ["a", "b", "c"];
    let mut running = Vec::new();
    for name in names {
        let io = Named {
            name,
            log: log.clone(),
        };
        let cell = RouterCell::new();
        let tx = started(&cell, router(100), io, Wakeup::tokio());
        tx.send(Input::Start).await.unwrap();
        running.push((tx, cell));
    }
    // All three Master_Down timers expire at 361 ms, in one turn of the runtime.
    tokio::time::sleep(Duration::from_millis(380)).await;
    let events = log.lock().unwrap().clone();
    let at = |e: &str| events.iter().position(|x| x == e);
    let last_advert = names
        .iter()
        .map(|n| at(&format!("{n} advert 100")).expect("every router sent its advert"))
        .max();
    let first_report = names
        .iter()
        .map(|n| at(&format!("{n} BACKUP -> MASTER")).expect("every router took over"))
        .min();
    assert!(last_advert < first_report, "{events:?}");
    // Each router's own actions keep their order: advert, addresses, its report.
    for n in names {
        let mine: Vec<&str> = events
            .iter()
            .filter_map(|e| e.strip_prefix(n)?.strip_prefix(' '))
            .skip_while(|e| *e != "advert 100")
            .collect();
        assert_eq!(mine.first(), Some(&"advert 100"), "{events:?}");
        assert_eq!(mine.get(1), Some(&"Add"), "{events:?}");
        assert!(mine.contains(&"BACKUP -> MASTER"), "{events:?}");
    }
    for (tx, cell) in running {
        tx.send(Input::Stop).await.unwrap();
        stopped(&cell).await;
    }
}

/// On the daemon's shared timer a Master's adverts are sent by the timer's task calling the
/// router's cell: between them the router has no task at all.
#[tokio::test]
async fn a_master_on_the_shared_timer_keeps_no_task_between_its_adverts() {
    let timer = crate::daemon::wakeup::SharedTimer::start().unwrap();
    // 10 ms adverts, priority 100: Master after 36 ms.
    let fast = router_every(Centis::new(1), 100);
    let cell = RouterCell::new();
    let tx = recorded(&cell, fast, Wakeup::precise(Some(&timer)));
    tx.send(Input::Start).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = TokioInstant::now();
    let (mut looks, mut serving) = (0, 0);
    while t0.elapsed() < Duration::from_millis(300) {
        tokio::time::sleep(Duration::from_millis(1)).await;
        looks += 1;
        serving += usize::from(cell.serving());
    }
    let t1 = TokioInstant::now();
    tx.send(Input::Stop).await.unwrap();
    let rec = stopped(&cell).await;
    let since = t0 - rec.t0.unwrap();
    let until = t1 - rec.t0.unwrap();
    let adverts = rec
        .log
        .iter()
        .filter(|(at, e)| *at >= since && *at < until && e == "advert 100")
        .count();
    // About 30; generous for a loaded machine, which may serve the timer late.
    assert!(adverts >= 10, "{adverts} adverts: {:?}", rec.log);
    // A task only when the timer's task ran so late that the next advert was due already
    // (then a task sends it); a task kept between adverts is seen at every look.
    assert!(
        serving * 4 <= looks,
        "a task served the Master at {serving} of {looks} looks"
    );
}

/// Counts the inputs its router handled, where a test can watch.
struct Counting(Arc<std::sync::atomic::AtomicUsize>);

impl Log for Counting {
    fn push(&mut self, _: String) {}
    fn input(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Inputs sent from another thread while the router's task comes and goes (each input may
/// find it ending, or gone) are each handled without another to push them along: none
/// waits for a knock that never comes.
#[tokio::test]
async fn inputs_from_another_thread_are_each_handled_while_the_task_comes_and_goes() {
    use std::sync::atomic::Ordering::SeqCst;
    let timer = crate::daemon::wakeup::SharedTimer::start().unwrap();
    let cell = RouterCell::new();
    let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let io = Counting(handled.clone());
    // Never started: a router in Initialize has no deadline, so nothing but a knock can get
    // an input handled.
    let tx = started(&cell, router(100), io, Wakeup::precise(Some(&timer)));
    let advert = Advert {
        from: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        channel: 0,
        priority: 200,
        interval: Centis::new(10),
    };
    const SENT: usize = 1_000;
    let sender = tx.clone();
    let seen = handled.clone();
    // Each input is waited for before the next is sent: a lost knock leaves it unhandled.
    let thread = std::thread::spawn(move || -> Result<(), String> {
        for i in 0..SENT {
            futures::executor::block_on(sender.send(Input::Advert(advert))).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while seen.load(SeqCst) < i + 1 {
                if Instant::now() > deadline {
                    return Err(format!("input {i} was never handled"));
                }
                std::thread::yield_now();
            }
        }
        Ok(())
    });
    let sent = tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap()
        .unwrap();
    sent.unwrap();
    tx.send(Input::Stop).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), tx.closed())
        .await
        .expect("the stop was not handled");
    assert!(cell.take_ended().is_some(), "the stopped router's I/O");
    // Every advert, and Stop.
    assert_eq!(handled.load(SeqCst), SENT + 1);
}

/// A router whose task dies (here: its I/O panics) is marked lost, so a stop that waits for
/// it goes on rather than waiting forever.
#[tokio::test]
async fn a_lost_router_task_ends_the_wait_for_its_stop() {
    struct Panics;
    impl Log for Panics {
        fn push(&mut self, what: String) {
            if what.contains("->") {
                panic!("a transition's report failed (as the test wants)");
            }
        }
    }
    let timer = crate::daemon::wakeup::SharedTimer::start().unwrap();
    let cell = RouterCell::new();
    let tx = started(&cell, router(100), Panics, Wakeup::precise(Some(&timer)));
    tx.send(Input::Start).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), tx.closed())
        .await
        .expect("a lost router's inbox stayed open");
    assert!(
        cell.take_ended().is_none(),
        "a lost router has no I/O to give"
    );
    assert!(tx.send(Input::Stop).await.is_err());
}

/// A router gets a task at its install only for work already there. With nothing to do it
/// gets none: at start-up, a task started for each router and ended at once left holes
/// among what the instances keep. An input queued before the install, whose knock found no
/// router, is handled.
#[tokio::test]
async fn a_router_gets_a_task_at_its_install_only_for_work_already_there() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let timer = crate::daemon::wakeup::SharedTimer::start().unwrap();
    let precise = || Wakeup::precise(Some(&timer));
    let idle = RouterCell::new();
    let idle_tx = started(&idle, router(100), Counting(Arc::default()), precise());
    assert!(!idle.serving(), "a router with nothing to do got a task");

    let early = RouterCell::new();
    let handled = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = RouterInbox::channel(8, early.reader());
    tx.send(Input::Start).await.unwrap();
    drive(
        &early,
        router(100),
        rx,
        Counting(handled.clone()),
        precise(),
    );
    let deadline = TokioInstant::now() + Duration::from_secs(10);
    while handled.load(SeqCst) == 0 && TokioInstant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        handled.load(SeqCst),
        1,
        "the input queued before the install"
    );

    for (cell, tx) in [(&idle, idle_tx), (&early, tx)] {
        tx.send(Input::Stop).await.unwrap();
        stopped(cell).await;
    }
}

/// A router installed with a deadline already armed (started before its install) is served
/// at it with no input to start a task: the install starts one for the deadline.
#[tokio::test(start_paused = true)]
async fn a_router_installed_with_a_deadline_is_served_at_it() {
    let (r, rec) = started_before_install(100);
    let cell = RouterCell::new();
    let tx = started(&cell, r, rec, Wakeup::tokio());
    tokio::time::sleep(Duration::from_millis(500)).await;
    tx.send(Input::Stop).await.unwrap();
    tx.closed().await;
    let rec = cell.take_ended().expect("the stopped router's I/O");
    // v3, 100 ms, priority 100: Master_Down_Interval 360.9375 ms, 361 ms on tokio's clock.
    assert_eq!(took_over(&rec), Some(Duration::from_millis(361)));
}
