//! The tracker tasks end to end: a config's checks run, flip, and the router inbox receives
//! each tracker's health; plus the script security walk.

#[path = "track_support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use support::Scratch;
use tokio::sync::Notify;
use tokio::time::timeout;
use vipd::config::Config;
use vipd::daemon::router_inbox::{InboxReceiver, Knock, RouterInbox};
use vipd::track::Health;
use vipd::track::{self, InsecureScript};
use vipd::vrrp::router::Input;

fn config(dir: &Scratch) -> Config {
    let ok = dir.path("ok");
    let force = dir.path("force");
    let text = format!(
        r#"
checks:
  svc:
    script: "test -e {ok}"
    interval: 50ms
    rise: 2
    fall: 2
instances:
  web:
    interface: lo
    vrid: 51
    priority: 100
    vips: [192.0.2.10/32]
    track:
      - {{ check: svc }}
      - {{ file: "{force}", weight: -10 }}
"#,
        ok = ok.display(),
        force = force.display()
    );
    Config::parse(&text, "test.yaml").expect("valid config")
}

/// A router's inbox as the tests read it: each input knocks on a bell, as it does on the
/// router's cell.
struct Reader {
    rx: InboxReceiver,
    bell: Arc<Bell>,
}

struct Bell(Notify);

impl Knock for Bell {
    fn knock(self: Arc<Self>) {
        // Kept for the next wait when nobody waits: no knock is lost.
        self.0.notify_one();
    }
}

impl Reader {
    async fn recv(&mut self) -> Option<Input> {
        loop {
            if let Some(ready) = self.rx.try_recv() {
                return ready.map(|input| *input);
            }
            self.bell.0.notified().await;
        }
    }
}

fn inbox() -> (RouterInbox, Reader) {
    let bell = Arc::new(Bell(Notify::new()));
    let (tx, rx) = RouterInbox::channel(16, Arc::downgrade(&bell) as Weak<dyn Knock>);
    (tx, Reader { rx, bell })
}

async fn next(rx: &mut Reader) -> Input {
    timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an input within 5 s")
        .expect("inbox open")
}

fn svc(ok: bool) -> Input {
    Input::Health {
        source: "check svc".into(),
        health: if ok { Health::Ok } else { Health::Failed },
    }
}

fn file(dir: &Scratch, value: i64) -> Input {
    Input::Health {
        source: format!("file {}", dir.path("force").display()),
        health: Health::Value(value),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_drive_faults_and_priority_into_the_router_inbox() {
    let dir = Scratch::new("run");
    let cfg = config(&dir);
    let plan = track::plan(&cfg).unwrap();
    assert_eq!(plan.checks.len(), 2);
    std::fs::write(dir.path("ok"), "").unwrap();
    let (tx, mut rx) = inbox();
    let inboxes = HashMap::from([("web".to_string(), tx)]);
    let tasks = plan.spawn(&inboxes, &Default::default());
    assert_eq!(tasks.len(), 3, "two checks and one instance task");

    // Both report their first result at once: the script healthy, the missing file 0.
    let mut first = vec![next(&mut rx).await, next(&mut rx).await];
    first.sort_by_key(|i| format!("{i:?}"));
    assert_eq!(first, [svc(true), file(&dir, 0)]);
    // Failing needs `fall` (2) failures in a row.
    std::fs::remove_file(dir.path("ok")).unwrap();
    assert_eq!(next(&mut rx).await, svc(false));
    std::fs::write(dir.path("ok"), "").unwrap();
    assert_eq!(next(&mut rx).await, svc(true));

    // The file tracker reports its value; the router does the weighing.
    std::fs::write(dir.path("force"), "3\n").unwrap();
    assert_eq!(next(&mut rx).await, file(&dir, 3));
    std::fs::remove_file(dir.path("force")).unwrap();
    assert_eq!(next(&mut rx).await, file(&dir, 0));
    for t in tasks {
        t.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_while_nothing_changes() {
    let dir = Scratch::new("quiet");
    std::fs::write(dir.path("ok"), "").unwrap();
    let plan = track::plan(&config(&dir)).unwrap();
    let (tx, mut rx) = inbox();
    let tasks = plan.spawn(
        &HashMap::from([("web".to_string(), tx)]),
        &Default::default(),
    );
    next(&mut rx).await;
    next(&mut rx).await;
    // Ten more probe intervals: healthy all along, so silence.
    assert!(
        timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err()
    );
    for t in tasks {
        t.abort();
    }
}

#[test]
fn security_refuses_writable_scripts_with_the_fix() {
    let dir = Scratch::new("sec");
    let s = dir.script("check", "exit 0");
    let s_str = s.to_str().unwrap();
    assert_eq!(track::check_script(s_str), Ok(()));

    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o757)).unwrap();
    match track::check_script(s_str) {
        Err(InsecureScript::Writable { path, fix, .. }) => {
            assert_eq!(path, s);
            assert_eq!(fix, format!("chmod o-w {s_str}"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let msg = track::check_script(s_str).unwrap_err().to_string();
    assert!(
        msg.contains("world-writable") && msg.contains("chmod o-w"),
        "{msg}"
    );

    // A writable directory above the script is as bad as a writable script.
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    match track::check_script(s_str) {
        Err(InsecureScript::Writable { path, .. }) => assert_eq!(path, dir.0),
        other => panic!("expected a refusal, got {other:?}"),
    }
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();

    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(&s, Some(65534), None).unwrap();
        match track::check_script(s_str) {
            Err(InsecureScript::Writable { fix, .. }) => {
                assert_eq!(fix, format!("chown root {s_str}"))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(matches!(
        track::check_script("vipd-surely-not-on-path"),
        Err(InsecureScript::NotFound(_))
    ));
}

#[test]
fn script_security_covers_checks_and_notify_commands() {
    let dir = Scratch::new("cfgsec");
    let check = dir.script("check", "exit 0");
    let notify = dir.script("notify", "exit 0");
    std::fs::set_permissions(&notify, std::fs::Permissions::from_mode(0o777)).unwrap();
    let text = format!(
        r#"
checks:
  svc: {{ script: "{check} --quick" }}
instances:
  web:
    interface: lo
    vrid: 51
    vips: [192.0.2.10/32]
    track: [{{ check: svc }}]
    notify: {{ any: "{notify} arg" }}
"#,
        check = check.display(),
        notify = notify.display()
    );
    let cfg = Config::parse(&text, "t.yaml").unwrap();
    let problems = track::script_security(&cfg);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].to_string().contains(notify.to_str().unwrap()));
    if nix::unistd::geteuid().is_root() {
        assert!(matches!(
            track::plan(&cfg),
            Err(track::TrackError::Insecure(_))
        ));
    }
}
