//! A whole benchmark: every failover run, every idle measurement, and the report.

use std::process::Command;
use std::time::Instant;

use super::Options;
use super::failover::{self, RunResult};
use super::idle::{self, IdleResult};
use super::report::{failover_table, failures, idle_table, runs_table};
use super::rng::Rng;

/// Runs everything `opts` asks for, printing progress on stderr, and returns the Markdown
/// report. `cmdline` is printed in it as given.
pub fn run(opts: &Options, cmdline: &str) -> String {
    let started = Instant::now();
    let mut rng = Rng::new(opts.seed);
    let mut runs: Vec<RunResult> = Vec::new();
    for &profile in &opts.profiles {
        for &fault in &opts.faults {
            for index in 1..=opts.runs {
                // Agents alternate within a round, so a slow patch of the machine hits both.
                for &agent in &opts.agents {
                    let r = failover::run(opts, agent, profile, fault, index, &mut rng);
                    eprintln!(
                        "[{:>5.0} s] {agent} {profile} {fault} run {index}: {}",
                        started.elapsed().as_secs_f64(),
                        match &r.failure {
                            None => format!(
                                "advert after {:.1} ms",
                                r.timings.to_advert.unwrap_or(f64::NAN)
                            ),
                            Some(why) => format!("FAILED: {why}"),
                        }
                    );
                    runs.push(r);
                }
            }
        }
    }
    let mut idles: Vec<IdleResult> = Vec::new();
    if !opts.idle.is_zero() {
        for &profile in &opts.idle_profiles {
            for &n in &opts.idle_instances {
                for &agent in &opts.agents {
                    let r = idle::run(opts, agent, profile, n);
                    eprintln!(
                        "[{:>5.0} s] idle {agent} {profile} x{n}: {}",
                        started.elapsed().as_secs_f64(),
                        r.failure.as_deref().unwrap_or("done")
                    );
                    idles.push(r);
                }
            }
        }
    }
    let mut doc = String::from("# Failover benchmark: vipd vs keepalived\n\n");
    doc += &header(opts, cmdline);
    if !runs.is_empty() {
        doc += "\n## Failover (ms)\n\n";
        doc += "Priorities 150 (Master) / 100 (Backup), one VIP, one LAN of network namespaces. \
                Times from a capture in the client namespace; the fault's time is taken at the \
                kill, on the capture's clock. SIGKILL kills every process of the agent and cuts \
                its switch port at the same moment (a dead host). The RFC column is the \
                Backup's wait (priority 100, 3 missed adverts): after SIGKILL, \
                Master_Down_Interval minus the phase of the fault in the advert cycle. \
                The client outage is the longest run of unanswered pings sent every 10 ms, \
                so it is exact to one ping interval. Statistics cover the runs with a \
                takeover; failed runs are counted and listed.\n\n";
        doc += &failover_table(&runs, &opts.agents, &opts.profiles, &opts.faults);
        if let Some(f) = failures(&runs) {
            doc += "\n### Failed runs\n\n";
            doc += &f;
        }
    }
    if !idles.is_empty() {
        doc += &format!(
            "\n## Idle Master, {} s window\n\n\
             One node, Master of N virtual routers on eth0 (VRIDs 51.., one VIP each). \
             VmRSS summed over every process of the agent at the end of the window (keepalived: \
             parent + VRRP child); CPU = utime + stime from /proc/PID/stat over the window. \
             The headline is the first profile listed.\n\n",
            opts.idle.as_secs()
        );
        doc += &idle_table(&idles);
    }
    if !runs.is_empty() {
        doc += "\n## Every run (ms)\n\nphase = time from the old Master's last advert to the \
                fault; silence = old Master's last advert → new Master's first.\n\n";
        doc += &runs_table(&runs);
    }
    doc += &format!("\nTotal time: {:.0} s.\n", started.elapsed().as_secs_f64());
    doc
}

/// The machine, the versions and the command line.
pub(crate) fn header(opts: &Options, cmdline: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_string());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let version = |bin: &std::path::Path| {
        Command::new(bin)
            .arg("--version")
            .output()
            .ok()
            .map(|o| {
                // keepalived prints its version on stderr.
                let text = [o.stdout, o.stderr].concat();
                String::from_utf8_lossy(&text)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("{} (no version)", bin.display()))
    };
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .map_or_else(
            |_| "unknown".into(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_string(),
        );
    format!(
        "- date: {date}\n- machine: {nproc} CPUs, {cpu}, Linux {kernel}\n\
         - vipd: {} ({})\n- keepalived: {}\n- seed: {}\n- command: `{cmdline}`\n",
        version(&opts.vipd),
        opts.vipd.display(),
        version(&opts.keepalived),
        opts.seed
    )
}
