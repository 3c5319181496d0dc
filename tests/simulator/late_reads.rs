//! Late reads (see `sim/late.rs`): a Backup that reads its routine adverts only just before
//! its next deadline, each dated by its arrival, decides exactly what it decides reading
//! each at once. The same schedule run both ways makes the same transitions, at the same
//! instants, for the same reasons; under chaos and under an arbiter every invariant holds
//! reading late as well. Two broken ways of reading late (dating adverts by their reading,
//! handling the timer before the adverts that came ahead of it) are caught.

use proptest::test_runner::{TestError, TestRng, TestRunner};

use super::*;
use chaos::Chaos;
use sim::Reads;
use sim::arbiter::ArbiterSpec;
use vipd::arbiter::StoreLoss;
use vipd::vrrp::router::Transition;

/// A step of a schedule: a chaos event, or one aimed at whoever is Master.
#[derive(Clone, Debug)]
pub enum Step {
    Chaos(Chaos),
    /// The Master crashes (the first, if a split made several).
    CrashMaster,
    /// The Master stops gracefully: it resigns with priority 0.
    StopMaster,
    /// Every crashed or stopped node comes back: a higher one then preempts.
    Return,
    /// SIGSTOP for this many quarter intervals.
    Freeze(usize, u32),
}

pub fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => chaos::chaos_event().prop_map(Step::Chaos),
        2 => Just(Step::CrashMaster),
        2 => Just(Step::StopMaster),
        1 => Just(Step::Return),
        1 => (0usize..5, 1u32..12).prop_map(|(i, quarters)| Step::Freeze(i, quarters)),
    ]
}

/// A cluster as in [`cluster`], a seed and a schedule of steps.
pub type Schedule = ((ClusterSpec, Duration), u64, Vec<(u32, Step)>);

pub fn schedule() -> impl Strategy<Value = Schedule> {
    (
        cluster(false),
        any::<u64>(),
        prop::collection::vec((0u32..40, step()), 0..30),
    )
}

fn take(sim: &mut Sim, step: &Step) {
    let n = sim.spec().nodes.len();
    match *step {
        Step::Chaos(ref event) => chaos::inflict(sim, event),
        Step::CrashMaster => {
            if let Some(&m) = sim.masters().first() {
                sim.crash(m);
            }
        }
        Step::StopMaster => {
            if let Some(&m) = sim.masters().first() {
                sim.input(m, Input::Stop);
            }
        }
        Step::Return => {
            for i in 0..n {
                sim.restart(i);
                if sim.router(i).state() == State::Initialize {
                    sim.input(i, Input::Start);
                }
            }
        }
        Step::Freeze(i, quarters) => {
            let pause = sim.spec().interval.as_duration() * quarters / 4;
            sim.freeze(i % n, pause);
        }
    }
}

/// Runs `steps` on a cluster reading as `reads` says, then heals it and lets it settle.
fn run(schedule: &Schedule, reads: Reads) -> Sim {
    let ((spec, max_delay), seed, steps) = schedule;
    let interval = spec.interval.as_duration();
    let mut sim = Sim::new(spec.clone(), *seed);
    sim.reads = reads;
    sim.conditions = Conditions {
        max_delay: *max_delay,
        ..Conditions::default()
    };
    sim.start_all();
    for (quarters, step) in steps {
        sim.run_for(interval * *quarters / 4);
        take(&mut sim, step);
    }
    sim.heal();
    sim.conditions.loss = 0;
    sim.conditions.dup = 0;
    // Frozen nodes resume within three intervals, and a Master_Down_Interval is over three.
    sim.run_for(interval * 3);
    take(&mut sim, &Step::Return);
    sim.run_for(sim.master_down(1) + interval * 4 + *max_delay * 2);
    sim
}

/// The transitions, whole: when, who, from, to, why (with its figures), priority, Master.
fn transitions(sim: &Sim) -> Vec<(Duration, usize, &Transition)> {
    let all = sim.log.iter();
    all.map(|l| (l.at, l.node, &l.transition)).collect()
}

/// Fails where the two runs' transitions first differ, or on an invariant broken in either.
fn same_decisions(at_once: &Sim, late: &Sim) -> Result<(), String> {
    no_violations(at_once).map_err(|e| format!("reading at once: {e}"))?;
    let (a, b) = (transitions(at_once), transitions(late));
    if let Some(k) = (0..a.len().max(b.len())).find(|&k| a.get(k) != b.get(k)) {
        let show = |log: &[(Duration, usize, &Transition)]| {
            let near = &log[k.saturating_sub(2).min(log.len())..(k + 3).min(log.len())];
            near.iter()
                .map(|(at, i, t)| format!("{at:?} node {i} {} -> {} ({})", t.from, t.to, t.reason))
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(format!(
            "the transitions differ from #{k} on: read at once [{}], read late [{}]",
            show(&a),
            show(&b)
        ));
    }
    no_violations(late).map_err(|e| format!("reading late: {e}"))
}

/// The equivalence on one schedule: read at once, and read as `reads` says.
pub fn reads_alike(schedule: &Schedule, reads: Reads) -> Result<(), String> {
    same_decisions(&run(schedule, Reads::AtOnce), &run(schedule, reads))
}

/// The equivalence property on `cases` schedules of a fixed seed, reading as `reads` says:
/// the first schedule on which the two runs differ, if any.
fn first_difference(reads: Reads, cases: u32) -> Option<String> {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 0,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = TestRunner::new_with_rng(config, rng);
    match runner.run(&schedule(), |s| lift(reads_alike(&s, reads))) {
        Ok(()) => None,
        Err(TestError::Fail(why, _)) => Some(why.to_string()),
        Err(e) => panic!("{e}"),
    }
}

/// A lab of [`arbiter::lab`] under `release`, a seed and its faults.
pub type ArbiterSchedule = (
    (ClusterSpec, Duration, ArbiterSpec),
    u64,
    Vec<(u64, arbiter::Fault)>,
);

pub fn arbiter_schedule() -> impl Strategy<Value = ArbiterSchedule> {
    (
        arbiter::lab(StoreLoss::Release),
        any::<u64>(),
        prop::collection::vec((arbiter::gap(), arbiter::fault(true)), 0..20),
    )
}

/// Runs the faults on a cluster with an arbiter reading as `reads` says, then heals every
/// fault and waits out the liveness bound twice.
fn run_arbiter(schedule: &ArbiterSchedule, reads: Reads) -> Result<Sim, String> {
    let ((spec, delay, a), seed, faults) = schedule;
    let mut sim = Sim::with_arbiter(spec.clone(), *a, *seed);
    sim.reads = reads;
    let mut sim = arbiter::run_faults(sim, *delay, faults)?;
    sim.heal();
    sim.heal_store();
    sim.set_quorum(true);
    sim.conditions.loss = 0;
    sim.run_for(arbiter::liveness_bound(&sim, a) * 2);
    Ok(sim)
}

/// The equivalence under an arbiter (gated takeovers, leases, freezes).
pub fn arbiter_reads_alike(schedule: &ArbiterSchedule) -> Result<(), String> {
    let at_once = run_arbiter(schedule, Reads::AtOnce)?;
    same_decisions(&at_once, &run_arbiter(schedule, Reads::Late)?)
}

proptest! {
    // A fifth of the cases: each schedule runs twice.
    #![proptest_config(Config { cases: cases() / 5, failure_persistence: None, ..Config::default() })]

    #[test]
    fn reading_late_decides_as_reading_at_once(s in schedule()) {
        lift(reads_alike(&s, Reads::Late))?;
    }
}

proptest! {
    // A tenth: twice over, and each run with its keepers costs about four router-only ones.
    #![proptest_config(Config { cases: cases() / 10, failure_persistence: None, ..Config::default() })]

    #[test]
    fn reading_late_decides_as_reading_at_once_under_an_arbiter(s in arbiter_schedule()) {
        lift(arbiter_reads_alike(&s))?;
    }
}

proptest! {
    // Half the cases: the same property as the chaos one at full count, the routers
    // reading late.
    #![proptest_config(Config { cases: cases() / 2, failure_persistence: None, ..Config::default() })]

    #[test]
    fn chaos_keeps_invariants_and_converges_reading_late(
        (spec, delay) in cluster(false), seed in any::<u64>(),
        events in prop::collection::vec((0u32..40, chaos::chaos_event()), 0..30),
    ) {
        let mut sim = Sim::new(spec, seed);
        sim.reads = Reads::Late;
        lift(chaos::chaos_converges_in(sim, delay, &events).map(drop))?;
    }
}

proptest! {
    // A quarter, as for the arbiter's costlier properties.
    #![proptest_config(Config { cases: cases() / 4, failure_persistence: None, ..Config::default() })]

    #[test]
    fn release_never_makes_two_holders_and_heals_reading_late(
        (spec, delay, a) in arbiter::lab(StoreLoss::Release), seed in any::<u64>(),
        faults in prop::collection::vec((arbiter::gap(), arbiter::fault(true)), 0..20),
        crash_master in any::<bool>(),
    ) {
        let mut sim = Sim::with_arbiter(spec, a, seed);
        sim.reads = Reads::Late;
        let sim = arbiter::run_faults(sim, delay, &faults);
        lift(sim.and_then(|sim| arbiter::heals(sim, &a, crash_master)).map(drop))?;
    }
}

/// A pair settled on a lossless LAN, node 0 (200) Master and node 1 (100) Backup, reading
/// as `reads` says. Node 0 crashes just after an advert that arrives exactly when node 1's
/// master-down timer fires. Returns when node 1 took over and when that timer fired.
fn crash_after_an_advert_landing_on_the_deadline(reads: Reads) -> (Duration, Duration) {
    let spec = ClusterSpec::v3_pair(200, 100);
    let interval = spec.interval.as_duration();
    let mut sim = Sim::new(spec, 1);
    sim.reads = reads;
    sim.start_all();
    sim.run_for(sim.master_down(100) + interval * 3);
    assert_eq!(sim.masters(), vec![0]);
    let heard = sim.last_advert_sent(0).unwrap();
    let down = heard + sim.master_down(100);
    let next = heard + interval;
    if reads == Reads::AtOnce {
        assert_eq!(sim.master_down_at(1), Some(down));
    }
    sim.conditions.min_delay = down - next;
    sim.conditions.max_delay = down - next;
    sim.run_until(next);
    assert_eq!(sim.last_advert_sent(0), Some(next));
    sim.crash(0);
    sim.run_until(down - Duration::from_nanos(1));
    let (read, unread) = (sim.read_late, sim.unread(1) as u64);
    sim.run_until(down);
    if reads == Reads::Late {
        // It went unread on arrival, and was read with the rest before the timer.
        assert_eq!((sim.read_late - read, sim.unread(1)), (unread + 1, 0));
    }
    assert_eq!(sim.master_down_at(1), Some(down + sim.master_down(100)));
    sim.run_for(sim.master_down(100) * 3);
    let took = sim
        .log
        .iter()
        .rfind(|l| l.node == 1 && l.transition.to == State::Master);
    (took.expect("node 1 never took over").at, down)
}

/// The daemon's order at equal times: the packet that arrived as the timer fires is read
/// before the timer is handled, and moves it, as it would reading at once.
#[test]
fn an_advert_read_late_that_arrived_at_the_deadline_still_counts() {
    let mdi = Sim::new(ClusterSpec::v3_pair(200, 100), 1).master_down(100);
    let (took, down) = crash_after_an_advert_landing_on_the_deadline(Reads::AtOnce);
    assert_eq!(took, down + mdi);
    let (took, down) = crash_after_an_advert_landing_on_the_deadline(Reads::Late);
    assert_eq!(took, down + mdi);
}

/// Not vacuous: a settled Backup does leave its adverts unread, reads them late, and still
/// takes over exactly Master_Down_Interval after the last advert it got once the Master
/// crashes.
#[test]
fn a_settled_backup_reads_late_and_takes_over_on_time() {
    let spec = ClusterSpec::v3_pair(200, 100);
    let interval = spec.interval.as_duration();
    let mut sim = Sim::new(spec, 7);
    sim.reads = Reads::Late;
    sim.start_all();
    sim.run_for(sim.master_down(100) + interval * 3);
    let (sent, read, unread) = (sim.adverts_sent(0), sim.read_late, sim.unread(1));
    let mut most_unread = 0;
    for _ in 0..40 {
        sim.run_for(interval / 4);
        most_unread = most_unread.max(sim.unread(1));
    }
    // Lossless and without delay: every advert of the ten intervals went unread first.
    let went_unread = sim.read_late - read + sim.unread(1) as u64 - unread as u64;
    assert_eq!(sim.adverts_sent(0) - sent, went_unread);
    assert!(
        most_unread >= 3,
        "at most {most_unread} adverts left unread"
    );
    assert_eq!(sim.masters(), vec![0]);
    let last = sim.last_advert_sent(0).unwrap();
    sim.crash(0);
    sim.run_for(sim.master_down(100) * 2);
    let took = sim
        .log
        .iter()
        .rfind(|l| l.node == 1 && l.transition.to == State::Master);
    assert_eq!(took.unwrap().at - last, sim.master_down(100));
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
}

/// A driver that dates late adverts by their reading pushes every deadline out by up to a
/// Master_Down_Interval: the equivalence property finds a schedule where it shows.
#[test]
fn stamping_late_adverts_with_the_reading_time_is_caught() {
    let found = first_difference(Reads::LateDatedWhenRead, 200);
    let why = found.expect("no schedule told reading-time stamps from arrival stamps");
    eprintln!("dated when read: {why}");
    assert!(why.contains("the transitions differ"), "{why}");
}

/// A driver that handles the timer before the adverts that arrived ahead of it declares a
/// live Master down: the equivalence property finds it.
#[test]
fn handling_the_timer_before_the_unread_adverts_is_caught() {
    let found = first_difference(Reads::LateAfterTimer, 200);
    let why = found.expect("no schedule told timer-first from adverts-first");
    eprintln!("timer first: {why}");
    assert!(why.contains("differ"), "{why}");
}
