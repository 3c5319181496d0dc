//! Talking to a running vipd: its control commands run inside its node, its configuration
//! file rewritten for a reload, its process seen through /proc.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde::Deserialize;
use serde_json::Value;

use super::{Vipd, VipdConfig, vipd_bin};
use crate::error::{HarnessError, Result};

/// What `vipd status --json` prints, read by the documented field names (independently of
/// vipd's own types, so a renamed field fails here).
#[derive(Debug, Clone)]
pub struct Status {
    /// Every instance.
    pub instances: Vec<InstanceStatus>,
    /// The whole answer, for comparisons and failure messages.
    pub raw: Value,
}

/// One instance in `vipd status --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// "MASTER", "BACKUP", "FAULT" or "INIT".
    pub state: String,
    /// Configured priority.
    pub base_priority: u8,
    /// Priority with the trackers' weights applied.
    pub effective_priority: u8,
    /// The Master as this node knows it.
    pub master: Option<String>,
    /// Configured VIPs (`ADDR/PREFIX`).
    pub vips: Vec<String>,
    /// Whether this node holds them.
    pub vips_held: bool,
    /// Maintenance drain on.
    pub maintenance: bool,
    /// Active fault sources.
    pub faults: Vec<String>,
    /// Why the last transition happened.
    pub last_reason: String,
    /// When the current state began.
    pub since: String,
}

impl Status {
    /// The instance called `name`; panics naming the whole answer if there is none.
    pub fn instance(&self, name: &str) -> &InstanceStatus {
        self.instances
            .iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("no instance {name} in status: {}", self.raw))
    }

    /// The answer without what changes by itself while nothing happens (time in state and
    /// packet counters): equal before and after exactly when nothing changed.
    pub fn steady(&self) -> Value {
        let mut v = self.raw.clone();
        if let Some(list) = v["instances"].as_array_mut() {
            for i in list.iter_mut().filter_map(Value::as_object_mut) {
                i.remove("seconds_in_state");
                i.remove("counters");
                // A Master's channels count every advert it sends: they move between any
                // two reads.
                if let Some(channels) = i.get_mut("channels").and_then(Value::as_array_mut) {
                    for c in channels.iter_mut().filter_map(Value::as_object_mut) {
                        c.remove("counters");
                        c.remove("last_advert_ms_ago");
                    }
                }
            }
        }
        v
    }
}

/// The `control_socket:` of a configuration text, if it has one.
pub(crate) fn socket_of(yaml: &str) -> Option<PathBuf> {
    yaml.lines()
        .filter_map(|l| l.trim().strip_prefix("control_socket:"))
        .map(|v| PathBuf::from(v.trim().trim_matches('"')))
        .next()
}

impl Vipd {
    /// The control socket from its configuration.
    pub fn socket_path(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// Its process ID (`ip netns exec` execs vipd, so this is vipd's own).
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Runs `vipd ARGS... --socket S` inside its node and returns the output whatever the
    /// exit status: `ctl(&["maintenance", "on"])`, `ctl(&["reload"])`.
    pub fn ctl(&self, args: &[&str]) -> Result<Output> {
        let bin = vipd_bin()?;
        let socket = self.socket.as_ref().ok_or_else(|| {
            HarnessError::parse("vipd control", "the configuration names no control_socket")
        })?;
        let (bin, socket) = (bin.to_string_lossy(), socket.to_string_lossy());
        let mut argv = vec![&*bin];
        argv.extend_from_slice(args);
        argv.extend(["--socket", &*socket]);
        self.node.exec(&argv)
    }

    /// Like [`Vipd::ctl`], failing unless it exits 0; returns its stdout.
    pub fn ctl_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.ctl(args)?;
        if !out.status.success() {
            return Err(HarnessError::Command {
                cmd: format!("vipd {}", args.join(" ")),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `vipd status --json`, parsed.
    pub fn status(&self) -> Result<Status> {
        let text = self.ctl_ok(&["status", "--json"])?;
        let raw: Value = serde_json::from_str(&text)
            .map_err(|e| HarnessError::parse("vipd status --json", format!("{e}: {text}")))?;
        let instances = serde_json::from_value(raw["instances"].clone())
            .map_err(|e| HarnessError::parse("vipd status --json", format!("{e}: {text}")))?;
        Ok(Status { instances, raw })
    }

    /// Counter `name` of its first instance in `vipd status --json` (0 when not counted yet).
    pub fn counter(&self, name: &str) -> u64 {
        let status = self.status().expect("vipd status");
        status.raw["instances"][0]["counters"][name]
            .as_u64()
            .unwrap_or(0)
    }

    /// Replaces its configuration file with `config` (same control socket), for a reload.
    pub fn rewrite(&self, config: &VipdConfig) -> Result<()> {
        let socket = self.socket.as_ref().ok_or_else(|| {
            HarnessError::parse("vipd rewrite", "the configuration names no control_socket")
        })?;
        self.rewrite_yaml(&config.to_yaml(socket))
    }

    /// Replaces its configuration file with `yaml` as is.
    pub fn rewrite_yaml(&self, yaml: &str) -> Result<()> {
        std::fs::write(&self.config, yaml)
            .map_err(|e| HarnessError::io(format!("write {}", self.config.display()), e))
    }

    /// Its children that are zombies (exited, not reaped): there should never be any for
    /// long, whatever its scripts do.
    pub fn zombie_children(&self) -> Vec<u32> {
        let me = self.pid();
        proc_stats()
            .into_iter()
            .filter(|p| p.ppid == me && p.state == 'Z')
            .map(|p| p.pid)
            .collect()
    }
}

/// A few fields of /proc/PID/stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Process ID.
    pub pid: u32,
    /// State letter (R, S, D, Z, ...).
    pub state: char,
    /// Parent process ID.
    pub ppid: u32,
    /// Process group ID.
    pub pgrp: u32,
}

/// Every process on the host, as /proc shows it now.
pub fn proc_stats() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?))
        .collect()
}

/// Parses `/proc/PID/stat`: the command name is in parentheses and may itself contain
/// spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat(line: &str) -> Option<ProcStat> {
    let (head, tail) = line.rsplit_once(')')?;
    let pid = head.split_once(" (")?.0.trim().parse().ok()?;
    let mut f = tail.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        state,
        ppid,
        pgrp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let s = parse_stat("4242 (a) b (c) Z 17 4240 4240 0 -1 4194560").unwrap();
        assert_eq!(
            s,
            ProcStat {
                pid: 4242,
                state: 'Z',
                ppid: 17,
                pgrp: 4240
            }
        );
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn this_process_is_in_the_process_table() {
        let me = std::process::id();
        let found = proc_stats().into_iter().find(|p| p.pid == me).unwrap();
        assert_ne!(found.state, 'Z');
    }

    #[test]
    fn the_control_socket_is_read_from_the_config() {
        let yaml = "global:\n  router_id: n\n  control_socket: /tmp/a.sock\ninstances:\n";
        assert_eq!(socket_of(yaml), Some(PathBuf::from("/tmp/a.sock")));
        assert_eq!(socket_of("instances:\n"), None);
    }
}
