//! Resource use of an idle Master: resident memory and CPU time of every process of the
//! agent (keepalived's parent and VRRP child summed), from `/proc`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::lab::{Lab, LabSpec};

use super::agent::{Setup, group_pids, wait_master};
use super::{Agent, MASTER_PRIORITY, Options, Profile};

/// The fields of `/proc/PID/stat` used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Process state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Process group.
    pub pgrp: u32,
    /// Page faults that had to wait for a read from disk, over the process's life.
    pub majflt: u64,
    /// User-mode CPU time, in clock ticks.
    pub utime: u64,
    /// Kernel-mode CPU time, in clock ticks.
    pub stime: u64,
}

/// Parses `/proc/PID/stat`. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted from its last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (field 3), ppid, pgrp (5), ..., majflt (12), ..., utime (14),
    // stime (15).
    Some(Stat {
        state: f.first()?.chars().next()?,
        pgrp: f.get(2)?.parse().ok()?,
        majflt: f.get(9)?.parse().ok()?,
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
    })
}

/// The `VmRSS` line of `/proc/PID/status`, in KiB.
pub fn parse_vmrss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One idle measurement.
#[derive(Debug, Clone)]
pub struct IdleResult {
    /// Which agent.
    pub agent: Agent,
    /// Version and interval of every instance.
    pub profile: Profile,
    /// Number of instances (VRIDs on one interface, one VIP each).
    pub instances: usize,
    /// Processes of the agent at the end of the window.
    pub processes: usize,
    /// Their summed VmRSS at the end of the window, in KiB.
    pub rss_kib: u64,
    /// Their CPU time (user + system) over the window, in milliseconds.
    pub cpu_ms: f64,
    /// The window actually measured.
    pub window: Duration,
    /// Why the measurement failed, if it did.
    pub failure: Option<String>,
}

impl IdleResult {
    /// CPU use over the window as a percentage of one core.
    pub fn cpu_percent(&self) -> f64 {
        if self.window.is_zero() {
            return 0.0;
        }
        self.cpu_ms / (self.window.as_secs_f64() * 1e3) * 100.0
    }
}

/// Measures `agent` as the Master of `instances` virtual routers for `opts.idle`.
pub fn run(opts: &Options, agent: Agent, profile: Profile, instances: usize) -> IdleResult {
    let mut result = IdleResult {
        agent,
        profile,
        instances,
        processes: 0,
        rss_kib: 0,
        cpu_ms: 0.0,
        window: Duration::ZERO,
        failure: None,
    };
    if let Err(e) = measure(opts, &mut result) {
        result.failure = Some(e.to_string());
    }
    result
}

fn measure(opts: &Options, r: &mut IdleResult) -> Result<()> {
    let lab = Lab::new(LabSpec {
        nodes: 1,
        ..Default::default()
    })?;
    let node = lab.node(0);
    let count = u8::try_from(r.instances)
        .ok()
        .filter(|&n| n < 100)
        .ok_or_else(|| HarnessError::parse("instances", "at most 99 (one free /24 host each)"))?;
    let vips: Vec<_> = (0..count).map(|i| lab.vip4(i)).collect();
    let setup = Setup {
        agent: r.agent,
        profile: r.profile,
        priority: MASTER_PRIORITY,
        vips: &vips,
    };
    let mut proc = setup.start(&lab, node, opts)?;
    wait_master(
        node,
        &mut proc,
        &vips,
        r.profile.master_down() * 2 + Duration::from_secs(20),
    )?;
    // The start-up work (gratuitous ARPs, logging) is over after a second or two; the
    // second burst of ARPs 5 s later is part of a Master's steady state and stays in.
    std::thread::sleep(Duration::from_secs(2));
    let pgid = proc.pid();
    let before = cpu_ticks(pgid);
    let start = Instant::now();
    std::thread::sleep(opts.idle);
    let after = cpu_ticks(pgid);
    r.window = start.elapsed();
    if let Some(status) = proc.try_status() {
        return Err(HarnessError::parse(
            "idle agent",
            format!("exited ({status}) during the window"),
        ));
    }
    // A process present at the end but not the start began during the window: all its
    // time counts. One gone by the end (none expected) takes its time with it.
    let ticks: u64 = after
        .iter()
        .map(|(pid, t)| t - before.get(pid).copied().unwrap_or(0).min(*t))
        .sum();
    r.cpu_ms = ticks as f64 * 1e3 / clock_ticks_per_sec();
    r.processes = after.len();
    r.rss_kib = after
        .keys()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| parse_vmrss_kib(&s))
        .sum();
    Ok(())
}

/// utime + stime of every live process in group `pgid`.
pub fn cpu_ticks(pgid: u32) -> BTreeMap<u32, u64> {
    group_pids(pgid)
        .into_iter()
        .filter_map(|pid| {
            let st = parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
            Some((pid, st.utime + st.stime))
        })
        .collect()
}

/// Clock ticks per second, the unit of [`cpu_ticks`].
pub fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (keep (a) lived) S 1 4240 4240 0 -1 4194560 500 0 3 0 37 12 0 0 20 0 \
                    1 0 1000 12345 678 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: 'S',
                pgrp: 4240,
                majflt: 3,
                utime: 37,
                stime: 12
            })
        );
        assert_eq!(parse_stat("4242 (x) S 1"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn own_process_has_a_stat_and_an_rss() {
        let me = std::process::id();
        let st = parse_stat(&std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap())
            .expect("own stat parses");
        assert!(matches!(st.state, 'R' | 'S'));
        let rss = parse_vmrss_kib(&std::fs::read_to_string("/proc/self/status").unwrap());
        assert!(rss.is_some_and(|kib| kib > 100), "{rss:?}");
        assert_eq!(parse_vmrss_kib("Name: x\nVmRSS:\t  2048 kB\n"), Some(2048));
    }
}
