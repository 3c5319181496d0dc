//! (a) The pair cut from each other, both reaching etcd; (b) the Master cut from etcd while
//! its Backup still hears it.

use std::time::Duration;

use netns_tests::arbiter::PairSpec;
use netns_tests::arbiter::scenario::{master_cut_from_store, vrrp_cut};
use netns_tests::etcd::require_etcd;
use netns_tests::vipd::{StoreLoss, VrrpState};

use super::*;

#[test]
fn a_pair_cut_from_each_other_keeps_exactly_one_holder() {
    if !require_etcd() {
        return;
    }
    let _turn = serial();
    let pair = pair(PairSpec::default());
    let ping = pair.pinger(pinger()).unwrap();
    // The Backup hears silence after Master_Down_Interval, finds the key held by the
    // Master's lease, and waits; the Master renews all along. Several TTLs of it.
    let hold = pair.spec.ttl * 4 + pair.master_down();
    let out = vrrp_cut(&pair, hold, Duration::from_secs(1)).unwrap();
    let report = ping.stop().unwrap();
    assert_never_two(&pair, &out.timeline, out.fault);
    assert_only(
        &pair,
        &out,
        out.fault,
        None,
        [true, false],
        "VRRP cut and healed",
    );
    assert!(
        !pair.vipds[1]
            .transitions("web")
            .iter()
            .any(|t| t.to == VrrpState::Master),
        "node1 became Master without the lease:\n{}",
        pair.logs()
    );
    client_saw("(a) VRRP cut", &report);
    assert_eq!(report.lost, 0, "the client lost pings: {report:?}");
}

#[test]
fn a_master_cut_from_etcd_under_release_leaves_before_its_lease_can_expire() {
    if !require_etcd() {
        return;
    }
    let _turn = serial();
    let pair = pair(PairSpec::default());
    let ttl = pair.spec.ttl;
    let ping = pair.pinger(pinger()).unwrap();
    let hold = ttl * 3 + REVOKE_LOOP + TOLERANCE;
    let out = master_cut_from_store(&pair, hold, Duration::from_secs(1)).unwrap();
    let report = ping.stop().unwrap();
    assert_never_two(&pair, &out.timeline, out.fault);
    let dropped = out.master_dropped().unwrap_or_else(|| {
        panic!(
            "node0 kept the VIP: {}\n{}",
            out.timeline.describe(out.fault),
            pair.logs()
        )
    });
    // Its last renewal was sent before the cut, so its lease at etcd lasts at least until
    // then + TTL; it must be gone before that (by `margin` and 1 % of the TTL, in fact).
    assert!(
        dropped - out.fault < ttl,
        "node0 held {} {:.0} ms into the cut, past its lease",
        pair.vip(),
        ms(dropped - out.fault)
    );
    let took = out.backup_took_over().unwrap_or_else(|| {
        panic!(
            "node1 never took over: {}\n{}",
            out.timeline.describe(out.fault),
            pair.logs()
        )
    });
    assert!(
        took - out.fault <= ttl + REVOKE_LOOP + pair.master_down() + TOLERANCE,
        "node1 took over {:.0} ms after the cut",
        ms(took - out.fault)
    );
    assert_only(&pair, &out, took, None, [false, true], "after the takeover");
    eprintln!(
        "(b) release: node0 dropped the VIP {:.0} ms after the cut, node1 held it {:.0} ms \
         after that",
        ms(dropped - out.fault),
        ms(took - dropped)
    );
    client_saw("(b) release", &report);
}

#[test]
fn a_master_cut_from_etcd_under_keep_keeps_its_vip() {
    if !require_etcd() {
        return;
    }
    let _turn = serial();
    let pair = pair(PairSpec {
        on_store_loss: StoreLoss::Keep,
        ..Default::default()
    });
    let ping = pair.pinger(pinger()).unwrap();
    let hold = pair.spec.ttl * 3 + REVOKE_LOOP + TOLERANCE;
    let out = master_cut_from_store(&pair, hold, Duration::from_secs(1)).unwrap();
    let report = ping.stop().unwrap();
    assert_never_two(&pair, &out.timeline, out.fault);
    assert_only(&pair, &out, out.fault, None, [true, false], "(b) keep");
    client_saw("(b) keep", &report);
    assert_eq!(report.lost, 0, "the client lost pings: {report:?}");
}
