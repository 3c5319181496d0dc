//! The command line of `heal_bench`.

use std::time::Duration;

use super::super::{BenchError, Options, args};
use super::HealOptions;

/// The usage text (`--help`).
pub const USAGE: &str = "\
Usage: heal_bench [OPTIONS]   (as root)

Partition heal of vipd and keepalived in network namespaces: node0 (priority 150) is cut off
the LAN with nftables, node1 (100) takes over, the cut heals, and a capture in the client
namespace times how long two Masters coexist and how long the client takes to reach node0
again. Prints a Markdown report on stdout.

  --runs N              runs per agent and profile (default 10)
  --profiles LIST       v2 (1 s adverts), v3 (100 ms) (default v2,v3)
  --agents LIST         vipd, keepalived (default vipd,keepalived)
  --hold-ms N           time the partition is held after node1 took over (default 2000)
  --max-observe-secs N  longest wait after the heal for the client to reach node0 (default 15)
  --vipd PATH           vipd binary (default: next to this binary)
  --keepalived PATH     keepalived binary (default keepalived)
  --pinger PATH         pinger binary (default: next to this binary)
  --keep-failed DIR     copy logs and capture of failed runs here
  --seed N              seed of the cut and heal phases (default: from the clock)
";

/// Parses the arguments (without the program name). `Ok(None)` means `--help`.
pub fn parse(args: &[String]) -> Result<Option<HealOptions>, BenchError> {
    // The failover-only fields stay empty: the shared options are what starting an agent
    // (`agent::Setup::start`) and the report header need.
    let mut o = HealOptions {
        common: Options {
            faults: Vec::new(),
            idle: Duration::ZERO,
            idle_instances: Vec::new(),
            idle_profiles: Vec::new(),
            ..args::defaults()
        },
        hold: Duration::from_secs(2),
        max_observe: Duration::from_secs(15),
    };
    let go_on = args::each_flag(args, USAGE, |flag, value| {
        if let Some(done) = args::set_common(&mut o.common, flag, value) {
            return done;
        }
        match flag {
            "--hold-ms" => args::number(value).map(|n| o.hold = Duration::from_millis(n)),
            "--max-observe-secs" => args::number(value)
                .and_then(|n| (n >= 2).then_some(n).ok_or("at least 2 s".into()))
                .map(|n| o.max_observe = Duration::from_secs(n)),
            _ => Err("unknown option".into()),
        }
    })?;
    Ok(go_on.then_some(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{Agent, Profile};
    use std::path::PathBuf;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_are_the_full_benchmark() {
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!(o.common.runs, 10);
        assert_eq!(o.common.profiles, vec![Profile::V2_1S, Profile::V3_100MS]);
        assert_eq!(o.common.agents, Agent::ALL.to_vec());
        assert_eq!(o.hold, Duration::from_secs(2));
    }

    #[test]
    fn options_override_and_errors_name_the_flag() {
        let o = parse(&args(
            "--runs 1 --profiles v3 --agents vipd --hold-ms 500 --seed 7 --keep-failed /tmp/x",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((o.common.runs, o.common.seed), (1, 7));
        assert_eq!(o.common.profiles, vec![Profile::V3_100MS]);
        assert_eq!(o.common.agents, vec![Agent::Vipd]);
        assert_eq!(o.hold, Duration::from_millis(500));
        assert_eq!(o.common.keep_failed, Some(PathBuf::from("/tmp/x")));
        assert!(parse(&args("-h")).unwrap().is_none());
        for bad in [
            "--runs x",
            "--profiles v4",
            "--agents frr",
            "--max-observe-secs 1",
            "--faults kill",
            "--runs",
        ] {
            let err = parse(&args(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with(bad.split(' ').next().unwrap()),
                "{bad}: {err}"
            );
        }
    }
}
