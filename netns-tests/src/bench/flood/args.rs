//! The command line of `flood_bench`.

use std::time::Duration;

use super::super::{BenchError, Options, args};
use super::{Attack, FloodOptions};

/// The usage text (`--help`).
pub const USAGE: &str = "\
Usage: flood_bench [OPTIONS]   (as root)

Forged VRRP adverts against vipd and keepalived in network namespaces: node0 (priority 150)
Master, node1 (100) Backup, VRRPv3 100 ms, one VIP; the client pings the VIP every 10 ms and
floods the LAN with well-formed forged adverts for the pair's VRID. Counts what each node
sends (VRRP, ARP), its notify runs and CPU, and the pings lost. Prints a Markdown report.

  --runs N          runs per agent and attack (default 3)
  --agents LIST     vipd, keepalived (default vipd,keepalived)
  --attacks LIST    lower (priority 50, random sources), resign (priority 0 from the
                    Master's address) (default lower,resign)
  --rate N          forged lower-priority adverts per second (default 10000)
  --resign-rate N   forged resignations per second (default 5: a fast flood of them keeps
                    pushing the Backup's Skew_Time back, a few a second make it take over)
  --secs N          length of each flood (default 5)
  --no-sealed       skip vipd with a sealed UDP channel and authenticated_decisions
  --vipd PATH       vipd binary (default: next to this binary)
  --keepalived PATH keepalived binary (default keepalived)
  --pinger PATH     pinger binary (default: next to this binary)
  --keep-failed DIR accepted for scripts/bench.sh; a failed run's reason is in the report
";

fn attack(s: &str) -> Option<Attack> {
    match s {
        "lower" => Some(Attack::Lower),
        "resign" => Some(Attack::Resign),
        _ => None,
    }
}

/// Parses the arguments (without the program name). `Ok(None)` means `--help`.
pub fn parse(argv: &[String]) -> Result<Option<FloodOptions>, BenchError> {
    let mut o = FloodOptions {
        common: Options {
            runs: 3,
            faults: Vec::new(),
            idle: Duration::ZERO,
            idle_instances: Vec::new(),
            idle_profiles: Vec::new(),
            ..args::defaults()
        },
        attacks: vec![Attack::Lower, Attack::Resign],
        rate: 10_000,
        resign_rate: 5,
        duration: Duration::from_secs(5),
        sealed: true,
    };
    // `--no-sealed` takes no value; the shared parser expects one after every flag.
    let argv: Vec<String> = argv
        .iter()
        .filter(|a| {
            let flag = *a == "--no-sealed";
            if flag {
                o.sealed = false;
            }
            !flag
        })
        .cloned()
        .collect();
    let go_on = args::each_flag(&argv, USAGE, |flag, value| {
        if let Some(done) = args::set_common(&mut o.common, flag, value) {
            return done;
        }
        match flag {
            "--attacks" => args::list(value, attack).map(|v| o.attacks = v),
            "--rate" => args::number(value)
                .and_then(|n| {
                    u32::try_from(n)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("1..=4294967295".into())
                })
                .map(|n| o.rate = n),
            "--resign-rate" => args::number(value)
                .and_then(|n| {
                    u32::try_from(n)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("1..=4294967295".into())
                })
                .map(|n| o.resign_rate = n),
            "--secs" => args::number(value)
                .and_then(|n| (n > 0).then_some(n).ok_or("at least 1".into()))
                .map(|n| o.duration = Duration::from_secs(n)),
            _ => Err("unknown option".into()),
        }
    })?;
    Ok(go_on.then_some(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!((o.common.runs, o.rate, o.sealed), (3, 10_000, true));
        assert_eq!(o.attacks, vec![Attack::Lower, Attack::Resign]);
        let o = parse(&argv(
            "--runs 1 --attacks resign --rate 500 --secs 2 --no-sealed",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((o.common.runs, o.rate, o.sealed), (1, 500, false));
        assert_eq!(o.duration, Duration::from_secs(2));
        assert_eq!(o.attacks, vec![Attack::Resign]);
        for bad in ["--attacks sideways", "--rate 0", "--secs 0", "--bogus 1"] {
            let err = parse(&argv(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with(bad.split(' ').next().unwrap()),
                "{bad}: {err}"
            );
        }
    }
}
