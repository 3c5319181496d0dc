//! The arbiter benchmark's Markdown: the takeover table, the partition table, every run.

use std::fmt::Write;
use std::time::Duration;

use super::{ArbiterOptions, Mode, PartitionRun, TakeoverRun};
use crate::bench::report::min_median_max;
use crate::bench::{Agent, Fault};

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(super) fn mode_name(mode: Mode) -> String {
    match mode {
        Mode::Off => "no arbiter".into(),
        Mode::Ttl(t) => format!("arbiter TTL {} s", t.as_secs()),
    }
}

fn cell(values: &[f64], runs: usize) -> String {
    match min_median_max(values) {
        None => "–".into(),
        Some((lo, mid, hi)) => {
            let missing = runs - values.len();
            let note = if missing > 0 {
                format!(" ({missing} failed)")
            } else {
                String::new()
            };
            format!("{lo:.0} / {mid:.0} / {hi:.0}{note}")
        }
    }
}

/// The takeover table and every run.
pub(super) fn takeover_section(runs: &[TakeoverRun]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## Takeover (ms): min / median / max\n\n\
         VRRPv3, 100 ms adverts, priorities 150 / 100, one VIP, margin 200 ms. Measured as \
         failover_bench measures (a capture in the client namespace): silence = the old \
         Master's last advert (its priority-0 advert after SIGTERM) → the new Master's first; \
         to advert = the fault → the new Master's first advert; outage = the client's longest \
         run of unanswered pings sent every 10 ms. SIGKILL kills the agent and cuts its switch \
         port (a dead host). keepalived has no arbiter: its rows are plain VRRP, for \
         comparison. Expected with the arbiter: after SIGKILL, TTL − (time since the last \
         renewal, up to TTL/4) + up to 500 ms (etcd 3.4 revokes expired leases every 500 ms); \
         after SIGTERM, Skew_Time (61 ms) + a round trip to etcd.\n\n\
         | agent | arbiter | fault | runs | silence | to advert | client outage |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut rows: Vec<(Agent, Mode, Fault)> = Vec::new();
    for r in runs {
        let key = (r.run.agent, r.mode, r.run.fault);
        if !rows.contains(&key) {
            rows.push(key);
        }
    }
    rows.sort_by_key(|(a, m, f)| (*f as u8, *a as u8, mode_order(*m)));
    for (agent, mode, fault) in rows {
        let these: Vec<&TakeoverRun> = runs
            .iter()
            .filter(|r| (r.run.agent, r.mode, r.run.fault) == (agent, mode, fault))
            .collect();
        let good: Vec<&TakeoverRun> = these.iter().copied().filter(|r| r.run.ok()).collect();
        let col = |get: fn(&TakeoverRun) -> Option<f64>| -> Vec<f64> {
            good.iter().filter_map(|r| get(r)).collect()
        };
        let _ = writeln!(
            s,
            "| {agent} | {} | {fault} | {} | {} | {} | {} |",
            mode_name(mode),
            these.len(),
            cell(&col(|r| r.run.timings.silence), these.len()),
            cell(&col(|r| r.run.timings.to_advert), these.len()),
            cell(&col(|r| r.run.outage), these.len()),
        );
    }
    s += "\n### Every takeover run (ms)\n\n| agent | arbiter | fault | run | silence | to advert | outage | failure |\n|---|---|---|---|---|---|---|---|\n";
    for r in runs {
        let f = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.1}"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.run.agent,
            mode_name(r.mode),
            r.run.fault,
            r.run.index,
            f(r.run.timings.silence),
            f(r.run.timings.to_advert),
            f(r.run.outage),
            r.run.failure.as_deref().unwrap_or("")
        );
    }
    s
}

fn mode_order(m: Mode) -> u64 {
    match m {
        Mode::Off => 0,
        Mode::Ttl(t) => t.as_secs() + 1,
    }
}

/// The partition table and every run.
pub(super) fn partition_section(runs: &[PartitionRun], opts: &ArbiterOptions) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "\n## Partitions: time both nodes held the VIP (target 0 ms)\n\n\
         vipd pair as above, arbiter TTL {} s, margin 200 ms, a fresh 3-member etcd 3.4 \
         cluster per run. Both nodes' addresses sampled every 5 ms from the test process \
         (both read within a millisecond); \"both held\" sums the spans where a sample saw \
         the VIP on both, from the fault to the end of the run. Backup holds = the fault → \
         node 1 holding the VIP (– if it never did, which is right for (a) and the keep \
         variants). (d): the kernel keeps a stopped process's addresses, so both hold from \
         the Backup's takeover to SIGCONT whatever vipd does; that span is shown apart, and \
         \"both held\" counts from SIGCONT.\n\n\
         | scenario | runs | both held (max) | both held while frozen | Backup holds after | client outage |\n\
         |---|---|---|---|---|---|\n",
        opts.partition_ttl.as_secs()
    );
    for &sc in &opts.scenarios {
        let these: Vec<&PartitionRun> = runs.iter().filter(|r| r.scenario == sc).collect();
        let good: Vec<&PartitionRun> = these
            .iter()
            .copied()
            .filter(|r| r.failure.is_none())
            .collect();
        let dual = good
            .iter()
            .map(|r| ms(r.dual))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let frozen: Vec<f64> = good.iter().filter_map(|r| r.dual_frozen.map(ms)).collect();
        let took: Vec<f64> = good.iter().filter_map(|r| r.takeover.map(ms)).collect();
        let outage: Vec<f64> = good.iter().filter_map(|r| r.outage_ms).collect();
        let failed = these.len() - good.len();
        let _ = writeln!(
            s,
            "| {} | {}{} | {} | {} | {} | {} |",
            sc.name(),
            these.len(),
            if failed > 0 {
                format!(" ({failed} FAILED)")
            } else {
                String::new()
            },
            dual.map_or("–".into(), |d| format!("{d:.0} ms")),
            if frozen.is_empty() {
                "–".into()
            } else {
                cell(&frozen, frozen.len())
            },
            if took.is_empty() {
                "never".into()
            } else {
                cell(&took, took.len())
            },
            cell(&outage, outage.len()),
        );
    }
    s += "\n### Every partition run\n\n| scenario | run | both held (ms) | while frozen (ms) | Backup holds after (ms) | outage (ms) | failure |\n|---|---|---|---|---|---|---|\n";
    for r in runs {
        let f = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.0}"));
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {} | {} | {} | {} |",
            r.scenario.slug(),
            r.index,
            ms(r.dual),
            f(r.dual_frozen.map(ms)),
            f(r.takeover.map(ms)),
            f(r.outage_ms),
            r.failure.as_deref().unwrap_or("")
        );
    }
    s
}
