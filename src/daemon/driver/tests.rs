use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::daemon::router_inbox::RouterInbox;
use crate::vrrp::Version;
use crate::vrrp::router::{Advert, Packet, RouterConfig};
use crate::vrrp::timing::Centis;

#[derive(Default)]
struct Recorder {
    log: Vec<(Duration, String)>,
    t0: Option<TokioInstant>,
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
}

/// A test's record of what routers do, one line per action.
trait Log: Send {
    fn push(&mut self, what: String);
}

impl<L: Log> RouterIo for L {
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

/// A router task for `router` in `cell`, recording what it does from now on.
fn recorded(
    cell: Arc<RouterCell<Recorder>>,
    router: Router,
    wakeup: Wakeup,
) -> (RouterInbox, tokio::task::JoinHandle<Recorder>) {
    let (tx, rx) = RouterInbox::channel(8);
    (
        tx,
        tokio::spawn(drive(cell, router, rx, Recorder::started(), wakeup)),
    )
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
    let (tx, task) = recorded(RouterCell::new(), router(100), Wakeup::Tokio(None));
    tx.send(Input::Start).await.unwrap();
    // v3, 100 ms, priority 100: 3 * 100 ms + 60.9375 ms.
    tokio::time::sleep(Duration::from_millis(500)).await;
    tx.send(Input::Stop).await.unwrap();
    let rec = task.await.unwrap();
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
    let (tx, task) = recorded(RouterCell::new(), router(100), Wakeup::Tokio(None));
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
    drop(tx);
    let rec = task.await.unwrap();
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
    let (control, control_rx) = RouterInbox::channel(8);
    let mut r = router(100);
    let start = TokioInstant::now();
    r.handle(start.into_std(), Input::Start);
    let rec = Recorder {
        t0: Some(start),
        ..Recorder::default()
    };
    // The router task waits first; a receive loop that finds the Master's advert becomes
    // ready in the same turn as the down timer (both at 361 ms on tokio's clock).
    let cell = RouterCell::new();
    let task = tokio::spawn(drive(cell.clone(), r, control_rx, rec, Wakeup::Tokio(None)));
    tokio::task::yield_now().await;
    let door: Door = cell;
    let receiver = tokio::spawn(async move {
        tokio::time::sleep_until(start + Duration::from_millis(361)).await;
        door.deliver(masters_advert());
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    receiver.await.unwrap();
    control.send(Input::Stop).await.unwrap();
    let rec = task.await.unwrap();
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
    let (control, task) = recorded(cell.clone(), slow, Wakeup::precise(Some(&timer)));
    control.send(Input::Start).await.unwrap();
    // Each advert moves Master_Down on; the first wait (1,083 ms from the start) is left
    // behind unless the advert moves it.
    let mut advert = masters_advert();
    advert.received.advert.interval = Centis::new(30);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cell.deliver(advert.clone());
    }
    advert.received.advert.priority = 0;
    let resigned = TokioInstant::now() - t0;
    cell.deliver(advert);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    control.send(Input::Stop).await.unwrap();
    let rec = task.await.unwrap();
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
        let (tx, rx) = RouterInbox::channel(8);
        let io = Named {
            name,
            log: log.clone(),
        };
        let task = tokio::spawn(drive(
            RouterCell::new(),
            router(100),
            rx,
            io,
            Wakeup::Tokio(None),
        ));
        tx.send(Input::Start).await.unwrap();
        running.push((tx, task));
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
    for (tx, task) in running {
        tx.send(Input::Stop).await.unwrap();
        task.await.unwrap();
    }
}

/// A future that counts how often it is polled.
struct Counted<F> {
    inner: std::pin::Pin<Box<F>>,
    polls: Arc<std::sync::atomic::AtomicUsize>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.polls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

/// On the daemon's shared timer a Master's adverts are sent by the timer's task calling the
/// router's cell: its own task is not polled for them.
#[tokio::test]
async fn a_masters_adverts_on_the_shared_timer_cost_its_task_no_poll() {
    let timer = crate::daemon::wakeup::SharedTimer::start().unwrap();
    // 10 ms adverts, priority 100: Master after 36 ms.
    let fast = router_every(Centis::new(1), 100);
    let (tx, rx) = RouterInbox::channel(8);
    let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let serving = drive(
        RouterCell::new(),
        fast,
        rx,
        Recorder::started(),
        Wakeup::precise(Some(&timer)),
    );
    let task = tokio::spawn(Counted {
        inner: Box::pin(serving),
        polls: polls.clone(),
    });
    tx.send(Input::Start).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let polled = || polls.load(std::sync::atomic::Ordering::Relaxed);
    let (before, t0) = (polled(), TokioInstant::now());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (during, t1) = (polled() - before, TokioInstant::now());
    tx.send(Input::Stop).await.unwrap();
    let rec = task.await.unwrap();
    let since = t0 - rec.t0.unwrap();
    let until = t1 - rec.t0.unwrap();
    let adverts = rec
        .log
        .iter()
        .filter(|(at, e)| *at >= since && *at < until && e == "advert 100")
        .count();
    // About 30; generous for a loaded machine, which may serve the timer late.
    assert!(adverts >= 10, "{adverts} adverts: {:?}", rec.log);
    // None but when the timer's task ran so late that the next advert was due already
    // (then the router's task sends it); a task woken for each advert is polled for each.
    assert!(
        during * 4 <= adverts,
        "{during} polls of the task for {adverts} adverts"
    );
}
