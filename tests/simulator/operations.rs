//! Operations as inputs: checks that flip, reloads that add, fix, break, reweigh and remove
//! trackers or move the base priority, crashes and restarts, all at random. Whatever happened,
//! each router's effective priority and faults converge, within a check interval of the last
//! report, to what its current file and its checks' current health imply; and a node nothing
//! holds in FAULT can always become Master.
//!
//! With an arbiter on every router (each with its real keeper, the store healthy), no
//! schedule makes two VIP holders or a holder whose lease does not own the key in the store:
//! every path to Master passes the gate.

use super::*;
use sim::default_trackers;
use vipd::arbiter::StoreLoss;
use vipd::vrrp::router::{RouterConfig, TrackerConfig};

/// A change an operator or a check makes to one node.
#[derive(Clone, Debug)]
pub enum Op {
    /// A check's health flips (on its own, no reload).
    Flip {
        node: usize,
        check: usize,
        ok: bool,
    },
    /// A reload adds a check with this weight, passing or failing from its first probe.
    Add {
        node: usize,
        weight: i16,
        ok: bool,
    },
    /// A reload fixes (or breaks) the command of a tracked check.
    Rewrite {
        node: usize,
        check: usize,
        ok: bool,
    },
    /// A reload removes a tracker.
    Remove {
        node: usize,
        check: usize,
    },
    /// A reload changes a tracker's weight.
    Reweigh {
        node: usize,
        check: usize,
        weight: i16,
    },
    /// A reload changes the base priority.
    Rebase {
        node: usize,
        priority: u8,
    },
    /// The process dies, or comes back with the file as it is now.
    Crash(usize),
    Restart(usize),
    /// The network splits or heals.
    Partition(u32),
    Heal,
}

fn weight() -> impl Strategy<Value = i16> {
    prop_oneof![Just(0i16), Just(-60), Just(60), -120i16..=120]
}

pub fn op() -> impl Strategy<Value = Op> {
    let n = 0usize..4;
    let c = 0usize..4;
    prop_oneof![
        (n.clone(), c.clone(), any::<bool>()).prop_map(|(node, check, ok)| Op::Flip {
            node,
            check,
            ok
        }),
        (n.clone(), weight(), any::<bool>()).prop_map(|(node, weight, ok)| Op::Add {
            node,
            weight,
            ok
        }),
        (n.clone(), c.clone(), any::<bool>()).prop_map(|(node, check, ok)| Op::Rewrite {
            node,
            check,
            ok
        }),
        (n.clone(), c.clone()).prop_map(|(node, check)| Op::Remove { node, check }),
        (n.clone(), c, weight()).prop_map(|(node, check, weight)| Op::Reweigh {
            node,
            check,
            weight
        }),
        (n.clone(), 1u8..=254).prop_map(|(node, priority)| Op::Rebase { node, priority }),
        n.clone().prop_map(Op::Crash),
        n.prop_map(Op::Restart),
        any::<u32>().prop_map(Op::Partition),
        Just(Op::Heal),
    ]
}

fn health(ok: bool) -> Health {
    if ok { Health::Ok } else { Health::Failed }
}

/// The source of tracker `check` of `config` (modulo its count), if it has any.
fn tracker(config: &RouterConfig, check: usize) -> Option<usize> {
    (!config.trackers.is_empty()).then(|| check % config.trackers.len())
}

/// Applies `op` to the simulation; `added` numbers the checks reloads add.
pub fn apply(sim: &mut Sim, op: &Op, added: &mut usize) {
    let n = sim.spec().nodes.len();
    match *op {
        Op::Flip { node, check, ok } => {
            let i = node % n;
            if let Some(k) = tracker(sim.config(i), check) {
                let source = sim.config(i).trackers[k].source.clone();
                sim.set_health(i, &source, health(ok));
            }
        }
        Op::Add { node, weight, ok } => {
            let i = node % n;
            *added += 1;
            let source = format!("check new{added}");
            let mut config = sim.config(i).clone();
            let mut trackers = config.trackers.into_vec();
            trackers.push(TrackerConfig {
                source: source.clone(),
                weight,
                file: false,
            });
            config.trackers = trackers.into();
            sim.set_truth(i, &source, health(ok));
            sim.reload(i, config);
        }
        Op::Rewrite { node, check, ok } => {
            let i = node % n;
            if let Some(k) = tracker(sim.config(i), check) {
                let source = sim.config(i).trackers[k].source.clone();
                sim.set_truth(i, &source, health(ok));
                let config = sim.config(i).clone();
                sim.reload(i, config);
            }
        }
        Op::Remove { node, check } => {
            let i = node % n;
            let mut config = sim.config(i).clone();
            if let Some(k) = tracker(&config, check) {
                let mut trackers = config.trackers.into_vec();
                trackers.remove(k);
                config.trackers = trackers.into();
                sim.reload(i, config);
            }
        }
        Op::Reweigh {
            node,
            check,
            weight,
        } => {
            let i = node % n;
            let mut config = sim.config(i).clone();
            if let Some(k) = tracker(&config, check) {
                config.trackers[k].weight = weight;
                sim.reload(i, config);
            }
        }
        Op::Rebase { node, priority } => {
            let i = node % n;
            let mut config = sim.config(i).clone();
            // Address ownership is a restart, not a reload; keep within 1..=254.
            config.priority = priority;
            sim.reload(i, config);
        }
        Op::Crash(i) => sim.crash(i % n),
        Op::Restart(i) => sim.restart(i % n),
        Op::Partition(mask) => {
            let side: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
            sim.partition(&side);
        }
        Op::Heal => sim.heal(),
    }
}

/// Starts `sim` with copies delayed up to `max_delay`, and runs `ops`, a quarter interval or
/// more apart, checking the invariants after each.
pub fn run_ops(mut sim: Sim, max_delay: Duration, ops: &[(u32, Op)]) -> Result<Sim, String> {
    let interval = sim.spec().interval.as_duration();
    sim.conditions = Conditions {
        max_delay,
        ..Conditions::default()
    };
    sim.start_all();
    let mut added = 0;
    for (quarters, op) in ops {
        sim.run_for(interval * *quarters / 4);
        apply(&mut sim, op, &mut added);
        no_violations(&sim)?;
    }
    Ok(sim)
}

/// Runs `ops`, a quarter interval or more apart, then lets every check report and the network
/// heal; checks the convergence property (see the module docs).
pub fn operations_converge(
    spec: ClusterSpec,
    max_delay: Duration,
    seed: u64,
    ops: &[(u32, Op)],
    differences_only: bool,
) -> Result<(), String> {
    let n = spec.nodes.len();
    let interval = spec.interval.as_duration();
    let mut sim = Sim::new(spec, seed);
    sim.report_differences_only = differences_only;
    let mut sim = run_ops(sim, max_delay, ops)?;
    // Every check reports within a check interval of the last change.
    sim.run_for(sim.check_interval() + Duration::from_micros(1));
    for i in 0..n {
        let (derived, expected) = (sim.derived(i), sim.expected(i));
        let running = sim.alive(i) && sim.router(i).state() != State::Initialize;
        ensure(!running || derived == expected, &sim, || {
            format!(
                "node {i}: derived (priority, tracker faults) {derived:?}, but its file and \
                 checks imply {expected:?}"
            )
        })?;
    }
    // Healed: a node nothing holds in FAULT is never unable to become Master.
    sim.heal();
    for i in 0..n {
        sim.restart(i);
    }
    sim.run_for(sim.check_interval() + Duration::from_micros(1));
    let low = (0..n).map(|i| sim.router(i).priority()).min().unwrap();
    sim.run_for(sim.master_down(low) + interval * 3 + max_delay * 2);
    let healthy = (0..n).filter(|&i| !sim.router(i).faulted()).count();
    let masters = sim.masters();
    ensure(masters.len() == usize::from(healthy > 0), &sim, || {
        format!("{healthy} nodes without a fault, Masters {masters:?}")
    })
}

/// An arbiter on every router, and chaos: never two holders, never a holder whose lease does
/// not own the key (the simulator checks both after every input); after the heal, a Master.
/// `grants_all`: the store creates the key whether or not it exists (a broken store).
pub fn arbiter_holds(
    spec: ClusterSpec,
    max_delay: Duration,
    seed: u64,
    ops: &[(u32, Op)],
    grants_all: bool,
) -> Result<(), String> {
    let n = spec.nodes.len();
    let interval = spec.interval.as_duration();
    let spec = ClusterSpec {
        arbiter: Some(StoreLoss::Release),
        fence: false,
        opposite: None,
        ..spec
    };
    let mut sim = Sim::new(spec, seed);
    if let Some(store) = sim.store_mut_for_test() {
        store.grants_without_checking = grants_all;
    }
    let mut sim = run_ops(sim, max_delay, ops)?;
    sim.heal();
    for i in 0..n {
        sim.restart(i);
        let config = RouterConfig {
            trackers: default_trackers().into(),
            ..sim.config(i).clone()
        };
        for t in &config.trackers {
            sim.set_truth(i, &t.source, Health::Ok);
        }
        sim.reload(i, config);
    }
    sim.run_for(sim.check_interval() + Duration::from_micros(1));
    let low = (0..n).map(|i| sim.router(i).priority()).min().unwrap();
    // A refused takeover tries again a Master_Down_Interval later; a dead run's lease
    // expires within the TTL.
    let ttl = sim.keeper_config(0).ttl;
    sim.run_for(sim.master_down(low) * 3 + interval * 3 + max_delay * 2 + ttl);
    let masters = sim.masters();
    ensure(masters.len() == 1, &sim, || {
        format!("after the heal, Masters {masters:?}")
    })
}

/// Two routers at 200 and 100, VRRPv3 at 100 ms, one channel.
fn pair(arbiter: Option<StoreLoss>) -> ClusterSpec {
    ClusterSpec {
        arbiter,
        ..ClusterSpec::v3_pair(200, 100)
    }
}

/// The pair split for ten intervals from the start, then healed.
fn pair_split() -> Vec<(u32, Op)> {
    vec![(0, Op::Partition(1)), (40, Op::Heal)]
}

#[test]
fn simulator_catches_an_arbiter_that_grants_every_request() {
    let spec = pair(Some(StoreLoss::Release));
    let ok = arbiter_holds(spec.clone(), Duration::ZERO, 1, &pair_split(), false);
    assert!(ok.is_ok(), "{ok:?}");
    let broken = arbiter_holds(spec, Duration::ZERO, 1, &pair_split(), true);
    let err = broken.expect_err("a partition with a gate that grants everything");
    assert!(err.contains("two VIP holders under an arbiter"), "{err}");
}

#[test]
fn simulator_catches_reports_that_only_send_differences_after_a_reload() {
    let spec = pair(None);
    // The unweighted check of node 0 fails; the operator fixes its command and reloads.
    let ops = vec![
        (
            4,
            Op::Flip {
                node: 0,
                check: 0,
                ok: false,
            },
        ),
        (
            20,
            Op::Rewrite {
                node: 0,
                check: 0,
                ok: true,
            },
        ),
    ];
    let ok = operations_converge(spec.clone(), Duration::ZERO, 1, &ops, false);
    assert!(ok.is_ok(), "{ok:?}");
    let err = operations_converge(spec, Duration::ZERO, 1, &ops, true)
        .expect_err("a fixed check whose recovery is never reported");
    assert!(err.contains("derived"), "{err}");
    assert!(err.contains("check sim"), "{err}");
}
