//! The store's failures: quorum lost and regained, a client cut off from every member, a
//! frozen member, and a lab's nodes reaching (or cut from) the members.

use std::time::{Duration, Instant};

use netns_tests::etcd::{EtcdCluster, EtcdSpec, MEMBERS};
use netns_tests::{Lab, LabSpec, block_on_in};
use vipd::arbiter::etcd::{Acquire, EtcdClient, LeaseId, StoreError};

use super::{FAIL_BOUND, REQUEST_TIMEOUT, client, started, turn, wins};

/// A pending `wait_deleted` reads the key every 2 s (twice the request timeout) besides
/// watching; with a failed read's own bound, this is when it must have given up.
const WATCH_FAIL_BOUND: Duration = Duration::from_secs(10);
/// The TTL of the leases these tests grant: longer than any outage they cause.
const TTL: Duration = Duration::from_secs(10);

fn is_outage(r: &Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(r, Err(StoreError::NoQuorum(_) | StoreError::Unreachable(_)))
}

/// Two leases of `ttl`: `a` holds `key`, and `b`'s try finds it held at the revision
/// returned (what a wait for the key's deletion starts from).
async fn a_holds(etcd: &EtcdClient, key: &str, ttl: Duration) -> (LeaseId, LeaseId, i64) {
    let (a, _) = etcd.grant(ttl).await.unwrap();
    let (b, _) = etcd.grant(ttl).await.unwrap();
    wins(etcd, key, "a", a).await;
    let r = etcd.acquire(key, "b", b).await;
    let Ok(Acquire::Held { revision, .. }) = r else {
        panic!("{key} held by a: {r:?}")
    };
    (a, b, revision)
}

/// Retries `acquire` until it answers (a new leader may still be settling), up to 15 s.
async fn until_answered(etcd: &EtcdClient, key: &str) -> Acquire {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (id, _) = match etcd.grant(Duration::from_secs(10)).await {
            Ok(g) => g,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => panic!("store did not recover: {e}"),
        };
        match etcd.acquire(key, "after", id).await {
            Ok(a) => return a,
            Err(e) if Instant::now() < deadline => eprintln!("not yet: {e}"),
            Err(e) => panic!("store did not recover: {e}"),
        }
    }
}

#[test]
fn quorum_loss_is_an_error_and_recovers() {
    let Some((_turn, mut c, etcd)) = started(EtcdSpec::default()) else {
        return;
    };
    let ns = c.client_ns().to_string();
    block_on_in(&ns, async {
        let key = "/vipd/test/quorum";
        let (a, b, revision) = a_holds(&etcd, key, TTL).await;
        let waiter = etcd.clone();
        let wait = tokio::spawn(async move { waiter.wait_deleted(key, revision).await });
        tokio::time::sleep(Duration::from_millis(300)).await;

        // Two of three gone: the survivor has no quorum. Writes and linearizable reads need
        // a majority, so they fail at once (or time out, bounded).
        c.stop(0);
        c.stop(1);
        let stopped = Instant::now();
        for (what, r) in [
            ("acquire", etcd.acquire(key, "b", b).await.map(|_| ())),
            ("holder", etcd.holder(key).await.map(|_| ())),
            ("grant", etcd.grant(TTL).await.map(|_| ())),
        ] {
            println!("{what} without quorum: {r:?}");
            assert!(is_outage(&r), "{what}: {r:?}");
        }
        let per_call = stopped.elapsed() / 3;
        assert!(per_call < FAIL_BOUND, "{per_call:?} per failing call");
        // A renewal may still succeed for a moment: the leader renews leases in its own
        // lessor, without consensus, until it steps down for want of a quorum one election
        // timeout (500 ms) after it last heard one (etcd's CheckQuorum). Bounded either way.
        let start = Instant::now();
        let r = etcd.keep_alive(a).await;
        println!("keep_alive right after: {r:?} at {:?}", stopped.elapsed());
        assert!(start.elapsed() < FAIL_BOUND);
        let w = tokio::time::timeout(WATCH_FAIL_BOUND, wait)
            .await
            .expect("wait_deleted must end without quorum")
            .unwrap();
        println!(
            "wait_deleted without quorum: {w:?} at {:?}",
            stopped.elapsed()
        );
        assert!(is_outage(&w), "{w:?}");

        // Well past the election timeout the survivor knows it has no leader, and says so
        // to everything: etcd's "no leader" answer, sorted as NoQuorum.
        tokio::time::sleep(Duration::from_secs(1)).await;
        for (what, r) in [
            ("keep_alive", etcd.keep_alive(a).await.map(|_| ())),
            ("acquire", etcd.acquire(key, "b", b).await.map(|_| ())),
            ("holder", etcd.holder(key).await.map(|_| ())),
            ("grant", etcd.grant(TTL).await.map(|_| ())),
        ] {
            println!("{what} 1 s later: {r:?}");
            assert!(matches!(r, Err(StoreError::NoQuorum(_))), "{what}: {r:?}");
        }

        c.start_member(0).unwrap();
        c.start_member(1).unwrap();
        c.wait_healthy(Duration::from_secs(30)).unwrap();
        // The key's lease lived on through the outage (etcd extends leases on a new leader),
        // so the key is still held.
        let after = until_answered(&etcd, key).await;
        assert!(matches!(after, Acquire::Held { .. }), "{after:?}");
    })
    .unwrap();
}

#[test]
fn a_client_cut_from_every_member_fails_within_bound_and_heals() {
    let Some((_turn, c, etcd)) = started(EtcdSpec::default()) else {
        return;
    };
    block_on_in(c.client_ns(), async {
        let key = "/vipd/test/cut";
        let (a, _, revision) = a_holds(&etcd, key, Duration::from_secs(30)).await;
        let waiter = etcd.clone();
        let wait = tokio::spawn(async move { waiter.wait_deleted(key, revision).await });
        tokio::time::sleep(Duration::from_millis(300)).await;

        let cut = c.cut(c.client_ns()).unwrap();
        let cut_at = Instant::now();
        for _ in 0..2 {
            let start = Instant::now();
            let r = etcd.keep_alive(a).await;
            let took = start.elapsed();
            println!("keep_alive while cut: {r:?} after {took:?}");
            assert!(matches!(r, Err(StoreError::Unreachable(_))), "{r:?}");
            // Every endpoint was tried, each for the whole request timeout.
            assert!(took >= REQUEST_TIMEOUT * MEMBERS as u32, "{took:?}");
            assert!(took < FAIL_BOUND, "{took:?}");
        }
        let w = tokio::time::timeout(WATCH_FAIL_BOUND, wait)
            .await
            .expect("wait_deleted must end when cut")
            .unwrap();
        println!("wait_deleted while cut: {w:?} after {:?}", cut_at.elapsed());
        assert!(matches!(w, Err(StoreError::Unreachable(_))), "{w:?}");

        cut.heal().unwrap();
        assert!(etcd.keep_alive(a).await.unwrap().is_some());
        assert_eq!(etcd.holder(key).await.unwrap().map(|h| h.1), Some(a));
    })
    .unwrap();
}

#[test]
fn a_frozen_member_is_skipped_after_one_request_timeout() {
    let Some(_turn) = turn() else {
        return;
    };
    let mut c = EtcdCluster::start(EtcdSpec::default()).expect("etcd cluster");
    // Freeze a follower: the cluster keeps its quorum and leader, and the client, which
    // starts with the first endpoint, must move on to another.
    let leader = c.leader().unwrap();
    let frozen = (leader + 1) % MEMBERS;
    let mut settings = c.store_settings(REQUEST_TIMEOUT);
    settings.endpoints.swap(0, frozen);
    let etcd = EtcdClient::new(&settings).unwrap();
    let ns = c.client_ns().to_string();
    block_on_in(&ns, async {
        let key = "/vipd/test/frozen";
        let (a, _, revision) = a_holds(&etcd, key, TTL).await;
        // Its watch is on the member about to freeze, which will never report the deletion.
        let waiter = etcd.clone();
        let wait = tokio::spawn(async move {
            waiter.wait_deleted(key, revision).await?;
            Ok::<_, StoreError>(Instant::now())
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.pause(frozen).unwrap();
        let start = Instant::now();
        let r = etcd.holder(key).await;
        let took = start.elapsed();
        println!("holder with the preferred member frozen: {r:?} after {took:?}");
        assert_eq!(r, Ok(Some(("a".into(), a))));
        assert!(
            took >= REQUEST_TIMEOUT && took < REQUEST_TIMEOUT * 2,
            "{took:?}"
        );
        // The member that answered is preferred from now on.
        let start = Instant::now();
        etcd.release(key, a).await.unwrap();
        let released = Instant::now();
        assert!(
            released - start < REQUEST_TIMEOUT / 2,
            "{:?}",
            released - start
        );
        // The waiter's periodic read (every 2 s, through a live member) sees the deletion
        // its frozen watch cannot report.
        let resolved = tokio::time::timeout(WATCH_FAIL_BOUND, wait)
            .await
            .expect("wait_deleted must see the release")
            .unwrap()
            .expect("wait_deleted");
        println!("wait_deleted, its watch frozen: {:?}", resolved - released);
        assert!(resolved - released < Duration::from_secs(4));
        c.resume(frozen).unwrap();
    })
    .unwrap();
}

#[test]
fn lab_nodes_reach_the_members_until_cut() {
    let Some(_turn) = turn() else {
        return;
    };
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let c = EtcdCluster::start_for_lab(&lab, EtcdSpec::default()).expect("etcd cluster");
    let member = c.member_ip(1).into();
    assert!(lab.node(0).ping_once(member) && lab.node(1).ping_once(member));
    let cut = c.cut(lab.node(0).ns()).unwrap();
    assert!(!lab.node(0).ping_once(member), "node0 is cut");
    assert!(lab.node(1).ping_once(member), "node1 is not");
    // The same from etcd's side: a client in node0's namespace gets no answer.
    let etcd = client(&c);
    let r = block_on_in(lab.node(0).ns(), async { etcd.holder("/k").await }).unwrap();
    assert!(matches!(r, Err(StoreError::Unreachable(_))), "{r:?}");
    cut.heal().unwrap();
    let r = block_on_in(lab.node(0).ns(), async { etcd.holder("/k").await }).unwrap();
    assert_eq!(r, Ok(None));
}
