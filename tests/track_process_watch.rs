//! The process check against real processes, in scan mode (no privileges needed): a
//! `sleep` with an argument no other process has is started and killed, and the check
//! flips healthy, then failed, but only once `terminate_delay` has passed.
//! The kernel-events mode is tested as root in netns-tests (tracking/process_events.rs).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::time::timeout;
use vipd::config::{ArgsMatch, ProcessCheck};
use vipd::track::process_watch;
use vipd::track::{Health, Report};

const TERMINATE_DELAY: Duration = Duration::from_millis(1500);
/// Generous: a loaded 2-core machine scans /proc slowly.
const BOUND: Duration = Duration::from_secs(10);

fn unique_arg() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("3600.{}{nanos}", std::process::id())
}

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

fn check(arg: &str) -> ProcessCheck {
    ProcessCheck {
        name: "sleep".into(),
        args: vec![arg.into()],
        args_match: ArgsMatch::Exact,
        full_command: false,
        quorum: 1,
        quorum_max: None,
        fork_delay: Duration::ZERO,
        terminate_delay: TERMINATE_DELAY,
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Report>) -> Report {
    timeout(BOUND, rx.recv())
        .await
        .expect("a report within the bound")
        .expect("the check runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_mode_follows_a_real_process_and_waits_terminate_delay() {
    let arg = unique_arg();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(process_watch::run_with(
        "check sleeper".into(),
        check(&arg),
        Duration::from_millis(100),
        vec![tx],
        None,
    ));
    assert_eq!(next(&mut rx).await.health, Health::Failed, "none runs yet");
    let mut child = sleeper(&arg);
    let r = next(&mut rx).await;
    assert_eq!(r.health, Health::Ok, "{}", r.detail);
    assert!(r.detail.contains("1 matching"), "{}", r.detail);
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

#[test]
fn a_scan_reads_the_command_line_only_when_asked_and_skips_zombies() {
    let arg = unique_arg();
    let mut child = sleeper(&arg);
    let pid = child.0.id();
    let c = check(&arg);
    let proc_root = std::path::Path::new("/proc");
    // Between fork and exec the child still bears the test's name: wait for the exec.
    let deadline = Instant::now() + Duration::from_secs(10);
    let found = loop {
        let (found, cut) = process_watch::scan(proc_root, &c).unwrap();
        assert!(!cut);
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(found.into_iter().collect::<Vec<_>>(), [pid]);
    let info = process_watch::read_process(proc_root, pid, false).unwrap();
    assert_eq!(info.comm, "sleep");
    assert!(info.cmdline.is_empty());
    child.0.kill().unwrap();
    // Not reaped yet: a zombie, which does not count.
    let until = Instant::now() + BOUND;
    while process_watch::read_process(proc_root, pid, true).is_some() {
        assert!(Instant::now() < until, "{pid} never became a zombie");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(process_watch::scan(proc_root, &c).unwrap().0.is_empty());
    child.0.wait().unwrap();
}

#[test]
fn a_process_check_is_read_from_yaml_and_bad_values_are_named() {
    use vipd::config::{CheckKind, Config};
    let base = "instances:\n  web:\n    interface: eth0\n    vrid: 1\n    vips: [192.0.2.1/24]\n    track: [{check: p}]\n";
    let good = format!(
        "checks:\n  p:\n    process: {{name: haproxy, args: [-f, /etc/h], match: initial, quorum: 2, quorum_max: 3, delay: 2s, terminate_delay: 5s}}\n{base}"
    );
    let c = Config::parse(&good, "t.yaml").unwrap();
    let CheckKind::Process(p) = &c.checks["p"].kind else {
        panic!()
    };
    assert_eq!(p.args_match, ArgsMatch::Initial);
    assert_eq!(p.fork_delay, Duration::from_secs(2));
    assert_eq!(p.terminate_delay, Duration::from_secs(5));
    for (bad, says) in [
        (
            "{name: x, quorum: 3, quorum_max: 2}",
            "quorum_max 2 is below quorum 3",
        ),
        ("{name: x, match: fuzzy}", "unknown value 'fuzzy'"),
        ("{name: \"\"}", "must not be empty"),
        ("{quorum: 1}", "name"),
    ] {
        let text = format!("checks:\n  p:\n    process: {bad}\n{base}");
        let e = Config::parse(&text, "t.yaml").unwrap_err().to_string();
        assert!(e.contains(says), "{bad}: {e}");
    }
    let text = format!("checks:\n  p:\n    process: {{name: x}}\n    fall: 3\n{base}");
    let e = Config::parse(&text, "t.yaml").unwrap_err().to_string();
    assert!(e.contains("a process check has no 'fall'"), "{e}");
}

#[test]
fn a_scan_stops_at_its_bound_and_says_so() {
    // A fake /proc: five processes named "sleep", as stat files.
    let root = std::env::temp_dir().join(format!("vipd-fakeproc-{}", std::process::id()));
    for pid in 1..=5 {
        let dir = root.join(pid.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("stat"), format!("{pid} (sleep) S 1 1")).unwrap();
    }
    let mut c = check("x");
    c.args.clear();
    c.args_match = ArgsMatch::Any;
    let (all, cut) = process_watch::scan_at_most(&root, &c, 5).unwrap();
    assert_eq!((all.len(), cut), (5, false));
    let (some, cut) = process_watch::scan_at_most(&root, &c, 3).unwrap();
    assert_eq!((some.len(), cut), (3, true));
    std::fs::remove_dir_all(&root).unwrap();
}
