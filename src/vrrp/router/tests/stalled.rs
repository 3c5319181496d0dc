//! A Backup that runs well past its Master_Down deadline (a paused host, a starved thread)
//! listens one more Master_Adver_Interval before declaring the Master down; one whose
//! deadline came while its thread stood still briefly, or just after, listens as long as it
//! stood still.

use super::*;

/// Master_Down_Interval, v2 at 1 s, priority 100.
const MDI_100: Duration = Duration::from_micros(3_609_375);

#[test]
fn a_backup_that_ran_long_past_its_deadline_listens_one_more_interval_then_takes_over() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let late = t0 + ms(10_000);
    assert_eq!(
        r.handle(late, Input::Timer),
        vec![Action::Suppressed(Suppressed::Takeover)]
    );
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.next_deadline(), Some(late + ms(1000)));
    // Still nothing heard: it takes over, once, late as it may be again, and counts the
    // silence from when it entered Backup.
    let then = late + ms(1000) + ms(600);
    assert_eq!(
        r.handle(then, Input::Timer),
        takeover(
            State::Backup,
            Reason::MasterDown {
                last_master: None,
                silent_for: ms(11_600)
            },
            100
        )
    );
    assert_eq!(r.next_deadline(), Some(then + ms(1000)));
}

#[test]
fn a_quarter_interval_late_is_on_time() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let t = t0 + MDI_100 + ms(250);
    assert_eq!(
        r.handle(t, Input::Timer),
        takeover(
            State::Backup,
            Reason::MasterDown {
                last_master: None,
                silent_for: MDI_100 + ms(250)
            },
            100
        )
    );
}

#[test]
fn an_advert_heard_while_listening_again_keeps_the_backup() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    r.handle(t0 + ms(1000), advert(PEER, 200, 100));
    // The whole host stalled, the Master with it: its overdue advert comes right after.
    let resumed = t0 + ms(1000) + MDI_100 + ms(300);
    assert_eq!(
        r.handle(resumed, Input::Timer),
        vec![Action::Suppressed(Suppressed::Takeover)]
    );
    assert_eq!(r.handle(resumed + ms(5), advert(PEER, 200, 100)), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.master(), Some(ip(PEER)));
    // Waiting for silence again, from the advert, as ever.
    assert_eq!(r.next_deadline(), Some(resumed + ms(5) + MDI_100));
}

#[test]
fn a_lower_master_heard_while_listening_again_is_preempted_when_it_ends() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let resumed = t0 + MDI_100 + ms(2000);
    r.handle(resumed, Input::Timer);
    r.handle(resumed + ms(10), advert(PEER, 50, 100));
    let reason = Reason::Preempting {
        master: ip(PEER),
        priority: 50,
    };
    assert_eq!(
        r.handle(resumed + ms(1000), Input::Timer),
        takeover(State::Backup, reason, 100)
    );
}

#[test]
fn a_lower_master_heard_before_a_stall_is_still_preempted_when_the_listening_ends() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    // A lower Master speaks once; it is ignored, and Master_Down runs on from t0.
    r.handle(t0 + ms(3000), advert(PEER, 50, 100));
    let mut out = Vec::new();
    r.timer_after_stall_into(around(t0, 2), stall_around(t0, (-20, 2)), &mut out);
    assert_eq!(out, vec![Action::Suppressed(Suppressed::Takeover)]);
    // It stays silent while this router listens: the takeover is still a preemption.
    let reason = Reason::Preempting {
        master: ip(PEER),
        priority: 50,
    };
    let end = r.next_deadline().expect("listening");
    assert_eq!(
        r.handle(end, Input::Timer),
        takeover(State::Backup, reason, 100)
    );
}

#[test]
fn a_resignation_is_not_deferred_however_late() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let t = t0 + ms(1000);
    r.handle(t, advert(PEER, 200, 100));
    r.handle(t + ms(500), advert(PEER, 0, 100));
    let late = t + ms(500) + ms(5000);
    assert_eq!(
        r.handle(late, Input::Timer),
        takeover(
            State::Backup,
            Reason::MasterResigned { from: ip(PEER) },
            100
        )
    );
}

#[test]
fn a_priority_change_while_listening_again_keeps_the_extra_interval() {
    let t0 = Instant::now();
    let mut r = backup(weighted(v2(200), -100), t0);
    r.handle(t0, check(false));
    assert_eq!(r.priority(), 100);
    let late = t0 + ms(10_000);
    r.handle(late, Input::Timer);
    // Re-based on when it began listening again: the interval, not Master_Down_Interval.
    assert_eq!(r.handle(late + ms(100), check(true)), vec![]);
    assert_eq!(r.priority(), 200);
    assert_eq!(r.next_deadline(), Some(late + ms(1000)));
}

/// Two instances of one host, their deadlines 200 ms apart at 1 s adverts, served by one
/// thread that stood still from just before the first deadline until 100 ms past the second.
fn stalled_pair() -> (Router, Router, Stall) {
    let t0 = Instant::now();
    let first = backup(v2(100), t0);
    let second = backup(v2(100), t0 + ms(200));
    let stall = Stall {
        from: t0 + MDI_100 - ms(10),
        to: t0 + ms(200) + MDI_100 + ms(100),
    };
    (first, second, stall)
}

#[test]
fn instances_whose_deadlines_lie_inside_one_long_stall_all_listen_again() {
    let (mut first, mut second, stall) = stalled_pair();
    let mut out = Vec::new();
    // The first ran 300 ms past its deadline; the second only 100 ms, within the quarter
    // interval, yet its deadline came while the thread stood still.
    for r in [&mut first, &mut second] {
        out.clear();
        r.timer_after_stall_into(stall.to, stall, &mut out);
        assert_eq!(out, vec![Action::Suppressed(Suppressed::Takeover)]);
        assert_eq!(r.state(), State::Backup);
        assert_eq!(r.next_deadline(), Some(stall.to + ms(1000)));
    }
    // Told nothing of the stall, the second takes over at once: a Master resumed in the
    // same instant would make it flap.
    let (_, mut second, stall) = stalled_pair();
    assert_eq!(
        second.handle(stall.to, Input::Timer)[0],
        Action::SendAdvert { priority: 100 }
    );
}

/// `d` ms around the Master_Down deadline of a Backup of 1 s adverts started at `t0`.
fn around(t0: Instant, d: i64) -> Instant {
    let down = t0 + MDI_100;
    match u64::try_from(d) {
        Ok(later) => down + ms(later),
        Err(_) => down - ms(d.unsigned_abs()),
    }
}

/// A stall of the thread `from`..`to` ms around that deadline.
fn stall_around(t0: Instant, (from, to): (i64, i64)) -> Stall {
    Stall {
        from: around(t0, from),
        to: around(t0, to),
    }
}

/// Such a Backup, whose thread stood still `from`..`to`, served at `at` ms around its
/// deadline: the router and what it did.
fn served_after_stall(t0: Instant, stall: (i64, i64), at: i64) -> (Router, Vec<Action>) {
    let mut r = backup(v2(100), t0);
    let mut out = Vec::new();
    r.timer_after_stall_into(around(t0, at), stall_around(t0, stall), &mut out);
    (r, out)
}

#[test]
fn a_short_stall_around_the_deadline_is_listened_out_as_long_as_it_lasted() {
    let t0 = Instant::now();
    let down = t0 + MDI_100;
    // A stall of a fifth of the interval, the deadline inside it: 200 ms more.
    let (mut r, out) = served_after_stall(t0, (-100, 100), 100);
    assert_eq!(out, vec![Action::Suppressed(Suppressed::Takeover)]);
    assert_eq!(r.next_deadline(), Some(down + ms(300)));
    // The Master, stalled with it, speaks: nobody moves.
    r.handle(down + ms(101), advert(PEER, 200, 100));
    assert_eq!((r.state(), r.master()), (State::Backup, Some(ip(PEER))));
    // Silent instead: it takes over when the 200 ms are out, once.
    let (mut r, _) = served_after_stall(t0, (-100, 100), 100);
    let mut out = Vec::new();
    r.timer_after_stall_into(down + ms(300), stall_around(t0, (-100, 100)), &mut out);
    assert_eq!(r.state(), State::Master, "{out:?}");
    // A deadline that comes just after the stall ended, within its length: the same.
    let (r, out) = served_after_stall(t0, (-150, -50), 0);
    assert_eq!(r.next_deadline(), Some(down + ms(100)), "{out:?}");
}

#[test]
fn a_stall_that_ended_well_before_the_deadline_moves_no_takeover() {
    let t0 = Instant::now();
    // A long stall that ended over a quarter interval before the deadline: the router
    // listened after it, and the Master, had it stalled too, spoke since.
    let (r, out) = served_after_stall(t0, (-2000, -251), 0);
    assert_eq!(r.state(), State::Master, "{out:?}");
    // A short one that ended longer before the deadline than it lasted.
    let (r, out) = served_after_stall(t0, (-190, -101), 0);
    assert_eq!(r.state(), State::Master, "{out:?}");
}
