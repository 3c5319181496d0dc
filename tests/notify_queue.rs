//! Notify commands: order under a slow command, timeouts, arguments and environment, and
//! the JSON event stream (file and FIFO).

#[path = "track_support/mod.rs"]
mod support;

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{Scratch, lasting_zombies, read_pid, wait_gone};
use vipd::config::{EventLogFormat, Notify};
use vipd::notify::{Commands, EventStream, Notifier, Subject};
use vipd::vrrp::State;
use vipd::vrrp::router::{Reason, Transition};

fn tr(from: State, to: State, priority: u8) -> Transition {
    Transition {
        from,
        to,
        reason: Reason::Startup,
        priority,
        master: Some("192.0.2.1".parse::<IpAddr>().unwrap()),
    }
}

fn commands(n: Notify) -> Commands {
    Commands::from_config(&n, None).unwrap()
}

/// Waits until `log` has `n` lines and returns them.
fn lines(log: &Path, n: usize) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let l: Vec<String> = text.lines().map(str::to_owned).collect();
        if l.len() >= n {
            return l;
        }
        assert!(Instant::now() < until, "only {} lines: {l:?}", l.len());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_renews_the_commands_of_the_same_queue() {
    let dir = Scratch::new("renew");
    let log = dir.path("log");
    let script = |name: &str, tag: &str| {
        dir.script(
            name,
            &format!(
                "echo \"start {tag} $3\" >> {log}\nsleep 0.3\necho \"end {tag} $3\" >> {log}",
                log = log.display()
            ),
        )
    };
    let (old, new) = (script("old", "old"), script("new", "new"));
    let with = |p: &Path| Notify {
        any: Some(p.display().to_string()),
        ..Notify::default()
    };
    let (notifier, task) =
        Notifier::spawn(Subject::Instance, "web", vec![], commands(with(&old)), None);
    assert!(task.is_some());
    notifier.instance(&tr(State::Initialize, State::Backup, 100));
    notifier.instance(&tr(State::Backup, State::Master, 100));
    // A reload while the first command runs: no second queue, so nothing runs beside it.
    let (renewed, second) = notifier.renewed(vec![], commands(with(&new)), None);
    assert!(
        second.is_none(),
        "a reload must not start a second notify task"
    );
    renewed.instance(&tr(State::Master, State::Backup, 90));
    assert_eq!(
        lines(&log, 6),
        [
            "start old BACKUP",
            "end old BACKUP",
            "start old MASTER",
            "end old MASTER",
            "start new BACKUP",
            "end new BACKUP",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_run_one_at_a_time_in_transition_order() {
    let dir = Scratch::new("order");
    let log = dir.path("log");
    // MASTER is slow: if anything ran concurrently, the BACKUP lines would interleave.
    let any = dir.script(
        "any",
        &format!(
            "echo \"start $*\" >> {log}\n[ \"$3\" = MASTER ] && sleep 0.6\necho \"end $3\" >> {log}",
            log = log.display()
        ),
    );
    let n = Notify {
        any: Some(any.display().to_string()),
        ..Notify::default()
    };
    let (notifier, _task) = Notifier::spawn(Subject::Instance, "web", vec![], commands(n), None);
    let start = Instant::now();
    notifier.instance(&tr(State::Initialize, State::Backup, 100));
    notifier.instance(&tr(State::Backup, State::Master, 100));
    notifier.instance(&tr(State::Master, State::Backup, 90));
    notifier.instance(&tr(State::Backup, State::Fault, 90));
    assert!(
        start.elapsed() < Duration::from_millis(50),
        "queueing waited {:?}",
        start.elapsed()
    );
    assert_eq!(
        lines(&log, 8),
        [
            "start INSTANCE web BACKUP 100",
            "end BACKUP",
            "start INSTANCE web MASTER 100",
            "end MASTER",
            "start INSTANCE web BACKUP 90",
            "end BACKUP",
            "start INSTANCE web FAULT 90",
            "end FAULT",
        ]
    );
    assert_eq!(notifier.dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_command_runs_before_any_with_arguments_and_environment() {
    let dir = Scratch::new("args");
    let log = dir.path("log");
    let script = dir.script(
        "n",
        &format!(
            "echo \"$*|$VIPD_INSTANCE|$VIPD_STATE|$VIPD_PREV_STATE|$VIPD_PRIORITY|$VIPD_REASON|$VIPD_VIPS|$VIPD_MASTER\" >> {}",
            log.display()
        ),
    );
    let s = script.display();
    let n = Notify {
        master: Some(format!("{s} 'became master'")),
        backup: Some(format!("{s} backup")),
        stop: Some(format!("{s} stop")),
        any: Some(format!("{s} any")),
        ..Notify::default()
    };
    let vips = vec!["192.0.2.10/32".to_string(), "192.0.2.11/32".to_string()];
    let (notifier, _task) = Notifier::spawn(Subject::Instance, "web", vips, commands(n), None);
    notifier.instance(&tr(State::Backup, State::Master, 150));
    notifier.instance(&tr(State::Master, State::Initialize, 150));
    let env = "web|MASTER|BACKUP|150|started|192.0.2.10/32 192.0.2.11/32|192.0.2.1";
    let stop_env = "web|STOP|MASTER|150|started|192.0.2.10/32 192.0.2.11/32|192.0.2.1";
    assert_eq!(
        lines(&log, 4),
        [
            format!("became master INSTANCE web MASTER 150|{env}"),
            format!("any INSTANCE web MASTER 150|{env}"),
            format!("stop INSTANCE web STOP 150|{stop_env}"),
            format!("any INSTANCE web STOP 150|{stop_env}"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_notifications_use_group_arguments() {
    let dir = Scratch::new("group");
    let log = dir.path("log");
    let script = dir.script(
        "n",
        &format!("echo \"$*|$VIPD_GROUP\" >> {}", log.display()),
    );
    let n = Notify {
        any: Some(script.display().to_string()),
        ..Notify::default()
    };
    let (notifier, _task) = Notifier::spawn(Subject::Group, "lb", vec![], commands(n), None);
    notifier.group(State::Backup, State::Master, "member web became master");
    assert_eq!(lines(&log, 1), ["GROUP lb MASTER|lb"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_past_its_timeout_is_killed_with_its_group_and_the_next_one_runs() {
    let dir = Scratch::new("tmo");
    let log = dir.path("log");
    let pids = dir.path("pids");
    let slow = dir.script(
        "slow",
        &format!(
            "echo $$ >> {pids}\nsleep 300 &\necho $! >> {pids}\nsleep 300",
            pids = pids.display()
        ),
    );
    let fast = dir.script("fast", &format!("echo \"$3\" >> {}", log.display()));
    let n = Notify {
        master: Some(slow.display().to_string()),
        any: Some(fast.display().to_string()),
        timeout: Duration::from_millis(400),
        ..Notify::default()
    };
    let (notifier, _task) = Notifier::spawn(Subject::Instance, "web", vec![], commands(n), None);
    let start = Instant::now();
    notifier.instance(&tr(State::Backup, State::Master, 100));
    notifier.instance(&tr(State::Master, State::Backup, 100));
    assert_eq!(lines(&log, 2), ["MASTER", "BACKUP"]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let all = std::fs::read_to_string(&pids).unwrap();
    let (leader, child) = {
        let mut it = all.lines().map(|l| l.parse::<u32>().unwrap());
        (
            it.next().unwrap(),
            it.next().unwrap_or_else(|| read_pid(&pids)),
        )
    };
    assert!(
        wait_gone(leader, Duration::from_secs(3)),
        "leader {leader} left"
    );
    assert!(
        wait_gone(child, Duration::from_secs(3)),
        "child {child} left"
    );
    assert!(
        lasting_zombies().is_empty(),
        "zombies: {:?}",
        lasting_zombies()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_appends_one_json_line_per_transition() {
    let dir = Scratch::new("events");
    let path = dir.path("events.jsonl");
    let stream = EventStream::open(path.clone(), EventLogFormat::Json).unwrap();
    let (notifier, task) = Notifier::spawn(
        Subject::Instance,
        "web",
        vec![],
        Commands::default(),
        Some(stream.clone()),
    );
    assert!(task.is_none(), "no commands, no task");
    notifier.instance(&tr(State::Initialize, State::Backup, 100));
    let mut t = tr(State::Backup, State::Master, 100);
    t.reason = Reason::MasterDown {
        last_master: None,
        silent_for: Duration::from_millis(3600),
    };
    notifier.instance(&t);
    let got = lines(&path, 2);
    let v: Vec<serde_json::Value> = got
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(v[0]["instance"], "web");
    assert_eq!(v[0]["from"], "INIT");
    assert_eq!(v[0]["to"], "BACKUP");
    assert_eq!(v[1]["from"], "BACKUP");
    assert_eq!(v[1]["to"], "MASTER");
    assert_eq!(v[1]["priority"], 100);
    assert_eq!(v[1]["master"], "192.0.2.1");
    assert_eq!(
        v[1]["reason"],
        "master down timer expired: no advert heard for 3.60s"
    );
    for e in &v {
        let time = e["time"].as_str().unwrap();
        humantime::parse_rfc3339(time).expect("RFC 3339 time");
    }
    assert_eq!(
        stream
            .stats()
            .written
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_without_reader_never_blocks_and_counts_drops() {
    use std::sync::atomic::Ordering::Relaxed;
    let dir = Scratch::new("fifo");
    let path = dir.path("events.fifo");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let stream = EventStream::open(path.clone(), EventLogFormat::Json).unwrap();
    let (notifier, _) = Notifier::spawn(
        Subject::Instance,
        "web",
        vec![],
        Commands::default(),
        Some(stream.clone()),
    );
    let start = Instant::now();
    notifier.instance(&tr(State::Initialize, State::Backup, 100));
    let until = Instant::now() + Duration::from_secs(5);
    while stream.stats().dropped.load(Relaxed) < 1 {
        assert!(
            Instant::now() < until,
            "the line was neither written nor dropped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(stream.stats().written.load(Relaxed), 0);

    // With a reader, lines arrive.
    let reader = {
        let path = path.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let f = std::fs::File::open(path).unwrap();
            let mut line = String::new();
            std::io::BufReader::new(f).read_line(&mut line).unwrap();
            line
        })
    };
    // Give the reader time to open its end; then the next line goes through.
    std::thread::sleep(Duration::from_millis(200));
    notifier.instance(&tr(State::Backup, State::Master, 100));
    let line = reader.join().unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["to"], "MASTER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keepalived_format_writes_keepalived_notify_fifo_lines() {
    let dir = Scratch::new("kfmt");
    // As keepalived, a missing path becomes a FIFO.
    let fifo = dir.path("notify.fifo");
    drop(EventStream::open(fifo.clone(), EventLogFormat::Keepalived).unwrap());
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // An existing file is appended to, which lets this test read the lines back.
    let path = dir.path("notify.log");
    std::fs::write(&path, "").unwrap();
    let stream = EventStream::open(path.clone(), EventLogFormat::Keepalived).unwrap();
    let spawn = |subject, name: &str| {
        Notifier::spawn(
            subject,
            name,
            vec![],
            Commands::default(),
            Some(stream.clone()),
        )
        .0
    };
    let inst = spawn(Subject::Instance, "VI_1");
    let group = spawn(Subject::Group, "G1");
    inst.instance(&tr(State::Initialize, State::Backup, 100));
    // One writer thread keeps the order of lines as they were queued.
    lines(&path, 1);
    group.group(State::Backup, State::Master, "all members Master");
    lines(&path, 2);
    inst.instance(&tr(State::Backup, State::Master, 150));
    lines(&path, 3);
    inst.instance(&tr(State::Master, State::Fault, 150));
    lines(&path, 4);
    inst.instance(&tr(State::Fault, State::Initialize, 150));
    assert_eq!(
        lines(&path, 5),
        [
            "INSTANCE \"VI_1\" BACKUP 100",
            "GROUP \"G1\" MASTER 0",
            "INSTANCE \"VI_1\" MASTER 150",
            "INSTANCE \"VI_1\" FAULT 150",
            "INSTANCE \"VI_1\" STOP 150",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_is_needed_for_commands_an_event_stream_or_a_task_it_already_has() {
    let none = Commands::default();
    let some = commands(Notify {
        master: Some("/bin/true".into()),
        ..Notify::default()
    });
    assert!(!Notifier::needed(&none, None, None), "nothing to do");
    assert!(Notifier::needed(&some, None, None), "commands");

    let dir = Scratch::new("needed");
    let stream = EventStream::open(dir.path("events.jsonl"), EventLogFormat::Json).unwrap();
    assert!(Notifier::needed(&none, Some(&stream), None), "an event log");

    // A queue whose commands were taken away by a reload keeps its task (and its order)...
    let (ran, task) = Notifier::spawn(Subject::Instance, "web", vec![], some, None);
    assert!(task.is_some());
    assert!(
        Notifier::needed(&none, None, Some(&ran)),
        "a task already running"
    );
    // ...but one that never had a task is let go.
    let (idle, task) = Notifier::spawn(Subject::Instance, "web", vec![], none.clone(), None);
    assert!(task.is_none());
    assert!(!Notifier::needed(&none, None, Some(&idle)), "an idle queue");
}
