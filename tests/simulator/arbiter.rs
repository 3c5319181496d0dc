//! The arbiter's properties, with every node's real keeper and a model of etcd (see
//! `sim/arbiter.rs` and `sim/store.rs`): whatever is cut (pair channels, a node from the
//! store, the store's quorum), whatever the store's clock rate within the keeper's skew,
//! crashes, restarts, freezes (SIGSTOP) and lost adverts:
//! - `release`: never two VIP holders among running nodes, and a holder's own lease owns the
//!   key in the store (the simulator checks both after every input). A frozen node is left
//!   out while frozen: a stopped process cannot remove its addresses (the documented limit);
//!   once resumed and past its overdue timers it is checked again, so it must have left;
//! - `keep`: never two holders while the pair hears each other; what it costs is shown by
//!   [`keep_costs_a_second_holder_when_the_master_is_cut_from_both`];
//! - liveness: once every fault healed (or the Master crashed) someone holds the VIP within
//!   TTL + Master_Down_Interval plus the request timeout and retry pause a request sent just
//!   before the heal may still cost;
//! - a Master stopped gracefully hands over within Skew_Time and a few round trips.
//!
//! The properties run in `simulator.rs`; fixed schedules (found defects, mutations, the
//! documented limits) are in `arbiter_cases.rs`.

use super::*;
use sim::arbiter::ArbiterSpec;
use vipd::arbiter::StoreLoss;

/// A fault (or its repair) applied to the cluster.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Cuts every pair channel between the nodes in the mask and the others.
    Split(u32),
    /// Cuts one channel (modulo the cluster's) between the nodes in the mask and the others.
    CutChannel(usize, u32),
    /// Heals every pair channel.
    Heal,
    /// Cuts a node from the store.
    CutStore(usize),
    /// Reconnects every node to the store.
    HealStore,
    /// The store loses (false) or regains (true) its leader.
    Quorum(bool),
    Crash(usize),
    Restart(usize),
    /// SIGSTOP for this many milliseconds.
    Freeze(usize, u64),
    /// Advert loss, per mille.
    Loss(u32),
}

/// Any fault; `pair_cuts`: also those that stop the pair hearing each other.
pub fn fault(pair_cuts: bool) -> BoxedStrategy<Fault> {
    let n = 0usize..3;
    let store = prop_oneof![
        n.clone().prop_map(Fault::CutStore),
        Just(Fault::HealStore),
        any::<bool>().prop_map(Fault::Quorum),
        n.clone().prop_map(Fault::Crash),
        n.clone().prop_map(Fault::Restart),
    ];
    if !pair_cuts {
        return store.boxed();
    }
    prop_oneof![
        3 => store,
        1 => any::<u32>().prop_map(Fault::Split),
        1 => (0usize..2, any::<u32>()).prop_map(|(c, mask)| Fault::CutChannel(c, mask)),
        1 => Just(Fault::Heal),
        1 => (n, 1u64..3000).prop_map(|(i, ms)| Fault::Freeze(i, ms)),
        1 => (0u32..300).prop_map(Fault::Loss),
    ]
    .boxed()
}

/// The time before a fault: mostly up to 1.5 s, sometimes a few milliseconds, so a fault
/// can land between a request and its reply.
pub fn gap() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 0u64..1500, 1 => 0u64..30]
}

/// A cluster of 2 or 3 VRRPv3 routers on one or two heartbeat channels, an advert delay
/// bound, and the arbiter's settings:
/// TTL 1-2 s, margin 100-200 ms, the store's clock within ±1 % (the keeper's 10 000 ppm),
/// request timeout 0.2-1 s.
pub fn lab(policy: StoreLoss) -> impl Strategy<Value = (ClusterSpec, Duration, ArbiterSpec)> {
    (
        prop::collection::vec((1u8..=254, any::<bool>()), 2..=3),
        (0usize..3, 1usize..=2),
        0u32..=250,
        (
            1000u64..=2000,
            100u64..=200,
            -10_000i32..=10_000,
            200u64..=1000,
        ),
    )
        .prop_map(
            move |(nodes, (iv, channels), delay, (ttl, margin, rate, timeout))| {
                let interval = [Centis::new(5), Centis::new(10), Centis::new(100)][iv];
                let spec = ClusterSpec {
                    version: Version::V3,
                    interval,
                    nodes: (nodes.into_iter())
                        .map(|(priority, preempt)| NodeSpec { priority, preempt })
                        .collect(),
                    channels,
                    arbiter: Some(policy),
                    fence: false,
                    opposite: None,
                };
                let arbiter = ArbiterSpec {
                    ttl: Duration::from_millis(ttl),
                    margin: Duration::from_millis(margin),
                    rate_ppm: rate,
                    request_timeout: Duration::from_millis(timeout),
                    ..ArbiterSpec::default()
                };
                (spec, interval.as_duration() * delay / 1000, arbiter)
            },
        )
}

/// Applies `fault` to `sim`.
pub fn inflict(sim: &mut Sim, fault: &Fault) {
    let n = sim.spec().nodes.len();
    let side = |mask: u32| -> Vec<usize> { (0..n).filter(|i| mask & (1 << i) != 0).collect() };
    match *fault {
        Fault::Split(mask) => sim.partition(&side(mask)),
        Fault::CutChannel(c, mask) => {
            let c = c % sim.spec().channels;
            sim.cut_channel(c, &side(mask));
        }
        Fault::Heal => sim.heal(),
        Fault::CutStore(i) => sim.cut_store(i % n),
        Fault::HealStore => sim.heal_store(),
        Fault::Quorum(up) => sim.set_quorum(up),
        Fault::Crash(i) => sim.crash(i % n),
        Fault::Restart(i) => sim.restart(i % n),
        Fault::Freeze(i, ms) => sim.freeze(i % n, Duration::from_millis(ms)),
        Fault::Loss(loss) => sim.conditions.loss = loss,
    }
}

/// Starts `sim` with adverts delayed up to `delay` and runs `faults`, each `ms` after the one
/// before, checking the invariants after each.
pub fn run_faults(mut sim: Sim, delay: Duration, faults: &[(u64, Fault)]) -> Result<Sim, String> {
    sim.conditions.max_delay = delay;
    sim.start_all();
    for (ms, f) in faults {
        sim.run_for(Duration::from_millis(*ms));
        inflict(&mut sim, f);
        no_violations(&sim)?;
    }
    Ok(sim)
}

/// How long after the heal someone must hold: the TTL on the slowest store clock, the
/// lowest priority's Master_Down_Interval, a request sent just before the heal that still
/// times out, the keeper's retry pause, and 100 ms of round trips.
pub fn liveness_bound(sim: &Sim, a: &ArbiterSpec) -> Duration {
    let low = (sim.spec().nodes.iter()).map(|n| n.priority).min().unwrap();
    let k = sim.keeper_config(0);
    a.ttl.mul_f64(1.0 / 0.99)
        + sim.master_down(low)
        + a.request_timeout
        + k.retry_after()
        + Duration::from_millis(100)
}

/// Heals every fault (waiting for frozen nodes to resume), restarts crashed nodes, crashes
/// the holder if `crash_master`, and returns how long it took until someone held the VIP;
/// fails if that exceeds [`liveness_bound`].
pub fn heals(mut sim: Sim, a: &ArbiterSpec, crash_master: bool) -> Result<Duration, String> {
    let n = sim.spec().nodes.len();
    sim.heal();
    sim.heal_store();
    sim.set_quorum(true);
    sim.conditions.loss = 0;
    while (0..n).any(|i| sim.frozen(i)) {
        sim.run_for(Duration::from_millis(10));
    }
    for i in 0..n {
        sim.restart(i);
    }
    if crash_master && let Some(&m) = sim.holders().first() {
        sim.crash(m);
    }
    let healed = sim.now();
    let bound = liveness_bound(&sim, a);
    while sim.holders().is_empty() && sim.now() < healed + bound {
        sim.run_for(Duration::from_millis(5));
        no_violations(&sim)?;
    }
    let took = sim.now() - healed;
    ensure(sim.holders().len() == 1, &sim, || {
        format!("nobody holds the VIP {took:?} after the heal (bound {bound:?})")
    })?;
    // And the store agrees by then (under `keep` a Master may have held on without it).
    sim.run_for(bound);
    let holders = sim.holders();
    ensure(holders.len() == 1 && sim.owns_key(holders[0]), &sim, || {
        format!("{holders:?} hold the VIP {bound:?} after someone did, without the key")
    })?;
    stats("liveness", took, bound);
    Ok(took)
}

/// Settles the cluster, then stops the holder gracefully: returns how long until another
/// holds, and fails past Skew_Time of the next holder plus 150 ms (a few store round trips
/// and shell hops, and an advert's delay).
pub fn hands_over(
    spec: ClusterSpec,
    delay: Duration,
    a: ArbiterSpec,
    seed: u64,
    after_ms: u64,
) -> Result<Duration, String> {
    // One fixed delay: a sender's adverts do not overtake each other on a LAN, and a late
    // advert from the stopped Master would reset the down timer to a whole interval.
    let mut sim = Sim::with_arbiter(spec, a, seed);
    sim.conditions.min_delay = delay;
    let mut sim = run_faults(sim, delay, &[])?;
    let low = min_priority(sim.spec());
    sim.run_for(sim.master_down(low) * 2 + Duration::from_millis(after_ms));
    let holders = sim.holders();
    ensure(holders.len() == 1, &sim, || {
        format!("no single holder before the stop: {holders:?}")
    })?;
    let old = holders[0];
    sim.input(old, Input::Stop);
    let stopped = sim.now();
    let next = (0..sim.spec().nodes.len())
        .filter(|&i| i != old)
        .max_by_key(|&i| (sim.spec().nodes[i].priority, std::cmp::Reverse(i)))
        .unwrap();
    let bound = sim.skew(sim.spec().nodes[next].priority) + delay + Duration::from_millis(150);
    while sim.holders().is_empty() && sim.now() < stopped + bound {
        sim.run_for(Duration::from_millis(1));
    }
    let took = sim.now() - stopped;
    let holders = sim.holders();
    ensure(holders.len() == 1, &sim, || {
        format!("{holders:?} hold the VIP {took:?} after the Master stopped (bound {bound:?})")
    })?;
    stats("handover", took, bound);
    Ok(took)
}

/// With `SIM_STATS` set, prints a measured time and its bound (for the figures in reports).
fn stats(what: &str, took: Duration, bound: Duration) {
    if std::env::var_os("SIM_STATS").is_some() {
        eprintln!("STATS {what} {} {}", took.as_micros(), bound.as_micros());
    }
}
