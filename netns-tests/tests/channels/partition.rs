//! Cutting one channel moves nothing; cutting both makes a second Master, and healing leaves
//! one; the Master's own LAN link going down hands over through the heartbeat link.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use netns_tests::Cut;
use netns_tests::require_root;
use netns_tests::vipd::VrrpState;

use crate::common::*;
use crate::setup::*;

#[test]
fn vrrp_dropped_on_the_lan_moves_nothing_and_warns() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        vip,
        high,
        low,
        d0,
        mut d1,
        ..
    } = vrrp_pair();
    let cut = lab.cut(Cut::VrrpOnLan).unwrap();
    wait_channel_lost(&mut d1, "eth0", &low);
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
    assert!(cut.dropped().unwrap() > 0, "the cut dropped no VRRP");
    let warning = heartbeat_warning(&d1).expect("status names the lost channel");
    assert!(
        warning.contains("1 of 2") && warning.contains("eth0"),
        "{warning}"
    );
    let table = d1.ctl_ok(&["status"]).unwrap();
    assert!(
        table.contains("heartbeat: running on 1 of 2 channels"),
        "{table}"
    );
    assert!(table.contains("channel eth0: LOST"), "{table}");
    assert_eq!(channel_status(&d1, "eth0")["lost"], true);
    assert_eq!(channel_status(&d1, "eth1")["lost"], false);
    assert_only_holder(&[lab.node(0), lab.node(1)], lab.node(0), "eth0", vip);
    assert_client_sees(&lab, vip, lab.node(0).mac("eth0").unwrap());

    cut.heal().unwrap();
    d1.wait_log("heartbeat over eth0 recovered", TOLERANCE)
        .unwrap();
    assert_eq!(heartbeat_warning(&d1), None);
}

#[test]
fn cutting_the_heartbeat_link_moves_nothing() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        vip,
        high,
        low,
        d0,
        mut d1,
        ..
    } = vrrp_pair();
    let cut = lab.cut(Cut::Heartbeat(lab.node(1))).unwrap();
    wait_channel_lost(&mut d1, "eth1", &low);
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
    assert!(cut.dropped().unwrap() > 0);
    assert_client_sees(&lab, vip, lab.node(0).mac("eth0").unwrap());
    cut.heal().unwrap();
    d1.wait_log("heartbeat over eth1 recovered", TOLERANCE)
        .unwrap();
}

#[test]
fn both_cut_gives_two_masters_and_the_heal_leaves_one_that_the_client_reaches() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        vip,
        high,
        low,
        mut d0,
        mut d1,
        ..
    } = vrrp_pair();
    // The client talks to the VIP, so it has a neighbour entry for gratuitous ARPs to move.
    assert!(lab.client.ping_once(vip));
    let n0_mac = lab.node(0).mac("eth0").unwrap();
    assert_eq!(lab.client.neigh_mac(vip).unwrap(), Some(n0_mac));
    let lan = lab.cut(Cut::VrrpOnLan).unwrap();
    let hb = lab.cut(Cut::Heartbeat(lab.node(0))).unwrap();
    wait_master_down(&mut d1, &low);
    // Only VRRP is cut on the LAN: node1's gratuitous ARPs reach the client, which now
    // sends to node1 (both nodes would answer an ARP probe: that is the split brain).
    wait_holds(lab.node(1), "eth0", vip, true, TOLERANCE);
    let n1_mac = lab.node(1).mac("eth0").unwrap();
    wait_client_neigh(&lab, vip, n1_mac, "node1's gratuitous ARPs");
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);

    let healed_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    lan.heal().unwrap();
    hb.heal().unwrap();
    let t = d1
        .wait_state(
            &low.name,
            VrrpState::Backup,
            high.advert_interval + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("preempted by"), "{t:?}");
    let two_masters = t.at - healed_at.as_secs_f64();
    eprintln!(
        "two Masters for {:.1} ms after the heal",
        two_masters * 1000.0
    );
    // The loser yields to the winner's first advert after the heal, due within one advert
    // interval (measured: 11-87 ms). Four intervals leave room for the nft heal command and a
    // loaded machine; waiting out a timer of its own would take the loser longer.
    assert!(
        two_masters < (high.advert_interval * 4).as_secs_f64(),
        "two Masters for {two_masters}s after the heal"
    );
    wait_holds(lab.node(1), "eth0", vip, false, TOLERANCE);
    wait_client_neigh(&lab, vip, n0_mac, "the winner's fresh gratuitous ARPs");
    assert_only_holder(&[lab.node(0), lab.node(1)], lab.node(0), "eth0", vip);
    assert_client_sees(&lab, vip, n0_mac);
    let re = d0
        .wait_log("mastership re-asserted after a split brain", TOLERANCE)
        .unwrap();
    // Over node1, as heard on the LAN or on the heartbeat link.
    let (lan1, hb1) = (lab.node(1).ip4(), lab.node(1).hb_ip4().unwrap());
    assert!(
        re.contains(&format!("master {lan1} ")) || re.contains(&format!("master {hb1} ")),
        "{re}"
    );
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
}

#[test]
fn the_masters_lan_link_down_hands_over_through_the_heartbeat_link() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        vip,
        high,
        low,
        mut d0,
        mut d1,
        ..
    } = vrrp_pair();
    // node1 has heard the Master on both channels, under its address on each: its LAN
    // address, heard a moment before the resignation, is not another Master to wait for.
    netns_tests::wait_until(TOLERANCE, POLL, || {
        ["eth0", "eth1"]
            .iter()
            .all(|c| channel_counter(&d1, c, "adverts_received") > 0)
    })
    .expect("node1 hears node0 on eth0 and eth1");
    let t0 = Instant::now();
    lab.set_port(lab.node(0), false).unwrap();
    let t = d0
        .wait_state(&high.name, VrrpState::Fault, TOLERANCE)
        .unwrap();
    assert!(t.reason.contains("eth0"), "{t:?}");
    // node0's priority 0 can only have come over eth1: its LAN cable is out.
    let t = d1
        .wait_state(&low.name, VrrpState::Master, low.skew_time() + TOLERANCE)
        .unwrap();
    assert!(t.reason.contains("resigned (priority 0)"), "{t:?}");
    let took = takeover_time(
        lab.node(1),
        "eth0",
        vip,
        t0,
        low.skew_time() + TOLERANCE * 2,
    );
    eprintln!(
        "LAN link down -> node1 holds the VIP: {took:?} (Skew_Time {:?})",
        low.skew_time()
    );
    assert_client_sees(&lab, vip, lab.node(1).mac("eth0").unwrap());
}
