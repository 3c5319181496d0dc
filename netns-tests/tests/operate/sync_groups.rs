//! Sync groups over two LANs: `ext` on eth0 and `int` on eth1, one group `lb`. A member goes
//! Master only when every member wants to (keepalived's rule), so a Backup that stops hearing
//! the Master on one LAN, while the other LAN still carries its adverts, moves nothing; a dead
//! Master still fails over as a whole group.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use netns_tests::vipd::{InstanceSpec, Transition, Vipd, VipdConfig, VrrpState};
use netns_tests::{Cut, Lab, Node, require_root, wait_until};

use crate::common::*;

/// How long the one-way loss lasts: long enough for dozens of Master_Down_Intervals.
const HOLD: Duration = Duration::from_secs(15);
/// How long a group failover may take after the Master dies (Master_Down_Interval is
/// about 0.36 s; the rest is slack for a loaded machine).
const FAILOVER: Duration = Duration::from_secs(5);
const MEMBERS: [&str; 2] = ["ext", "int"];

/// The client-facing VIP (eth0, for `ext`) and the inside one (eth1, for `int`).
fn vips(lab: &Lab) -> (Ipv4Addr, Ipv4Addr) {
    (lab.vip4(0), lab.heartbeat_vip4(0))
}

/// `node`'s configuration: `ext` (VRID 51, eth0) and `int` (VRID 52, eth1) at `priority`,
/// in sync group `lb`.
fn group_config(lab: &Lab, node: &Node, priority: u8) -> VipdConfig {
    let (ext_vip, int_vip) = vips(lab);
    let mut c = config(
        node,
        vec![
            inst("ext", 51, ext_vip, priority),
            inst_eth1("int", 52, int_vip, priority),
        ],
    );
    c.groups = vec![("lb".into(), MEMBERS.map(String::from).to_vec())];
    c
}

/// node0 (150) Master of both members, node1 (100) Backup of both, node0 holding both VIPs.
fn settled_group(lab: &Lab) -> ([Vipd; 2], InstanceSpec) {
    let c1 = group_config(lab, lab.node(1), 100);
    let low = c1.instances[0].clone();
    let ds = master_then_backup(lab, &group_config(lab, lab.node(0), 150), &c1);
    let (ext_vip, int_vip) = vips(lab);
    let n0 = lab.node(0);
    wait_until(TOLERANCE, Duration::from_millis(10), || {
        holds_on(n0, "eth0", ext_vip) && holds_on(n0, "eth1", int_vip)
    })
    .expect("node0 holds both VIPs");
    (ds, low)
}

/// How many transitions each member of `vipd` has logged so far.
fn counts(vipd: &Vipd) -> [usize; 2] {
    MEMBERS.map(|m| vipd.transitions(m).len())
}

/// The transitions of every member since `since`, oldest first, for messages.
fn since(vipd: &Vipd, since: [usize; 2]) -> Vec<Transition> {
    let mut all: Vec<Transition> = MEMBERS
        .iter()
        .zip(since)
        .flat_map(|(m, n)| vipd.transitions(m).split_off(n))
        .collect();
    all.sort_by(|a, b| a.at.total_cmp(&b.at));
    all
}

/// Asserts that `vipd` logged no transition of any member since `before`.
fn assert_no_transitions(vipd: &Vipd, before: [usize; 2], during: &str) {
    let moved = since(vipd, before);
    let shown: Vec<String> = moved
        .iter()
        .take(6)
        .map(|t| format!("{} {} -> {}: {}", t.instance, t.from, t.to, t.reason))
        .collect();
    assert!(
        moved.is_empty(),
        "{} made {} transitions during {during}; the first:\n  {}",
        vipd.node().name(),
        moved.len(),
        shown.join("\n  ")
    );
}

#[test]
fn one_way_vrrp_loss_on_one_lan_moves_no_member_of_the_group() {
    if !require_root() {
        return;
    }
    let lab = two_lans();
    let (ext_vip, int_vip) = vips(&lab);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let ([mut d0, mut d1], low) = settled_group(&lab);
    let (before0, before1) = (counts(&d0), counts(&d1));

    // node1 stops hearing node0 on eth0 only; on eth1 node0's adverts still arrive, so int
    // never wants to take over, and neither may ext.
    let cut = lab.cut(Cut::VrrpOnLanOneWay { from: n0, to: n1 }).unwrap();
    let t0 = Instant::now();
    let mut moved = Vec::new();
    let _ = wait_until(HOLD, Duration::from_millis(100), || {
        if holds_on(n1, "eth0", ext_vip) || !holds_on(n0, "eth0", ext_vip) {
            moved.push(t0.elapsed());
        }
        false
    });
    assert!(cut.dropped().unwrap() > 0, "the cut dropped no VRRP");
    let during = format!("{HOLD:?} of one-way VRRP loss on eth0");
    assert_no_transitions(&d1, before1, &during);
    assert_no_transitions(&d0, before0, &during);
    assert!(
        moved.is_empty(),
        "the client-facing VIP {ext_vip} left node0 (or reached node1) {} times, first after {:?}",
        moved.len(),
        moved.first()
    );

    cut.heal().unwrap();
    for m in MEMBERS {
        d0.wait_state(m, VrrpState::Master, TOLERANCE).unwrap();
        d1.wait_state(m, VrrpState::Backup, TOLERANCE).unwrap();
    }
    std::thread::sleep(low.master_down_interval() * 4);
    for m in MEMBERS {
        assert_eq!(d0.state(m), Some(VrrpState::Master), "node0 {m}");
        assert_eq!(d1.state(m), Some(VrrpState::Backup), "node1 {m}");
    }
    for (iface, vip) in [("eth0", ext_vip), ("eth1", int_vip)] {
        assert!(holds_on(n0, iface, vip), "node0 must hold {vip}");
        assert!(!holds_on(n1, iface, vip), "node1 must not hold {vip}");
    }
    assert_eq!(answerers(&lab, ext_vip), vec![n0.mac("eth0").unwrap()]);
}

#[test]
fn a_dead_master_fails_the_whole_group_over() {
    if !require_root() {
        return;
    }
    let lab = two_lans();
    let (ext_vip, int_vip) = vips(&lab);
    let n1 = lab.node(1);
    let ([mut d0, mut d1], low) = settled_group(&lab);
    let before1 = counts(&d1);

    let t0 = Instant::now();
    d0.kill();
    for m in MEMBERS {
        let t = d1
            .wait_state(m, VrrpState::Master, FAILOVER.saturating_sub(t0.elapsed()))
            .unwrap();
        assert_eq!(t.from, VrrpState::Backup, "{t:?}");
    }
    wait_until(
        FAILOVER.saturating_sub(t0.elapsed()),
        Duration::from_millis(10),
        || holds_on(n1, "eth0", ext_vip) && holds_on(n1, "eth1", int_vip),
    )
    .unwrap_or_else(|e| panic!("node1 does not hold both VIPs: {e}"));
    eprintln!("group failover after SIGKILL: {:?}", t0.elapsed());

    // Once Master, the group stays so: exactly one Backup -> Master per member.
    std::thread::sleep(low.master_down_interval() * 4);
    let moved: Vec<_> = since(&d1, before1)
        .iter()
        .map(|t| (t.instance.clone(), t.from, t.to))
        .collect();
    let expected: Vec<_> = MEMBERS
        .map(|m| (m.to_string(), VrrpState::Backup, VrrpState::Master))
        .to_vec();
    let mut got = moved.clone();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got, expected,
        "node1's transitions after the kill: {moved:?}"
    );
    // node0 was killed, so its kernel still holds the VIP and may answer too.
    assert!(answerers(&lab, ext_vip).contains(&n1.mac("eth0").unwrap()));
}
