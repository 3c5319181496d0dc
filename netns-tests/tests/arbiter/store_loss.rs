//! (c) The etcd cluster loses quorum (two of three members killed) for a while, then comes
//! back.

use std::time::Duration;

use netns_tests::arbiter::PairSpec;
use netns_tests::arbiter::scenario::quorum_loss;
use netns_tests::etcd::require_etcd;
use netns_tests::vipd::StoreLoss;
use netns_tests::wait_until;

use super::*;

/// How long quorum stays lost: two TTLs and the time the lease could still be proven.
fn outage(ttl: Duration) -> Duration {
    ttl * 3
}

#[test]
fn quorum_lost_under_release_leaves_nobody_holding_until_it_is_back() {
    if !require_etcd() {
        return;
    }
    let _turn = serial();
    let mut pair = pair(PairSpec::default());
    let ttl = pair.spec.ttl;
    let ping = pair.pinger(pinger()).unwrap();
    let out = quorum_loss(&mut pair, outage(ttl), Duration::ZERO).unwrap();
    let healed = out.healed.expect("restarted");
    // Both nodes ask again after the cluster is back; give them their time.
    let back = pair.watch.wait(TOLERANCE * 6, |h| h[0] || h[1]);
    let report = ping.stop().unwrap();
    let tl = pair.watch.timeline();
    let out = Outcome {
        timeline: tl,
        ..out
    };
    assert_never_two(&pair, &out.timeline, out.fault);
    let dropped = out.master_dropped().unwrap_or_else(|| {
        panic!(
            "node0 kept the VIP: {}\n{}",
            out.timeline.describe(out.fault),
            pair.logs()
        )
    });
    assert!(
        dropped - out.fault < ttl,
        "node0 dropped the VIP {:.0} ms after quorum was lost, past its lease",
        ms(dropped - out.fault)
    );
    assert_only(
        &pair,
        &out,
        dropped,
        Some(healed),
        [false, false],
        "no grant without quorum",
    );
    let back = back.unwrap_or_else(|| {
        panic!(
            "nobody held the VIP after etcd came back: {}\n{}",
            out.timeline.describe(out.fault),
            pair.logs()
        )
    });
    eprintln!(
        "(c) release: node0 dropped the VIP {:.0} ms after quorum was lost; held again {:.0} \
         ms after the members were restarted",
        ms(dropped - out.fault),
        ms(back.saturating_duration_since(healed))
    );
    client_saw("(c) release", &report);
}

#[test]
fn quorum_lost_under_keep_costs_the_client_nothing() {
    if !require_etcd() {
        return;
    }
    let _turn = serial();
    let mut pair = pair(PairSpec {
        on_store_loss: StoreLoss::Keep,
        ..Default::default()
    });
    let ttl = pair.spec.ttl;
    let ping = pair.pinger(pinger()).unwrap();
    let out = quorum_loss(&mut pair, outage(ttl), Duration::from_secs(1)).unwrap();
    // Once etcd answers again the Master renews, or wins the key back, before anyone else.
    let mut last = None;
    let proven = wait_until(TOLERANCE * 4, Duration::from_millis(100), || {
        last = pair.vipds[0]
            .status()
            .ok()
            .map(|s| s.raw["instances"][0]["arbiter"].clone());
        last.as_ref().is_some_and(|a| a["held_here"] == true)
    });
    let report = ping.stop().unwrap();
    let out = Outcome {
        timeline: pair.watch.timeline(),
        ..out
    };
    assert_never_two(&pair, &out.timeline, out.fault);
    assert_only(&pair, &out, out.fault, None, [true, false], "(c) keep");
    assert!(
        proven.is_ok(),
        "node0's lease not proven again after etcd came back: {last:?}\n{}",
        pair.logs()
    );
    client_saw("(c) keep", &report);
    assert_eq!(report.lost, 0, "the client lost pings: {report:?}");
}
