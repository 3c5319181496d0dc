//! The chaos property's schedule: partitions, loss, duplication, crashes, restarts, stops
//! and health changes at random moments, then everything healed.

use super::*;

#[derive(Clone, Debug)]
pub enum Chaos {
    Partition(u32),
    Heal,
    Loss(u32),
    Dup(u32),
    Crash(usize),
    Restart(usize),
    Stop(usize),
    Start(usize),
    Fault(usize, bool),
    Weighted(usize, bool),
    Drain(usize, bool),
}

fn health(ok: bool) -> Health {
    if ok { Health::Ok } else { Health::Failed }
}

pub fn chaos_event() -> impl Strategy<Value = Chaos> {
    prop_oneof![
        any::<u32>().prop_map(Chaos::Partition),
        Just(Chaos::Heal),
        (0u32..=600).prop_map(Chaos::Loss),
        (0u32..=300).prop_map(Chaos::Dup),
        (0usize..5).prop_map(Chaos::Crash),
        (0usize..5).prop_map(Chaos::Restart),
        (0usize..5).prop_map(Chaos::Stop),
        (0usize..5).prop_map(Chaos::Start),
        (0usize..5, any::<bool>()).prop_map(|(i, a)| Chaos::Fault(i, a)),
        (0usize..5, any::<bool>()).prop_map(|(i, ok)| Chaos::Weighted(i, ok)),
        (0usize..5, any::<bool>()).prop_map(|(i, d)| Chaos::Drain(i, d)),
    ]
}

/// Applies `event` to `sim`.
pub fn inflict(sim: &mut Sim, event: &Chaos) {
    let n = sim.spec().nodes.len();
    match *event {
        Chaos::Partition(mask) => {
            let side: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
            sim.partition(&side);
        }
        Chaos::Heal => sim.heal(),
        Chaos::Loss(l) => sim.conditions.loss = l,
        Chaos::Dup(d) => sim.conditions.dup = d,
        Chaos::Crash(i) => sim.crash(i % n),
        Chaos::Restart(i) => sim.restart(i % n),
        Chaos::Stop(i) => sim.input(i % n, Input::Stop),
        // Start on a running router is an input like any other: it must be harmless.
        Chaos::Start(i) => sim.input(i % n, Input::Start),
        Chaos::Fault(i, active) => sim.set_health(i % n, "check sim", health(!active)),
        Chaos::Weighted(i, ok) => sim.set_health(i % n, "check w", health(ok)),
        Chaos::Drain(i, on) => sim.input(i % n, Input::Drain(on)),
    }
}

/// Random faults for a while, then everything healed: the VIP-iff-Master invariant holds at
/// every instant, and the cluster converges to one Master with the highest priority.
pub fn chaos_converges(
    spec: ClusterSpec,
    max_delay: Duration,
    seed: u64,
    events: Vec<(u32, Chaos)>,
) -> Result<(), String> {
    chaos_converges_in(Sim::new(spec, seed), max_delay, &events).map(drop)
}

/// [`chaos_converges`] on a cluster already built, which it returns.
pub fn chaos_converges_in(
    mut sim: Sim,
    max_delay: Duration,
    events: &[(u32, Chaos)],
) -> Result<Sim, String> {
    let spec = sim.spec().clone();
    let n = spec.nodes.len();
    let interval = spec.interval.as_duration();
    sim.conditions = Conditions {
        max_delay,
        ..Conditions::default()
    };
    sim.start_all();
    for (quarters, event) in events {
        sim.run_for(interval * *quarters / 4);
        inflict(&mut sim, event);
        no_violations(&sim)?;
    }
    // Heal everything.
    sim.heal();
    sim.conditions.loss = 0;
    sim.conditions.dup = 0;
    for i in 0..n {
        sim.restart(i);
        if sim.router(i).state() == State::Initialize {
            sim.input(i, Input::Start);
        }
        sim.set_health(i, "check sim", Health::Ok);
        sim.input(i, Input::Drain(false));
    }
    // The checks report the recovery within a check interval.
    sim.run_for(sim.check_interval() + Duration::from_micros(1));
    // A crashed node comes back at its base priority, so the routers say what is effective.
    let prio: Vec<u8> = (0..n).map(|i| sim.router(i).priority()).collect();
    let low = *prio.iter().min().unwrap();
    sim.run_for(sim.master_down(low) + interval * 2 + max_delay * 2 + Duration::from_millis(1));
    let masters = sim.masters();
    ensure(masters.len() == 1, &sim, || {
        format!("masters after full heal: {masters:?}")
    })?;
    let high = *prio.iter().max().unwrap();
    let all_preempt = spec.nodes.iter().all(|s| s.preempt);
    let master_prio = sim.router(masters[0]).priority();
    ensure(!all_preempt || master_prio == high, &sim, || {
        format!(
            "Master {} has priority {master_prio}, highest is {high}",
            masters[0]
        )
    })?;
    ensure(sim.holders() == masters, &sim, || {
        format!("VIPs on {:?}", sim.holders())
    })?;
    Ok(sim)
}
