//! vipd's etcd client (`vipd::arbiter::etcd`) against a real 3-member etcd cluster in
//! namespaces: leases, the acquire/take-over/release transactions, waiting for a deletion,
//! quorum loss, a client cut off, a frozen member, and TLS. Each test needs root, etcd and
//! openssl; without them it says SKIPPED (or fails under CI=true).
//!
//! The tests take turns (one cluster at a time): three etcd members with 50 ms heartbeats
//! per test, all at once on a small machine, would make the timing bounds meaningless.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use netns_tests::block_on_in;
use netns_tests::etcd::{EtcdCluster, EtcdSpec, require_etcd};
use vipd::arbiter::etcd::{Acquire, EtcdClient, LeaseId, StoreError};

#[path = "arbiter_store/faults.rs"]
mod faults;
#[path = "arbiter_store/tls.rs"]
mod tls;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Per request and endpoint: far above a healthy round trip (milliseconds), far below a TTL.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// A failed call tries all three endpoints; this is what it may take on a loaded machine.
const FAIL_BOUND: Duration = Duration::from_secs(5);

/// This test's turn, held while it runs; `None` (after saying SKIPPED, or failing under
/// CI=true) where etcd tests cannot run.
fn turn() -> Option<MutexGuard<'static, ()>> {
    require_etcd().then(|| ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner()))
}

/// This test's turn, a fresh cluster and a client of it (dropped in the reverse order:
/// client, cluster, then the turn).
fn started(spec: EtcdSpec) -> Option<(MutexGuard<'static, ()>, EtcdCluster, EtcdClient)> {
    let turn = turn()?;
    let c = EtcdCluster::start(spec).expect("etcd cluster");
    let etcd = client(&c);
    Some((turn, c, etcd))
}

fn client(c: &EtcdCluster) -> EtcdClient {
    EtcdClient::new(&c.store_settings(REQUEST_TIMEOUT)).expect("client")
}

/// `lease` acquires the absent `key` under `name`.
async fn wins(etcd: &EtcdClient, key: &str, name: &str, lease: LeaseId) {
    let r = etcd.acquire(key, name, lease).await;
    assert!(
        matches!(r, Ok(Acquire::Won { .. })),
        "{name} acquiring {key}: {r:?}"
    );
}

/// The median round trips of an acquire (one that wins, after an untimed release) and of a
/// keep-alive, over 50 calls each, on connections already open.
async fn round_trips_of(etcd: &EtcdClient) -> (Duration, Duration) {
    let key = "/vipd/test/rtt";
    let (id, _) = etcd.grant(Duration::from_secs(30)).await.unwrap();
    let (mut acquire, mut keep_alive) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        etcd.release(key, id).await.unwrap();
        let start = Instant::now();
        let r = etcd.acquire(key, "n", id).await;
        acquire.push(start.elapsed());
        assert!(matches!(r, Ok(Acquire::Won { .. })), "{r:?}");
    }
    for _ in 0..50 {
        let start = Instant::now();
        let r = etcd.keep_alive(id).await;
        keep_alive.push(start.elapsed());
        assert!(matches!(r, Ok(Some(_))), "{r:?}");
    }
    etcd.revoke(id).await.unwrap();
    acquire.sort();
    keep_alive.sort();
    (acquire[25], keep_alive[25])
}

#[test]
fn leases_grant_renew_and_revoke() {
    let Some((_turn, c, etcd)) = started(EtcdSpec::default()) else {
        return;
    };
    block_on_in(c.client_ns(), async {
        // 1 s is etcd's minimum with a 500 ms election timeout: granted as asked.
        let (id, ttl) = etcd.grant(Duration::from_secs(1)).await.expect("grant");
        assert_eq!(ttl, Duration::from_secs(1));
        // Sub-second TTLs are rounded up to etcd's unit.
        let (other, ttl) = etcd
            .grant(Duration::from_millis(1500))
            .await
            .expect("grant");
        assert_eq!(ttl, Duration::from_secs(2));
        assert_ne!(id, other);
        assert_eq!(etcd.keep_alive(id).await, Ok(Some(Duration::from_secs(1))));
        etcd.revoke(id).await.expect("revoke");
        assert_eq!(etcd.keep_alive(id).await, Ok(None), "revoked lease");
        etcd.revoke(id)
            .await
            .expect("revoking a revoked lease is fine");
        // A lease nobody renews is gone after its TTL.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(etcd.keep_alive(other).await, Ok(None), "expired lease");
    })
    .unwrap();
}

#[test]
fn acquire_take_over_release_and_holder() {
    let Some((_turn, c, etcd)) = started(EtcdSpec::default()) else {
        return;
    };
    block_on_in(c.client_ns(), async {
        let key = "/vipd/test/lb";
        let (a, _) = etcd.grant(Duration::from_secs(10)).await.unwrap();
        let (b, _) = etcd.grant(Duration::from_secs(10)).await.unwrap();
        assert_eq!(etcd.holder(key).await, Ok(None));
        let won = etcd.acquire(key, "node-a", a).await.expect("acquire");
        let Acquire::Won { revision } = won else {
            panic!("an absent key must be won: {won:?}")
        };
        // The same call again, as after a lost answer: still won, by the same write.
        assert_eq!(
            etcd.acquire(key, "node-a", a).await,
            Ok(Acquire::Won { revision })
        );
        match etcd.acquire(key, "node-b", b).await.expect("acquire") {
            Acquire::Held {
                holder,
                lease,
                revision: seen,
            } => {
                assert_eq!((holder.as_str(), lease), ("node-a", a));
                assert!(seen >= revision, "{seen} < {revision}");
            }
            other => panic!("a held key must stay held: {other:?}"),
        }
        assert_eq!(etcd.holder(key).await, Ok(Some(("node-a".into(), a))));
        // Taking over needs the holder's lease: a wrong one changes nothing.
        let wrong = LeaseId(a.0 ^ 1);
        assert_eq!(etcd.take_over(key, "node-b", b, wrong).await, Ok(false));
        assert_eq!(etcd.take_over(key, "node-b", b, a).await, Ok(true));
        // Again, as after a lost answer: the key is ours, so it is done.
        assert_eq!(etcd.take_over(key, "node-b", b, a).await, Ok(true));
        assert_eq!(etcd.holder(key).await, Ok(Some(("node-b".into(), b))));
        // Releasing with a lease that does not hold the key leaves it alone.
        etcd.release(key, a).await.expect("release");
        assert_eq!(etcd.holder(key).await, Ok(Some(("node-b".into(), b))));
        etcd.release(key, b).await.expect("release");
        assert_eq!(etcd.holder(key).await, Ok(None));
        // Revoking the lease deletes the key attached to it.
        wins(&etcd, key, "node-a", a).await;
        etcd.revoke(a).await.unwrap();
        assert_eq!(etcd.holder(key).await, Ok(None));
        // A refusal names etcd's reason: a put with a lease that does not exist.
        match etcd.acquire(key, "node-a", a).await {
            Err(StoreError::Rejected(m)) => assert!(m.contains("lease not found"), "{m}"),
            other => panic!("acquire with a revoked lease: {other:?}"),
        }
    })
    .unwrap();
}

#[test]
fn wait_deleted_follows_expiry_and_release() {
    let Some((_turn, c, etcd)) = started(EtcdSpec::default()) else {
        return;
    };
    block_on_in(c.client_ns(), async {
        let key = "/vipd/test/wait";
        // Absent: at once.
        let start = Instant::now();
        etcd.wait_deleted(key, 1).await.expect("absent key");
        assert!(start.elapsed() < Duration::from_secs(1));

        // The holder stops renewing: the key goes when its 1 s lease expires.
        let (a, ttl) = etcd.grant(Duration::from_secs(1)).await.unwrap();
        let (b, _) = etcd.grant(Duration::from_secs(30)).await.unwrap();
        wins(&etcd, key, "a", a).await;
        let last_renewal = Instant::now();
        etcd.keep_alive(a).await.unwrap().expect("lease alive");
        let Ok(Acquire::Held { revision, .. }) = etcd.acquire(key, "b", b).await else {
            panic!("held")
        };
        etcd.wait_deleted(key, revision).await.expect("expiry");
        let took = last_renewal.elapsed();
        println!("wait_deleted after the last renewal of a {ttl:?} lease: {took:?}");
        assert!(took >= ttl, "deleted before the TTL ran out: {took:?}");
        assert!(took < ttl + Duration::from_secs(2), "{took:?}");

        // A release: at once.
        let (x, _) = etcd.grant(Duration::from_secs(30)).await.unwrap();
        wins(&etcd, key, "b", b).await;
        let Ok(Acquire::Held { revision, .. }) = etcd.acquire(key, "x", x).await else {
            panic!("held by b")
        };
        let waiter = etcd.clone();
        let wait = tokio::spawn(async move {
            waiter.wait_deleted("/vipd/test/wait", revision).await?;
            Ok::<_, StoreError>(Instant::now())
        });
        // Let the watch be created before the release.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let released = Instant::now();
        etcd.release(key, b).await.unwrap();
        let resolved = wait.await.unwrap().expect("release seen");
        let took = resolved - released;
        println!("wait_deleted after a release: {took:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");

        // Deleted before the wait starts, after the revision given: at once, though the key
        // exists again (a new incarnation).
        wins(&etcd, key, "b", b).await;
        let start = Instant::now();
        etcd.wait_deleted(key, revision).await.unwrap();
        assert!(start.elapsed() < Duration::from_millis(500));
    })
    .unwrap();
}

#[test]
fn round_trips() {
    let Some((_turn, c, etcd)) = started(EtcdSpec::default()) else {
        return;
    };
    block_on_in(c.client_ns(), async {
        let (acquire, keep_alive) = round_trips_of(&etcd).await;
        println!("median round trip over 50: acquire {acquire:?}, keep_alive {keep_alive:?}");
        assert!(acquire < REQUEST_TIMEOUT && keep_alive < REQUEST_TIMEOUT);
    })
    .unwrap();
}
