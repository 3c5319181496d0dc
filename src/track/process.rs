//! Running an external command safely: no shell, its own process group, a timeout that
//! kills the whole group, bounded output capture, and the child always reaped.
//!
//! Used by script checks and notify commands alike.

use std::fmt;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, User};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How much of stdout and of stderr is kept, each.
pub const OUTPUT_LIMIT: usize = 4096;

/// After the command exits, how long to keep reading output that a leftover background
/// process may still hold open; the pipes are closed after this.
const DRAIN_GRACE: Duration = Duration::from_millis(100);

/// A command line that could not be turned into an argv.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    /// Unbalanced quotes or a dangling escape.
    #[error("cannot split command line {0:?}: unbalanced quote or trailing backslash")]
    Unsplittable(String),
    /// Nothing to run.
    #[error("empty command line")]
    Empty,
    /// The user to run as does not exist.
    #[error("no such user {0:?} to run scripts as")]
    NoSuchUser(String),
    /// The user database could not be read.
    #[error("looking up user {user:?}: {error}")]
    UserLookup {
        /// The user.
        user: String,
        /// What failed.
        error: String,
    },
}

/// Splits a command line the way a POSIX shell splits words (quotes and backslashes), with
/// no expansion of any kind: `$HOME`, `*` and `;` are passed through as literal text.
pub fn split_command(line: &str) -> Result<Vec<String>, CommandError> {
    let argv = shlex::split(line).ok_or_else(|| CommandError::Unsplittable(line.to_owned()))?;
    if argv.is_empty() {
        return Err(CommandError::Empty);
    }
    Ok(argv)
}

/// The identity a command runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
}

impl RunAs {
    /// Looks `name` up in the user database.
    pub fn lookup(name: &str) -> Result<RunAs, CommandError> {
        match User::from_name(name) {
            Ok(Some(u)) => Ok(RunAs {
                uid: u.uid.as_raw(),
                gid: u.gid.as_raw(),
            }),
            Ok(None) => Err(CommandError::NoSuchUser(name.to_owned())),
            Err(e) => Err(CommandError::UserLookup {
                user: name.to_owned(),
                error: e.to_string(),
            }),
        }
    }

    /// The identity for scripts given the configured user: only root can switch users, so
    /// without root (or without a configured user) scripts run as vipd itself.
    pub fn for_scripts(user: Option<&str>) -> Result<Option<RunAs>, CommandError> {
        match user {
            Some(name) if nix::unistd::geteuid().is_root() => Self::lookup(name).map(Some),
            _ => Ok(None),
        }
    }
}

/// One command to run.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Program and arguments; `argv[0]` is looked up in `PATH` if it has no slash.
    pub argv: Vec<String>,
    /// Extra environment variables, on top of vipd's own environment.
    pub env: Vec<(String, String)>,
    /// Run as this identity (requires root).
    pub run_as: Option<RunAs>,
    /// Killed, with its whole process group, after this long.
    pub timeout: Duration,
}

/// Up to [`OUTPUT_LIMIT`] bytes of one output stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes.
    pub bytes: Vec<u8>,
    /// How many more bytes were read and discarded.
    pub dropped: u64,
}

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(String::from_utf8_lossy(&self.bytes).trim_end())?;
        if self.dropped > 0 {
            write!(f, " [... {} more bytes]", self.dropped)?;
        }
        Ok(())
    }
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this status code.
    Code(i32),
    /// Killed by this signal (not by us).
    Signal(i32),
    /// Still running at the timeout; its process group was killed.
    TimedOut,
    /// Could not be started.
    SpawnFailed(String),
}

impl Exit {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::TimedOut => f.write_str("timed out (process group killed)"),
            Exit::SpawnFailed(e) => write!(f, "could not start: {e}"),
        }
    }
}

/// The result of [`run`].
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How it ended.
    pub exit: Exit,
    /// Its standard output, bounded.
    pub stdout: Captured,
    /// Its standard error, bounded.
    pub stderr: Captured,
    /// How long it ran.
    pub elapsed: Duration,
    /// The process ID it had (also its process group ID), if it started.
    pub pid: Option<u32>,
    /// It could not start for want of a local resource (descriptors for its pipes, memory,
    /// the process limit): says nothing about what it checks.
    pub local_error: bool,
}

/// Kills the process group if the run is abandoned (its future dropped) before the child
/// was reaped; tokio reaps the leader in the background (`kill_on_drop`).
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// The soft open-file limit commands start with, when vipd raised its own.
static CHILD_NOFILE: std::sync::OnceLock<libc::rlim_t> = std::sync::OnceLock::new();

/// Commands start with `soft` as their open-file limit, the one vipd was started with, not
/// the raised one: without systemd the hard limit can be a million, and programs that close
/// every possible descriptor before they exec would loop that far.
pub fn children_get_descriptor_limit(soft: libc::rlim_t) {
    let _ = CHILD_NOFILE.set(soft);
}

/// Runs `spec` to completion or timeout. Never fails: a command that cannot start is an
/// [`Exit::SpawnFailed`] outcome.
pub async fn run(spec: &Spec) -> Outcome {
    let start = Instant::now();
    let mut cmd = tokio::process::Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..])
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so a timeout kills everything the command started, and a
        // terminal signal aimed at vipd's group does not reach it.
        .process_group(0)
        .kill_on_drop(true);
    if let Some(&soft) = CHILD_NOFILE.get() {
        // SAFETY: between fork and exec only getrlimit and setrlimit run, both plain system
        // calls, async-signal-safe; nothing allocates or takes a lock.
        unsafe {
            cmd.pre_exec(move || {
                let mut limit = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                    limit.rlim_cur = soft.min(limit.rlim_max);
                    libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                }
                Ok(())
            });
        }
    }
    if let Some(who) = spec.run_as {
        // std drops supplementary groups (setgroups) when switching from root.
        cmd.uid(who.uid).gid(who.gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                exit: Exit::SpawnFailed(format!("{}: {e}", spec.argv[0])),
                stdout: Captured::default(),
                stderr: Captured::default(),
                elapsed: start.elapsed(),
                pid: None,
                // EAGAIN from fork is the process limit.
                local_error: crate::track::probe::local_resource_error(&e)
                    || e.raw_os_error() == Some(libc::EAGAIN),
            };
        }
    };
    let pid = child.id();
    let mut guard = GroupGuard(pid.map(|p| Pid::from_raw(p as i32)));
    let (out_tx, out_rx) = oneshot::channel();
    let (err_tx, err_rx) = oneshot::channel();
    let out = child
        .stdout
        .take()
        .map(|s| tokio::spawn(capture(s, out_rx)));
    let err = child
        .stderr
        .take()
        .map(|s| tokio::spawn(capture(s, err_rx)));
    let exit = match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(Ok(status)) => exit_of(status),
        Ok(Err(e)) => Exit::SpawnFailed(format!("waiting for {}: {e}", spec.argv[0])),
        Err(_) => {
            if let Some(pgid) = guard.0 {
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            // The leader was just killed, so this returns promptly and reaps it.
            let _ = child.wait().await;
            Exit::TimedOut
        }
    };
    // Reaped: the group ID may be reused from here on, so never signal it again.
    guard.0 = None;
    drop((out_tx, err_tx));
    Outcome {
        exit,
        stdout: collect(out).await,
        stderr: collect(err).await,
        elapsed: start.elapsed(),
        pid,
        local_error: false,
    }
}

fn exit_of(status: ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        (None, None) => Exit::Code(-1),
    }
}

/// Reads a stream until its end, keeping the first [`OUTPUT_LIMIT`] bytes. Reading on past
/// the limit matters: a child blocked on a full pipe would never exit. Once `exited` fires
/// (or is dropped), reading stops within [`DRAIN_GRACE`]: a background process the command
/// left behind may hold the pipe open forever.
async fn capture(mut s: impl AsyncRead + Unpin, mut exited: oneshot::Receiver<()>) -> Captured {
    let mut c = Captured::default();
    let mut buf = [0u8; 1024];
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let read = s.read(&mut buf);
        let r = match deadline {
            None => tokio::select! {
                r = read => r,
                _ = &mut exited => {
                    deadline = Some(tokio::time::Instant::now() + DRAIN_GRACE);
                    continue;
                }
            },
            Some(d) => match tokio::time::timeout_at(d, read).await {
                Ok(r) => r,
                Err(_) => return c,
            },
        };
        match r {
            Ok(0) | Err(_) => return c,
            Ok(n) => {
                let keep = n.min(OUTPUT_LIMIT - c.bytes.len());
                c.bytes.extend_from_slice(&buf[..keep]);
                c.dropped += (n - keep) as u64;
            }
        }
    }
}

async fn collect(h: Option<JoinHandle<Captured>>) -> Captured {
    match h {
        Some(h) => h.await.unwrap_or_default(),
        None => Captured::default(),
    }
}
