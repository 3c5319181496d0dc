//! How long this machine's CPUs could not run a realtime thread during the window, and how
//! much of that the hypervisor took ("steal" in `/proc/stat`). A Master's adverts that reach
//! the Backup more than a Master_Down_Interval apart make a takeover correct by the RFC; these
//! figures say whether the machine itself stalled then, which no agent can make up for.
//!
//! One sampler thread per CPU, pinned to it at SCHED_FIFO 1 (below vipd's router thread at
//! 10, above every normal thread): it sleeps 10 ms at a time and records how late it woke and
//! the CPU's steal counter.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// What one CPU's sampler saw over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStalls {
    /// The CPU.
    pub cpu: usize,
    /// Steal over the whole window.
    pub steal: Duration,
    /// The most steal within any 100 ms of the window (the counter moves in 10 ms ticks).
    pub steal_burst: Duration,
    /// The longest the sampler woke past its 10 ms sleep.
    pub late: Duration,
    /// When it woke that late.
    pub late_at: Option<SystemTime>,
    /// Whether the sampler ran at SCHED_FIFO as meant (else at normal priority, and `late`
    /// counts waiting for the burners too).
    pub realtime: bool,
}

/// The running samplers.
pub struct Stalls {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<CpuStalls>>,
}

const PERIOD: Duration = Duration::from_millis(10);
const BURST_WINDOW: Duration = Duration::from_millis(100);

impl Stalls {
    /// Starts a sampler on each of `cpus`.
    pub fn start(cpus: &[usize]) -> Stalls {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = cpus
            .iter()
            .map(|&cpu| {
                let stop = stop.clone();
                std::thread::spawn(move || sample(cpu, &stop))
            })
            .collect();
        Stalls { stop, threads }
    }

    /// Stops the samplers and returns what each saw.
    pub fn finish(self) -> Vec<CpuStalls> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .filter_map(|t| t.join().ok())
            .collect()
    }
}

fn sample(cpu: usize, stop: &AtomicBool) -> CpuStalls {
    let mut set = nix::sched::CpuSet::new();
    let pinned = set.set(cpu).is_ok()
        && nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).is_ok();
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: sched_setscheduler reads `param` for the calling thread (pid 0) only.
    let realtime = pinned && unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0;
    let ticks = tick();
    let mut out = CpuStalls {
        cpu,
        realtime,
        ..CpuStalls::default()
    };
    let mut steals: Vec<(Instant, Duration)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let asleep = Instant::now();
        std::thread::sleep(PERIOD);
        let now = Instant::now();
        let late = now.duration_since(asleep).saturating_sub(PERIOD);
        if late > out.late {
            (out.late, out.late_at) = (late, Some(SystemTime::now()));
        }
        if let Some(s) = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| steal_ticks(&t, cpu))
        {
            steals.push((now, ticks * u32::try_from(s).unwrap_or(u32::MAX)));
        }
    }
    if let (Some(first), Some(last)) = (steals.first(), steals.last()) {
        out.steal = last.1.saturating_sub(first.1);
    }
    out.steal_burst = most_within(&steals, BURST_WINDOW);
    if realtime {
        let normal = libc::sched_param { sched_priority: 0 };
        // SAFETY: as above; the thread is about to end.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &normal) };
    }
    out
}

/// The length of a `/proc/stat` tick (USER_HZ).
fn tick() -> Duration {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&hz| hz > 0)
        .unwrap_or(100);
    Duration::from_secs(1) / u32::try_from(hz).unwrap_or(100)
}

/// The steal counter (the eighth number) of `cpuN`'s line in `/proc/stat`, in ticks.
pub fn steal_ticks(stat: &str, cpu: usize) -> Option<u64> {
    let name = format!("cpu{cpu}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&name))?;
    line.split_whitespace().nth(8)?.parse().ok()
}

/// The most a cumulative counter rose within any `window` of its samples.
pub fn most_within(samples: &[(Instant, Duration)], window: Duration) -> Duration {
    let mut most = Duration::ZERO;
    let mut from = 0;
    for &(t, v) in samples {
        while t.duration_since(samples[from].0) > window {
            from += 1;
        }
        most = most.max(v.saturating_sub(samples[from].1));
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_the_eighth_figure_of_the_cpus_own_line() {
        let stat = "cpu  3397960 108531 619536 4902812 53878 0 26460 32648 0 0\n\
                    cpu0 1669675 53926 299495 2496558 15857 0 15265 16087 0 0\n\
                    cpu1 1728285 54604 320040 2406254 38021 0 11194 16561 0 0\n\
                    intr 1 2 3\n";
        assert_eq!(steal_ticks(stat, 0), Some(16087));
        assert_eq!(steal_ticks(stat, 1), Some(16561));
        assert_eq!(steal_ticks(stat, 2), None);
    }

    #[test]
    fn the_most_within_a_window_counts_only_samples_that_close() {
        let t0 = Instant::now();
        let at = |ms: u64, steal_ms: u64| {
            (
                t0 + Duration::from_millis(ms),
                Duration::from_millis(steal_ms),
            )
        };
        // 30 ms of steal between 200 and 260 ms, and 20 ms more spread over a second.
        let samples = [
            at(0, 0),
            at(100, 0),
            at(200, 0),
            at(230, 20),
            at(260, 30),
            at(700, 40),
            at(1200, 50),
        ];
        assert_eq!(
            most_within(&samples, Duration::from_millis(100)),
            Duration::from_millis(30)
        );
        assert_eq!(
            most_within(&samples, Duration::from_secs(2)),
            Duration::from_millis(50)
        );
        assert_eq!(most_within(&[], Duration::from_millis(100)), Duration::ZERO);
    }
}
