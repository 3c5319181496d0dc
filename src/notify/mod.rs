//! Notify commands and the event stream.
//!
//! Each instance (and sync group) has one [`Notifier`]: a queue and a task that runs the
//! notifications one at a time, in the order the transitions happened. For each transition
//! the state's command runs first (`master`, `backup`, `fault`, `stop`), then `any`, each
//! with keepalived's trailing arguments (`INSTANCE <name> <STATE> <priority>`, or
//! `GROUP <name> <STATE>`) and `VIPD_*` environment variables, each killed with its process
//! group after the timeout.
//!
//! The protocol never waits: [`Notifier::instance`] only queues (`try_send`). The queue holds
//! [`QUEUE_CAPACITY`] transitions; if commands fall that far behind, newer transitions are
//! dropped from the notify queue (logged and counted in [`Notifier::dropped`]). The event
//! stream line is written for every transition, dropped or not.

pub mod events;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::config::Notify;
use crate::track::process::{self, CommandError, RunAs, split_command};
use crate::vrrp::State;
use crate::vrrp::router::Transition;
pub use events::{EventRecord, EventStream};

/// Transitions a notifier holds before dropping newer ones.
pub const QUEUE_CAPACITY: usize = 1024;

/// Whether a notification is about an instance or a sync group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// `INSTANCE`.
    Instance,
    /// `GROUP`.
    Group,
}

/// One notification waiting to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Instance or group.
    pub subject: Subject,
    /// Its name.
    pub name: String,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Effective priority (instances).
    pub priority: Option<u8>,
    /// Why, as a sentence.
    pub reason: String,
    /// The Master as far as this router knows.
    pub master: Option<IpAddr>,
    /// The virtual addresses, as text.
    pub vips: Vec<String>,
}

/// The word notify commands see for a state: a router returning to Initialize is stopping.
pub fn state_word(s: State) -> &'static str {
    match s {
        State::Master => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Initialize => "STOP",
    }
}

impl Note {
    /// keepalived's trailing arguments.
    pub fn args(&self) -> Vec<String> {
        match self.subject {
            Subject::Instance => vec![
                "INSTANCE".into(),
                self.name.clone(),
                state_word(self.to).into(),
                self.priority.unwrap_or(0).to_string(),
            ],
            Subject::Group => vec![
                "GROUP".into(),
                self.name.clone(),
                state_word(self.to).into(),
            ],
        }
    }

    /// The `VIPD_*` environment variables.
    pub fn env(&self) -> Vec<(String, String)> {
        let who = match self.subject {
            Subject::Instance => "VIPD_INSTANCE",
            Subject::Group => "VIPD_GROUP",
        };
        let prev = match self.from {
            State::Initialize => "INIT",
            s => state_word(s),
        };
        let mut env = vec![
            (who.to_owned(), self.name.clone()),
            ("VIPD_STATE".into(), state_word(self.to).into()),
            ("VIPD_PREV_STATE".into(), prev.into()),
            ("VIPD_REASON".into(), self.reason.clone()),
            ("VIPD_VIPS".into(), self.vips.join(" ")),
            (
                "VIPD_MASTER".into(),
                self.master.map(|m| m.to_string()).unwrap_or_default(),
            ),
        ];
        if let Some(p) = self.priority {
            env.push(("VIPD_PRIORITY".into(), p.to_string()));
        }
        env
    }

    fn record(&self) -> EventRecord {
        EventRecord {
            time: SystemTime::now(),
            instance: self.name.clone(),
            group: self.subject == Subject::Group,
            from: self.from,
            to: self.to,
            reason: self.reason.clone(),
            priority: self.priority,
            master: self.master,
        }
    }
}

/// The commands of one instance or group, split into argv form.
#[derive(Clone, Debug, Default)]
pub struct Commands {
    /// On becoming Master.
    pub master: Option<Vec<String>>,
    /// On becoming Backup.
    pub backup: Option<Vec<String>>,
    /// On entering FAULT.
    pub fault: Option<Vec<String>>,
    /// On stopping.
    pub stop: Option<Vec<String>>,
    /// After the specific one, on every transition.
    pub any: Option<Vec<String>>,
    /// Per command.
    pub timeout: Duration,
    /// Who commands run as (only when vipd is root).
    pub run_as: Option<RunAs>,
}

impl Commands {
    /// Splits the configured command lines (no shell: quotes and backslashes only).
    pub fn from_config(n: &Notify, run_as: Option<RunAs>) -> Result<Commands, CommandError> {
        let split = |l: &Option<String>| l.as_deref().map(split_command).transpose();
        Ok(Commands {
            master: split(&n.master)?,
            backup: split(&n.backup)?,
            fault: split(&n.fault)?,
            stop: split(&n.stop)?,
            any: split(&n.any)?,
            timeout: n.timeout,
            run_as,
        })
    }

    fn for_state(&self, s: State) -> Option<&Vec<String>> {
        match s {
            State::Master => self.master.as_ref(),
            State::Backup => self.backup.as_ref(),
            State::Fault => self.fault.as_ref(),
            State::Initialize => self.stop.as_ref(),
        }
    }

    fn is_empty(&self) -> bool {
        [
            &self.master,
            &self.backup,
            &self.fault,
            &self.stop,
            &self.any,
        ]
        .iter()
        .all(|c| c.is_none())
    }
}

/// `commands` in an Arc; one Arc for every queue without commands. Nothing reads the
/// timeout or the user of a set without commands, and each instance held a 168-byte copy.
fn shared(commands: Commands) -> Arc<Commands> {
    static NONE: std::sync::OnceLock<Arc<Commands>> = std::sync::OnceLock::new();
    if commands.is_empty() {
        NONE.get_or_init(|| Arc::new(Commands::default())).clone()
    } else {
        Arc::new(commands)
    }
}

/// The queue of one instance's (or group's) notifications. Clones share one copy of what
/// it holds (the name and the VIPs as notes spell them): the daemon keeps one per instance
/// and the instance's settings another, and a copy each was some 200 bytes per instance.
#[derive(Clone, Debug)]
pub struct Notifier(Arc<Held>);

#[derive(Debug)]
struct Held {
    subject: Subject,
    name: String,
    vips: Vec<String>,
    commands: Arc<Commands>,
    tx: Option<mpsc::Sender<(Arc<Commands>, Note)>>,
    events: Option<EventStream>,
    counters: Arc<NotifyCounters>,
}

/// What happened to one instance's (or group's) notifications, for status and metrics.
/// Kept across reloads by the daemon, so the counters only grow.
#[derive(Debug, Default)]
pub struct NotifyCounters {
    /// Commands that exited non-zero, were killed at their timeout, or could not start.
    pub failed: AtomicU64,
    /// Notifications dropped because the queue was full.
    pub dropped: AtomicU64,
}

impl Notifier {
    /// Starts the notify task for instance or group `name`. With no commands configured no
    /// task runs, and only the event stream (if any) is written.
    pub fn spawn(
        subject: Subject,
        name: &str,
        vips: Vec<String>,
        commands: Commands,
        events: Option<EventStream>,
    ) -> (Notifier, Option<JoinHandle<()>>) {
        Self::spawn_counted(subject, name, vips, commands, events, Arc::default())
    }

    /// [`Notifier::spawn`], counting into `counters`.
    pub fn spawn_counted(
        subject: Subject,
        name: &str,
        vips: Vec<String>,
        commands: Commands,
        events: Option<EventStream>,
        counters: Arc<NotifyCounters>,
    ) -> (Notifier, Option<JoinHandle<()>>) {
        let (tx, task) = if commands.is_empty() {
            (None, None)
        } else {
            let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
            (Some(tx), Some(tokio::spawn(run(rx, counters.clone()))))
        };
        let n = Notifier(Arc::new(Held {
            subject,
            name: name.to_owned(),
            vips,
            commands: shared(commands),
            tx,
            events,
            counters,
        }));
        (n, task)
    }

    /// Whether an instance (or group) needs a queue: it has `commands` or an event stream to
    /// write to, or its `existing` queue has a task (it ran, or may still run, commands:
    /// that queue stays, so that notifications never run side by side or out of order). A
    /// queue that would do nothing only holds memory, and one made later starts in order,
    /// as nothing ran before it.
    pub fn needed(
        commands: &Commands,
        events: Option<&EventStream>,
        existing: Option<&Notifier>,
    ) -> bool {
        !commands.is_empty() || events.is_some() || existing.is_some_and(|n| n.0.tx.is_some())
    }

    /// The same queue with a reload's commands, VIPs and event stream. Notes already queued
    /// run with the commands they were queued with, new ones with these; there is still one
    /// queue and one task, so one instance's commands never run side by side or out of
    /// order across a reload. A task is started only if there was none and commands now
    /// exist.
    pub fn renewed(
        &self,
        vips: Vec<String>,
        commands: Commands,
        events: Option<EventStream>,
    ) -> (Notifier, Option<JoinHandle<()>>) {
        match &self.0.tx {
            Some(_) => {
                let n = Notifier(Arc::new(Held {
                    subject: self.0.subject,
                    name: self.0.name.clone(),
                    vips,
                    commands: shared(commands),
                    tx: self.0.tx.clone(),
                    events,
                    counters: self.0.counters.clone(),
                }));
                (n, None)
            }
            None => Self::spawn_counted(
                self.0.subject,
                &self.0.name,
                vips,
                commands,
                events,
                self.0.counters.clone(),
            ),
        }
    }

    /// Queues an instance transition; never waits.
    pub fn instance(&self, t: &Transition) {
        self.push(Note {
            subject: self.0.subject,
            name: self.0.name.clone(),
            from: t.from,
            to: t.to,
            priority: (self.0.subject == Subject::Instance).then_some(t.priority),
            reason: t.reason.to_string(),
            master: t.master,
            vips: self.0.vips.clone(),
        });
    }

    /// Queues a sync-group transition; never waits.
    pub fn group(&self, from: State, to: State, reason: &str) {
        self.push(Note {
            subject: Subject::Group,
            name: self.0.name.clone(),
            from,
            to,
            priority: None,
            reason: reason.to_owned(),
            master: None,
            vips: self.0.vips.clone(),
        });
    }

    /// Queues a prepared note; never waits.
    pub fn push(&self, note: Note) {
        if let Some(ev) = &self.0.events {
            ev.record(&note.record());
        }
        let Some(tx) = &self.0.tx else { return };
        if let Err(e) = tx.try_send((self.0.commands.clone(), note)) {
            let n = self.0.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let (_, note) = match e {
                mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n) => n,
            };
            error!(name = %self.0.name, to = %note.to, dropped = n,
                "notify queue full: notification dropped (commands are too slow)");
        }
    }

    /// Notifications dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.0.counters.dropped.load(Ordering::Relaxed)
    }
}

/// The notify task: one note at a time, its commands one after the other.
async fn run(mut rx: mpsc::Receiver<(Arc<Commands>, Note)>, counters: Arc<NotifyCounters>) {
    while let Some((commands, note)) = rx.recv().await {
        let specific = commands.for_state(note.to);
        for (which, argv) in [("state", specific), ("any", commands.any.as_ref())] {
            let Some(argv) = argv else { continue };
            let mut full = argv.clone();
            full.extend(note.args());
            let out = process::run(&process::Spec {
                argv: full,
                env: note.env(),
                run_as: commands.run_as,
                timeout: commands.timeout,
            })
            .await;
            let (stdout, stderr) = (out.stdout.to_string(), out.stderr.to_string());
            if out.exit.success() {
                info!(name = %note.name, state = state_word(note.to), command = %argv[0], which,
                    elapsed_ms = out.elapsed.as_millis() as u64, "notify ran");
                if !stdout.is_empty() || !stderr.is_empty() {
                    debug!(name = %note.name, %stdout, %stderr, "notify output");
                }
            } else {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                warn!(name = %note.name, state = state_word(note.to), command = %argv[0], which,
                    exit = %out.exit, %stdout, %stderr, "notify command failed");
            }
        }
    }
}
