//! Property tests of the protocol core on a simulated network: thousands of random clusters
//! and fault schedules, each checked against the invariants of RFC 9568 and vipd's rules.
//!
//! `SIM_CASES` scales the number of schedules per property (default 5000; the arbiter's
//! costlier properties run a half or a quarter of it, as their blocks say).

#[path = "simulator/arbiter.rs"]
mod arbiter;
#[path = "simulator/arbiter_cases.rs"]
mod arbiter_cases;
#[path = "simulator/channels.rs"]
mod channels;
#[path = "simulator/chaos.rs"]
mod chaos;
#[path = "simulator/fencing.rs"]
mod fencing;
#[path = "simulator/forged.rs"]
mod forged;
#[path = "simulator/groups.rs"]
mod groups;
#[path = "simulator/late_reads.rs"]
mod late_reads;
#[path = "simulator/operations.rs"]
mod operations;
mod sim;
#[path = "simulator/stalls.rs"]
mod stalls;
#[path = "simulator/takeover.rs"]
mod takeover;

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use sim::{ClusterSpec, Conditions, NodeSpec, Sim};
use vipd::arbiter::StoreLoss;
use vipd::vrrp::health::Health;
use vipd::vrrp::router::{Action, Input};
use vipd::vrrp::timing::Centis;
use vipd::vrrp::{State, Version};

fn cases() -> u32 {
    std::env::var("SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

/// A cluster of 2..=5 routers of one version, and a per-copy delay bound below a quarter
/// of the advert interval (a LAN, not a WAN).
fn cluster(preempt_always: bool) -> impl Strategy<Value = (ClusterSpec, Duration)> {
    let version = prop_oneof![Just(Version::V2), Just(Version::V3)];
    (
        version,
        0usize..3,
        prop::collection::vec((1u8..=254, any::<bool>()), 2..=5),
        0u32..=250,
    )
        .prop_map(move |(version, iv, nodes, delay_per_mille)| {
            let interval = match version {
                Version::V2 => Centis::from_secs(1),
                Version::V3 => [Centis::new(5), Centis::new(10), Centis::new(100)][iv],
            };
            let nodes = nodes
                .into_iter()
                .map(|(priority, p)| NodeSpec {
                    priority,
                    preempt: preempt_always || p,
                })
                .collect();
            let max_delay = interval.as_duration() * delay_per_mille / 1000;
            (
                ClusterSpec {
                    arbiter: None,
                    fence: false,
                    opposite: None,
                    channels: 1,
                    version,
                    interval,
                    nodes,
                },
                max_delay,
            )
        })
}

fn max_priority(spec: &ClusterSpec) -> u8 {
    spec.nodes.iter().map(|n| n.priority).max().unwrap()
}

fn min_priority(spec: &ClusterSpec) -> u8 {
    spec.nodes.iter().map(|n| n.priority).min().unwrap()
}

/// Fails on any invariant violation recorded so far (the simulator checks after every input).
fn no_violations(sim: &Sim) -> Result<(), String> {
    if sim.violations.is_empty() {
        Ok(())
    } else {
        Err(format!("invariant violated: {}", sim.violations.join("; ")))
    }
}

/// Fails on a recorded violation, or when `cond` does not hold.
fn ensure(cond: bool, sim: &Sim, what: impl FnOnce() -> String) -> Result<(), String> {
    no_violations(sim)?;
    if cond {
        Ok(())
    } else {
        Err(format!("at {:?}: {}", sim.now(), what()))
    }
}

/// With no faults, exactly one Master (the highest priority) within Master_Down_Interval of
/// start (plus two network delays for the adverts to cross), and it stays.
fn settles(spec: ClusterSpec, max_delay: Duration, seed: u64) -> Result<Sim, String> {
    let mut sim = Sim::new(spec, seed);
    sim.conditions = Conditions {
        max_delay,
        ..Conditions::default()
    };
    let high = max_priority(sim.spec());
    let low = min_priority(sim.spec());
    sim.start_all();
    sim.run_until(sim.master_down(high) - Duration::from_micros(1));
    ensure(sim.masters().is_empty(), &sim, || {
        "a Master before any down timer could fire".into()
    })?;
    sim.run_until(sim.master_down(low) + max_delay * 2 + Duration::from_millis(1));
    let masters = sim.masters();
    ensure(masters.len() == 1, &sim, || {
        format!("masters after start: {masters:?}")
    })?;
    let first = masters[0];
    ensure(sim.router(first).priority() == high, &sim, || {
        format!(
            "Master {first} has priority {}, highest is {high}",
            sim.router(first).priority()
        )
    })?;
    sim.run_for(sim.spec().interval.as_duration() * 10);
    ensure(sim.masters() == vec![first], &sim, || {
        format!("flapped: {:?}", sim.masters())
    })?;
    ensure(sim.holders() == vec![first], &sim, || {
        format!("VIPs on {:?}", sim.holders())
    })?;
    Ok(sim)
}

/// Split the cluster, let each side elect a Master, heal at an arbitrary phase: one Master,
/// the better of the two, within one advert interval (plus one network delay).
fn partition_heals(
    spec: ClusterSpec,
    max_delay: Duration,
    seed: u64,
    side_mask: u32,
    loss: u32,
    heal_phase: u32,
    mutator: Option<sim::Mutator>,
) -> Result<(), String> {
    let mut sim = match mutator {
        Some(m) => Sim::new(spec.clone(), seed).with_mutator(m),
        None => Sim::new(spec.clone(), seed),
    };
    sim.conditions = Conditions {
        max_delay,
        ..Conditions::default()
    };
    sim.start_all();
    let low = min_priority(&spec);
    let interval = spec.interval.as_duration();
    sim.run_for(sim.master_down(low) + interval * 2);
    let n = spec.nodes.len();
    let side: Vec<usize> = (0..n).filter(|i| side_mask & (1 << i) != 0).collect();
    let side = if side.is_empty() || side.len() == n {
        vec![0]
    } else {
        side
    };
    sim.partition(&side);
    sim.conditions.loss = loss;
    sim.run_for(sim.master_down(low) * 2 + interval * 3);
    // Loss may have made extra Masters inside a side; a lossless spell lets each side settle
    // before the heal, so the heal is what is measured.
    sim.conditions.loss = 0;
    sim.run_for(sim.master_down(low) + interval * 2 + max_delay * 2);
    let masters = sim.masters();
    ensure(masters.len() == 2, &sim, || {
        format!("each side should have a Master: {masters:?}")
    })?;
    sim.run_for(interval * heal_phase / 1000);
    let healed_at = sim.now();
    sim.heal();
    sim.run_until(healed_at + interval + max_delay + Duration::from_micros(1));
    let after = sim.masters();
    ensure(after.len() == 1, &sim, || {
        format!("masters one interval after heal: {after:?}")
    })?;
    let winner = masters
        .iter()
        .copied()
        .max_by_key(|&m| (sim.router(m).priority(), m))
        .unwrap();
    ensure(after == vec![winner], &sim, || {
        format!("{after:?} won, expected node {winner}")
    })?;
    ensure(sim.holders() == vec![winner], &sim, || {
        format!("VIPs on {:?}", sim.holders())
    })
}

fn lift(r: Result<(), String>) -> Result<(), TestCaseError> {
    r.map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(Config { cases: cases(), failure_persistence: None, ..Config::default() })]

    #[test]
    fn one_master_after_start((spec, delay) in cluster(true), seed in any::<u64>()) {
        lift(settles(spec, delay, seed).map(|_| ()))?;
    }

    #[test]
    fn partition_heals_within_one_interval(
        (spec, delay) in cluster(true), seed in any::<u64>(), mask in any::<u32>(),
        loss in 0u32..=200, phase in 0u32..1000,
    ) {
        lift(partition_heals(spec, delay, seed, mask, loss, phase, None))?;
    }

    #[test]
    fn chaos_keeps_invariants_and_converges(
        (spec, delay) in cluster(false), seed in any::<u64>(),
        events in prop::collection::vec((0u32..40, chaos::chaos_event()), 0..30),
    ) {
        lift(chaos::chaos_converges(spec, delay, seed, events))?;
    }

    #[test]
    fn forged_adverts_cost_at_most_one_takeover_and_an_answer_per_interval(
        (spec, delay) in forged::ranked_pair(), seed in any::<u64>(),
        schedule in prop::collection::vec(forged::forged(), 0..200),
    ) {
        lift(forged::forgeries_cost_little(spec, delay, seed, &schedule, None))?;
    }

    #[test]
    fn one_channel_up_keeps_one_master(
        (spec, delay) in channels::pair(), seed in any::<u64>(),
        events in prop::collection::vec(channels::channel_event(), 0..30),
    ) {
        lift(channels::channels_hold(spec, delay, seed, &events, None))?;
    }

    #[test]
    fn priority_and_faults_converge_to_the_file_and_health(
        (spec, delay) in cluster(false), seed in any::<u64>(),
        ops in prop::collection::vec((0u32..40, operations::op()), 0..30),
    ) {
        lift(operations::operations_converge(spec, delay, seed, &ops, false))?;
    }

    #[test]
    fn release_never_makes_two_holders_and_heals_within_ttl_and_master_down(
        (spec, delay, a) in arbiter::lab(StoreLoss::Release), seed in any::<u64>(),
        faults in prop::collection::vec((arbiter::gap(), arbiter::fault(true)), 0..20),
        crash_master in any::<bool>(),
    ) {
        let sim = arbiter::run_faults(Sim::with_arbiter(spec, a, seed), delay, &faults);
        lift(sim.and_then(|sim| arbiter::heals(sim, &a, crash_master)).map(drop))?;
    }

    #[test]
    fn a_fenced_takeover_never_leaves_two_vip_holders(
        (spec, delay) in cluster(false), seed in any::<u64>(),
        ops in prop::collection::vec((0u32..40, operations::op()), 0..30),
    ) {
        lift(fencing::fence_holds(spec, delay, seed, &ops, true, None).map(|_| ()))?;
    }

    #[test]
    fn sync_groups_never_take_a_heard_masters_place_and_converge(
        (priorities, interval) in groups::lab(), seed in any::<u64>(),
        ops in prop::collection::vec((0u32..40, groups::group_op()), 0..20),
    ) {
        lift(groups::groups_hold(priorities, interval, seed, &ops))?;
    }

    #[test]
    fn takeover_times_equal_the_rfc_formulas(
        v3 in any::<bool>(), pick in 0usize..3, backup in 1u8..=253, phase in 0u32..1000,
    ) {
        let version = if v3 { Version::V3 } else { Version::V2 };
        let interval = takeover::interval_for(version, pick);
        lift(takeover::crash_takeover(version, interval, backup, phase))?;
        lift(takeover::stop_takeover(version, interval, backup, phase))?;
    }
}

proptest! {
    // A quarter of the cases: every node runs its keeper against the store's model, which
    // costs about four times the router-only properties per case, and the arbiter's own
    // properties above cover the store's faults at full count; this one adds reloads,
    // flipping checks and restarts.
    #![proptest_config(Config { cases: cases() / 4, failure_persistence: None, ..Config::default() })]

    #[test]
    fn every_takeover_passes_the_arbiter(
        (spec, delay) in cluster(false), seed in any::<u64>(),
        ops in prop::collection::vec((0u32..40, operations::op()), 0..30),
    ) {
        lift(operations::arbiter_holds(spec, delay, seed, &ops, false))?;
    }
}

proptest! {
    // Half the cases: `keep` differs from `release` only in what a Master cut from the store
    // does, and a graceful handover has few ways to go; both still see thousands of schedules.
    #![proptest_config(Config { cases: cases() / 2, failure_persistence: None, ..Config::default() })]

    #[test]
    fn keep_never_makes_two_holders_while_the_pair_hears_each_other(
        (spec, delay, a) in arbiter::lab(StoreLoss::Keep), seed in any::<u64>(),
        faults in prop::collection::vec((arbiter::gap(), arbiter::fault(false)), 0..20),
    ) {
        let sim = arbiter::run_faults(Sim::with_arbiter(spec, a, seed), delay, &faults);
        lift(sim.and_then(|sim| arbiter::heals(sim, &a, false)).map(drop))?;
    }

    #[test]
    fn a_stopped_master_hands_over_within_skew_time_and_round_trips(
        (spec, delay, a) in arbiter::lab(StoreLoss::Release), seed in any::<u64>(),
        after_ms in 0u64..2000,
    ) {
        lift(arbiter::hands_over(spec, delay, a, seed, after_ms).map(drop))?;
    }
}

/// The invariants are not vacuous: a router that keeps its VIPs when it stops is caught.
#[test]
fn simulator_catches_vips_kept_after_stop() {
    fn keep_vips(_: usize, actions: &mut Vec<Action>) {
        actions.retain(|a| *a != Action::RemoveVips);
    }
    let spec = ClusterSpec::v3_pair(200, 100);
    let mut sim = Sim::new(spec, 3).with_mutator(keep_vips);
    sim.start_all();
    sim.run_for(Duration::from_secs(1));
    sim.input(0, Input::Stop);
    assert!(
        sim.violations
            .iter()
            .any(|v| v.contains("node 0 in INIT holds the VIPs")),
        "violations: {:?}",
        sim.violations
    );
}

/// ... and a Master that never advertises after a heal (so the loser never hears it) is
/// caught by the partition property.
#[test]
fn simulator_catches_a_silent_master_after_heal() {
    fn mute_node_1(node: usize, actions: &mut Vec<Action>) {
        if node == 1 {
            actions.retain(|a| !matches!(a, Action::SendAdvert { .. }));
        }
    }
    let spec = ClusterSpec::v3_pair(100, 200);
    let err = partition_heals(spec, Duration::ZERO, 4, 0b01, 0, 500, Some(mute_node_1));
    let err = err.expect_err("a mute Master must break the heal property");
    assert!(err.contains("masters"), "{err}");
}
