//! Processes started inside lab namespaces.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::error::{HarnessError, Result};

/// A process started with `ip netns exec` (which execs the command, so the PID is the
/// command's own). It leads its own process group, so that the group can be killed as a whole
/// (keepalived, for instance, forks a child). Dropping a `Proc` that is still running kills
/// its group with SIGKILL and reaps it.
pub struct Proc {
    child: Child,
    status: Option<ExitStatus>,
    log: PathBuf,
}

impl Proc {
    /// Starts `args` in namespace `ns`, stdout and stderr appended to `log`.
    pub(crate) fn spawn(ns: &str, args: &[&str], log: PathBuf) -> Result<Proc> {
        let cmdline = args.join(" ");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| HarnessError::io(format!("open log {}", log.display()), e))?;
        // A header makes a shared log readable and records the exact command for reruns.
        writeln!(file, "### ip netns exec {ns} {cmdline}")
            .map_err(|e| HarnessError::io("write log header", e))?;
        let err = file
            .try_clone()
            .map_err(|e| HarnessError::io("dup log", e))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                cmd: cmdline,
                source,
            })?;
        Ok(Proc {
            child,
            status: None,
            log,
        })
    }

    /// The process ID (also its process group ID).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file receiving its stdout and stderr.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The log's contents so far (for assertions and failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` to the process itself. Fails once the process has been reaped, because its
    /// PID may then belong to someone else.
    pub fn signal(&mut self, sig: Signal) -> Result<()> {
        let pid = self.live_pid()?;
        kill(pid, sig).map_err(|e| HarnessError::io(format!("kill -{sig} {pid}"), e.into()))
    }

    /// Sends `sig` to the whole process group (the process and anything it forked).
    pub fn signal_group(&mut self, sig: Signal) -> Result<()> {
        let pid = self.live_pid()?;
        killpg(pid, sig).map_err(|e| HarnessError::io(format!("killpg -{sig} {pid}"), e.into()))
    }

    /// Its exit status if it has exited (reaping it), without waiting.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills the process group with SIGKILL and reaps the process.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        if self.try_status().is_none() {
            // Only while the leader is unreaped is its PID certainly still our group's ID.
            let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
            self.status = self.child.wait().ok();
        }
        self.status
    }

    fn live_pid(&mut self) -> Result<Pid> {
        match self.try_status() {
            None => Ok(Pid::from_raw(self.child.id() as i32)),
            Some(s) => Err(HarnessError::io(
                format!("process {} already exited ({s})", self.child.id()),
                std::io::Error::from_raw_os_error(libc::ESRCH),
            )),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
