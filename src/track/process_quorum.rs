//! The decisions of a process check, without the kernel: whether one process matches, and
//! whether the count of matching processes is healthy, with keepalived's delays
//! (`vrrp_track_process`: `quorum`, `quorum_max`, `fork_delay`, `terminate_delay`).
//!
//! Time is passed in, so the delays are tested without waiting.

use std::time::Instant;

use crate::config::{ArgsMatch, COMM_LEN, ProcessCheck};

/// What is known of one process: its name and, when the check needs it, its command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// `/proc/PID/comm` (at most 15 bytes).
    pub comm: String,
    /// `/proc/PID/cmdline`: NUL-separated arguments, `argv[0]` first.
    pub cmdline: Vec<u8>,
}

impl ProcessCheck {
    /// Whether `p` is one of the processes this check counts. Like keepalived, and unlike
    /// `pgrep`, names are compared exactly, not as patterns.
    pub fn matches(&self, p: &ProcessInfo) -> bool {
        if !self.uses_cmdline() {
            let name = self.name.as_bytes();
            let name = &name[..name.len().min(COMM_LEN)];
            return p.comm.as_bytes() == name;
        }
        let mut argv = p
            .cmdline
            .strip_suffix(b"\0")
            .unwrap_or(&p.cmdline)
            .split(|b| *b == 0);
        if p.cmdline.is_empty() || argv.next() != Some(self.name.as_bytes()) {
            return false;
        }
        let got: Vec<&[u8]> = argv.collect();
        let want = &self.args;
        match self.args_match {
            ArgsMatch::Any => true,
            ArgsMatch::Exact => {
                got.len() == want.len() && got.iter().zip(want).all(|(g, w)| *g == w.as_bytes())
            }
            ArgsMatch::Partial => {
                got.len() >= want.len() && got.iter().zip(want).all(|(g, w)| *g == w.as_bytes())
            }
            ArgsMatch::Initial => {
                let Some((last, first)) = want.split_last() else {
                    return true;
                };
                got.len() >= want.len()
                    && got.iter().zip(first).all(|(g, w)| *g == w.as_bytes())
                    && got[first.len()].starts_with(last.as_bytes())
            }
        }
    }

    /// Whether `count` matching processes are a quorum.
    pub fn in_quorum(&self, count: usize) -> bool {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        count >= self.quorum && self.quorum_max.is_none_or(|max| count <= max)
    }
}

/// Healthy or failed from the count of matching processes over time. A change the count
/// makes waits `fork_delay` when a process appeared and `terminate_delay` when one ended,
/// and is dropped if the count is back by then: a restart within the delay is no failover.
#[derive(Clone, Debug)]
pub struct QuorumTracker {
    check: ProcessCheck,
    count: usize,
    healthy: Option<bool>,
    /// When the pending change falls due, if the count still says so then.
    due: Option<Instant>,
}

impl QuorumTracker {
    /// A tracker with no verdict yet.
    pub fn new(check: ProcessCheck) -> Self {
        QuorumTracker {
            check,
            count: 0,
            healthy: None,
            due: None,
        }
    }

    /// The verdict so far (`None` before the first count).
    pub fn healthy(&self) -> Option<bool> {
        self.healthy
    }

    /// The last count.
    pub fn count(&self) -> usize {
        self.count
    }

    /// When [`poll`](Self::poll) may change the verdict.
    pub fn deadline(&self) -> Option<Instant> {
        self.due
    }

    /// Records the count at `now`; the new verdict if it changes now. The first count
    /// decides at once, as keepalived's scan at startup does.
    pub fn observe(&mut self, now: Instant, count: usize) -> Option<bool> {
        let before = self.count;
        self.count = count;
        let want = self.check.in_quorum(count);
        let Some(healthy) = self.healthy else {
            self.healthy = Some(want);
            return Some(want);
        };
        if want == healthy {
            self.due = None;
            return None;
        }
        if self.due.is_some() {
            // The first event of an episode sets the wait; later ones do not extend it.
            return self.poll(now);
        }
        let delay = if count > before {
            self.check.fork_delay
        } else {
            self.check.terminate_delay
        };
        self.due = Some(now + delay);
        self.poll(now)
    }

    /// The new verdict if a pending change has fallen due at `now`.
    pub fn poll(&mut self, now: Instant) -> Option<bool> {
        let due = self.due?;
        if now < due {
            return None;
        }
        self.due = None;
        let want = self.check.in_quorum(self.count);
        if Some(want) == self.healthy {
            return None;
        }
        self.healthy = Some(want);
        Some(want)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn check(name: &str) -> ProcessCheck {
        ProcessCheck {
            name: name.into(),
            args: Vec::new(),
            args_match: ArgsMatch::Any,
            full_command: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
        }
    }

    fn proc(comm: &str, argv: &[&str]) -> ProcessInfo {
        let mut cmdline = Vec::new();
        for a in argv {
            cmdline.extend_from_slice(a.as_bytes());
            cmdline.push(0);
        }
        ProcessInfo {
            comm: comm.into(),
            cmdline,
        }
    }

    #[test]
    fn a_name_matches_the_process_name_exactly_not_as_a_pattern() {
        let c = check("ssh");
        assert!(c.matches(&proc("ssh", &["/usr/bin/ssh", "host"])));
        assert!(!c.matches(&proc("sshd", &["/usr/sbin/sshd"])));
        // The kernel keeps 15 bytes of a name; a longer configured name is compared on those.
        let long = check("haproxy-ingress-controller");
        assert!(long.matches(&proc("haproxy-ingress", &[])));
    }

    #[test]
    fn arguments_match_exactly_partially_or_initially() {
        let mut c = check("/usr/sbin/haproxy");
        c.args = vec!["-f".into(), "/etc/haproxy".into()];
        c.args_match = ArgsMatch::Exact;
        let p = proc("haproxy", &["/usr/sbin/haproxy", "-f", "/etc/haproxy"]);
        let more = proc(
            "haproxy",
            &["/usr/sbin/haproxy", "-f", "/etc/haproxy", "-D"],
        );
        let longer = proc("haproxy", &["/usr/sbin/haproxy", "-f", "/etc/haproxy.cfg"]);
        assert!(c.matches(&p));
        assert!(!c.matches(&more));
        assert!(!c.matches(&proc("haproxy", &["haproxy", "-f", "/etc/haproxy"])));
        c.args_match = ArgsMatch::Partial;
        assert!(c.matches(&more) && c.matches(&p) && !c.matches(&longer));
        c.args_match = ArgsMatch::Initial;
        assert!(c.matches(&longer) && c.matches(&more));
        assert!(!c.matches(&proc(
            "haproxy",
            &["/usr/sbin/haproxy", "-x", "/etc/haproxy"]
        )));
        // `match` without `args`: the command must have no arguments.
        c.args.clear();
        c.args_match = ArgsMatch::Exact;
        assert!(c.matches(&proc("haproxy", &["/usr/sbin/haproxy"])));
        assert!(!c.matches(&p));
        // A zombie or kernel thread has an empty command line: never a match.
        assert!(!c.matches(&proc("haproxy", &[])));
    }

    #[test]
    fn full_command_compares_argv0_and_ignores_the_arguments() {
        let mut c = check("/usr/bin/sleep");
        c.full_command = true;
        assert!(c.matches(&proc("sleep", &["/usr/bin/sleep", "30"])));
        assert!(!c.matches(&proc("sleep", &["sleep", "30"])));
    }

    #[test]
    fn quorum_and_quorum_max_bound_the_count() {
        let mut c = check("x");
        c.quorum = 2;
        c.quorum_max = Some(3);
        let got: Vec<bool> = (0..5).map(|n| c.in_quorum(n)).collect();
        assert_eq!(got, [false, false, true, true, false]);
        c.quorum = 0;
        c.quorum_max = Some(0);
        assert!(c.in_quorum(0) && !c.in_quorum(1));
    }

    #[test]
    fn the_first_count_decides_at_once_then_changes_wait_for_their_delay() {
        let mut c = check("x");
        c.terminate_delay = Duration::from_secs(2);
        c.fork_delay = Duration::from_secs(1);
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_millis(n);
        let mut q = QuorumTracker::new(c);
        assert_eq!(q.observe(s(0), 1), Some(true));
        // The process ends: failed only after terminate_delay.
        assert_eq!(q.observe(s(100), 0), None);
        assert_eq!(q.deadline(), Some(s(2100)));
        assert_eq!(q.poll(s(2099)), None);
        assert_eq!(q.poll(s(2100)), Some(false));
        // It comes back: healthy only after fork_delay.
        assert_eq!(q.observe(s(3000), 1), None);
        assert_eq!(q.poll(s(3999)), None);
        assert_eq!(q.poll(s(4000)), Some(true));
        assert_eq!(q.deadline(), None);
    }

    #[test]
    fn a_restart_within_the_delay_changes_nothing() {
        let mut c = check("x");
        c.delay_both(Duration::from_secs(5));
        let t0 = Instant::now();
        let mut q = QuorumTracker::new(c);
        q.observe(t0, 1);
        assert_eq!(q.observe(t0 + Duration::from_secs(1), 0), None);
        assert_eq!(q.observe(t0 + Duration::from_secs(2), 1), None);
        assert_eq!(q.deadline(), None, "the pending failure is dropped");
        assert_eq!(q.poll(t0 + Duration::from_secs(10)), None);
        assert_eq!(q.healthy(), Some(true));
    }

    #[test]
    fn without_delay_a_change_is_immediate_and_a_fork_past_quorum_max_uses_fork_delay() {
        let mut c = check("x");
        c.quorum_max = Some(1);
        c.fork_delay = Duration::from_secs(1);
        let t0 = Instant::now();
        let mut q = QuorumTracker::new(c);
        assert_eq!(q.observe(t0, 1), Some(true));
        // A fork makes two: the failure waits fork_delay (the child may exec elsewhere).
        assert_eq!(q.observe(t0, 2), None);
        assert_eq!(q.poll(t0 + Duration::from_secs(1)), Some(false));
        // Back to one: terminate_delay is zero, healthy at once.
        assert_eq!(q.observe(t0 + Duration::from_secs(2), 1), Some(true));
    }

    impl ProcessCheck {
        fn delay_both(&mut self, d: Duration) {
            self.fork_delay = d;
            self.terminate_delay = d;
        }
    }
}
