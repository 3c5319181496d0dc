//! The announce refresh while Master (keepalived's `garp_master_refresh`): when it fires,
//! how it re-arms, and that only a Master has it.

use super::*;

/// `config` refreshing every `period` with `count` per VIP, and no repeat burst, so the
/// refresh is the only announce timer.
fn refreshing(config: RouterConfig, period: Duration, count: u32) -> RouterConfig {
    RouterConfig {
        announce: Some(Box::new(AnnounceSchedule {
            repeat: 0,
            refresh: period,
            refresh_count: count,
            ..AnnounceSchedule::default()
        })),
        ..config
    }
}

fn configure(config: RouterConfig) -> Input {
    Input::Configure(config.into())
}

#[test]
fn refresh_is_off_by_default() {
    let t0 = Instant::now();
    let mut r = Router::new(v2(255));
    r.handle(t0, Input::Start);
    assert_eq!(r.deadlines().announce_refresh, None);
}

#[test]
fn a_master_announces_every_refresh_period_from_becoming_master() {
    let t0 = Instant::now();
    let mut r = Router::new(refreshing(v2(255), ms(3000), 2));
    r.handle(t0, Input::Start);
    assert_eq!(r.deadlines().announce_refresh, Some(t0 + ms(3000)));
    r.handle(t0 + ms(1000), Input::Timer);
    r.handle(t0 + ms(2000), Input::Timer);
    assert_eq!(
        r.handle(t0 + ms(3000), Input::Timer),
        vec![
            Action::SendAdvert { priority: 255 },
            Action::Announce { count: 2 },
        ]
    );
    assert_eq!(r.deadlines().announce_refresh, Some(t0 + ms(6000)));
}

#[test]
fn a_late_refresh_keeps_its_grid_and_never_catches_up_in_a_burst() {
    let t0 = Instant::now();
    let mut r = Router::new(refreshing(v2(255), ms(3000), 1));
    r.handle(t0, Input::Start);
    // Slightly late: the next one is still on the 3 s grid.
    let out = r.handle(t0 + ms(3400), Input::Timer);
    assert_eq!(count(&out, |a| *a == Action::Announce { count: 1 }), 1);
    assert_eq!(r.deadlines().announce_refresh, Some(t0 + ms(6000)));
    // A stall of several periods: one refresh, and the next a full period from now.
    let out = r.handle(t0 + ms(20_000), Input::Timer);
    assert_eq!(count(&out, |a| *a == Action::Announce { count: 1 }), 1);
    assert_eq!(r.deadlines().announce_refresh, Some(t0 + ms(23_000)));
}

#[test]
fn a_takeover_arms_the_refresh_from_the_takeover() {
    let t0 = Instant::now();
    let (r, t) = master(refreshing(v2(100), ms(2000), 1), t0);
    assert_eq!(r.deadlines().announce_refresh, Some(t + ms(2000)));
}

#[test]
fn leaving_master_for_backup_clears_the_refresh() {
    let t0 = Instant::now();
    let (mut r, t) = master(refreshing(v2(100), ms(2000), 1), t0);
    r.handle(t + ms(500), advert(PEER, 200, 100));
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.deadlines().announce_refresh, None);
}

#[test]
fn stopping_clears_the_refresh() {
    let t0 = Instant::now();
    let mut r = Router::new(refreshing(v2(255), ms(2000), 1));
    r.handle(t0, Input::Start);
    r.handle(t0 + ms(100), Input::Stop);
    assert_eq!(r.deadlines().announce_refresh, None);
}

#[test]
fn a_fault_clears_the_refresh() {
    let t0 = Instant::now();
    let (mut r, t) = master(refreshing(v2(100), ms(2000), 1), t0);
    r.handle(t + ms(500), fault("link eth0", true));
    assert_eq!(r.state(), State::Fault);
    assert_eq!(r.deadlines().announce_refresh, None);
}

#[test]
fn a_reload_turning_the_refresh_on_arms_it_from_the_reload() {
    let t0 = Instant::now();
    let mut r = Router::new(v2(255));
    r.handle(t0, Input::Start);
    let t = t0 + ms(1500);
    r.handle(t, configure(refreshing(v2(255), ms(4000), 3)));
    assert_eq!(r.deadlines().announce_refresh, Some(t + ms(4000)));
    let out = r.handle(t + ms(4000), Input::Timer);
    assert_eq!(count(&out, |a| *a == Action::Announce { count: 3 }), 1);
}

#[test]
fn a_reload_changing_the_period_rearms_and_an_unchanged_one_keeps_the_grid() {
    let t0 = Instant::now();
    let mut r = Router::new(refreshing(v2(255), ms(4000), 1));
    r.handle(t0, Input::Start);
    // Only the count changes: the deadline stays; the next refresh sends the new count.
    r.handle(t0 + ms(1000), configure(refreshing(v2(255), ms(4000), 2)));
    assert_eq!(r.deadlines().announce_refresh, Some(t0 + ms(4000)));
    let out = r.handle(t0 + ms(4000), Input::Timer);
    assert_eq!(count(&out, |a| *a == Action::Announce { count: 2 }), 1);
    // A new period counts from the reload.
    r.handle(t0 + ms(5000), configure(refreshing(v2(255), ms(10_000), 2)));
    assert_eq!(r.deadlines().announce_refresh, Some(t0 + ms(15_000)));
}

#[test]
fn a_reload_turning_the_refresh_off_disarms_it() {
    let t0 = Instant::now();
    let mut r = Router::new(refreshing(v2(255), ms(4000), 1));
    r.handle(t0, Input::Start);
    r.handle(t0 + ms(1000), configure(v2(255)));
    assert_eq!(r.deadlines().announce_refresh, None);
}

#[test]
fn a_reload_of_a_backup_arms_no_refresh() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    r.handle(t0 + ms(100), configure(refreshing(v2(100), ms(2000), 1)));
    assert_eq!(r.deadlines().announce_refresh, None);
}

fn count(actions: &[Action], pick: impl Fn(&Action) -> bool) -> usize {
    actions.iter().filter(|a| pick(a)).count()
}
