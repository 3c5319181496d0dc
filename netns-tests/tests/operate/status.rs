//! `vipd status` tells the truth: what each node reports is what the client sees.

use netns_tests::require_root;

use crate::common::*;

#[test]
fn status_json_on_both_nodes_agrees_with_who_answers_arp() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let (c0, c1) = (
        config(n0, vec![inst("web", 51, vip, 150)]),
        config(n1, vec![inst("web", 51, vip, 100)]),
    );
    let [d0, d1] = master_then_backup(&lab, &c0, &c1);
    wait_holds(n0, vip, true, TOLERANCE);
    let master_mac = n0.mac("eth0").unwrap();
    assert_eq!(
        answerers(&lab, vip),
        vec![master_mac],
        "only node0 may answer ARP for {vip}"
    );

    let (s0, s1) = (d0.status().unwrap(), d1.status().unwrap());
    let (w0, w1) = (s0.instance("web"), s1.instance("web"));
    let node0 = n0.ip4().to_string();
    assert_eq!(
        (w0.state.as_str(), w0.vips_held, w0.master.as_deref()),
        ("MASTER", true, Some(node0.as_str())),
        "node0: {}",
        s0.raw
    );
    assert_eq!(
        (w1.state.as_str(), w1.vips_held, w1.master.as_deref()),
        ("BACKUP", false, Some(node0.as_str())),
        "node1 must name node0 as the Master: {}",
        s1.raw
    );
    assert_eq!(w0.vips, vec![format!("{vip}/24")]);
    assert_eq!((w0.base_priority, w0.effective_priority), (150, 150));
    assert_eq!((w1.base_priority, w1.effective_priority), (100, 100));
    assert!(!w0.maintenance && !w1.maintenance);
    assert!(w0.faults.is_empty() && w1.faults.is_empty());
    assert_eq!(s0.raw["router_id"], "node0");

    // The table is for people; it must still say the same thing.
    let table = d0.ctl_ok(&["status"]).unwrap();
    let row = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some("web"))
        .unwrap_or_else(|| panic!("no row for web in:\n{table}"));
    assert!(
        row.contains("MASTER") && row.contains(&format!("{vip}/24 (held)")),
        "{row}"
    );
    // Nothing moved while we looked.
    assert_eq!(answerers(&lab, vip), vec![master_mac]);
    assert!(!holds(n1, vip));
}
