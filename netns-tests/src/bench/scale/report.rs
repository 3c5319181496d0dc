//! The Markdown report of `scale_bench`: one row per run, both nodes, every agent of a case
//! next to each other; reload and takeover samples below.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use super::watch::Gap;
use super::{RunResult, ScaleOptions};

fn mb(kib: u64) -> String {
    format!("{:.2}", kib as f64 / 1024.0)
}

fn gap(d: Option<Duration>) -> String {
    d.map_or("–".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("–".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

/// One line for the progress output.
pub fn line(r: &RunResult) -> String {
    if let Some(f) = &r.failure {
        return format!("FAILED: {f}");
    }
    format!(
        "Master {:.2} %, Backup {:.2} %, anon {}/{} MB, false takeovers {}, longest gap {} (sent {}), {}, load {:.1}-{:.1}",
        r.cpu_percent(r.master_cpu_ns),
        r.cpu_percent(r.backup_cpu_ns),
        mb(r.master_mem.anon),
        mb(r.backup_mem.anon),
        r.false_takeovers,
        gap_at(r, r.longest_gap),
        gap_at(r, r.longest_sent_gap),
        stalls(r),
        r.load_before,
        r.load_after
    )
}

/// When, in the window: ` at +12.345 s`.
fn at(r: &RunResult, t: Option<SystemTime>) -> String {
    match (r.window_start, t) {
        (Some(start), Some(t)) => match t.duration_since(start) {
            Ok(d) => format!(" at +{:.3} s", d.as_secs_f64()),
            Err(e) => format!(" at -{:.3} s", e.duration().as_secs_f64()),
        },
        _ => String::new(),
    }
}

fn gap_at(r: &RunResult, g: Option<Gap>) -> String {
    match g {
        Some(g) => format!("{}{}", gap(Some(g.length)), at(r, Some(g.ended))),
        None => gap(None),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

/// Per CPU: the longest a realtime thread woke late, and steal (total, most in 100 ms).
fn stalls(r: &RunResult) -> String {
    let cpus: Vec<String> = r
        .stalls
        .iter()
        .map(|c| {
            format!(
                "CPU {}: late {:.1} ms{}{}, steal {} ms ({} in 100 ms)",
                c.cpu,
                c.late.as_secs_f64() * 1e3,
                at(r, c.late_at),
                if c.realtime { "" } else { " (not realtime)" },
                ms(c.steal),
                ms(c.steal_burst)
            )
        })
        .collect();
    if cpus.is_empty() {
        "–".into()
    } else {
        cpus.join("; ")
    }
}

/// The whole report.
pub fn markdown(opts: &ScaleOptions, command: &str, results: &[RunResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Scale: vipd beside keepalived\n");
    let _ = writeln!(
        s,
        "`{command}`\n\nTwo nodes on one bridge, VRRPv3, node0 priority 200 (Master of every \
         instance), node1 priority 100 (Backup){}{}. Idle window {} s per run{}. CPU: time on the \
         CPU of every thread of the agent's processes over the window (schedstat), as a \
         percentage of one core. Memory at the end of the window, in MB, summed over the \
         agent's processes (keepalived: parent and VRRP child). False takeovers: instances \
         the Backup sent adverts for during the window; longest gap: between two adverts of the \
         first instance, as the Backup received them (longer than its Master_Down_Interval, \
         a takeover is correct: the Master ran late). Load: the machine's 1-minute load \
         average at the start and end of the window (it may be shared).\n",
        if opts.apart {
            ", node0's agent on CPU 0 and node1's on CPU 1"
        } else {
            ", both agents placed by the scheduler"
        },
        if opts.threaded_switch {
            "; the switch's ports run in kernel threads of their own (threaded NAPI), so the \
             bridge and the receiving node's kernel count as neither agent's CPU"
        } else {
            "; a frame's way through the bridge and the receiving node's kernel runs in the \
             sender's context and counts as the sending agent's CPU"
        },
        opts.common.idle.as_secs(),
        if opts.burn > 0 {
            format!(", with {} busy threads saturating the cores", opts.burn)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "| case | agent | Master CPU % | Backup CPU % | Master RSS / anon / PSS | Backup RSS / anon / PSS | false takeovers | longest gap | Master up | all-Backup | load |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        if let Some(f) = &r.failure {
            let _ = writeln!(
                s,
                "| {} | {} | FAILED: {} ||||||||| ",
                r.case,
                r.label,
                f.replace('|', "/")
            );
            continue;
        }
        let mem =
            |m: &super::usage::Memory| format!("{} / {} / {}", mb(m.rss), mb(m.anon), mb(m.pss));
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {:.1}–{:.1} |",
            r.case,
            r.label,
            r.cpu_percent(r.master_cpu_ns),
            r.cpu_percent(r.backup_cpu_ns),
            mem(&r.master_mem),
            mem(&r.backup_mem),
            r.false_takeovers,
            gap(r.longest_gap.map(|g| g.length)),
            secs(r.startup_master),
            secs(r.startup_backup),
            r.load_before,
            r.load_after,
        );
    }
    let _ = writeln!(
        s,
        "\nThe machine during the window: the first instance's longest gap between adverts as \
         the Master sent them and as the Backup received them; per CPU, the longest a realtime \
         thread (SCHED_FIFO 1, pinned, sleeping 10 ms at a time) woke late, and the time the \
         hypervisor took from the CPU (steal, in 10 ms ticks: over the window, and the most in \
         any 100 ms); page faults that waited for the disk.\n"
    );
    let _ = writeln!(
        s,
        "| case | agent | gap sent / received | per CPU: late, steal (most in 100 ms) | major faults Master / Backup |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in results.iter().filter(|r| r.failure.is_none()) {
        let _ = writeln!(
            s,
            "| {} | {} | {} / {} | {} | {} / {} |",
            r.case,
            r.label,
            gap_at(r, r.longest_sent_gap),
            gap_at(r, r.longest_gap),
            stalls(r),
            r.major_faults.0,
            r.major_faults.1
        );
    }
    let reloads: Vec<&RunResult> = results.iter().filter(|r| r.reload.is_some()).collect();
    if !reloads.is_empty() {
        let _ = writeln!(
            s,
            "\nReload of the unchanged configuration (`vipd reload`, timed to its answer), Master then Backup; transitions logged and Backup adverts during it (a flap; 0 expected):\n"
        );
        let _ = writeln!(
            s,
            "| case | agent | Master reload | Backup reload | transitions | Backup adverts |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for r in reloads {
            let l = r.reload.as_ref().expect("filtered");
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} ms | {:.0} ms | {} | {} |",
                r.case,
                r.label,
                l.master.as_secs_f64() * 1e3,
                l.backup.as_secs_f64() * 1e3,
                l.transitions,
                l.backup_adverts
            );
        }
    }
    let sampled: Vec<&RunResult> = results.iter().filter(|r| !r.takeovers.is_empty()).collect();
    if !sampled.is_empty() {
        let _ = writeln!(
            s,
            "\nTakeover after SIGKILL of the Master, a sample of instances: the Master's last advert to the Backup's first, from the Backup's capture, against the RFC's Master_Down_Interval (the floor):\n"
        );
        let _ = writeln!(
            s,
            "| case | agent | floor | min | median | max | over the floor (max) | missing |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        for r in sampled {
            let mut took: Vec<f64> = r
                .takeovers
                .iter()
                .filter_map(|t| t.took)
                .map(|d| d.as_secs_f64() * 1e3)
                .collect();
            took.sort_by(f64::total_cmp);
            let floor = r.takeovers[0].floor.as_secs_f64() * 1e3;
            let missing = r.takeovers.len() - took.len();
            if took.is_empty() {
                let _ = writeln!(
                    s,
                    "| {} | {} | {floor:.1} ms | – | – | – | – | {missing} |",
                    r.case, r.label
                );
                continue;
            }
            let (min, med, max) = (took[0], took[took.len() / 2], took[took.len() - 1]);
            let _ = writeln!(
                s,
                "| {} | {} | {floor:.1} ms | {min:.1} ms | {med:.1} ms | {max:.1} ms | {:+.1} ms | {missing} |",
                r.case,
                r.label,
                max - floor
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::usage::Memory;
    use super::super::{Case, Reload, TakeoverSample, args};
    use super::*;
    use vipd::vrrp::timing::Centis;

    #[test]
    fn report_has_a_row_per_run_and_the_reload_and_takeover_tables() {
        let opts = args::parse(&[]).unwrap().unwrap();
        let case = Case {
            instances: 1000,
            interval: Centis::new(10),
        };
        let mut ok = RunResult::new("vipd".into(), case);
        ok.window = Duration::from_secs(10);
        ok.master_cpu_ns = 500_000_000;
        ok.master_mem = Memory {
            rss: 2048,
            anon: 1024,
            pss: 1536,
            processes: 1,
        };
        ok.reload = Some(Reload {
            master: Duration::from_millis(300),
            backup: Duration::from_millis(250),
            transitions: 0,
            backup_adverts: 0,
        });
        ok.takeovers = vec![TakeoverSample {
            name: "eth0v4r1".into(),
            floor: Duration::from_micros(360_938),
            took: Some(Duration::from_micros(361_100)),
        }];
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        ok.window_start = Some(start);
        ok.longest_gap = Some(Gap {
            length: Duration::from_micros(39_400),
            ended: start + Duration::from_millis(2_500),
        });
        ok.longest_sent_gap = Some(Gap {
            length: Duration::from_micros(11_000),
            ended: start + Duration::from_millis(7_250),
        });
        ok.stalls = vec![super::super::stalls::CpuStalls {
            cpu: 0,
            steal: Duration::from_millis(120),
            steal_burst: Duration::from_millis(30),
            late: Duration::from_millis(31),
            late_at: Some(start + Duration::from_millis(2_490)),
            realtime: true,
        }];
        ok.major_faults = (2, 0);
        let mut bad = RunResult::new("keepalived".into(), case);
        bad.failure = Some("lab | broke".into());
        let text = markdown(&opts, "scale_bench", &[ok, bad]);
        assert!(
            text.contains("| 1000 × 100ms | vipd | 5.00 | 0.00 | 2.00 / 1.00 / 1.50 |"),
            "{text}"
        );
        assert!(
            text.contains("| 1000 × 100ms | keepalived | FAILED: lab / broke"),
            "{text}"
        );
        assert!(
            text.contains(
                "| 1000 × 100ms | vipd | 11.0 ms at +7.250 s / 39.4 ms at +2.500 s | CPU 0: late 31.0 ms at +2.490 s, steal 120 ms (30 in 100 ms) | 2 / 0 |"
            ),
            "{text}"
        );
        assert!(text.contains("| 300 ms | 250 ms | 0 | 0 |"), "{text}");
        assert!(
            text.contains("| 360.9 ms | 361.1 ms | 361.1 ms | 361.1 ms | +0.2 ms | 0 |"),
            "{text}"
        );
    }
}
