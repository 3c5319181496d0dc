//! The partition scenarios of `tests/arbiter.rs`, run for figures: how long both nodes held
//! the VIP (target 0), when the Backup held it, and the client's longest outage.

use std::time::Duration;

use crate::arbiter::scenario::{self, Outcome};
use crate::arbiter::{ArbiterPair, PairSpec};
use crate::error::Result;
use crate::vipd::StoreLoss;

use super::ArbiterOptions;

/// What is done to the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// (a) VRRP dropped between the pair for 4 TTLs; both reach etcd.
    VrrpCut,
    /// (b) the Master cut from etcd for 3 TTLs + 2 s, `release`.
    StoreCutRelease,
    /// (b) the same under `keep`.
    StoreCutKeep,
    /// (c) quorum lost for 3 TTLs, `release`.
    QuorumRelease,
    /// (c) the same under `keep`.
    QuorumKeep,
    /// (d) the Master frozen (SIGSTOP) for 3 TTLs.
    Freeze,
}

impl Scenario {
    /// Every scenario, in table order.
    pub const ALL: [Scenario; 6] = [
        Scenario::VrrpCut,
        Scenario::StoreCutRelease,
        Scenario::StoreCutKeep,
        Scenario::QuorumRelease,
        Scenario::QuorumKeep,
        Scenario::Freeze,
    ];

    /// From its command-line name.
    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|sc| sc.slug() == s)
    }

    /// Its command-line name.
    pub fn slug(self) -> &'static str {
        match self {
            Scenario::VrrpCut => "a",
            Scenario::StoreCutRelease => "b",
            Scenario::StoreCutKeep => "b-keep",
            Scenario::QuorumRelease => "c",
            Scenario::QuorumKeep => "c-keep",
            Scenario::Freeze => "d",
        }
    }

    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::VrrpCut => "(a) VRRP cut between the pair",
            Scenario::StoreCutRelease => "(b) Master cut from etcd, release",
            Scenario::StoreCutKeep => "(b) Master cut from etcd, keep",
            Scenario::QuorumRelease => "(c) quorum lost, release",
            Scenario::QuorumKeep => "(c) quorum lost, keep",
            Scenario::Freeze => "(d) Master frozen (SIGSTOP)",
        }
    }

    fn policy(self) -> StoreLoss {
        match self {
            Scenario::StoreCutKeep | Scenario::QuorumKeep => StoreLoss::Keep,
            _ => StoreLoss::Release,
        }
    }
}

/// One scenario run.
#[derive(Debug, Clone)]
pub struct PartitionRun {
    /// Which scenario.
    pub scenario: Scenario,
    /// Run number, from 1.
    pub index: usize,
    /// How long both nodes held the VIP, from the fault to the end of the run (for the
    /// freeze: after SIGCONT only, what vipd can act on).
    pub dual: Duration,
    /// The freeze only: how long both held it while node 0 was stopped (the kernel keeps a
    /// stopped process's addresses).
    pub dual_frozen: Option<Duration>,
    /// Fault → node 1 holds the VIP, if it did.
    pub takeover: Option<Duration>,
    /// The client's longest run of lost pings (10 ms apart), in ms.
    pub outage_ms: Option<f64>,
    /// Why the run failed; `None` for a good one.
    pub failure: Option<String>,
}

/// Runs `scenario` once on a fresh pair and cluster.
pub fn run(opts: &ArbiterOptions, scenario: Scenario, index: usize) -> PartitionRun {
    let mut r = PartitionRun {
        scenario,
        index,
        dual: Duration::ZERO,
        dual_frozen: None,
        takeover: None,
        outage_ms: None,
        failure: None,
    };
    if let Err(e) = attempt(opts, scenario, &mut r) {
        r.failure = Some(e.to_string());
    }
    r
}

fn attempt(opts: &ArbiterOptions, scenario: Scenario, r: &mut PartitionRun) -> Result<()> {
    let mut pair = ArbiterPair::start(PairSpec {
        ttl: opts.partition_ttl,
        on_store_loss: scenario.policy(),
        metrics: false,
        vipd: Some(opts.common.vipd.clone()),
    })?;
    let ttl = opts.partition_ttl;
    let ping = pair.pinger(&opts.common.pinger)?;
    let second = Duration::from_secs(1);
    let out: Outcome = match scenario {
        Scenario::VrrpCut => scenario::vrrp_cut(&pair, ttl * 4 + pair.master_down(), second)?,
        Scenario::StoreCutRelease | Scenario::StoreCutKeep => {
            scenario::master_cut_from_store(&pair, ttl * 3 + second * 2, second)?
        }
        Scenario::QuorumRelease | Scenario::QuorumKeep => {
            scenario::quorum_loss(&mut pair, ttl * 3, second * 2)?
        }
        Scenario::Freeze => scenario::freeze_master(&mut pair, ttl * 3, ttl * 2)?,
    };
    let report = ping.stop()?;
    let tl = &out.timeline;
    r.takeover = out.backup_took_over().map(|t| t - out.fault);
    r.outage_ms = Some(report.longest_gap_ms);
    match (scenario, out.healed) {
        (Scenario::Freeze, Some(thawed)) => {
            r.dual = tl.dual_time_since(thawed);
            r.dual_frozen = Some(tl.dual_time_since(out.fault) - r.dual);
        }
        _ => r.dual = tl.dual_time_since(out.fault),
    }
    Ok(())
}
