//! The address worker's queue with hands that only write down what they were asked to do,
//! on tokio's paused clock (time moves only when every task waits, to the next timer).

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Hands, Target, WorkQueue, Worker};
use crate::config::Vip;
use crate::daemon::driver::VipOp;
use crate::net::announce::Pacing;
use crate::net::{MacAddr, NetError};

type Log = Arc<Mutex<Vec<String>>>;

struct Recorder {
    log: Log,
}

impl Recorder {
    fn note(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }
}

impl Hands for Recorder {
    fn add(&self, _: u32, vip: &Vip) -> impl Future<Output = Result<(), NetError>> + Send {
        self.note(format!("add {}", vip.addr));
        // A netlink round trip gives the runtime back before it answers.
        async {
            tokio::task::yield_now().await;
            Ok(())
        }
    }
    fn remove(&self, _: u32, vip: &Vip) -> impl Future<Output = Result<(), NetError>> + Send {
        self.note(format!("remove {}", vip.addr));
        async {
            tokio::task::yield_now().await;
            Ok(())
        }
    }
    fn announce(&self, _: MacAddr, vip: IpAddr, src: Option<Ipv6Addr>) -> Result<(), NetError> {
        // As the announcer: an NA needs a link-local source.
        if vip.is_ipv6() && src.is_none() {
            return Err(NetError::Invalid {
                what: format!("NA for {vip}"),
                reason: "no link-local source".into(),
            });
        }
        self.note(format!("announce {vip}"));
        Ok(())
    }
}

fn vip(s: &str) -> Vip {
    Vip {
        addr: s.parse().unwrap(),
        label: None,
        advertise: true,
    }
}

/// An idle worker holding `vips` (not yet added), and what its hands do.
fn worker(vips: &[&str]) -> (WorkQueue<Worker<Recorder>>, Log) {
    let log = Log::default();
    let vips: Vec<Vip> = vips.iter().map(|s| vip(s)).collect();
    let hands = Recorder { log: log.clone() };
    let target = Target {
        name: "vi".into(),
        ifindex: 7,
        iface: "eth0".into(),
        mac: MacAddr::new(0, 0, 0x5e, 0, 1, 7),
        src_ll: None,
        burst: 1,
    };
    let pacing = Pacing::default();
    (
        WorkQueue::new(Worker::new(target, pacing, hands, vips.into())),
        log,
    )
}

fn taken(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// Lets every ready task run; on the paused clock a sleep returns once nothing else can.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Waits for the queue to finish, failing (on the paused clock, at once) if it never does.
async fn finished(queue: &WorkQueue<Worker<Recorder>>) {
    tokio::time::timeout(Duration::from_secs(60), queue.finished())
        .await
        .expect("the queue finishes");
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

fn announce(count: u32, arp: Duration) -> VipOp {
    VipOp::Announce {
        count,
        pacing: Pacing { arp, na: arp },
    }
}

#[tokio::test(start_paused = true)]
async fn operations_run_in_the_order_pushed() {
    let (queue, log) = worker(&["10.0.0.1/32", "10.0.0.2/32"]);
    // All pushed before the worker runs once: they wait in the queue, not in a task each.
    queue.push(VipOp::Add);
    queue.push(announce(1, Duration::ZERO));
    queue.push(VipOp::Remove);
    queue.push(VipOp::Add);
    assert_eq!(alive_tasks(), 1, "one worker task for the whole queue");
    settle().await;
    let expected = [
        "add 10.0.0.1/32",
        "add 10.0.0.2/32",
        "announce 10.0.0.1",
        "announce 10.0.0.2",
        "remove 10.0.0.1/32",
        "remove 10.0.0.2/32",
        "add 10.0.0.1/32",
        "add 10.0.0.2/32",
    ];
    assert_eq!(taken(&log), expected);
    assert!(queue.is_idle());
    assert_eq!(
        queue.room(),
        0,
        "an idle queue keeps no room for operations"
    );
}

#[tokio::test(start_paused = true)]
async fn an_operation_pushed_during_a_paced_burst_runs_at_once_and_ends_the_burst() {
    let (queue, log) = worker(&["10.0.0.1/32"]);
    queue.push(VipOp::Add);
    queue.push(announce(3, Duration::from_secs(10)));
    settle().await;
    // The first frame goes at once; the worker now waits 10 s for the second.
    assert_eq!(taken(&log), ["add 10.0.0.1/32", "announce 10.0.0.1"]);
    assert!(!queue.is_idle(), "the burst keeps its worker");
    let start = tokio::time::Instant::now();
    queue.push(VipOp::Remove);
    settle().await;
    assert_eq!(taken(&log), ["remove 10.0.0.1/32"]);
    // The removal cleared the burst: nothing is left to do, so the worker is gone.
    assert_done_at_once(&queue, start);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        taken(&log),
        Vec::<String>::new(),
        "no frame after the removal"
    );
}

#[tokio::test(start_paused = true)]
async fn a_paced_burst_goes_out_a_gap_apart_then_the_worker_ends() {
    let (queue, log) = worker(&["10.0.0.1/32"]);
    queue.push(announce(3, Duration::from_secs(1)));
    let start = tokio::time::Instant::now();
    settle().await;
    assert_eq!(taken(&log).len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        taken(&log).len(),
        1,
        "the second frame a gap after the first"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(taken(&log).len(), 1, "and the third");
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert!(queue.is_idle());
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_drained_worker_ends_and_the_next_one_still_knows_what_it_holds() {
    let (queue, log) = worker(&["10.0.0.1/32"]);
    queue.push(VipOp::Add);
    settle().await;
    assert_eq!(taken(&log), ["add 10.0.0.1/32"]);
    assert_eq!(alive_tasks(), 0, "no task while idle");
    let holding = queue.with_idle(|w| {
        let (held, vips) = w.holding();
        (held, vips.to_vec())
    });
    assert_eq!(holding, Some((true, vec![vip("10.0.0.1/32")])));
    // A reload while held: a new task adds only the new VIP, and announces it.
    queue.push(VipOp::Set {
        vips: vec![vip("10.0.0.1/32"), vip("10.0.0.2/32")].into(),
        src_ll: None,
    });
    settle().await;
    assert_eq!(
        taken(&log),
        ["add 10.0.0.2/32", "announce 10.0.0.1", "announce 10.0.0.2"]
    );
    assert_eq!(alive_tasks(), 0);
    // Released, then changed again: nothing is added while not held...
    queue.push(VipOp::Remove);
    queue.push(VipOp::Set {
        vips: vec![vip("10.0.0.3/32")].into(),
        src_ll: None,
    });
    settle().await;
    assert_eq!(taken(&log), ["remove 10.0.0.1/32", "remove 10.0.0.2/32"]);
    // ...and the next Add adds the VIPs of the last Set.
    queue.push(VipOp::Add);
    settle().await;
    assert_eq!(taken(&log), ["add 10.0.0.3/32"]);
}

#[tokio::test(start_paused = true)]
async fn a_reload_that_brings_an_ipv6_vip_announces_it_from_the_source_it_brings() {
    // An IPv4 instance that held no IPv6 VIP had no link-local source for NAs.
    let (queue, log) = worker(&["10.0.0.1/32"]);
    queue.push(VipOp::Add);
    settle().await;
    assert_eq!(taken(&log), ["add 10.0.0.1/32"]);
    queue.push(VipOp::Set {
        vips: vec![vip("10.0.0.1/32"), vip("2001:db8::1/128")].into(),
        src_ll: Some("fe80::1".parse().unwrap()),
    });
    settle().await;
    assert_eq!(
        taken(&log),
        [
            "add 2001:db8::1/128",
            "announce 10.0.0.1",
            "announce 2001:db8::1"
        ]
    );
    // A takeover's announcements use it too.
    queue.push(announce(1, Duration::ZERO));
    settle().await;
    assert_eq!(taken(&log), ["announce 10.0.0.1", "announce 2001:db8::1"]);
}

#[tokio::test(start_paused = true)]
async fn close_lets_the_queued_operations_run_then_finishes() {
    let (queue, log) = worker(&["10.0.0.1/32"]);
    queue.push(VipOp::Add);
    queue.push(announce(3, Duration::from_secs(10)));
    queue.push(VipOp::Remove);
    queue.push(VipOp::Add);
    queue.close();
    assert!(!queue.push(VipOp::Remove), "a closed queue takes nothing");
    let start = tokio::time::Instant::now();
    finished(&queue).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let expected = [
        "add 10.0.0.1/32",
        "announce 10.0.0.1",
        "remove 10.0.0.1/32",
        "add 10.0.0.1/32",
    ];
    assert_eq!(taken(&log), expected);
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn close_ends_a_paced_burst_as_a_closed_channel_did() {
    let (queue, log) = worker(&["10.0.0.1/32"]);
    queue.push(announce(3, Duration::from_secs(10)));
    settle().await;
    assert_eq!(taken(&log), ["announce 10.0.0.1"]);
    let start = tokio::time::Instant::now();
    queue.close();
    finished(&queue).await;
    assert_done_at_once(&queue, start);
}

/// What `start` asked for was done within a second of the paused clock (not at the next
/// paced frame, 10 s away), and no worker task is left.
fn assert_done_at_once(queue: &WorkQueue<Worker<Recorder>>, start: tokio::time::Instant) {
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(queue.is_idle());
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_idle_queue_finishes_as_soon_as_it_is_closed() {
    let (queue, _log) = worker(&["10.0.0.1/32"]);
    queue.close();
    finished(&queue).await;
}
