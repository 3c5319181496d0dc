//! Running real commands: exit codes, group kill on timeout, no zombies, bounded output,
//! argv splitting without a shell, user switching.

#[path = "track_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{Scratch, lasting_zombies, read_pid, wait_gone};
use vipd::track::process::{self, CommandError, Exit, OUTPUT_LIMIT, RunAs, Spec, split_command};

fn spec(argv: &[&str], timeout_ms: u64) -> Spec {
    Spec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        run_as: None,
        timeout: Duration::from_millis(timeout_ms),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_are_reported() {
    assert_eq!(
        process::run(&spec(&["true"], 2000)).await.exit,
        Exit::Code(0)
    );
    assert!(process::run(&spec(&["true"], 2000)).await.exit.success());
    let o = process::run(&spec(&["sh", "-c", "exit 3"], 2000)).await;
    assert_eq!(o.exit, Exit::Code(3));
    assert!(!o.exit.success());
    let o = process::run(&spec(&["sh", "-c", "kill -TERM $$"], 2000)).await;
    assert_eq!(o.exit, Exit::Signal(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_is_a_spawn_failure_not_a_panic() {
    let o = process::run(&spec(&["/nonexistent/vipd-check"], 2000)).await;
    assert!(matches!(o.exit, Exit::SpawnFailed(ref e) if e.contains("/nonexistent/vipd-check")));
    assert_eq!(o.pid, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_whole_group_and_leaves_no_zombie() {
    let dir = Scratch::new("grp");
    let childpid = dir.path("child.pid");
    let script = dir.script(
        "slow",
        &format!("sleep 300 &\necho $! > {}\nsleep 300", childpid.display()),
    );
    let start = Instant::now();
    let o = process::run(&spec(&[script.to_str().unwrap()], 500)).await;
    assert_eq!(o.exit, Exit::TimedOut);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    let leader = o.pid.unwrap();
    let child = read_pid(&childpid);
    // The leader is reaped by us: it must be gone at once, not a zombie.
    assert_eq!(
        support::proc_state(leader),
        None,
        "leader {leader} still there"
    );
    // The background child was killed with the group; init reaps it.
    assert!(
        wait_gone(child, Duration::from_secs(3)),
        "child {child} survived: {:?}",
        support::proc_state(child)
    );
    assert!(
        lasting_zombies().is_empty(),
        "zombies: {:?}",
        lasting_zombies()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_runs_leave_no_zombies() {
    for i in 0..20 {
        let code = i % 3;
        let o = process::run(&spec(&["sh", "-c", &format!("exit {code}")], 2000)).await;
        assert_eq!(o.exit, Exit::Code(code));
    }
    assert!(
        lasting_zombies().is_empty(),
        "zombies: {:?}",
        lasting_zombies()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_captured_and_bounded() {
    let o = process::run(&spec(
        &[
            "sh",
            "-c",
            "head -c 100000 /dev/zero | tr '\\0' x; echo oops >&2",
        ],
        5000,
    ))
    .await;
    assert!(o.exit.success(), "{:?}", o.exit);
    assert_eq!(o.stdout.bytes.len(), OUTPUT_LIMIT);
    assert_eq!(o.stdout.dropped, 100_000 - OUTPUT_LIMIT as u64);
    assert!(o.stdout.bytes.iter().all(|&b| b == b'x'));
    assert_eq!(o.stderr.bytes, b"oops\n");
    assert_eq!(o.stderr.dropped, 0);
    assert!(
        o.stdout
            .to_string()
            .ends_with(&format!("[... {} more bytes]", o.stdout.dropped))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_process_holding_stdout_does_not_hold_the_result() {
    let dir = Scratch::new("bg");
    let pidfile = dir.path("bg.pid");
    let line = format!("sleep 30 & echo $! > {}; echo hi", pidfile.display());
    let start = Instant::now();
    let o = process::run(&spec(&["sh", "-c", &line], 5000)).await;
    assert!(o.exit.success());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(o.stdout.bytes, b"hi\n");
    // Not ours to kill by the rules of the runner, but the test cleans up its own process.
    let bg = read_pid(&pidfile);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(bg as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argv_is_split_like_a_shell_but_nothing_is_expanded() {
    let argv = split_command(r#"printf '%s|' 'a b' "c'd" $HOME * ; e\ f"#).unwrap();
    assert_eq!(
        argv,
        ["printf", "%s|", "a b", "c'd", "$HOME", "*", ";", "e f"]
    );
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let o = process::run(&spec(&argv, 2000)).await;
    assert_eq!(
        String::from_utf8_lossy(&o.stdout.bytes),
        "a b|c'd|$HOME|*|;|e f|"
    );
}

#[test]
fn unsplittable_and_empty_command_lines_are_errors() {
    assert!(matches!(
        split_command("echo 'unterminated"),
        Err(CommandError::Unsplittable(_))
    ));
    assert_eq!(split_command("   "), Err(CommandError::Empty));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_is_passed() {
    let mut s = spec(&["sh", "-c", "printf %s \"$VIPD_X\""], 2000);
    s.env.push(("VIPD_X".into(), "a value".into()));
    let o = process::run(&s).await;
    assert_eq!(o.stdout.bytes, b"a value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_as_the_configured_user_when_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let who = RunAs::lookup("nobody").expect("user nobody");
    assert_eq!(RunAs::for_scripts(Some("nobody")).unwrap(), Some(who));
    let mut s = spec(&["sh", "-c", "id -u; id -g; id -G"], 2000);
    s.run_as = Some(who);
    let o = process::run(&s).await;
    let out = String::from_utf8_lossy(&o.stdout.bytes).to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], who.uid.to_string());
    assert_eq!(lines[1], who.gid.to_string());
    // Supplementary groups were dropped: root's group 0 must not linger.
    assert_eq!(lines[2], who.gid.to_string());
    assert!(matches!(
        RunAs::lookup("vipd-no-such-user"),
        Err(CommandError::NoSuchUser(_))
    ));
}
