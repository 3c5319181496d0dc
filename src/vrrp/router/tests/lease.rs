//! A Master under an arbiter holds its addresses only while its lease is proven.

use super::*;
use crate::arbiter::{LeaseView, StoreLoss};

fn arbitrated(policy: StoreLoss) -> RouterConfig {
    RouterConfig {
        arbiter: Some(policy),
        ..v2(100)
    }
}

fn held(until: Instant) -> Input {
    Input::Lease(LeaseView::Held { until })
}

fn granted(attempt: u64) -> Input {
    Input::Gate(GateAnswer {
        gate: GateKind::Arbiter,
        attempt,
        granted: true,
        detail: "lease 7 holds /vipd/web".into(),
        fenced: false,
    })
}

/// A Backup whose master-down timer fired and whose arbiter granted the lease until
/// `until`; returns it and the time it became Master.
fn master_until(policy: StoreLoss, t0: Instant, until: Duration) -> (Router, Instant) {
    let mut r = backup(arbitrated(policy), t0);
    let t = r.next_deadline().unwrap();
    let out = r.handle(t, Input::Timer);
    assert!(matches!(
        out.last(),
        Some(Action::AskGate {
            gate: GateKind::Arbiter,
            ..
        })
    ));
    r.handle(t + ms(2), held(t + until));
    r.handle(t + ms(2), granted(1));
    assert_eq!(r.state(), State::Master);
    (r, t + ms(2))
}

fn lost(detail: &str) -> Reason {
    Reason::LeaseLost {
        detail: detail.into(),
    }
}

const RAN_OUT: &str = "not renewed in time: it ran out by this node's clock (margin included)";

/// What a Master (priority 100) does when its lease runs out by its own clock.
fn ran_out() -> Vec<Action> {
    vec![
        Action::SendAdvert { priority: 0 },
        Action::RemoveVips,
        Action::ReleaseLease,
        notify(State::Master, State::Backup, lost(RAN_OUT), 100, None),
    ]
}

#[test]
fn a_master_leaves_when_its_lease_runs_out_by_its_own_clock() {
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Release, t0, ms(1780));
    assert_eq!(r.deadlines().lease, Some(t - ms(2) + ms(1780)));
    let due = t - ms(2) + ms(1780);
    r.handle(t + ms(1000), Input::Timer);
    let out = r.handle(due, Input::Timer);
    assert_eq!(out, ran_out());
    assert_eq!(r.deadlines().lease, None);
}

#[test]
fn a_renewal_delivered_after_it_ran_out_ends_mastership_at_once() {
    // A view queued while the process was frozen reaches the router after its time: no timer
    // may be left armed in the past, and the lease is treated as run out now.
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Release, t0, ms(1780));
    let now = t + ms(1000);
    let out = r.handle(now, held(t + ms(900)));
    assert_eq!(out, ran_out());
    assert!(r.next_deadline().is_none_or(|d| d > now));
}

#[test]
fn a_renewal_moves_the_deadline() {
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Release, t0, ms(1780));
    r.handle(t + ms(500), held(t + ms(2280)));
    assert_eq!(r.deadlines().lease, Some(t + ms(2280)));
    r.handle(t + ms(1790), Input::Timer);
    assert_eq!(r.state(), State::Master);
}

#[test]
fn under_release_an_unreachable_store_changes_nothing_until_the_deadline() {
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Release, t0, ms(1780));
    let cut = LeaseView::Unreachable {
        detail: "timed out".into(),
    };
    assert_eq!(r.handle(t + ms(600), Input::Lease(cut)), vec![]);
    r.handle(t + ms(1778), Input::Timer);
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn under_keep_an_unreachable_store_leaves_the_master_be() {
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Keep, t0, ms(1780));
    let cut = LeaseView::Unreachable {
        detail: "timed out".into(),
    };
    assert_eq!(r.handle(t + ms(600), Input::Lease(cut)), vec![]);
    assert_eq!(r.deadlines().lease, None);
    r.handle(t + ms(10_000), Input::Timer);
    assert_eq!(r.state(), State::Master);
    // The store answers again and the lease is proven: the deadline is back.
    r.handle(t + ms(10_001), held(t + ms(11_000)));
    assert_eq!(r.deadlines().lease, Some(t + ms(11_000)));
}

#[test]
fn a_lost_key_ends_mastership_at_once_whatever_the_policy() {
    for policy in [StoreLoss::Release, StoreLoss::Keep] {
        let t0 = Instant::now();
        let (mut r, t) = master_until(policy, t0, ms(1780));
        let gone = LeaseView::Lost {
            detail: "the key is held by another node".into(),
        };
        let out = r.handle(t + ms(100), Input::Lease(gone));
        assert_eq!(
            out[..3],
            [
                Action::SendAdvert { priority: 0 },
                Action::RemoveVips,
                Action::ReleaseLease
            ]
        );
        assert_eq!(r.state(), State::Backup);
    }
}

#[test]
fn a_grant_without_a_proven_lease_is_a_refusal() {
    let t0 = Instant::now();
    let mut r = backup(arbitrated(StoreLoss::Release), t0);
    let t = r.next_deadline().unwrap();
    r.handle(t, Input::Timer);
    // A lease proven only until a moment ago backs nothing.
    r.handle(t + ms(2), held(t + ms(1)));
    assert_eq!(r.handle(t + ms(2), granted(1)), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert!(
        r.deadlines().master_down.is_some(),
        "it listens and tries again"
    );
}

#[test]
fn every_way_out_of_master_gives_the_lease_back() {
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Release, t0, ms(1780));
    let out = r.handle(t + ms(10), Input::Drain(true));
    assert!(out.contains(&Action::ReleaseLease));
    let (mut r, t) = master_until(StoreLoss::Release, t0, ms(1780));
    let out = r.handle(t + ms(10), Input::Stop);
    assert!(out.contains(&Action::ReleaseLease));
    // Yielding: under keep, past a deadline no renewal moved, to another Master.
    let (mut r, t) = master_until(StoreLoss::Keep, t0, ms(1780));
    r.handle(t + ms(1000), Input::Timer);
    r.handle(t + ms(1800), Input::Timer);
    let out = r.handle(t + ms(1810), advert(PEER, 200, 100));
    assert!(
        out.contains(&Action::ReleaseLease),
        "yielding to a higher Master: {out:?}"
    );
}

#[test]
fn a_master_with_a_proven_lease_answers_another_master_instead_of_yielding() {
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Release, t0, ms(1780));
    // A node thawed from a freeze, which has not yet learned that its lease is gone.
    let out = r.handle(t + ms(10), advert(PEER, 200, 100));
    assert_eq!(out, vec![Action::SendAdvert { priority: 100 }]);
    assert_eq!(r.state(), State::Master);
}

#[test]
fn under_keep_a_master_past_its_proven_lease_yields_to_any_other_master() {
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Keep, t0, ms(1780));
    r.handle(t + ms(1000), Input::Timer);
    r.handle(t + ms(1800), Input::Timer);
    assert_eq!(
        r.state(),
        State::Master,
        "keep: the deadline alone ends nothing"
    );
    // Another Master, even a lower one, can only be one by a grant: ours is gone.
    let out = r.handle(t + ms(1810), advert(PEER, 50, 100));
    assert!(out.contains(&Action::ReleaseLease), "{out:?}");
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn a_held_lease_is_not_preempted() {
    let t0 = Instant::now();
    let mut r = backup(arbitrated(StoreLoss::Release), t0);
    // The same Backup without an arbiter, which preempts.
    let mut plain = backup(v2(100), t0);
    let mdi = r.master_down_interval();
    // A lower-priority Master holds the lease: each of its adverts resets this Backup's
    // timer, as a Master it would not preempt does.
    for n in 0..5 {
        let at = t0 + ms(100 + n * 1000);
        r.handle(at, advert(PEER, 50, 100));
        plain.handle(at, advert(PEER, 50, 100));
        assert_eq!(r.deadlines().master_down, Some(at + mdi));
        let out = r.handle(at, Input::Timer);
        assert!(
            !out.iter().any(|a| matches!(a, Action::AskGate { .. })),
            "{out:?}"
        );
    }
    // Without the arbiter the timer runs on from the start, and its expiry preempts.
    assert_eq!(plain.deadlines().master_down, Some(t0 + mdi));
    plain.handle(t0 + mdi, Input::Timer);
    assert_eq!(plain.state(), State::Master);
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn a_master_that_ran_past_its_lease_leaves_before_it_sends_anything() {
    // A frozen process (SIGSTOP, a paused VM) finds every timer overdue when it runs again;
    // the advert timer fell due first, but an advert at its own priority after the lease ran
    // out would make the peer that now holds the lease yield to it.
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Release, t0, ms(1780));
    let out = r.handle(t + ms(5000), Input::Timer);
    assert_eq!(
        out.first(),
        Some(&Action::SendAdvert { priority: 0 }),
        "{out:?}"
    );
    assert!(
        !out.contains(&Action::SendAdvert { priority: 100 }),
        "an advert as Master past the lease: {out:?}"
    );
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn under_keep_a_renewal_unanswered_at_the_deadline_keeps_the_master() {
    // A Master cut from etcd by dropped packets hears of its renewal's failure only after
    // every endpoint's request timeout, which may be after the deadline.
    let t0 = Instant::now();
    let (mut r, t) = master_until(StoreLoss::Keep, t0, ms(780));
    let out = r.handle(t + ms(800), Input::Timer);
    assert_eq!(out, vec![]);
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.deadlines().lease, None);
    // The store answers that the key is gone: it leaves then.
    let gone = LeaseView::Lost {
        detail: "the lease expired in the store".into(),
    };
    r.handle(t + ms(1500), Input::Lease(gone));
    assert_eq!(r.state(), State::Backup);
}
