//! (d) The Master frozen past its TTL, (e) killed, (f) stopped; and the arbiter as
//! `vipd status --json` and the metrics show it.

use std::net::SocketAddr;
use std::time::Duration;

use nix::sys::signal::Signal;

use netns_tests::arbiter::PairSpec;
use netns_tests::arbiter::pair::METRICS_PORT;
use netns_tests::arbiter::scenario::{freeze_master_past_takeover, stop_master};
use netns_tests::etcd::require_etcd;
use netns_tests::vipd::metrics::{sample, scrape};
use netns_tests::wait_until;

use super::*;

/// After SIGCONT the lease deadline is the first timer the thawed vipd serves.
const THAW_BOUND: Duration = Duration::from_millis(500);

#[test]
fn a_frozen_master_loses_its_lease_and_drops_the_vip_when_it_runs_again() {
    if !require_etcd() {
        return;
    }
    let _turn = serial();
    let mut pair = pair(PairSpec::default());
    let ttl = pair.spec.ttl;
    let ping = pair.pinger(pinger()).unwrap();
    let out = freeze_master_past_takeover(&mut pair, ttl * 8, ttl, ttl * 2).unwrap();
    let report = ping.stop().unwrap();
    let thawed = out.healed.expect("thawed");
    let took = out.backup_took_over().unwrap_or_else(|| {
        panic!(
            "node1 never took over from the frozen Master: {}\n{}",
            out.timeline.describe(out.fault),
            pair.logs()
        )
    });
    // The lease was renewed at most TTL/4 before the freeze, so it lasts at least 3/4 of a
    // TTL beyond it: a takeover sooner (Master_Down_Interval, 361 ms) was not granted by it.
    assert!(
        took < thawed && took - out.fault >= ttl.mul_f64(0.7),
        "node1 took over {:.0} ms into a {:.0} ms freeze: {}",
        ms(took - out.fault),
        ms(thawed - out.fault),
        out.timeline.describe(out.fault)
    );
    let dropped = out.timeline.first_after(thawed, |h| !h[0]);
    let dropped = dropped
        .filter(|d| *d - thawed <= THAW_BOUND)
        .unwrap_or_else(|| {
            panic!(
                "node0 still held the VIP {THAW_BOUND:?} after SIGCONT: {}\n{}",
                out.timeline.describe(thawed),
                pair.logs()
            )
        });
    assert_only(&pair, &out, dropped, None, [false, true], "after the thaw");
    // The kernel keeps a frozen process's addresses: both hold from the takeover to the
    // thaw, and that is all (README: what the arbiter cannot do).
    eprintln!(
        "(d) freeze: node1 took over {:.0} ms into the freeze; node0 dropped the VIP {:.0} ms \
         after SIGCONT; both held for {:.0} ms during the freeze and {:.0} ms after it",
        ms(took - out.fault),
        ms(dropped - thawed),
        ms(out.timeline.dual_time_since(out.fault) - out.timeline.dual_time_since(thawed)),
        ms(out.timeline.dual_time_since(thawed))
    );
    client_saw("(d) freeze", &report);
}

#[test]
fn a_killed_master_is_replaced_once_its_lease_expires() {
    if !require_etcd() {
        return;
    }
    let _turn = serial();
    let mut pair = pair(PairSpec::default());
    let ttl = pair.spec.ttl;
    let bound = ttl + pair.master_down() + REVOKE_LOOP;
    let ping = pair.pinger(pinger()).unwrap();
    let out = stop_master(&mut pair, Signal::SIGKILL, bound + TOLERANCE, ttl).unwrap();
    let report = ping.stop().unwrap();
    let took = out.backup_took_over().map(|t| t - out.fault);
    eprintln!(
        "(e) SIGKILL: node1 held the VIP {:.0} ms after the kill (bound {:.0} ms)",
        took.map_or(f64::NAN, ms),
        ms(bound)
    );
    let took = took.unwrap_or_else(|| panic!("no takeover\n{}", pair.logs()));
    // Sooner than 3/4 of a TTL would be VRRP's Master_Down_Interval, without the lease.
    assert!(
        took <= bound && took >= ttl.mul_f64(0.7),
        "takeover {:.0} ms after SIGKILL: {}",
        ms(took),
        out.timeline.describe(out.fault)
    );
    client_saw("(e) SIGKILL", &report);
}

#[test]
fn a_stopped_master_hands_over_within_skew_time() {
    if !require_etcd() {
        return;
    }
    let _turn = serial();
    let mut pair = pair(PairSpec::default());
    let bound = pair.skew() + Duration::from_millis(200);
    let ping = pair.pinger(pinger()).unwrap();
    let out = stop_master(
        &mut pair,
        Signal::SIGTERM,
        TOLERANCE * 2,
        Duration::from_millis(500),
    )
    .unwrap();
    let report = ping.stop().unwrap();
    assert_never_two(&pair, &out.timeline, out.fault);
    let took = out.backup_took_over().map(|t| t - out.fault);
    eprintln!(
        "(f) SIGTERM: node1 held the VIP {:.0} ms after the signal (bound {:.0} ms)",
        took.map_or(f64::NAN, ms),
        ms(bound)
    );
    let took = took.unwrap_or_else(|| panic!("no takeover\n{}", pair.logs()));
    assert!(
        took <= bound,
        "handover took {:.0} ms: {}\n{}",
        ms(took),
        out.timeline.describe(out.fault),
        pair.logs()
    );
    assert!(
        pair.vipds[0].wait_exit(TOLERANCE * 2).is_some(),
        "node0's vipd did not exit"
    );
    client_saw("(f) SIGTERM", &report);
}

#[test]
fn status_and_metrics_show_the_lease_on_the_master() {
    if !require_etcd() {
        return;
    }
    let _turn = serial();
    let pair = pair(PairSpec {
        metrics: true,
        ..Default::default()
    });
    let arbiter = |i: usize| {
        pair.vipds[i]
            .status()
            .map(|s| s.raw["instances"][0]["arbiter"].clone())
            .unwrap_or_default()
    };
    let mut last = Default::default();
    let ok = wait_until(TOLERANCE, Duration::from_millis(50), || {
        last = arbiter(0);
        last["held_here"] == true
    });
    assert!(ok.is_ok(), "node0's status: {last}");
    assert_eq!(last["holder"], "node0", "{last}");
    assert_eq!(last["reachable"], true, "{last}");
    assert!(
        last["key"]
            .as_str()
            .is_some_and(|k| k.ends_with("/instance/web")),
        "{last}"
    );
    let left = last["lease_left_ms"].as_u64().unwrap_or(0);
    assert!(left > 0 && left <= 1000, "lease_left_ms {left}: {last}");
    assert!(last["grants"].as_u64() >= Some(1), "{last}");
    let backup = arbiter(1);
    assert_eq!(backup["held_here"], false, "node1's status: {backup}");

    let held = |i: usize| {
        let node = pair.lab.node(i);
        let text = scrape(node, SocketAddr::new(node.ip4().into(), METRICS_PORT)).unwrap();
        sample(&text, "vipd_arbiter_lease_held", &[("instance", "web")])
    };
    assert_eq!(held(0), Some(1.0), "node0's vipd_arbiter_lease_held");
    assert_eq!(held(1), Some(0.0), "node1's vipd_arbiter_lease_held");
}
