//! The command line of `heal_bench`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::super::{Agent, BenchError, Options, Profile};
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

fn list<T>(value: &str, one: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(|item| one(item.trim()).ok_or_else(|| format!("unknown value {item:?}")))
        .collect()
}

/// Parses the arguments (without the program name). `Ok(None)` means `--help`.
pub fn parse(args: &[String]) -> Result<Option<HealOptions>, BenchError> {
    let sibling = |name: &str| {
        std::env::current_exe()
            .ok()
            .and_then(|p| Some(p.parent()?.join(name)))
            .unwrap_or_else(|| PathBuf::from(name))
    };
    // The failover-only fields stay empty: the shared options are what starting an agent
    // (`agent::Setup::start`) and the report header need.
    let mut o = HealOptions {
        common: Options {
            runs: 10,
            profiles: vec![Profile::V2_1S, Profile::V3_100MS],
            agents: Agent::ALL.to_vec(),
            faults: Vec::new(),
            idle: Duration::ZERO,
            idle_instances: Vec::new(),
            idle_profiles: Vec::new(),
            vipd: sibling("vipd"),
            keepalived: PathBuf::from("keepalived"),
            pinger: sibling("pinger"),
            keep_failed: None,
            seed: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
        },
        hold: Duration::from_secs(2),
        max_observe: Duration::from_secs(15),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = it
            .next()
            .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value")))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("not a number: {e}"))
        };
        let c = &mut o.common;
        let set: Result<(), String> = match flag.as_str() {
            "--runs" => number().map(|n| c.runs = n as usize),
            "--profiles" => list(value, |s| match s {
                "v2" => Some(Profile::V2_1S),
                "v3" => Some(Profile::V3_100MS),
                _ => None,
            })
            .map(|v| c.profiles = v),
            "--agents" => list(value, |s| match s {
                "vipd" => Some(Agent::Vipd),
                "keepalived" => Some(Agent::Keepalived),
                _ => None,
            })
            .map(|v| c.agents = v),
            "--hold-ms" => number().map(|n| o.hold = Duration::from_millis(n)),
            "--max-observe-secs" => number()
                .and_then(|n| (n >= 2).then_some(n).ok_or("at least 2 s".into()))
                .map(|n| o.max_observe = Duration::from_secs(n)),
            "--vipd" => {
                c.vipd = value.into();
                Ok(())
            }
            "--keepalived" => {
                c.keepalived = value.into();
                Ok(())
            }
            "--pinger" => {
                c.pinger = value.into();
                Ok(())
            }
            "--keep-failed" => {
                c.keep_failed = Some(value.into());
                Ok(())
            }
            "--seed" => number().map(|n| c.seed = n),
            _ => Err("unknown option".into()),
        };
        set.map_err(|e| BenchError::Usage(format!("{flag} {value}: {e}\n\n{USAGE}")))?;
    }
    Ok(Some(o))
}

#[cfg(test)]
mod tests {
    use super::*;

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
