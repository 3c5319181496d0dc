//! `arbiter_bench`'s command line.

use std::time::Duration;

use super::Scenario;
use crate::bench::args::{defaults, each_flag, list, number, set_common};
use crate::bench::{BenchError, Fault, Options, Profile};

/// The usage text (`--help`).
pub const USAGE: &str = "\
Usage: arbiter_bench [OPTIONS]   (as root; needs etcd, etcdctl, openssl, tcpdump, nft)

vipd's takeover with the etcd arbiter off and on, and the time two nodes held the VIP at once
in partition scenarios. VRRPv3, 100 ms adverts, priorities 150/100. Prints a Markdown report
on stdout.

  --runs N              takeover runs per agent, arbiter setting and fault (default 10)
  --ttls LIST           arbiter TTLs in seconds for the takeover runs, or none (default 1,2)
  --agents LIST         vipd, keepalived; keepalived runs without an arbiter only, for
                        comparison (default vipd,keepalived)
  --faults LIST         kill (SIGKILL + cut port), term (SIGTERM) (default kill,term)
  --scenarios LIST      a (VRRP cut between the pair), b (Master cut from etcd, release),
                        b-keep (the same, on_store_loss keep), c (quorum lost, release),
                        c-keep, d (Master frozen for 3 TTLs), or none (default: all six)
  --partition-runs N    runs per scenario (default 3)
  --partition-ttl N     arbiter TTL in seconds in the scenarios (default 1)
  --vipd PATH           vipd binary (default: next to this binary)
  --keepalived PATH     keepalived binary (default keepalived)
  --pinger PATH         pinger binary (default: next to this binary)
  --keep-failed DIR     copy logs and capture of failed takeover runs here
  --seed N              seed of the fault phases (default: from the clock)
";

/// Everything one `arbiter_bench` invocation does.
#[derive(Debug, Clone)]
pub struct ArbiterOptions {
    /// Runs, agents, faults, binaries, seed (profile: v3 100 ms; no idle measurement).
    pub common: Options,
    /// TTLs of the arbitrated takeover rows.
    pub ttls: Vec<Duration>,
    /// Partition scenarios, in table order.
    pub scenarios: Vec<Scenario>,
    /// Runs per scenario.
    pub partition_runs: usize,
    /// TTL in the scenarios.
    pub partition_ttl: Duration,
}

fn secs(s: &str) -> Option<Duration> {
    s.parse::<u64>()
        .ok()
        .filter(|n| (1..=60).contains(n))
        .map(Duration::from_secs)
}

fn fault(s: &str) -> Option<Fault> {
    match s {
        "kill" => Some(Fault::Kill),
        "term" => Some(Fault::Term),
        _ => None,
    }
}

/// Parses the arguments (without the program name). `Ok(None)` means `--help`.
pub fn parse(args: &[String]) -> Result<Option<ArbiterOptions>, BenchError> {
    let mut common = defaults();
    common.profiles = vec![Profile::V3_100MS];
    common.idle = Duration::ZERO;
    let mut o = ArbiterOptions {
        common,
        ttls: vec![Duration::from_secs(1), Duration::from_secs(2)],
        scenarios: Scenario::ALL.to_vec(),
        partition_runs: 3,
        partition_ttl: Duration::from_secs(1),
    };
    let go_on = each_flag(args, USAGE, |flag, value| {
        if flag == "--profiles" {
            return Err("the arbiter benchmark runs v3 100 ms only".into());
        }
        if let Some(done) = set_common(&mut o.common, flag, value) {
            return done;
        }
        let none = value == "none";
        match flag {
            "--ttls" if none => {
                o.ttls.clear();
                Ok(())
            }
            "--ttls" => list(value, secs).map(|v| o.ttls = v),
            "--faults" => list(value, fault).map(|v| o.common.faults = v),
            "--scenarios" if none => {
                o.scenarios.clear();
                Ok(())
            }
            "--scenarios" => list(value, Scenario::parse).map(|v| o.scenarios = v),
            "--partition-runs" => number(value).map(|n| o.partition_runs = n as usize),
            "--partition-ttl" => secs(value)
                .map(|t| o.partition_ttl = t)
                .ok_or_else(|| "whole seconds, 1 to 60".into()),
            _ => Err("unknown option".into()),
        }
    })?;
    Ok(go_on.then_some(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!(o.common.runs, 10);
        assert_eq!(o.ttls, [Duration::from_secs(1), Duration::from_secs(2)]);
        assert_eq!(o.scenarios.len(), 6);
        let o = parse(&args(
            "--runs 2 --ttls 2 --scenarios a,d --partition-runs 1",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((o.common.runs, o.partition_runs), (2, 1));
        assert_eq!(o.ttls, [Duration::from_secs(2)]);
        assert_eq!(o.scenarios, [Scenario::VrrpCut, Scenario::Freeze]);
        let o = parse(&args("--ttls none --scenarios none"))
            .unwrap()
            .unwrap();
        assert!(o.ttls.is_empty() && o.scenarios.is_empty());
        for bad in ["--ttls 0", "--scenarios e", "--profiles v2", "--bogus 1"] {
            let err = parse(&args(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with(bad.split(' ').next().unwrap()),
                "{bad}: {err}"
            );
        }
    }
}
