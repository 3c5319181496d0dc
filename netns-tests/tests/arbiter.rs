//! The etcd arbiter end to end: a vipd pair (`arbiter: true`, VRRPv3 100 ms adverts,
//! priorities 150/100, TTL 1 s, margin 200 ms) beside a real 3-member etcd cluster, through
//! the faults it exists for. Every test samples both nodes' addresses every 5 ms
//! (`netns_tests::holders`) and asserts the VIP's timeline on both, and what a client pinging
//! the VIP every 10 ms saw:
//!
//! - `partitions.rs`: (a) the pair cut from each other, (b) the Master cut from etcd with
//!   `release` and with `keep`;
//! - `store_loss.rs`: (c) quorum lost for a while and restored, `release` and `keep`;
//! - `stops.rs`: (d) the Master frozen past its TTL, (e) SIGKILL, (f) SIGTERM, and the
//!   arbiter in `vipd status --json` and the metrics.
//!
//! Never two holders is asserted at every sample wherever vipd can guarantee it; timing
//! bounds are generous (a loaded 2-core machine) and the measured figures are printed.
//! The tests take turns (one cluster at a time), as `arbiter_store.rs` does. They need root,
//! etcd, etcdctl, openssl and a built vipd; without the tools they say SKIPPED (and fail
//! under CI=true).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use netns_tests::arbiter::scenario::Outcome;
use netns_tests::arbiter::{ArbiterPair, PairSpec};
use netns_tests::holders::Timeline;
use netns_tests::ping::PingReport;

#[path = "arbiter/partitions.rs"]
mod partitions;
#[path = "arbiter/stops.rs"]
mod stops;
#[path = "arbiter/store_loss.rs"]
mod store_loss;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Slack on top of a protocol bound, for a loaded machine.
const TOLERANCE: Duration = Duration::from_millis(1500);
/// etcd 3.4 revokes expired leases in a loop every 500 ms (lessor's revoke check): a lease
/// is gone up to this long after its TTL.
const REVOKE_LOOP: Duration = Duration::from_millis(500);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn pair(spec: PairSpec) -> ArbiterPair {
    ArbiterPair::start(spec).unwrap_or_else(|e| panic!("arbiter pair: {e}"))
}

fn pinger() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_pinger"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Fails, with the timeline and both logs, unless no sample of the whole run had both nodes
/// holding the VIP.
fn assert_never_two(pair: &ArbiterPair, tl: &Timeline, origin: Instant) {
    assert_eq!(
        tl.dual_samples,
        0,
        "both nodes held {} at once: {}\n{}",
        pair.vip(),
        tl.describe(origin),
        pair.logs()
    );
}

/// Fails unless every sample from `from` to `to` (or the end) was `held`.
fn assert_only(
    pair: &ArbiterPair,
    out: &Outcome,
    from: Instant,
    to: Option<Instant>,
    held: [bool; 2],
    what: &str,
) {
    let bad = out
        .timeline
        .since(from)
        .into_iter()
        .filter(|c| to.is_none_or(|t| c.at < t))
        .find(|c| c.held != held);
    assert!(
        bad.is_none(),
        "{what}: expected {held:?} throughout, saw {:?} at {:+.0} ms: {}\n{}",
        bad.map(|c| c.held),
        bad.map_or(0.0, |c| ms(c.at - out.fault)),
        out.timeline.describe(out.fault),
        pair.logs()
    );
}

/// The client's view, printed; fails if two hosts answered one echo.
fn client_saw(what: &str, report: &PingReport) {
    eprintln!(
        "{what}: client sent {} pings, lost {}, longest outage {:.0} ms, duplicates {}",
        report.sent, report.lost, report.longest_gap_ms, report.duplicates
    );
    assert_eq!(
        report.duplicates, 0,
        "{what}: two hosts answered: {report:?}"
    );
}
