//! Fixed schedules for the arbiter: the ones that found keeper defects (kept as regression
//! tests), mutations that the properties must catch, and the documented limits (what `keep`
//! costs, what a frozen node does).

use super::arbiter::*;
use super::*;
use sim::arbiter::{ArbiterSpec, late_views};
use vipd::arbiter::StoreLoss;

/// A pair (200, 100) at 100 ms adverts, TTL 1 s, margin 150 ms.
fn pair(policy: StoreLoss) -> (ClusterSpec, ArbiterSpec) {
    let spec = ClusterSpec {
        arbiter: Some(policy),
        ..ClusterSpec::v3_pair(200, 100)
    };
    (spec, ArbiterSpec::default())
}

/// The Master (node 0) is cut from its peer and from the store at 2 s, 1 s into a run.
fn master_cut_from_both() -> Vec<(u64, Fault)> {
    vec![
        (2000, Fault::Split(1)),
        (0, Fault::CutStore(0)),
        (4000, Fault::Heal),
    ]
}

#[test]
fn simulator_catches_a_keeper_that_claims_its_lease_too_long() {
    let (spec, a) = pair(StoreLoss::Release);
    let ok = Sim::with_arbiter(spec.clone(), a, 1);
    run_faults(ok, Duration::ZERO, &master_cut_from_both()).expect("the real keeper");
    let broken = Sim::with_arbiter(spec, a, 1).with_keeper_mutator(late_views);
    let err = run_faults(broken, Duration::ZERO, &master_cut_from_both())
        .map(drop)
        .expect_err("a lease claimed 300 ms past its proof");
    assert!(
        err.contains("does not own the key") || err.contains("two VIP holders"),
        "{err}"
    );
}

#[test]
fn simulator_catches_a_router_that_ignores_the_lease() {
    fn no_lease(_: usize, input: &Input) -> bool {
        !matches!(input, Input::Lease(_))
    }
    let (spec, a) = pair(StoreLoss::Release);
    let sim = run_faults(Sim::with_arbiter(spec.clone(), a, 1), Duration::ZERO, &[]).unwrap();
    heals(sim, &a, false).expect("the real router");
    let broken = Sim::with_arbiter(spec, a, 1).with_filter(no_lease);
    let sim = run_faults(broken, Duration::ZERO, &[]).unwrap();
    let err = heals(sim, &a, false).expect_err("a router that never proves a lease");
    assert!(err.contains("nobody holds"), "{err}");
}

#[test]
fn keep_costs_a_second_holder_when_the_master_is_cut_from_both() {
    let (spec, a) = pair(StoreLoss::Keep);
    // The pair hears each other: a store outage costs nothing.
    let calm = [
        (2000, Fault::CutStore(0)),
        (3000, Fault::Quorum(false)),
        (3000, Fault::HealStore),
        (1000, Fault::Quorum(true)),
        (3000, Fault::Heal),
    ];
    run_faults(Sim::with_arbiter(spec.clone(), a, 1), Duration::ZERO, &calm).unwrap();
    // Cut from both: the peer gets the key once the lease expires, the Master keeps its VIP.
    let cut = Sim::with_arbiter(spec, a, 1);
    let err = run_faults(cut, Duration::ZERO, &master_cut_from_both())
        .map(drop)
        .expect_err("keep: a Master cut from both keeps its VIP");
    assert!(err.contains("two VIP holders"), "{err}");
}

/// The schedule that showed a keeper leaving a router unanswered until its gate patience ran
/// out: the Master leaves at its deadline while the store has no leader, asks again, and the
/// renewal that succeeds once quorum is back did not answer it (now it does).
#[test]
fn a_master_that_left_while_the_store_had_no_leader_is_granted_by_the_next_renewal() {
    let node = |priority| NodeSpec {
        priority,
        preempt: false,
    };
    let spec = ClusterSpec {
        version: Version::V3,
        interval: Centis::new(5),
        nodes: vec![node(1), node(1)],
        channels: 1,
        arbiter: Some(StoreLoss::Release),
        fence: false,
        opposite: None,
    };
    let a = ArbiterSpec {
        ttl: Duration::from_millis(1031),
        margin: Duration::from_millis(127),
        request_timeout: Duration::from_millis(360),
        ..ArbiterSpec::default()
    };
    let faults = [
        (52, Fault::Crash(0)),
        (1348, Fault::Quorum(false)),
        (937, Fault::CutStore(0)),
        (1249, Fault::CutStore(0)),
        (740, Fault::Restart(0)),
    ];
    let sim = Sim::with_arbiter(spec, a, 5637924270644867620);
    let sim = run_faults(sim, Duration::ZERO, &faults).unwrap();
    // Before the fix: 2.04 s, the gate patience.
    let took = heals(sim, &a, false).unwrap();
    assert!(took < Duration::from_millis(600), "{took:?}");
}

/// The schedule that showed a keeper under `keep` stuck for ever: the Master gets its key
/// back after its lease expired while cut from the store; the store creates the key but the
/// reply is lost to a second cut longer than the TTL. The new lease was never renewed (the
/// renewal fell due while the acquire was in flight), so every later acquire named a lease
/// the store no longer had, and the Master held its VIP without the key for ever.
#[test]
fn under_keep_a_master_cut_again_while_getting_its_key_back_gets_it_once_healed() {
    let (spec, a) = pair(StoreLoss::Keep);
    let faults = [
        (2000, Fault::CutStore(0)),
        (1500, Fault::HealStore),
        (466, Fault::CutStore(0)),
        (3000, Fault::HealStore),
    ];
    let sim = Sim::with_arbiter(spec, a, 466);
    let sim = run_faults(sim, Duration::ZERO, &faults).unwrap();
    heals(sim, &a, false).unwrap();
}

/// A frozen Master keeps its VIP while stopped (a stopped process removes nothing: the
/// documented limit), the peer takes over once the lease expired in the store, and the
/// resumed node's overdue lease deadline takes the VIP off before it does anything else.
#[test]
fn a_frozen_master_keeps_its_vip_while_stopped_and_drops_it_first_thing_when_resumed() {
    let (spec, a) = pair(StoreLoss::Release);
    let sim = Sim::with_arbiter(spec, a, 1);
    let mut sim = run_faults(sim, Duration::ZERO, &[(2000, Fault::Freeze(0, 3000))]).unwrap();
    assert!(sim.holders().is_empty(), "a frozen holder is not counted");
    sim.run_for(Duration::from_millis(2500));
    assert!(
        sim.frozen(0) && sim.holds_vips(0),
        "frozen, with the VIP still on"
    );
    assert_eq!(sim.holders(), vec![1], "the peer took over after the TTL");
    sim.run_for(Duration::from_millis(600));
    assert!(!sim.frozen(0) && !sim.holds_vips(0));
    assert_eq!(sim.holders(), vec![1]);
    no_violations(&sim).unwrap();
}

/// A keeper allowing no margin and no clock-rate difference, against a store whose clock
/// runs 1 % fast: the store expires the lease up to 20 ms (of a 2 s TTL) before the Master's
/// deadline, and the simulator sees a holder whose lease is gone. The same keeper with its
/// margin and skew never does.
#[test]
fn simulator_catches_a_keeper_with_no_margin_or_skew_on_a_fast_store_clock() {
    let (mut spec, a) = pair(StoreLoss::Release);
    spec.interval = Centis::new(1);
    let fast = ArbiterSpec {
        ttl: Duration::from_secs(2),
        rate_ppm: 10_000,
        ..a
    };
    let bare = ArbiterSpec {
        margin: Duration::ZERO,
        skew_ppm: 0,
        ..fast
    };
    let caught = |a: ArbiterSpec| {
        (0..20)
            .filter(|&seed| {
                let sim = Sim::with_arbiter(spec.clone(), a, seed);
                run_faults(sim, Duration::ZERO, &master_cut_from_both()).is_err()
            })
            .count()
    };
    assert_eq!(caught(fast), 0);
    assert!(
        caught(bare) > 0,
        "no schedule caught a keeper without margin or skew"
    );
}
