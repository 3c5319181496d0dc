//! The command line of `scale_bench`.

use std::path::PathBuf;
use std::time::Duration;

use vipd::vrrp::timing::Centis;

use super::super::{Agent, BenchError, Options, args};
use super::layout::MAX_INSTANCES;
use super::{Case, Contender, ScaleOptions};

/// The usage text (`--help`).
pub const USAGE: &str = "\
Usage: scale_bench [OPTIONS]   (as root)

Many instances, fast adverts, vipd beside keepalived in network namespaces: node0 (priority
200) Master and node1 (100) Backup of every instance, VRRPv3. Per case and agent, back to
back: CPU of both nodes over an idle window (schedstat, every thread), RSS, anonymous memory
and PSS, adverts sent by the Backups during the window (false takeovers), start-up time to
all-Backup; for cases of 100 instances or more, vipd's reload time of the unchanged
configuration (and any flap during it) and, for every agent, a sample of takeover times after
SIGKILL of the Master. 1,000 instances: 255 VRIDs per family on eth0, the rest on eth1.
What the machine did during the window is reported beside: the first instance's longest gap
between adverts as the Master sent and as the Backup received them, how late a pinned
realtime thread on each CPU woke, the hypervisor's steal, and major page faults.
Prints a Markdown report. A run that counts a false takeover keeps its lab's logs, configs
and captures, and names the directory on stderr (every run's, with VIPD_KEEP_LOGS=1).

  --cases LIST          INSTANCES@INTERVAL (default 1@10ms,50@10ms,50@100ms,1000@100ms)
  --runs N              runs per case and agent, alternating agents, every other run in
                        the reverse order (default 1)
  --agents LIST         vipd, keepalived (default vipd,keepalived)
  --baseline PATH       also measure this (older) vipd binary, labelled with its file
                        name, right before the current one (right after it in the
                        reversed runs), for before/after figures; may be given more
                        than once
  --idle-secs N         idle window per run (default 60)
  --burn N              keep N busy threads spinning during the idle window (saturated
                        cores: the false-takeover check under load) (default 0)
  --placement P         shared: the scheduler places both nodes' agents on the machine's
                        CPUs (default); apart: node0's agent on CPU 0 and node1's on CPU 1,
                        as on two hosts. Shared, a Backup woken on the CPU its Master just
                        sent from costs several times less than one woken on the other CPU,
                        and which happens differs by agent and from run to run
  --switch S            inline: a frame's whole way, through the bridge to the other node's
                        socket and the wake-up of its agent, runs in the sender's context
                        and counts as the sending agent's CPU (default); threaded: the
                        switch's ports run it in kernel threads of their own (threaded
                        NAPI, needs ethtool), so each agent pays for its own sends and
                        receives only, as on two hosts
  --takeover-sample N   instances whose takeover is timed, cases >= 100 (default 8; 0 skips)
  --vipd PATH           vipd binary (default: next to this binary)
  --keepalived PATH     keepalived binary (default keepalived)
  --keep-failed DIR     accepted for scripts/bench.sh; a failed run's reason is in the report
  --pinger PATH         accepted for scripts/bench.sh; unused
";

/// One `INSTANCES@INTERVAL` item.
pub fn case(s: &str) -> Option<Case> {
    let (n, interval) = s.split_once('@')?;
    let instances: usize = n.parse().ok().filter(|n| (1..=MAX_INSTANCES).contains(n))?;
    let ms: u32 = interval.strip_suffix("ms")?.parse().ok()?;
    // VRRPv3 intervals are centiseconds, 10 ms to 40.95 s.
    let centis = u16::try_from(ms / 10)
        .ok()
        .filter(|c| ms.is_multiple_of(10) && (1..4096).contains(c))?;
    Some(Case {
        instances,
        interval: Centis::new(centis),
    })
}

/// `--placement`: whether the nodes' agents go on CPUs of their own (on a one-CPU machine,
/// apart fails each run with taskset's error).
fn placement(value: &str) -> Result<bool, String> {
    match value {
        "shared" => Ok(false),
        "apart" => Ok(true),
        _ => Err("shared or apart".into()),
    }
}

/// `--switch`: whether the switch's ports run in kernel threads of their own.
fn switch(value: &str) -> Result<bool, String> {
    match value {
        "inline" => Ok(false),
        "threaded" => Ok(true),
        _ => Err("inline or threaded".into()),
    }
}

/// Parses the arguments (without the program name). `Ok(None)` means `--help`.
pub fn parse(argv: &[String]) -> Result<Option<ScaleOptions>, BenchError> {
    let mut o = ScaleOptions {
        common: Options {
            runs: 1,
            faults: Vec::new(),
            idle: Duration::from_secs(60),
            idle_instances: Vec::new(),
            idle_profiles: Vec::new(),
            ..args::defaults()
        },
        cases: ["1@10ms", "50@10ms", "50@100ms", "1000@100ms"]
            .iter()
            .map(|s| case(s).expect("valid default"))
            .collect(),
        baseline: Vec::new(),
        burn: 0,
        apart: false,
        threaded_switch: false,
        takeover_sample: 8,
    };
    let go_on = args::each_flag(argv, USAGE, |flag, value| {
        if let Some(done) = args::set_common(&mut o.common, flag, value) {
            return done;
        }
        match flag {
            "--cases" => args::list(value, case).map(|v| o.cases = v),
            "--idle-secs" => args::number(value)
                .and_then(|n| (n > 0).then_some(n).ok_or("at least 1".into()))
                .map(|n| o.common.idle = Duration::from_secs(n)),
            "--baseline" => {
                o.baseline.push(PathBuf::from(value));
                Ok(())
            }
            "--burn" => args::number(value).map(|n| o.burn = n as usize),
            "--placement" => placement(value).map(|apart| o.apart = apart),
            "--switch" => switch(value).map(|threaded| o.threaded_switch = threaded),
            "--takeover-sample" => args::number(value).map(|n| o.takeover_sample = n as usize),
            _ => Err("unknown option".into()),
        }
    })?;
    Ok(go_on.then_some(o))
}

impl ScaleOptions {
    /// Who is measured, in the order of each round: the baseline vipd first, then the
    /// agents as listed.
    pub fn contenders(&self) -> Vec<Contender> {
        let mut out = Vec::new();
        if self.common.agents.contains(&Agent::Vipd) {
            for bin in &self.baseline {
                let name = bin.file_name().map(|n| n.to_string_lossy().into_owned());
                out.push(Contender {
                    label: name.unwrap_or_else(|| "vipd-base".into()),
                    agent: Agent::Vipd,
                    bin: bin.clone(),
                });
            }
        }
        for &agent in &self.common.agents {
            let bin = match agent {
                Agent::Vipd => self.common.vipd.clone(),
                Agent::Keepalived => self.common.keepalived.clone(),
            };
            out.push(Contender {
                label: agent.to_string(),
                agent,
                bin,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_overrides_and_bad_values() {
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!(o.cases.len(), 4);
        assert_eq!(o.cases[3].instances, 1000);
        assert_eq!(o.cases[0].interval, Centis::new(1));
        assert_eq!(o.contenders().len(), 2);
        let o = parse(&argv(
            "--cases 1000@100ms --idle-secs 5 --burn 2 --placement apart --baseline /x/vipd-old --baseline /y/vipd-b --agents vipd",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((o.burn, o.common.idle), (2, Duration::from_secs(5)));
        assert!(o.apart);
        assert!(!parse(&argv("--placement shared")).unwrap().unwrap().apart);
        assert!(!parse(&[]).unwrap().unwrap().apart);
        assert!(!o.threaded_switch && !parse(&[]).unwrap().unwrap().threaded_switch);
        assert!(
            parse(&argv("--switch threaded"))
                .unwrap()
                .unwrap()
                .threaded_switch
        );
        assert!(
            !parse(&argv("--switch inline"))
                .unwrap()
                .unwrap()
                .threaded_switch
        );
        let labels: Vec<String> = o.contenders().into_iter().map(|c| c.label).collect();
        assert_eq!(labels, ["vipd-old", "vipd-b", "vipd"]);
        for bad in [
            "--cases 0@10ms",
            "--cases 1021@100ms",
            "--cases 5@15ms",
            "--cases 5",
            "--idle-secs 0",
            "--bogus 1",
            "--placement sideways",
            "--switch fast",
        ] {
            let err = parse(&argv(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with(bad.split(' ').next().unwrap()),
                "{bad}: {err}"
            );
        }
    }
}
