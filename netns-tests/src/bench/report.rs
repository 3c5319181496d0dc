//! The Markdown report: the machine, the summary tables, every run, every failure.

use std::fmt::Write;
use std::time::Duration;

use super::analyze::Timings;
use super::failover::RunResult;
use super::idle::IdleResult;
use super::{Agent, Fault, Profile};

/// Minimum, median and maximum of `values`; `None` if empty.
pub fn min_median_max(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = match n {
        0 => return None,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    Some((v[0], median, v[n - 1]))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One summary row: a name, the RFC's value, and how to read the metric from a run.
struct Metric {
    name: &'static str,
    rfc: String,
    get: fn(&RunResult) -> Option<f64>,
}

/// The rows for one profile and fault. After SIGKILL the Backup waits out
/// Master_Down_Interval from the last advert, so from the fault it waits that minus the
/// phase (0..one interval); after a priority-0 advert it waits Skew_Time.
fn metrics(profile: Profile, fault: Fault) -> Vec<Metric> {
    let (mdi, skew, adv) = (
        ms(profile.master_down()),
        ms(profile.skew()),
        ms(profile.advert()),
    );
    let (from_fault, silence) = match fault {
        Fault::Kill => (
            format!("{:.1} … {mdi:.1}", mdi - adv),
            format!("{mdi:.1} (Master_Down_Interval)"),
        ),
        Fault::Term => (format!("≈ {skew:.1}"), format!("{skew:.1} (Skew_Time)")),
    };
    let mut rows = vec![
        Metric {
            name: "fault → new Master's first advert",
            rfc: from_fault.clone(),
            get: |r| r.timings.to_advert,
        },
        Metric {
            name: "fault → its first gratuitous ARP",
            rfc: from_fault.clone(),
            get: |r| r.timings.to_garp,
        },
        Metric {
            name: "old Master's last advert → new Master's first",
            rfc: silence,
            get: |r| r.timings.silence,
        },
        Metric {
            name: "client outage (longest loss, 10 ms pings)",
            rfc: from_fault.clone(),
            get: |r| r.outage,
        },
    ];
    if fault == Fault::Term {
        rows.push(Metric {
            name: "fault → priority-0 advert",
            rfc: "≈ 0".into(),
            get: |r| r.timings.to_prio0,
        });
    }
    rows
}

/// `min / median / max`, with the count when some runs lack the value.
fn cell(values: &[f64], runs: usize) -> String {
    match min_median_max(values) {
        None => "—".into(),
        Some((lo, mid, hi)) if values.len() == runs => format!("{lo:.1} / {mid:.1} / {hi:.1}"),
        Some((lo, mid, hi)) => format!("{lo:.1} / {mid:.1} / {hi:.1} (n={})", values.len()),
    }
}

/// The failover summary: for each profile and fault, each metric's min / median / max per
/// agent, next to the RFC's value. Failed runs are counted in the "takeovers" row and their
/// values (if any) are left out of the statistics.
pub fn failover_table(
    results: &[RunResult],
    agents: &[Agent],
    profiles: &[Profile],
    faults: &[Fault],
) -> String {
    let mut s = String::from("| profile | fault | metric (ms) | RFC |");
    for a in agents {
        let _ = write!(s, " {a} min / median / max |");
    }
    s += "\n|---|---|---|---|";
    s += &"---|".repeat(agents.len());
    s += "\n";
    for &p in profiles {
        for &f in faults {
            let of = |a: Agent| -> Vec<&RunResult> {
                results
                    .iter()
                    .filter(|r| r.agent == a && r.profile == p && r.fault == f)
                    .collect()
            };
            let _ = write!(s, "| {p} | {f} | takeovers seen / runs | |");
            for &a in agents {
                let runs = of(a);
                let ok = runs.iter().filter(|r| r.ok()).count();
                let _ = write!(s, " {ok}/{} |", runs.len());
            }
            s += "\n";
            for m in metrics(p, f) {
                let _ = write!(s, "| {p} | {f} | {} | {} |", m.name, m.rfc);
                for &a in agents {
                    let good: Vec<&RunResult> = of(a).into_iter().filter(|r| r.ok()).collect();
                    let values: Vec<f64> = good.iter().filter_map(|r| (m.get)(r)).collect();
                    let _ = write!(s, " {} |", cell(&values, good.len()));
                }
                s += "\n";
            }
        }
    }
    s
}

fn opt(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1}"))
}

/// Every run, so outliers can be traced to their phase.
pub fn runs_table(results: &[RunResult]) -> String {
    let mut s = String::from(
        "| agent | profile | fault | run | phase | → advert | → GARP | silence | outage | → prio 0 | result |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let Timings {
            phase,
            to_advert,
            to_garp,
            silence,
            to_prio0,
        } = r.timings;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.agent,
            r.profile,
            r.fault,
            r.index,
            opt(phase),
            opt(to_advert),
            opt(to_garp),
            opt(silence),
            opt(r.outage),
            opt(to_prio0),
            if r.ok() { "ok" } else { "FAILED" },
        );
    }
    s
}

/// The failed runs and why, or `None` if every run succeeded.
pub fn failures(results: &[RunResult]) -> Option<String> {
    let lines: Vec<String> = results
        .iter()
        .filter_map(|r| {
            let why = r.failure.as_ref()?;
            Some(format!(
                "- {} {} {} run {}: {}",
                r.agent,
                r.profile,
                r.fault,
                r.index,
                why.replace('\n', " ")
            ))
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n") + "\n")
}

/// The idle table: memory and CPU per agent, profile and instance count.
pub fn idle_table(results: &[IdleResult]) -> String {
    let mut s = String::from(
        "| profile | instances | agent | processes | VmRSS (KiB) | CPU time (ms) | window (s) | CPU (% of one core) |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        if let Some(why) = &r.failure {
            let _ = writeln!(
                s,
                "| {} | {} | {} | FAILED: {} | | | | |",
                r.profile,
                r.instances,
                r.agent,
                why.replace(['\n', '|'], " ")
            );
            continue;
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.0} | {:.1} | {:.3} |",
            r.profile,
            r.instances,
            r.agent,
            r.processes,
            r.rss_kib,
            r.cpu_ms,
            r.window.as_secs_f64(),
            r.cpu_percent()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(agent: Agent, to_advert: Option<f64>, failure: Option<&str>) -> RunResult {
        RunResult {
            agent,
            profile: Profile::V3_100MS,
            fault: Fault::Kill,
            index: 1,
            timings: Timings {
                to_advert,
                ..Timings::default()
            },
            outage: Some(300.0),
            failure: failure.map(String::from),
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(min_median_max(&[]), None);
        assert_eq!(min_median_max(&[3.0, 1.0, 2.0]), Some((1.0, 2.0, 3.0)));
        assert_eq!(min_median_max(&[4.0, 1.0, 3.0, 2.0]), Some((1.0, 2.5, 4.0)));
    }

    #[test]
    fn failures_are_counted_not_dropped() {
        let results = vec![
            result(Agent::Vipd, Some(300.0), None),
            result(Agent::Vipd, Some(340.0), None),
            result(Agent::Vipd, None, Some("no advert")),
            result(Agent::Keepalived, Some(350.0), None),
        ];
        let t = failover_table(&results, &Agent::ALL, &[Profile::V3_100MS], &[Fault::Kill]);
        let rows: Vec<&str> = t.lines().collect();
        // Header, separator, takeovers, four metrics.
        assert_eq!(rows.len(), 7, "{t}");
        assert!(rows.iter().all(|r| r.matches('|').count() == 7), "{t}");
        assert!(rows[2].ends_with("| 2/3 | 1/1 |"), "{}", rows[2]);
        assert!(
            rows[3].contains("| 260.9 … 360.9 | 300.0 / 320.0 / 340.0 | 350.0 / 350.0 / 350.0 |"),
            "{}",
            rows[3]
        );
        // Nothing measured for a GARP: a dash, not a zero.
        assert!(rows[4].ends_with("| — | — |"), "{}", rows[4]);
        assert!(runs_table(&results).contains("FAILED"));
        assert_eq!(
            failures(&results).unwrap(),
            "- vipd v3 100ms SIGKILL+cut run 1: no advert\n"
        );
        assert!(failures(&results[..2]).is_none());
    }

    #[test]
    fn term_rows_add_the_priority_zero_advert_and_use_skew_time() {
        let t = failover_table(&[], &[Agent::Vipd], &[Profile::V2_1S], &[Fault::Term]);
        assert!(
            t.contains("| v2 1s | SIGTERM | fault → priority-0 advert | ≈ 0 | — |"),
            "{t}"
        );
        assert!(t.contains("609.4 (Skew_Time)"), "{t}");
    }
}
