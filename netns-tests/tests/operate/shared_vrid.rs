//! The same VRID on two LANs: `ext` (eth0) and `int` (eth1), both VRID 51. Alone they are two
//! virtual routers that never hear each other. A heartbeat channel of `ext` on eth1 would
//! receive `int`'s adverts as its own (one receive route, two owners): such a config is
//! refused, naming both instances.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use netns_tests::vipd::{self, Vipd, VrrpState};
use netns_tests::{Lab, require_root, wait_until};

use crate::common::*;

/// The client-facing VIP (eth0, for `ext`) and the inside one (eth1, for `int`).
fn vips(lab: &Lab) -> (Ipv4Addr, Ipv4Addr) {
    (lab.vip4(0), lab.heartbeat_vip4(0))
}

/// Asserts that one line of `text` reports a problem at `file:LINE` where LINE lies in the
/// instances of `yaml` (from `ext:` on), and names both `ext` and `int` as words.
fn assert_names_both(text: &str, file: &Path, yaml: &str) {
    let prefix = format!("{}:", file.display());
    let first = yaml
        .lines()
        .position(|l| l == "  ext:")
        .expect("ext in the config")
        + 1;
    let instance_lines = first..=yaml.lines().count();
    let names_both = |line: &str| {
        let at = line.find(&prefix).map(|i| &line[i + prefix.len()..]);
        let number = at.and_then(|r| r.split(':').next()?.parse::<usize>().ok());
        let words: Vec<&str> = line
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .collect();
        number.is_some_and(|n| instance_lines.contains(&n))
            && words.contains(&"ext")
            && words.contains(&"int")
    };
    assert!(
        text.lines().any(names_both),
        "no line names {prefix}LINE (LINE in {instance_lines:?}) and both instances:\n{text}"
    );
}

#[test]
fn a_channel_onto_a_lan_where_another_instance_has_the_same_vrid_is_refused() {
    if !require_root() {
        return;
    }
    let lab = two_lans();
    let (ext_vip, int_vip) = vips(&lab);
    let n0 = lab.node(0);
    let mut ext = inst("ext", 51, ext_vip, 150);
    let peer = lab.node(1).hb_ip4().expect("second LAN");
    ext.extra = vec![format!(
        "channels: [{{ interface: eth1, peers: [{peer}] }}]"
    )];
    let int = inst_eth1("int", 51, int_vip, 150);
    let yaml = config(n0, vec![ext, int]).to_yaml(&lab.log_path("shared.sock"));
    let file = lab.log_path("shared.yaml");
    std::fs::write(&file, &yaml).unwrap();

    let out = vipd::check(&file).unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "vipd check accepted ext's VRRP channel on eth1 beside int's VRID 51 there:\n{text}"
    );
    assert_names_both(&text, &file, &yaml);

    // `vipd run` refuses the same file before taking anything.
    let mut d = Vipd::start_yaml(&lab, n0, &yaml).unwrap();
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| !s.success()),
        "vipd run must exit with an error, got {status:?}; log:\n{}",
        d.log_text()
    );
    assert_names_both(&d.log_text(), d.config_path(), &yaml);
    assert!(!holds_on(n0, "eth0", ext_vip) && !holds_on(n0, "eth1", int_vip));
}

#[test]
fn the_same_vrid_on_two_lans_elects_a_master_on_each_independently() {
    if !require_root() {
        return;
    }
    let lab = two_lans();
    let (ext_vip, int_vip) = vips(&lab);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let ext = |p| inst("ext", 51, ext_vip, p);
    let int = |p| inst_eth1("int", 51, int_vip, p);
    let quiet = ext(100).master_down_interval() * 4;
    let [mut d0, mut d1] = master_then_backup(
        &lab,
        &config(n0, vec![ext(150), int(150)]),
        &config(n1, vec![ext(100), int(100)]),
    );
    wait_until(TOLERANCE, Duration::from_millis(10), || {
        holds_on(n0, "eth0", ext_vip) && holds_on(n0, "eth1", int_vip)
    })
    .expect("node0 holds both VIPs");
    let (ext0, ext1) = (d0.transitions("ext").len(), d1.transitions("ext").len());

    // int leaves node0: node1 takes int over; ext, same VRID on the other LAN, stays put.
    d0.rewrite(&config(n0, vec![ext(150)])).unwrap();
    let out = d0.ctl_ok(&["reload"]).unwrap();
    assert!(out.contains("stopped: int"), "{out}");
    let t = d1
        .wait_state("int", VrrpState::Master, int(100).skew_time() + TOLERANCE)
        .unwrap();
    assert!(t.reason.contains("resigned (priority 0)"), "{t:?}");
    wait_until(TOLERANCE, Duration::from_millis(10), || {
        holds_on(n1, "eth1", int_vip) && !holds_on(n0, "eth1", int_vip)
    })
    .expect("int's VIP moves to node1");
    let int1 = d1.transitions("int").len();
    std::thread::sleep(quiet);
    assert_eq!(
        d1.transitions("int").len(),
        int1,
        "node1's int must stay Master beside node0's ext on eth0; log:\n{}",
        d1.log_text()
    );
    assert_eq!(d0.transitions("ext").len(), ext0, "node0's ext moved");
    assert_eq!(d1.transitions("ext").len(), ext1, "node1's ext moved");
    assert!(holds_on(n0, "eth0", ext_vip) && !holds_on(n1, "eth0", ext_vip));
    assert_eq!(answerers(&lab, ext_vip), vec![n0.mac("eth0").unwrap()]);

    // ext drops below node1 on node0: node1 preempts ext; its int does not move.
    d0.rewrite(&config(n0, vec![ext(50)])).unwrap();
    let out = d0.ctl_ok(&["reload"]).unwrap();
    assert!(out.contains("reloaded"), "{out}");
    let t = d1
        .wait_state(
            "ext",
            VrrpState::Master,
            ext(100).master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    d0.wait_state("ext", VrrpState::Backup, TOLERANCE).unwrap();
    wait_until(TOLERANCE, Duration::from_millis(10), || {
        holds_on(n1, "eth0", ext_vip) && !holds_on(n0, "eth0", ext_vip)
    })
    .expect("ext's VIP moves to node1");
    std::thread::sleep(quiet);
    assert_eq!(
        d1.transitions("int").len(),
        int1,
        "node1's int moved when ext did"
    );
    assert_eq!(d1.state("ext"), Some(VrrpState::Master));
    assert_eq!(answerers(&lab, ext_vip), vec![n1.mac("eth0").unwrap()]);
}
