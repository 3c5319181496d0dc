//! Removing a lab: its processes, namespaces and logs; and leftovers of killed runs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cmd::run;
use crate::keep::{FILE_CAP, bound_dir, keep_files};

/// Every namespace the harness makes is named `vth<pid>-<n>-<role>`: unique per process and
/// lab (tests run in parallel), and recognisable as ours when a killed run leaves one behind.
pub(crate) const PREFIX: &str = "vth";

/// Owns the lab's namespaces and log directory; its drop is the lab's teardown.
pub(super) struct Teardown {
    /// Namespaces created so far, in creation order.
    pub(super) created: Vec<String>,
    /// Where the lab's logs and captures go.
    pub(super) logdir: PathBuf,
    /// Keep the logs although nothing panicked (a benchmark saw something to look into).
    pub(super) keep: AtomicBool,
}

impl Drop for Teardown {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            kill_all_in(ns);
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("lab teardown: {e}");
            }
        }
        if self.keep.load(Ordering::Relaxed) || keep_files() {
            bound_dir(&self.logdir, FILE_CAP);
            eprintln!(
                "lab logs, configs and captures kept in {} (each file cut to {} MiB)",
                self.logdir.display(),
                FILE_CAP >> 20
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.logdir);
        }
    }
}

/// SIGKILLs every process in namespace `ns`. Only ever called on namespaces the harness named
/// and created, so everything in them was started by a test.
fn kill_all_in(ns: &str) {
    let Ok(out) = run("ip", &["netns", "pids", ns]) else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if let Ok(pid) = pid.parse::<i32>() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Removes namespaces left by earlier test processes that died without tearing down (SIGKILL,
/// a timeout): names in our scheme whose creating PID no longer exists.
pub(super) fn sweep_stale() {
    let Ok(out) = run("ip", &["netns", "list"]) else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(pid) = stale_owner(name) else {
            continue;
        };
        if kill(Pid::from_raw(pid), None).is_err() {
            eprintln!("removing stale test namespace {name}");
            kill_all_in(name);
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

/// The PID encoded in a harness namespace name, if `name` follows our scheme exactly.
fn stale_owner(name: &str) -> Option<i32> {
    let mut parts = name.strip_prefix(PREFIX)?.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    parts.next()?.parse::<u32>().ok()?;
    let role = parts.next()?;
    (!role.is_empty() && role.chars().all(|c| c.is_ascii_alphanumeric())).then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::stale_owner;

    #[test]
    fn recognises_only_our_names() {
        assert_eq!(stale_owner("vth1234-0-n1"), Some(1234));
        assert_eq!(stale_owner("vth1234-7-sw"), Some(1234));
        for other in [
            "vt1234-0-n1",
            "vth1234",
            "vth1234-x-n1",
            "vth1234-0-",
            "vthx-0-n1",
            "blue",
        ] {
            assert_eq!(stale_owner(other), None, "{other}");
        }
    }
}
