//! The process check in kernel-events mode (the netlink process connector needs root and
//! the initial namespaces, so this runs in the test's own namespace, not a lab's): with
//! /proc scans an hour apart, only fork/exec/exit events can flip it, within the delays.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use netns_tests::require_root;
use tokio::sync::mpsc;
use tokio::time::timeout;
use vipd::config::{ArgsMatch, ProcessCheck};
use vipd::net::proc_connector::ProcEvents;
use vipd::track::process_watch;
use vipd::track::{Health, Report};

const FORK_DELAY: Duration = Duration::from_millis(800);
const TERMINATE_DELAY: Duration = Duration::from_millis(1500);
/// Generous for a loaded 2-core machine.
const BOUND: Duration = Duration::from_secs(10);

/// A `sleep` this test started, killed and reaped when dropped, even by a failed assert.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sleeper(arg: &str) -> Sleeper {
    Sleeper(
        Command::new("sleep")
            .arg(arg)
            .spawn()
            .expect("sleep starts"),
    )
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Report>) -> Report {
    timeout(BOUND, rx.recv())
        .await
        .expect("a report within the bound")
        .expect("the check runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_process_events_flip_the_check_within_fork_and_terminate_delay() {
    if !require_root() {
        return;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let arg = format!("3600.{}{nanos}", std::process::id());
    let check = ProcessCheck {
        name: "sleep".into(),
        args: vec![arg.clone()],
        args_match: ArgsMatch::Exact,
        full_command: false,
        quorum: 1,
        quorum_max: None,
        fork_delay: FORK_DELAY,
        terminate_delay: TERMINATE_DELAY,
    };
    let events = ProcEvents::subscribe().expect("root subscribes to process events");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(process_watch::run_with(
        "check sleeper".into(),
        check,
        Duration::from_secs(3600),
        vec![tx],
        Some(events),
    ));
    let r = next(&mut rx).await;
    assert_eq!(r.health, Health::Failed, "none runs yet: {}", r.detail);
    assert!(r.detail.contains("Events"), "{}", r.detail);

    let started = Instant::now();
    let mut child = sleeper(&arg);
    let r = next(&mut rx).await;
    let after = started.elapsed();
    assert_eq!(r.health, Health::Ok, "{}", r.detail);
    assert!(
        after >= FORK_DELAY,
        "healthy after {after:?}, before fork_delay"
    );
    assert!(after < FORK_DELAY + BOUND, "healthy after {after:?}");

    let killed = Instant::now();
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let r = next(&mut rx).await;
    let after = killed.elapsed();
    assert_eq!(r.health, Health::Failed, "{}", r.detail);
    assert!(
        after >= TERMINATE_DELAY,
        "failed after {after:?}, before terminate_delay"
    );
    assert!(after < TERMINATE_DELAY + BOUND, "failed after {after:?}");
    task.abort();
}
