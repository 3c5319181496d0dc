//! The benchmark's command line.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Agent, BenchError, Fault, Options, Profile};

/// The usage text (`--help`).
pub const USAGE: &str = "\
Usage: failover_bench [OPTIONS]   (as root)

Failover of vipd and keepalived in network namespaces, timed from a capture in the client
namespace, plus resource use of an idle Master. Prints a Markdown report on stdout.

  --runs N              runs per agent, profile and fault (default 10)
  --profiles LIST       failover profiles: v2 (1 s adverts), v3 (100 ms) (default v2,v3)
  --agents LIST         vipd, keepalived (default vipd,keepalived)
  --faults LIST         kill (SIGKILL + cut port), term (SIGTERM) (default kill,term)
  --idle-secs N         idle window per measurement, 0 skips them (default 60)
  --idle-instances LIST instance counts for the idle measurement (default 1,50)
  --idle-profiles LIST  profiles for the idle measurement (default v3,v2; first = headline)
  --vipd PATH           vipd binary (default: next to this binary)
  --keepalived PATH     keepalived binary (default keepalived)
  --pinger PATH         pinger binary (default: next to this binary)
  --keep-failed DIR     copy logs and capture of failed runs here
  --seed N              seed of the fault phases (default: from the clock)
";

pub fn list<T>(value: &str, one: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(|item| one(item.trim()).ok_or_else(|| format!("unknown value {item:?}")))
        .collect()
}

fn profile(s: &str) -> Option<Profile> {
    match s {
        "v2" => Some(Profile::V2_1S),
        "v3" => Some(Profile::V3_100MS),
        _ => None,
    }
}

fn agent(s: &str) -> Option<Agent> {
    match s {
        "vipd" => Some(Agent::Vipd),
        "keepalived" => Some(Agent::Keepalived),
        _ => None,
    }
}

fn fault(s: &str) -> Option<Fault> {
    match s {
        "kill" => Some(Fault::Kill),
        "term" => Some(Fault::Term),
        _ => None,
    }
}

/// The options every benchmark binary shares, at their defaults: failover and idle
/// settings included, which other benchmarks clear.
pub fn defaults() -> Options {
    let sibling = |name: &str| {
        std::env::current_exe()
            .ok()
            .and_then(|p| Some(p.parent()?.join(name)))
            .unwrap_or_else(|| PathBuf::from(name))
    };
    Options {
        runs: 10,
        profiles: vec![Profile::V2_1S, Profile::V3_100MS],
        agents: Agent::ALL.to_vec(),
        faults: Fault::ALL.to_vec(),
        idle: Duration::from_secs(60),
        idle_instances: vec![1, 50],
        idle_profiles: vec![Profile::V3_100MS, Profile::V2_1S],
        vipd: sibling("vipd"),
        keepalived: PathBuf::from("keepalived"),
        pinger: sibling("pinger"),
        keep_failed: None,
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    }
}

/// A flag's value as a number.
pub fn number(value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .map_err(|e| format!("not a number: {e}"))
}

/// Walks `FLAG VALUE` pairs, handing each to `set`; `Ok(false)` means `--help`. An error
/// names the flag and its value, followed by `usage`.
pub fn each_flag(
    args: &[String],
    usage: &str,
    mut set: impl FnMut(&str, &str) -> Result<(), String>,
) -> Result<bool, BenchError> {
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(false);
        }
        let value = it
            .next()
            .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value")))?;
        set(flag, value)
            .map_err(|e| BenchError::Usage(format!("{flag} {value}: {e}\n\n{usage}")))?;
    }
    Ok(true)
}

/// Sets a flag every benchmark shares (runs, profiles, agents, binaries, failed-run copies,
/// seed); `None` when `flag` is not one of them.
pub fn set_common(o: &mut Options, flag: &str, value: &str) -> Option<Result<(), String>> {
    let path = |slot: &mut PathBuf| {
        *slot = value.into();
        Ok(())
    };
    Some(match flag {
        "--runs" => number(value).map(|n| o.runs = n as usize),
        "--profiles" => list(value, profile).map(|v| o.profiles = v),
        "--agents" => list(value, agent).map(|v| o.agents = v),
        "--vipd" => path(&mut o.vipd),
        "--keepalived" => path(&mut o.keepalived),
        "--pinger" => path(&mut o.pinger),
        "--keep-failed" => path(o.keep_failed.insert(PathBuf::new())),
        "--seed" => number(value).map(|n| o.seed = n),
        _ => return None,
    })
}

/// Whether a benchmark starts the pinger, whose binary must then be there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinger {
    Started,
    /// `--pinger` is accepted (scripts/bench.sh passes it to every benchmark) and ignored.
    Unused,
}

/// The `main` of a benchmark binary called `name`: parses the command line, checks root and
/// the binaries it starts, and prints the report `session` returns (stdout carries the
/// report alone, so `> file` captures exactly the document). Exit status 2 on a usage error.
pub fn bin_main<O>(
    name: &str,
    usage: &str,
    parse: impl Fn(&[String]) -> Result<Option<O>, BenchError>,
    common: impl Fn(&O) -> &Options,
    session: impl Fn(&O, &str) -> String,
    pinger: Pinger,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    let argv: Vec<String> = std::env::args().collect();
    let opts = match parse(&argv[1..]) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    if !crate::require_root() {
        eprintln!("{name}: needs root and the lab's tools");
        return ExitCode::from(2);
    }
    let c = common(&opts);
    let pinger = (pinger == Pinger::Started).then_some(("pinger", &c.pinger));
    for (what, bin) in [("vipd", &c.vipd)].into_iter().chain(pinger) {
        if !bin.is_file() {
            eprintln!(
                "{name}: {what} binary {} not found (see --{what})",
                bin.display()
            );
            return ExitCode::from(2);
        }
    }
    print!("{}", session(&opts, &argv.join(" ")));
    ExitCode::SUCCESS
}

/// Parses the arguments (without the program name). `Ok(None)` means `--help`.
pub fn parse(args: &[String]) -> Result<Option<Options>, BenchError> {
    let mut o = defaults();
    let go_on = each_flag(args, USAGE, |flag, value| {
        if let Some(done) = set_common(&mut o, flag, value) {
            return done;
        }
        match flag {
            "--faults" => list(value, fault).map(|v| o.faults = v),
            "--idle-secs" => number(value).map(|n| o.idle = Duration::from_secs(n)),
            "--idle-instances" => list(value, |s| s.parse().ok().filter(|n| (1..100).contains(n)))
                .map(|v| o.idle_instances = v),
            "--idle-profiles" => list(value, profile).map(|v| o.idle_profiles = v),
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
    fn defaults_are_the_full_benchmark() {
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!(o.runs, 10);
        assert_eq!(o.profiles.len() * o.agents.len() * o.faults.len(), 8);
        assert_eq!(o.idle, Duration::from_secs(60));
        assert_eq!(o.idle_instances, vec![1, 50]);
        assert_eq!(o.idle_profiles[0], Profile::V3_100MS);
    }

    #[test]
    fn options_override_and_errors_name_the_flag() {
        let o = parse(&args(
            "--runs 1 --profiles v3 --agents vipd --faults term,kill --idle-secs 0 --seed 7",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((o.runs, o.seed, o.idle), (1, 7, Duration::ZERO));
        assert_eq!(o.profiles, vec![Profile::V3_100MS]);
        assert_eq!(o.agents, vec![Agent::Vipd]);
        assert_eq!(o.faults, vec![Fault::Term, Fault::Kill]);
        assert!(parse(&args("--help")).unwrap().is_none());
        for bad in [
            "--runs x",
            "--profiles v4",
            "--idle-instances 0",
            "--bogus 1",
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
