//! Helpers for the track and notify tests: scratch directories, scripts, /proc inspection.

// Each test crate that includes this file uses a different subset of it.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A directory under the system temp dir, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("vt-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes an executable `/bin/sh` script.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The state letter of a process (`R`, `S`, `Z`...), or `None` if it is gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().next()?.chars().next()
}

/// Whether `pid` is gone or a zombie that is not ours, waiting up to `limit`.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    loop {
        match proc_state(pid) {
            None => return true,
            Some(_) if Instant::now() >= until => return false,
            Some(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Zombie children of this test process, right now.
pub fn our_zombies() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if f.first() == Some(&"Z") && f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            out.push(pid);
        }
    }
    out
}

/// Reads a pid written by a script, waiting for the file to appear.
pub fn read_pid(p: &Path) -> u32 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(s) = std::fs::read_to_string(p) {
            if let Ok(pid) = s.trim().parse() {
                return pid;
            }
        }
        assert!(Instant::now() < until, "{} never written", p.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Zombie children of this test process that are still zombies 300 ms later. Tests in one
/// binary run in parallel, so a child of another test may be a zombie for an instant
/// between its exit and its reaping; only lasting ones are leaks.
pub fn lasting_zombies() -> Vec<u32> {
    let first = our_zombies();
    if first.is_empty() {
        return first;
    }
    std::thread::sleep(Duration::from_millis(300));
    let second = our_zombies();
    first.into_iter().filter(|p| second.contains(p)).collect()
}
