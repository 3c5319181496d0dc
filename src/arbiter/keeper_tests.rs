use std::time::{Duration, Instant};

use super::keeper::{Keeper, KeeperAction as A, KeeperConfig, KeeperInput as I, Reply, StoreOp};
use super::{LeaseId, LeaseView, StoreError, StoreLoss};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(on_store_loss: StoreLoss) -> KeeperConfig {
    KeeperConfig {
        key: "/vipd/VI_1".into(),
        holder: "lb1".into(),
        ttl: ms(2000),
        margin: ms(200),
        skew_ppm: 10_000,
        on_store_loss,
    }
}

fn ask(attempt: u64) -> I {
    I::Ask {
        member: "VI_1".into(),
        attempt,
        after_fence: false,
    }
}

const L: LeaseId = LeaseId(7);

/// The key as another node's lease holds it.
fn held_by_lb2() -> Reply {
    Reply::Held {
        holder: "lb2".into(),
        lease: LeaseId(9),
        revision: 41,
    }
}

/// A keeper that asked at `t0` and was granted the key at `t0 + 2 ms`.
fn holding(t0: Instant, policy: StoreLoss) -> Keeper {
    let mut k = Keeper::new(config(policy));
    assert_eq!(
        k.handle(t0, ask(1)),
        vec![A::Store(StoreOp::Grant(ms(2000)))]
    );
    let out = k.handle(t0 + ms(1), I::Reply(Reply::Granted(L, ms(2000))));
    assert_eq!(out, vec![A::Store(StoreOp::Acquire(L))]);
    let out = k.handle(t0 + ms(2), I::Reply(Reply::Won));
    assert!(matches!(
        &out[..],
        [
            A::View(LeaseView::Held { .. }),
            A::Answer {
                granted: true,
                attempt: 1,
                ..
            }
        ]
    ));
    k
}

#[test]
fn a_lease_is_proven_from_when_the_grant_was_sent_less_skew_and_margin() {
    let t0 = Instant::now();
    let k = holding(t0, StoreLoss::Release);
    // 2 s less 1 % (20 ms) less the 200 ms margin, from t0 when the grant was sent.
    assert_eq!(k.valid_until(), Some(t0 + ms(1780)));
    assert!(k.holds());
}

#[test]
fn a_held_key_is_watched_and_taken_when_deleted() {
    let t0 = Instant::now();
    let mut k = Keeper::new(config(StoreLoss::Release));
    k.handle(t0, ask(1));
    k.handle(t0, I::Reply(Reply::Granted(L, ms(2000))));
    let held = held_by_lb2();
    assert_eq!(k.handle(t0, I::Reply(held)), vec![A::Watch(41)]);
    assert!(!k.holds());
    assert_eq!(
        k.handle(t0 + ms(900), I::Deleted),
        vec![A::Store(StoreOp::Acquire(L))]
    );
    let out = k.handle(t0 + ms(901), I::Reply(Reply::Won));
    assert!(
        out.iter()
            .any(|a| matches!(a, A::Answer { granted: true, .. }))
    );
}

#[test]
fn renewals_move_the_deadline_from_their_own_send_time() {
    let t0 = Instant::now();
    let mut k = holding(t0, StoreLoss::Release);
    let due = k.next_deadline().unwrap();
    // A quarter of the TTL after the grant was sent, not after its reply (t0 + 1 ms).
    assert_eq!(due, t0 + ms(500));
    assert_eq!(
        k.handle(due, I::Timer),
        vec![A::Store(StoreOp::KeepAlive(L))]
    );
    let out = k.handle(due + ms(3), I::Reply(Reply::KeptAlive(Some(ms(2000)))));
    assert_eq!(
        out,
        vec![A::View(LeaseView::Held {
            until: due + ms(1780)
        })]
    );
}

#[test]
fn leaving_master_revokes_the_lease_at_once() {
    let t0 = Instant::now();
    let mut k = holding(t0, StoreLoss::Release);
    let out = k.handle(
        t0 + ms(10),
        I::Release {
            member: "VI_1".into(),
        },
    );
    assert_eq!(out, vec![A::Store(StoreOp::Revoke(L))]);
    assert!(!k.holds());
    assert_eq!(k.next_deadline(), None);
}

#[test]
fn a_store_that_cannot_grant_is_a_refusal() {
    let t0 = Instant::now();
    let mut k = Keeper::new(config(StoreLoss::Release));
    k.handle(t0, ask(3));
    let e = StoreError::NoQuorum("etcdserver: no leader".into());
    let out = k.handle(t0 + ms(500), I::Reply(Reply::Failed(e)));
    assert!(matches!(
        &out[..],
        [A::Answer {
            granted: false,
            attempt: 3,
            ..
        }]
    ));
}

#[test]
fn a_vanished_lease_is_lost_under_release() {
    let t0 = Instant::now();
    let mut k = holding(t0, StoreLoss::Release);
    let due = k.next_deadline().unwrap();
    k.handle(due, I::Timer);
    let out = k.handle(due + ms(1), I::Reply(Reply::KeptAlive(None)));
    assert!(matches!(&out[..], [A::View(LeaseView::Lost { .. })]));
}

#[test]
fn under_keep_a_master_cut_off_gets_its_key_back_before_saying_lost() {
    let t0 = Instant::now();
    let mut k = holding(t0, StoreLoss::Keep);
    let due = k.next_deadline().unwrap();
    k.handle(due, I::Timer);
    let cut = StoreError::Unreachable("timed out".into());
    let out = k.handle(due + ms(500), I::Reply(Reply::Failed(cut)));
    assert!(matches!(&out[..], [A::View(LeaseView::Unreachable { .. })]));
    // The store comes back after the lease expired there.
    let due = k.next_deadline().unwrap();
    assert_eq!(
        k.handle(due, I::Timer),
        vec![A::Store(StoreOp::KeepAlive(L))]
    );
    let out = k.handle(due + ms(1), I::Reply(Reply::KeptAlive(None)));
    assert_eq!(out, vec![A::Store(StoreOp::Grant(ms(2000)))]);
    let l2 = LeaseId(8);
    let out = k.handle(due + ms(2), I::Reply(Reply::Granted(l2, ms(2000))));
    assert_eq!(out, vec![A::Store(StoreOp::Acquire(l2))]);
    let out = k.handle(due + ms(3), I::Reply(Reply::Won));
    assert!(matches!(&out[..], [A::View(LeaseView::Held { .. })]));
}

#[test]
fn a_fenced_masters_key_is_taken_without_waiting() {
    let t0 = Instant::now();
    let mut k = Keeper::new(config(StoreLoss::Release));
    k.handle(
        t0,
        I::Ask {
            member: "VI_1".into(),
            attempt: 1,
            after_fence: true,
        },
    );
    k.handle(t0, I::Reply(Reply::Granted(L, ms(2000))));
    let held = held_by_lb2();
    let out = k.handle(t0, I::Reply(held));
    assert_eq!(
        out,
        vec![A::Store(StoreOp::TakeOver {
            id: L,
            old: LeaseId(9)
        })]
    );
    let out = k.handle(t0, I::Reply(Reply::TookOver(true)));
    assert!(
        out.iter()
            .any(|a| matches!(a, A::Answer { granted: true, .. }))
    );
}

#[test]
fn a_withdrawn_ask_gives_the_lease_back_once_the_key_arrives() {
    let t0 = Instant::now();
    let mut k = Keeper::new(config(StoreLoss::Release));
    k.handle(t0, ask(1));
    k.handle(t0, I::Reply(Reply::Granted(L, ms(2000))));
    let out = k.handle(
        t0,
        I::Withdraw {
            member: "VI_1".into(),
            attempt: 1,
        },
    );
    assert_eq!(out, vec![], "the acquire is in flight");
    let out = k.handle(t0, I::Reply(Reply::Won));
    assert_eq!(out.last(), Some(&A::Store(StoreOp::Revoke(L))));
    assert!(!k.holds());
}

/// A Master that left at its deadline while the store had no leader asks again; the key is
/// still ours. The first renewal that succeeds answers it, instead of leaving the router
/// waiting for its gate patience (found by the simulator: quorum lost for longer than the
/// TTL, then back).
#[test]
fn a_master_that_left_during_quorum_loss_is_granted_by_the_next_renewal() {
    let t0 = Instant::now();
    let mut k = holding(t0, StoreLoss::Release);
    let no_leader = || I::Reply(Reply::Failed(StoreError::NoQuorum("no leader".into())));
    let renew = vec![A::Store(StoreOp::KeepAlive(L))];
    let due = k.next_deadline().unwrap();
    assert_eq!(k.handle(due, I::Timer), renew);
    let out = k.handle(t0 + ms(1500), no_leader());
    assert!(matches!(&out[..], [A::View(LeaseView::Unreachable { .. })]));
    let due = k.next_deadline().unwrap();
    assert_eq!(k.handle(due, I::Timer), renew);
    // While that renewal is in flight the router leaves at its deadline (t0 + 1780 ms) and,
    // the peer silent, asks again.
    let release = I::Release {
        member: "VI_1".into(),
    };
    assert_eq!(k.handle(t0 + ms(1780), release), vec![]);
    assert_eq!(k.handle(t0 + ms(2000), ask(2)), vec![]);
    assert_eq!(k.handle(t0 + ms(2060), no_leader()), vec![]);
    let due = k.next_deadline().unwrap();
    assert_eq!(k.handle(due, I::Timer), renew);
    // The new leader restarted every TTL: the renewal proves the lease again, and answers.
    let out = k.handle(due + ms(10), I::Reply(Reply::KeptAlive(Some(ms(2000)))));
    let until = due + ms(1780);
    assert_eq!(
        out,
        vec![
            A::View(LeaseView::Held { until }),
            A::Answer {
                member: "VI_1".into(),
                attempt: 2,
                granted: true,
                detail: "lease 7 holds /vipd/VI_1".into(),
            }
        ]
    );
    assert!(k.holds());
}

/// Under `keep`, a Master getting its key back after its lease expired sends the acquire;
/// the store creates the key but the reply is lost, and the store stays cut for longer than
/// the TTL. The new lease is still renewed while the acquire is retried, so once the store
/// answers the keeper learns the lease is gone and starts over, instead of naming a lease
/// the store no longer has for ever (found by the simulator).
#[test]
fn under_keep_a_lease_is_renewed_while_the_acquire_is_retried() {
    let t0 = Instant::now();
    let mut k = holding(t0, StoreLoss::Keep);
    let cut = || I::Reply(Reply::Failed(StoreError::Unreachable("timed out".into())));
    let due = k.next_deadline().unwrap();
    k.handle(due, I::Timer);
    k.handle(due + ms(500), cut());
    let due = k.next_deadline().unwrap();
    k.handle(due, I::Timer);
    let out = k.handle(due + ms(1), I::Reply(Reply::KeptAlive(None)));
    assert_eq!(out, vec![A::Store(StoreOp::Grant(ms(2000)))]);
    let l2 = LeaseId(8);
    let out = k.handle(due + ms(2), I::Reply(Reply::Granted(l2, ms(2000))));
    assert_eq!(out, vec![A::Store(StoreOp::Acquire(l2))]);
    assert_eq!(k.handle(due + ms(502), cut()), vec![]);
    // Retried acquires fail too; a renewal goes out within the lease's TTL.
    let mut renewed = false;
    for _ in 0..8 {
        let due = k.next_deadline().unwrap();
        let out = k.handle(due, I::Timer);
        if out == vec![A::Store(StoreOp::KeepAlive(l2))] {
            renewed = true;
            // The lease expired in the store: get another one, still without saying lost.
            let out = k.handle(due + ms(1), I::Reply(Reply::KeptAlive(None)));
            assert_eq!(out, vec![], "no Lost: the key is being had back");
            let due = k.next_deadline().unwrap();
            let out = k.handle(due, I::Timer);
            assert_eq!(out, vec![A::Store(StoreOp::Grant(ms(2000)))]);
            break;
        }
        assert_eq!(out, vec![A::Store(StoreOp::Acquire(l2))]);
        assert_eq!(k.handle(due + ms(100), cut()), vec![]);
    }
    assert!(renewed, "the new lease was never renewed");
}

/// A store that takes 700 ms to answer each request (of a 2 s TTL, valid 1,780 ms from each
/// send) keeps the lease: the next renewal is due a quarter TTL after the last was sent, so
/// it goes out as soon as the slow reply comes. Counting from the reply instead, the next
/// renewal would go out 1,200 ms after the last was sent and come back at 1,900 ms, after
/// the lease ran out by this node's clock.
#[test]
fn a_slow_store_answering_each_renewal_late_keeps_the_lease() {
    let t0 = Instant::now();
    let mut k = holding(t0, StoreLoss::Release);
    let mut now = t0 + ms(2);
    for _ in 0..12 {
        now = now.max(k.next_deadline().unwrap());
        assert_eq!(
            k.handle(now, I::Timer),
            vec![A::Store(StoreOp::KeepAlive(L))]
        );
        now += ms(700);
        assert!(
            k.valid_until().is_some_and(|t| t > now),
            "the lease ran out before the renewal's reply"
        );
        let out = k.handle(now, I::Reply(Reply::KeptAlive(Some(ms(2000)))));
        assert_eq!(
            out,
            vec![A::View(LeaseView::Held {
                until: now - ms(700) + ms(1780)
            })]
        );
    }
    assert!(k.holds());
}

/// A renewal that falls due while another request is in flight goes out right after its
/// reply, not one retry period later or never (found by the simulator with the test above).
#[test]
fn a_renewal_due_during_a_request_goes_next() {
    let t0 = Instant::now();
    let mut k = holding(t0, StoreLoss::Keep);
    let cut = || I::Reply(Reply::Failed(StoreError::Unreachable("timed out".into())));
    let due = k.next_deadline().unwrap();
    k.handle(due, I::Timer);
    k.handle(due + ms(500), cut());
    let due = k.next_deadline().unwrap();
    k.handle(due, I::Timer);
    k.handle(due + ms(1), I::Reply(Reply::KeptAlive(None)));
    let l2 = LeaseId(8);
    let granted = due + ms(2);
    let out = k.handle(granted, I::Reply(Reply::Granted(l2, ms(2000))));
    assert_eq!(out, vec![A::Store(StoreOp::Acquire(l2))]);
    let due = k.next_deadline().unwrap();
    // The grant went out when the old lease was found gone, 1 ms before its reply.
    assert_eq!(due, granted - ms(1) + ms(500));
    assert_eq!(k.handle(due, I::Timer), vec![], "the acquire is in flight");
    let out = k.handle(due + ms(100), cut());
    assert_eq!(out, vec![A::Store(StoreOp::KeepAlive(l2))]);
}

#[test]
fn an_ask_while_the_lease_is_unproven_is_granted_by_the_next_renewal() {
    let t0 = Instant::now();
    let mut k = holding(t0, StoreLoss::Keep);
    let due = k.next_deadline().unwrap();
    k.handle(due, I::Timer);
    let cut = StoreError::Unreachable("timed out".into());
    k.handle(due + ms(500), I::Reply(Reply::Failed(cut)));
    // The lease ran past what was proven; a member asks (after a restart, say).
    assert_eq!(k.handle(t0 + ms(3000), ask(2)), vec![]);
    let due = k.next_deadline().unwrap();
    assert_eq!(
        k.handle(due, I::Timer),
        vec![A::Store(StoreOp::KeepAlive(L))]
    );
    let out = k.handle(due + ms(1), I::Reply(Reply::KeptAlive(Some(ms(2000)))));
    assert!(
        matches!(
            &out[..],
            [
                A::View(LeaseView::Held { .. }),
                A::Answer {
                    attempt: 2,
                    granted: true,
                    ..
                }
            ]
        ),
        "{out:?}"
    );
}

#[test]
fn a_new_attempt_before_the_old_ones_withdrawal_keeps_the_lease_and_the_watch() {
    let t0 = Instant::now();
    let mut k = Keeper::new(config(StoreLoss::Release));
    k.handle(t0, ask(1));
    k.handle(t0, I::Reply(Reply::Granted(L, ms(2000))));
    let held = held_by_lb2();
    k.handle(t0, I::Reply(held));
    // The router's patience ran out: it asks again, then withdraws the old attempt.
    assert_eq!(k.handle(t0 + ms(2000), ask(2)), vec![]);
    let out = k.handle(
        t0 + ms(2000),
        I::Withdraw {
            member: "VI_1".into(),
            attempt: 1,
        },
    );
    assert_eq!(out, vec![], "no revoke, no unwatch");
    assert_eq!(k.lease(), Some(L));
    assert_eq!(
        k.handle(t0 + ms(2100), I::Deleted),
        vec![A::Store(StoreOp::Acquire(L))]
    );
    let out = k.handle(t0 + ms(2101), I::Reply(Reply::Won));
    assert!(out.iter().any(|a| matches!(
        a,
        A::Answer {
            attempt: 2,
            granted: true,
            ..
        }
    )));
}
