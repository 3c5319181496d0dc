//! CPU and memory of an agent's processes, as the issue measures them: CPU time from
//! `/proc/PID/task/TID/schedstat` (nanoseconds on the CPU, every thread), memory from
//! `/proc/PID/status` (VmRSS, RssAnon) and `/proc/PID/smaps_rollup` (Pss), summed over the
//! agent's process group (keepalived's parent and VRRP child).

use std::collections::BTreeMap;

use super::super::agent::group_pids;

/// CPU time so far of every thread of group `pgid`, in nanoseconds, by thread ID.
pub fn cpu_ns(pgid: u32) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    for pid in group_pids(pgid) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for tid in tasks.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
            let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"));
            if let Some(ns) = text.ok().as_deref().and_then(parse_schedstat) {
                out.insert(tid, ns);
            }
        }
    }
    out
}

/// Time spent on the CPU between two [`cpu_ns`] samples, in nanoseconds. A thread that began
/// in between counts whole; one that ended takes its time with it (none is expected).
pub fn cpu_between(before: &BTreeMap<u32, u64>, after: &BTreeMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(tid, t)| t - before.get(tid).copied().unwrap_or(0).min(*t))
        .sum()
}

/// The first field of a schedstat line: time on the CPU, in nanoseconds.
pub fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Memory of a process group, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident set.
    pub rss: u64,
    /// Its anonymous part (heap, stacks): what the agent itself allocated.
    pub anon: u64,
    /// Proportional set: shared pages divided among the processes that map them.
    pub pss: u64,
    /// Processes counted.
    pub processes: usize,
}

/// [`Memory`] of group `pgid` now.
pub fn memory(pgid: u32) -> Memory {
    let mut m = Memory::default();
    for pid in group_pids(pgid) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        m.rss += kib(&status, "VmRSS:").unwrap_or(0);
        m.anon += kib(&status, "RssAnon:").unwrap_or(0);
        m.pss += kib(&rollup, "Pss:").unwrap_or(0);
        m.processes += 1;
    }
    m
}

/// The value of a `Key:   1234 kB` line.
pub fn kib(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Page faults of group `pgid` so far that waited for a read from disk.
pub fn major_faults(pgid: u32) -> u64 {
    group_pids(pgid)
        .into_iter()
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some(super::super::idle::parse_stat(&text)?.majflt)
        })
        .sum()
}

/// The 1-minute load average, for the record (the machine may be shared).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_proc_formats() {
        assert_eq!(parse_schedstat("123456789 4242 17\n"), Some(123_456_789));
        assert_eq!(parse_schedstat(""), None);
        let status = "Name:\tvipd\nVmRSS:\t   12900 kB\nRssAnon:\t    4700 kB\n";
        assert_eq!(kib(status, "VmRSS:"), Some(12_900));
        assert_eq!(kib(status, "RssAnon:"), Some(4_700));
        // `Pss:` must not match `Pss_Anon:` lines, which come after it in smaps_rollup.
        let rollup =
            "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss: 9 kB\nPss: 7 kB\nPss_Anon: 3 kB\n";
        assert_eq!(kib(rollup, "Pss:"), Some(7));
    }

    #[test]
    fn own_thread_is_measured() {
        // The test runs on a thread of its own: its time is under its thread ID.
        let me = u32::try_from(nix::unistd::gettid().as_raw()).unwrap();
        let pgid = u32::try_from(nix::unistd::getpgrp().as_raw()).unwrap();
        let before = cpu_ns(pgid);
        // Spin until the clock of this thread's own CPU time has moved (a loaded machine may
        // give it little of the wall time), then the schedstat sum must have moved too.
        let spun = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
        while nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap() - spun
            < nix::sys::time::TimeSpec::from_duration(std::time::Duration::from_millis(5))
        {}
        let ours = cpu_ns(pgid);
        let moved = ours.get(&me).copied().unwrap_or(0) - before.get(&me).copied().unwrap_or(0);
        assert!(moved >= 4_000_000, "{me}: {before:?} -> {ours:?}");
        assert!(cpu_between(&before, &ours) >= moved);
        let m = memory(pgid);
        assert!(
            m.processes >= 1 && m.rss > 100 && m.anon > 0 && m.pss > 0,
            "{m:?}"
        );
        let mut earlier = ours.clone();
        earlier.insert(me, ours[&me] - 5);
        assert_eq!(cpu_between(&earlier, &ours), 5);
    }
}
