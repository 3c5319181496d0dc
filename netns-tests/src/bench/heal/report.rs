//! The Markdown report of `heal_bench`: summary per profile, the target verdict per agent,
//! every run, every failure.

use std::fmt::Write;
use std::time::Duration;

use super::super::report::min_median_max;
use super::super::session::header;
use super::super::{Agent, Profile};
use super::{HealOptions, HealRun, PING_SLOT_MS};

/// One summary row: a name, what to compare it with, and how to read it from a run.
struct Metric {
    name: &'static str,
    reference: fn(Profile) -> String,
    get: fn(&HealRun) -> Option<f64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn advert_ms(p: Profile) -> String {
    format!("≤ {:.0}", ms(p.advert()))
}

const METRICS: &[Metric] = &[
    Metric {
        name: "heal → client's first reply from node0",
        reference: advert_ms,
        get: |r| r.timings.reach,
    },
    Metric {
        name: "longest ping gap ending after the heal",
        reference: advert_ms,
        get: |r| r.loss.map(|l| l.longest_ms),
    },
    Metric {
        name: "pings lost after the heal (count)",
        reference: |_| String::new(),
        get: |r| r.loss.map(|l| l.lost as f64),
    },
    Metric {
        name: "heal → node1's last advert (two Masters)",
        reference: advert_ms,
        get: |r| r.timings.two_masters,
    },
    Metric {
        name: "heal → node0's first advert seen",
        reference: |p| format!("0 … {:.0}", ms(p.advert())),
        get: |r| r.timings.winner_advert,
    },
    Metric {
        name: "heal → node0's first gratuitous ARP",
        reference: advert_ms,
        get: |r| r.timings.winner_garp,
    },
    Metric {
        name: "node0's gratuitous ARPs after the heal (count)",
        reference: |_| String::new(),
        get: |r| r.timings.winner_garp.map(|_| r.timings.winner_garps as f64),
    },
    Metric {
        name: "cut → node1's first advert (takeover)",
        reference: |p| {
            let mdi = ms(p.master_down());
            format!("{:.0} … {mdi:.0}", mdi - ms(p.advert()))
        },
        get: |r| r.timings.takeover,
    },
];

/// `median / max`, with the count when some runs lack the value.
fn cell(values: &[f64], runs: usize) -> String {
    match min_median_max(values) {
        None => "—".into(),
        Some((_, mid, hi)) if values.len() == runs => format!("{mid:.1} / {hi:.1}"),
        Some((_, mid, hi)) => format!("{mid:.1} / {hi:.1} (n={})", values.len()),
    }
}

fn of(runs: &[HealRun], agent: Agent, profile: Profile) -> Vec<&HealRun> {
    runs.iter()
        .filter(|r| r.agent == agent && r.profile == profile)
        .collect()
}

/// The summary: per profile, each metric's median / max per agent, over every run that
/// measured it (a run where the client never reached node0 still has its other figures).
pub fn summary_table(runs: &[HealRun], agents: &[Agent], profiles: &[Profile]) -> String {
    let mut s = String::from("| profile | metric (ms) | target / RFC |");
    for a in agents {
        let _ = write!(s, " {a} median / max |");
    }
    s += "\n|---|---|---|";
    s += &"---|".repeat(agents.len());
    s += "\n";
    for &p in profiles {
        let _ = write!(
            s,
            "| {p} | client reached node0 within one advert interval (+{PING_SLOT_MS:.0} ms) | all |"
        );
        for &a in agents {
            let rs = of(runs, a, p);
            let hit = rs.iter().filter(|r| r.on_target() == Some(true)).count();
            let _ = write!(s, " {hit}/{} |", rs.len());
        }
        s += "\n";
        let _ = write!(
            s,
            "| {p} | runs where node0 sent a gratuitous ARP after the heal | all |"
        );
        for &a in agents {
            let rs = of(runs, a, p);
            let garp = rs
                .iter()
                .filter(|r| r.timings.winner_garp.is_some())
                .count();
            let _ = write!(s, " {garp}/{} |", rs.len());
        }
        s += "\n";
        for m in METRICS {
            let _ = write!(s, "| {p} | {} | {} |", m.name, (m.reference)(p));
            for &a in agents {
                let rs = of(runs, a, p);
                let values: Vec<f64> = rs.iter().filter_map(|r| (m.get)(r)).collect();
                let _ = write!(s, " {} |", cell(&values, rs.len()));
            }
            s += "\n";
        }
    }
    s
}

/// One plain sentence per agent and profile: target met in every run, or which runs missed.
pub fn verdicts(runs: &[HealRun], agents: &[Agent], profiles: &[Profile]) -> String {
    let mut s = String::new();
    for &p in profiles {
        for &a in agents {
            let rs = of(runs, a, p);
            if rs.is_empty() {
                continue;
            }
            let misses: Vec<String> = rs
                .iter()
                .filter(|r| r.on_target() != Some(true))
                .map(|r| match r.timings.reach {
                    Some(reach) => format!("run {} ({reach:.0} ms)", r.index),
                    None => format!("run {} (never, or the run failed)", r.index),
                })
                .collect();
            let limit = ms(p.advert()) + PING_SLOT_MS;
            let _ = if misses.is_empty() {
                writeln!(
                    s,
                    "- {a}, {p}: target met in all {} runs (client at node0 within {limit:.0} ms of the heal).",
                    rs.len()
                )
            } else {
                writeln!(
                    s,
                    "- {a}, {p}: **target MISSED in {} of {} runs**: {}.",
                    misses.len(),
                    rs.len(),
                    misses.join(", ")
                )
            };
        }
    }
    s
}

fn opt(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1}"))
}

/// Every run, so outliers can be traced to their phases.
pub fn runs_table(runs: &[HealRun]) -> String {
    let mut s = String::from(
        "| agent | profile | run | takeover | node0 advert | two Masters | reach | node1 last reply | longest gap | lost | node0 GARP | GARPs | heal cmd | result |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in runs {
        let t = &r.timings;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
            r.agent,
            r.profile,
            r.index,
            opt(t.takeover),
            opt(t.winner_advert),
            opt(t.two_masters),
            opt(t.reach),
            opt(t.loser_last_reply),
            opt(r.loss.map(|l| l.longest_ms)),
            r.loss.map_or("—".into(), |l| l.lost.to_string()),
            opt(t.winner_garp),
            t.winner_garps,
            r.heal_cmd_ms,
            if r.ok() { "ok" } else { "FAILED" },
        );
    }
    s
}

/// The failed runs and why, or `None` if every run succeeded.
pub fn failures(runs: &[HealRun]) -> Option<String> {
    let lines: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            let why = r.failure.as_ref()?;
            Some(format!(
                "- {} {} run {}: {}",
                r.agent,
                r.profile,
                r.index,
                why.replace('\n', " ")
            ))
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n") + "\n")
}

/// The whole document.
pub fn document(opts: &HealOptions, cmdline: &str, runs: &[HealRun], took: Duration) -> String {
    let c = &opts.common;
    let mut doc = String::from("# Partition-heal benchmark: vipd vs keepalived\n\n");
    doc += &header(c, cmdline);
    let _ = writeln!(
        doc,
        "- partition held {} ms after node1 took over (plus a random part of one advert interval)",
        opts.hold.as_millis()
    );
    doc += "\n## Heal (ms, from the heal)\n\n\
        Two nodes on one LAN of network namespaces, priorities 150 (node0) / 100 (node1), \
        preempt on, one VIP; both agents on their defaults (vipd: `yield_advert` on). \
        node0 is Master and the client pings the VIP every 10 ms. An nftables rule in the \
        switch drops every frame of node0's port while its link stays up, at a random phase of \
        the advert cycle: node1 takes over after Master_Down_Interval, the client follows its \
        gratuitous ARPs, and node0 stays Master behind the cut (two Masters). The cut heals \
        after the hold, at a random phase. Times come from a capture in the client namespace \
        and are measured from the moment the heal was handed to an nft already running in \
        the switch namespace (CLOCK_REALTIME, the capture's clock); the rule was gone by the \
        time nft exited, `heal cmd` later, so every figure may be high by up to that. \"Reach\" is the first echo reply from node0's MAC, \
        so it includes up to one 10 ms ping interval. \"Two Masters\" ends at node1's last \
        advert with priority > 0 (its yield advert included); negative means node1 advertised \
        last before the heal and yielded before its next advert was due. The issue's target: \
        in every run the client reaches the winner within one advert interval of the heal.\n\n";
    doc += &summary_table(runs, &c.agents, &c.profiles);
    doc += "\n## Target\n\n";
    doc += &verdicts(runs, &c.agents, &c.profiles);
    if let Some(f) = failures(runs) {
        doc += "\n### Failed runs\n\n";
        doc += &f;
    }
    doc += "\n## Every run (ms)\n\ntakeover = cut → node1's first advert, from the start of the cut command (a fresh \
            nft, some 10-30 ms here: a sanity check, not a figure); node0 advert = heal → \
            node0's first advert seen by the client; reach = heal → first reply from node0's \
            MAC; node1 last reply = heal → last reply from node1's MAC; longest gap / lost = \
            ping loss ending after the heal; GARPs = node0's gratuitous ARPs for the VIP after \
            the heal.\n\n";
    doc += &runs_table(runs);
    let _ = writeln!(doc, "\nTotal time: {:.0} s.", took.as_secs_f64());
    doc
}

#[cfg(test)]
mod tests {
    use super::super::Loss;
    use super::super::analyze::HealTimings;
    use super::*;

    fn run(agent: Agent, index: usize, reach: Option<f64>, garp: Option<f64>) -> HealRun {
        HealRun {
            agent,
            profile: Profile::V3_100MS,
            index,
            timings: HealTimings {
                reach,
                winner_garp: garp,
                winner_garps: usize::from(garp.is_some()) * 5,
                two_masters: Some(-20.0),
                ..HealTimings::default()
            },
            loss: Some(Loss {
                longest_ms: 50.0,
                lost: 5,
            }),
            heal_cmd_ms: 3.0,
            failure: reach
                .is_none()
                .then(|| "the client did not reach node0".into()),
        }
    }

    #[test]
    fn target_counts_slack_of_one_ping_and_misses_are_named() {
        let runs = vec![
            run(Agent::Vipd, 1, Some(60.0), Some(50.0)),
            run(Agent::Vipd, 2, Some(109.0), Some(100.0)),
            run(Agent::Keepalived, 1, Some(6012.0), None),
            run(Agent::Keepalived, 2, None, None),
        ];
        assert_eq!(runs[1].on_target(), Some(true));
        assert_eq!(runs[2].on_target(), Some(false));
        assert_eq!(runs[3].on_target(), None);
        let v = verdicts(&runs, &Agent::ALL, &[Profile::V3_100MS]);
        assert!(
            v.contains("- vipd, v3 100ms: target met in all 2 runs"),
            "{v}"
        );
        assert!(
            v.contains("**target MISSED in 2 of 2 runs**: run 1 (6012 ms), run 2 (never"),
            "{v}"
        );
        let t = summary_table(&runs, &Agent::ALL, &[Profile::V3_100MS]);
        let rows: Vec<&str> = t.lines().collect();
        // Header, separator, two count rows, the metrics.
        assert_eq!(rows.len(), 4 + METRICS.len(), "{t}");
        assert!(rows.iter().all(|r| r.matches('|').count() == 6), "{t}");
        assert!(rows[2].ends_with("| 2/2 | 0/2 |"), "{}", rows[2]);
        assert!(rows[3].ends_with("| 2/2 | 0/2 |"), "{}", rows[3]);
        let reach = rows.iter().find(|r| r.contains("first reply")).unwrap();
        assert!(
            reach.ends_with("| 84.5 / 109.0 | 6012.0 / 6012.0 (n=1) |"),
            "{reach}"
        );
        let garps = rows
            .iter()
            .find(|r| r.contains("(count)") && r.contains("ARPs"))
            .unwrap();
        assert!(garps.ends_with("| 5.0 / 5.0 | — |"), "{garps}");
        assert_eq!(runs_table(&runs).matches("FAILED").count(), 1);
        assert!(
            failures(&runs)
                .unwrap()
                .starts_with("- keepalived v3 100ms run 2: ")
        );
        assert!(failures(&runs[..2]).is_none());
    }
}
