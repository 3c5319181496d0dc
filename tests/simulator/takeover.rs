//! Takeover times against the RFC formulas (RFC 9568 6.4.2): after a crash the Backup takes
//! over exactly Master_Down_Interval after the last advert it heard; after a graceful stop,
//! exactly Skew_Time after the priority-0 advert.

use super::*;

/// Node 0 (priority 254) Master and node 1 Backup on a lossless, zero-delay LAN, settled.
fn settled_pair(version: Version, interval: Centis, backup_prio: u8) -> Sim {
    let spec = ClusterSpec {
        version,
        interval,
        ..ClusterSpec::v3_pair(254, backup_prio)
    };
    let mut sim = Sim::new(spec, 1);
    sim.start_all();
    sim.run_for(sim.master_down(backup_prio) + interval.as_duration() * 3);
    sim
}

/// When node 1 (the Backup, at `backup_prio`) last became Master, running for two of its
/// Master_Down_Intervals first.
fn backup_took_over(sim: &mut Sim, backup_prio: u8) -> Result<Duration, String> {
    sim.run_for(sim.master_down(backup_prio) * 2);
    let took = sim
        .log
        .iter()
        .rfind(|l| l.node == 1 && l.transition.to == State::Master);
    Ok(took.ok_or("the Backup never took over")?.at)
}

/// Crash the Master at an arbitrary phase on a lossless, zero-delay LAN: the Backup takes
/// over exactly Master_Down_Interval after the last advert it heard.
pub fn crash_takeover(
    version: Version,
    interval: Centis,
    backup_prio: u8,
    phase: u32,
) -> Result<(), String> {
    let mut sim = settled_pair(version, interval, backup_prio);
    ensure(sim.masters() == vec![0], &sim, || {
        "node 0 should be Master".into()
    })?;
    sim.run_for(interval.as_duration() * phase / 1000);
    let last = sim.last_advert_sent(0).unwrap();
    sim.crash(0);
    let took = backup_took_over(&mut sim, backup_prio)?;
    let expected = sim.master_down(backup_prio);
    ensure(took - last == expected, &sim, || {
        format!("took over after {:?}, RFC says {expected:?}", took - last)
    })
}

/// Stop the Master gracefully: the priority-0 advert makes the Backup take over after
/// exactly Skew_Time.
pub fn stop_takeover(
    version: Version,
    interval: Centis,
    backup_prio: u8,
    phase: u32,
) -> Result<(), String> {
    let mut sim = settled_pair(version, interval, backup_prio);
    sim.run_for(interval.as_duration() * phase / 1000);
    let stopped_at = sim.now();
    sim.input(0, Input::Stop);
    ensure(sim.holders() == Vec::<usize>::new(), &sim, || {
        "stopped Master kept its VIPs".into()
    })?;
    let took = backup_took_over(&mut sim, backup_prio)?;
    let expected = sim.skew(backup_prio);
    ensure(took - stopped_at == expected, &sim, || {
        format!(
            "took over after {:?}, RFC says {expected:?}",
            took - stopped_at
        )
    })
}

/// The advert interval `pick` (0..3) of `version`: the shortest, a middling and the longest
/// the property tries.
pub fn interval_for(version: Version, pick: usize) -> Centis {
    match version {
        Version::V2 => Centis::from_secs([1, 2, 3][pick]),
        Version::V3 => [Centis::new(1), Centis::new(7), Centis::new(100)][pick],
    }
}

/// The RFC formula check is not vacuous: the exact figure for a known case.
#[test]
fn takeover_reference_figure_v2_priority_100() {
    crash_takeover(Version::V2, Centis::from_secs(1), 100, 500).unwrap();
    let sim = Sim::new(
        ClusterSpec {
            arbiter: None,
            fence: false,
            opposite: None,
            channels: 1,
            version: Version::V2,
            interval: Centis::from_secs(1),
            nodes: vec![NodeSpec {
                priority: 100,
                preempt: true,
            }],
        },
        0,
    );
    assert_eq!(sim.master_down(100), Duration::from_micros(3_609_375));
}
