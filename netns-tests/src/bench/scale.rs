//! The scale benchmark behind `scale_bench`: many instances and fast adverts, vipd beside
//! keepalived on the same lab, back to back. [`layout`] places the instances, [`run`]
//! measures one case for one agent, [`usage`] reads CPU and memory from `/proc`, [`report`]
//! prints the Markdown.

pub mod args;
pub mod layout;
pub mod report;
pub mod run;
pub mod stalls;
pub mod usage;
pub mod watch;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use vipd::vrrp::timing::Centis;

use super::{Agent, Options};
use usage::Memory;

/// Everything one invocation does.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// Runs, agents, binaries, idle window.
    pub common: Options,
    /// The cases, in table order.
    pub cases: Vec<Case>,
    /// Older vipd binaries measured beside the current one.
    pub baseline: Vec<PathBuf>,
    /// Busy threads during the idle window.
    pub burn: usize,
    /// Each node's agent on a CPU of its own (node0 on CPU 0, node1 on CPU 1), as on two
    /// hosts; otherwise the scheduler places them.
    pub apart: bool,
    /// The switch's ports served by kernel threads ([`crate::lab::Lab::thread_switch_ports`]):
    /// the switch and the receiving node's kernel are charged to no agent, as on two hosts.
    pub threaded_switch: bool,
    /// Takeovers timed per large case.
    pub takeover_sample: usize,
}

/// How many instances, and how often they advertise (VRRPv3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// Instances on each node.
    pub instances: usize,
    /// Advert interval of every instance.
    pub interval: Centis,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} × {}", self.instances, self.interval)
    }
}

/// An agent and the binary that runs it.
#[derive(Debug, Clone)]
pub struct Contender {
    /// Its name in the report.
    pub label: String,
    /// Which agent.
    pub agent: Agent,
    /// Its binary.
    pub bin: PathBuf,
}

/// A reload of the unchanged configuration on both nodes.
#[derive(Debug, Clone)]
pub struct Reload {
    /// The Master's `vipd reload`, to its answer.
    pub master: Duration,
    /// The Backup's.
    pub backup: Duration,
    /// Transitions either node logged during it (a flap; 0 expected).
    pub transitions: usize,
    /// Instances the Backup advertised for during it (0 expected).
    pub backup_adverts: usize,
}

/// One instance's takeover after SIGKILL of the Master.
#[derive(Debug, Clone)]
pub struct TakeoverSample {
    /// The instance.
    pub name: String,
    /// The RFC's Master_Down_Interval of the Backup: the floor.
    pub floor: Duration,
    /// From the Master's last advert to the Backup's first, as the Backup captured them;
    /// `None` if either is missing.
    pub took: Option<Duration>,
}

/// One run of one case for one agent.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Who ran.
    pub label: String,
    /// What.
    pub case: Case,
    /// node0, started alone, to holding every VIP.
    pub startup_master: Option<Duration>,
    /// node1, started beside the Master, to Backup of every instance.
    pub startup_backup: Option<Duration>,
    /// The idle window as measured.
    pub window: Duration,
    /// 1-minute load average at the start and end of the window.
    pub load_before: f64,
    /// See `load_before`.
    pub load_after: f64,
    /// CPU time of the Master's processes over the window.
    pub master_cpu_ns: u64,
    /// Of the Backup's.
    pub backup_cpu_ns: u64,
    /// Memory at the end of the window.
    pub master_mem: Memory,
    /// See `master_mem`.
    pub backup_mem: Memory,
    /// Instances the Backup advertised for during the window (it took over).
    pub false_takeovers: usize,
    /// The longest gap between the first instance's adverts during the window, as the
    /// Backup received them.
    pub longest_gap: Option<watch::Gap>,
    /// The same, as the adverts left the Master.
    pub longest_sent_gap: Option<watch::Gap>,
    /// When the window began, by the system's clock (the captures').
    pub window_start: Option<SystemTime>,
    /// What the machine's CPUs could not run during the window.
    pub stalls: Vec<stalls::CpuStalls>,
    /// Major page faults of the Master's and the Backup's processes during the window.
    pub major_faults: (u64, u64),
    /// vipd only, large cases.
    pub reload: Option<Reload>,
    /// Large cases.
    pub takeovers: Vec<TakeoverSample>,
    /// Why the run failed, if it did.
    pub failure: Option<String>,
}

impl RunResult {
    /// Nothing measured yet.
    pub fn new(label: String, case: Case) -> RunResult {
        RunResult {
            label,
            case,
            startup_master: None,
            startup_backup: None,
            window: Duration::ZERO,
            load_before: f64::NAN,
            load_after: f64::NAN,
            master_cpu_ns: 0,
            backup_cpu_ns: 0,
            master_mem: Memory::default(),
            backup_mem: Memory::default(),
            false_takeovers: 0,
            longest_gap: None,
            longest_sent_gap: None,
            window_start: None,
            stalls: Vec::new(),
            major_faults: (0, 0),
            reload: None,
            takeovers: Vec::new(),
            failure: None,
        }
    }

    /// CPU over the window as a percentage of one core.
    pub fn cpu_percent(&self, ns: u64) -> f64 {
        if self.window.is_zero() {
            return f64::NAN;
        }
        ns as f64 / self.window.as_nanos() as f64 * 100.0
    }
}

/// Runs every case for every contender, alternating them run by run, and returns the report.
pub fn session(opts: &ScaleOptions, command: &str) -> String {
    let mut results = Vec::new();
    for &case in &opts.cases {
        for round in 0..opts.common.runs {
            for who in in_run_order(opts.contenders(), round) {
                eprintln!(
                    "scale: {case}, {}, run {}/{}",
                    who.label,
                    round + 1,
                    opts.common.runs
                );
                let r = run::run(opts, &who, case);
                eprintln!("  {}", report::line(&r));
                results.push(r);
            }
        }
    }
    report::markdown(opts, command, &results)
}

/// The contenders in the order run `round` (from 0) measures them: every other run reverses
/// it. On this lab the vipd measured second in a run paid 0.1-0.4 points more at 50 x 10 ms,
/// whichever build it was (`bench-results/scale-2026-12-07-reads-first.md`); over an even
/// number of runs each contender is measured as often in each place.
fn in_run_order<T>(mut contenders: Vec<T>, round: usize) -> Vec<T> {
    if round % 2 == 1 {
        contenders.reverse();
    }
    contenders
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_contender_takes_each_place_equally_over_two_runs() {
        assert_eq!(super::in_run_order(vec!['a', 'b', 'c'], 0), ['a', 'b', 'c']);
        assert_eq!(super::in_run_order(vec!['a', 'b', 'c'], 1), ['c', 'b', 'a']);
        assert_eq!(super::in_run_order(vec!['a', 'b'], 2), ['a', 'b']);
    }
}
