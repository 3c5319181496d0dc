//! The arbiter benchmark behind the `arbiter_bench` binary: vipd's takeover after SIGKILL
//! and SIGTERM with the etcd arbiter off and on (TTL 1 s, 2 s), measured as `failover_bench`
//! measures it (a capture and a 10 ms pinger in the client namespace; keepalived beside it
//! for comparison, with no arbiter: it has none), and the time two nodes held the VIP at
//! once in the partition scenarios of `tests/arbiter.rs`, sampled on both nodes every 5 ms.
//!
//! One 3-member etcd cluster serves every takeover run; each run's lab is attached to it and
//! uses a key prefix of its own, so a killed Master's lease from the last run is never in
//! the way. The partition scenarios build their own pair and cluster per run.

pub mod args;
mod partitions;
mod report;

use std::time::{Duration, Instant};

use crate::etcd::{EtcdCluster, EtcdSpec};

use super::failover::{self, RunResult};
use super::rng::Rng;
use super::{Agent, Profile};
pub use args::ArbiterOptions;
pub use partitions::{PartitionRun, Scenario};

/// What the failover runs need to put vipd under the arbiter.
pub struct ArbiterHook<'a> {
    /// The cluster every run's lab is attached to.
    pub cluster: &'a mut EtcdCluster,
    /// Lease TTL.
    pub ttl: Duration,
}

impl ArbiterHook<'_> {
    /// The `arbiter:` section of run `index` (its own key prefix).
    pub(crate) fn section(&self, index: usize) -> String {
        format!(
            "arbiter:\n  endpoints: [{}]\n  ttl: {}s\n  margin: 200ms\n  prefix: /bench/{}/run{index}\n",
            self.cluster.endpoints().join(", "),
            self.ttl.as_secs(),
            std::process::id(),
        )
    }

    /// A vipd configuration (as `bench::agent::Setup` writes it) with `section` added and
    /// every instance under it. Other agents' files pass unchanged.
    pub(crate) fn edit(section: &str, text: String) -> String {
        let Some((head, instances)) = text.split_once("instances:\n") else {
            return text;
        };
        let mut out = format!("{head}{section}instances:\n");
        for line in instances.lines() {
            out += line;
            out += "\n";
            // Every instance ends with its VIP list.
            if line.trim_start().starts_with("vips:") {
                out += "    arbiter: true\n";
            }
        }
        out
    }
}

/// The arbiter setting of one takeover row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No arbiter (plain VRRP).
    Off,
    /// The arbiter with this TTL.
    Ttl(Duration),
}

/// One takeover run with the arbiter setting it ran under.
#[derive(Debug, Clone)]
pub struct TakeoverRun {
    /// Off or the TTL.
    pub mode: Mode,
    /// The measurement.
    pub run: RunResult,
}

/// Runs everything and returns the Markdown report.
pub fn session(opts: &ArbiterOptions, cmdline: &str) -> String {
    let started = Instant::now();
    let c = &opts.common;
    let mut rng = Rng::new(c.seed);
    let profile = Profile::V3_100MS;
    let mut takeovers: Vec<TakeoverRun> = Vec::new();
    let mut cluster_error = None;
    let mut cluster = if opts.ttls.is_empty() {
        None
    } else {
        match EtcdCluster::start(EtcdSpec::default()) {
            Ok(cl) => Some(cl),
            Err(e) => {
                cluster_error = Some(e.to_string());
                None
            }
        }
    };
    let mut modes = vec![Mode::Off];
    modes.extend(opts.ttls.iter().map(|&t| Mode::Ttl(t)));
    for &fault in &c.faults {
        for index in 1..=c.runs {
            for &mode in &modes {
                for &agent in &c.agents {
                    if agent != Agent::Vipd && mode != Mode::Off {
                        continue;
                    }
                    let which = (agent, profile, fault, index);
                    let run = match (mode, cluster.as_mut()) {
                        (Mode::Off, _) => failover::run_with(c, which, &mut rng, None),
                        (Mode::Ttl(ttl), Some(cluster)) => {
                            let mut hook = ArbiterHook { cluster, ttl };
                            failover::run_with(c, which, &mut rng, Some(&mut hook))
                        }
                        (Mode::Ttl(_), None) => continue,
                    };
                    eprintln!(
                        "[{:>5.0} s] {agent} {} {fault} run {index}: {}",
                        started.elapsed().as_secs_f64(),
                        report::mode_name(mode),
                        match &run.failure {
                            None => format!(
                                "silence {:.1} ms, outage {:.0} ms",
                                run.timings.silence.unwrap_or(f64::NAN),
                                run.outage.unwrap_or(f64::NAN)
                            ),
                            Some(why) => format!("FAILED: {why}"),
                        }
                    );
                    takeovers.push(TakeoverRun { mode, run });
                }
            }
        }
    }
    drop(cluster);
    let mut partitions: Vec<PartitionRun> = Vec::new();
    for &scenario in &opts.scenarios {
        for index in 1..=opts.partition_runs {
            let r = partitions::run(opts, scenario, index);
            eprintln!(
                "[{:>5.0} s] {} run {index}: {}",
                started.elapsed().as_secs_f64(),
                scenario.name(),
                match &r.failure {
                    None => format!("both held {:.0} ms", report::ms(r.dual)),
                    Some(why) => format!("FAILED: {why}"),
                }
            );
            partitions.push(r);
        }
    }
    let mut doc = String::from("# Arbiter benchmark: vipd with and without the etcd arbiter\n\n");
    doc += &super::session::header(c, cmdline);
    if let Some(e) = cluster_error {
        doc += &format!("\n**The etcd cluster did not start: {e}** (no arbiter rows)\n");
    }
    doc += &report::takeover_section(&takeovers);
    doc += &report::partition_section(&partitions, opts);
    doc += &format!("\nTotal time: {:.0} s.\n", started.elapsed().as_secs_f64());
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::agent::Setup;
    use std::net::Ipv4Addr;
    use std::path::Path;

    #[test]
    fn the_edited_configuration_is_valid_and_arbitrated() {
        let vips = [Ipv4Addr::new(10, 0, 0, 100)];
        let setup = Setup {
            agent: Agent::Vipd,
            profile: Profile::V3_100MS,
            priority: 150,
            vips: &vips,
        };
        let text = setup.vipd_config("node0", Path::new("/tmp/x.sock"));
        let section = "arbiter:\n  endpoints: [http://172.20.0.1:2379]\n  ttl: 2s\n  \
                       margin: 200ms\n  prefix: /bench/1/run3\n";
        let edited = ArbiterHook::edit(section, text);
        let config = vipd::config::Config::parse(&edited, "bench.yaml")
            .unwrap_or_else(|e| panic!("{e}\n{edited}"));
        assert!(config.instances["vi51"].arbiter, "{edited}");
        let store = config.arbiter.expect("arbiter section");
        assert_eq!(store.ttl, Duration::from_secs(2));
        assert_eq!(store.prefix, "/bench/1/run3");
    }
}
