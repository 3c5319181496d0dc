//! A forger on the LAN: well-formed adverts that no router sent, at random moments between
//! the real ones: resignations "from" the Master to the Backup, and lower-priority adverts
//! from addresses nobody has to the Master. Whatever the schedule, the Backup takes over at
//! most once (a resignation contradicted by the Master's own adverts is doubted after that),
//! the Master sends at most its periodic adverts plus one answer per interval, and the
//! re-assertion event comes at most once per episode.

use std::net::{IpAddr, Ipv4Addr};

use vipd::vrrp::router::{Advert, Suppressed};

use super::*;
use sim::{Mutator, addr};

/// One forged advert, `gap_per_mille` of an advert interval after the previous one.
#[derive(Clone, Copy, Debug)]
pub struct Forged {
    pub gap_per_mille: u32,
    /// A resignation to the Backup (true), or a lower advert to the Master (false).
    pub resign: bool,
    /// The lower advert's source host (10.9.0.x) and priority, as a fraction of the
    /// Master's.
    pub host: u8,
    pub priority_per_mille: u32,
}

pub fn forged() -> impl Strategy<Value = Forged> {
    (0u32..1500, any::<bool>(), 1u8..=254, 0u32..1000).prop_map(
        |(gap_per_mille, resign, host, priority_per_mille)| Forged {
            gap_per_mille,
            resign,
            host,
            priority_per_mille,
        },
    )
}

/// A pair, node 0 above node 1, preempt on; intervals and delays as in [`cluster`].
pub fn ranked_pair() -> impl Strategy<Value = (ClusterSpec, Duration)> {
    (cluster(true), 2u8..=254, 1u8..=253).prop_map(|((spec, delay), high, low)| {
        let low = low.min(high - 1);
        let spec = ClusterSpec {
            nodes: vec![NodeSpec::preempting(high), NodeSpec::preempting(low)],
            ..spec
        };
        (spec, delay)
    })
}

/// Runs the schedule and checks the bounds; see the module docs.
pub fn forgeries_cost_little(
    spec: ClusterSpec,
    max_delay: Duration,
    seed: u64,
    schedule: &[Forged],
    mutator: Option<Mutator>,
) -> Result<(), String> {
    let interval = spec.interval.as_duration();
    let high = spec.nodes[0].priority;
    let mut sim = Sim::new(spec, seed);
    if let Some(m) = mutator {
        sim = sim.with_mutator(m);
    }
    sim.conditions = Conditions {
        max_delay,
        ..Conditions::default()
    };
    sim.start_all();
    sim.run_for(sim.master_down(1) + interval * 4 + max_delay * 2);
    ensure(sim.masters() == vec![0], &sim, || {
        format!("settled on {:?}", sim.masters())
    })?;
    let start = sim.now();
    let sent_before = sim.adverts_sent(0);
    let logged_before = sim.log.len();
    // Episodes of forged lower adverts: runs of them less than the Master's own
    // Master_Down_Interval apart.
    let quiet = sim.master_down(high);
    let (mut episodes, mut last_lower) = (0, None::<Duration>);
    for f in schedule {
        sim.run_for(interval * f.gap_per_mille / 1000);
        let (to, advert) = if f.resign {
            (1, forged_advert(addr(0), 0, &sim))
        } else {
            if last_lower.is_none_or(|t| sim.now() >= t + quiet) {
                episodes += 1;
            }
            last_lower = Some(sim.now());
            let priority = (u32::from(high - 1) * f.priority_per_mille / 1000 + 1) as u8;
            let from = IpAddr::V4(Ipv4Addr::new(10, 9, 0, f.host));
            (0, forged_advert(from, priority, &sim))
        };
        sim.input(to, Input::Advert(advert));
    }
    let attack = sim.now() - start;
    let sent = sim.adverts_sent(0) - sent_before;
    // Periodic adverts, one answer per interval, and one advert of slack at each end.
    let periods = (attack.as_micros() / interval.as_micros()) as u64 + 2;
    ensure(sent <= 2 * periods, &sim, || {
        format!("the Master sent {sent} adverts in {attack:?} ({periods} intervals)")
    })?;
    sim.run_for(sim.master_down(1) + interval * 2 + max_delay * 2);
    let moves = &sim.log[logged_before..];
    let takeovers = moves
        .iter()
        .filter(|l| l.node == 1 && l.transition.to == State::Master)
        .count();
    ensure(takeovers <= 1, &sim, || {
        format!("the Backup took over {takeovers} times")
    })?;
    let reasserted = moves
        .iter()
        .filter(|l| {
            l.node == 0 && l.transition.from == State::Master && l.transition.to == State::Master
        })
        .count();
    // One per episode of forged lower adverts, and one more for the Backup's one takeover.
    ensure(reasserted <= episodes + takeovers, &sim, || {
        format!("{reasserted} re-assertions in {episodes} episodes and {takeovers} takeovers")
    })?;
    ensure(sim.masters() == vec![0], &sim, || {
        format!("after the attack: masters {:?}", sim.masters())
    })
}

fn forged_advert(from: IpAddr, priority: u8, sim: &Sim) -> Advert {
    Advert {
        from,
        channel: 0,
        priority,
        interval: sim.spec().interval,
    }
}

/// The answer limit taken out: every held-back answer is sent after all.
#[allow(
    clippy::ptr_arg,
    reason = "a Mutator, whose type lets others remove actions"
)]
fn answers_everything(_: usize, actions: &mut Vec<Action>) {
    for a in actions.iter_mut() {
        if *a == Action::Suppressed(Suppressed::Answer) {
            *a = Action::SendAdvert { priority: 254 };
        }
    }
}

#[test]
fn simulator_catches_a_master_that_answers_every_forged_advert() {
    let spec = ClusterSpec::v3_pair(200, 100);
    let flood: Vec<Forged> = (0..500)
        .map(|k| Forged {
            gap_per_mille: 20,
            resign: k % 50 == 0,
            host: (k % 200) as u8 + 1,
            priority_per_mille: 500,
        })
        .collect();
    forgeries_cost_little(spec.clone(), Duration::ZERO, 3, &flood, None).unwrap();
    let err = forgeries_cost_little(spec, Duration::ZERO, 3, &flood, Some(answers_everything))
        .expect_err("answering every forged advert must break the bound");
    assert!(err.contains("adverts in"), "{err}");
}
