//! Mixed pairs of vipd and keepalived 2.2 on one LAN, same VRID: election, graceful stop
//! (priority 0), crash and preemption, each with vipd as the preferred Master and with
//! keepalived as it (see `netns_tests::peers::exercise_pair`). The client's ARP/NS probe is
//! the judge: exactly one answerer, the expected MAC, after every step.

use std::path::PathBuf;
use std::time::Duration;

use netns_tests::peers::{Agent, Case, KEEPALIVED, Keepalived, Unicast, VrrpSpec, require_tools};
use netns_tests::{Lab, Node, require_root};

fn keepalived(node: &Node, spec: &VrrpSpec, priority: u8, dir: PathBuf) -> Box<dyn Agent> {
    Box::new(Keepalived::new(node, spec, priority, dir))
}

/// Root, the lab's tools and keepalived.
fn ready() -> bool {
    require_root() && require_tools(&[KEEPALIVED])
}

fn no_tweak(_: &Lab, _: &mut VrrpSpec) {}

/// keepalived's VRRPv2 takes whole seconds only.
const V2_INTERVAL: Duration = Duration::from_secs(1);
const V3_INTERVAL: Duration = Duration::from_millis(100);

fn case(version: u8, ipv6: bool, tweak: fn(&Lab, &mut VrrpSpec)) -> Case {
    Case {
        version,
        ipv6,
        interval: if version == 2 {
            V2_INTERVAL
        } else {
            V3_INTERVAL
        },
        tweak,
        peer: keepalived,
    }
}

#[test]
fn vrrp_v2_ipv4() {
    if ready() {
        case(2, false, no_tweak).run_both_ways();
    }
}

#[test]
fn vrrp_v3_ipv4() {
    if ready() {
        case(3, false, no_tweak).run_both_ways();
    }
}

#[test]
fn vrrp_v3_ipv6() {
    if ready() {
        case(3, true, no_tweak).run_both_ways();
    }
}

#[test]
fn unicast_peers_v3_ipv4() {
    if ready() {
        case(3, false, |lab, spec| {
            spec.unicast = Some(Unicast {
                addrs: [lab.node(0).ip4().into(), lab.node(1).ip4().into()],
            });
        })
        .run_both_ways();
    }
}

#[test]
fn v2_pass_authentication() {
    if ready() {
        case(2, false, |_, spec| spec.auth_pass = Some("s3cret".into())).run_both_ways();
    }
}

/// keepalived 2.2.7 verifies VRRPv3-over-IPv4 checksums only with the pseudo-header: it has
/// no `v3_checksum_as_v2` keyword to change that and does not auto-detect the form. vipd set
/// to `v3_checksum: rfc9568` is dropped with "Invalid VRRPv3 checksum" and both become
/// Master. See `Case::rfc9568_against_peer`.
#[test]
fn v3_rfc9568_checksum_is_dropped_by_keepalived_and_vipd_names_the_mismatch() {
    if ready() {
        case(3, false, no_tweak).rfc9568_against_peer("(vt) Invalid VRRPv3 checksum");
    }
}

/// keepalived configured as vipd's `failover` garp test (three rounds over two VIPs on
/// becoming Master, no second burst, two rounds every 2 s, 100 ms between ARPs), alone on the
/// LAN, captured on the client: the figures to set beside vipd's. keepalived checks its
/// refresh when it sends an advert, so its period is the refresh rounded up to the advert
/// grid (1 s here, which 2 s already is on). keepalived 2.2.7 with `vrrp_garp_interval` sends
/// each VIP's ARP again only once it has gone out, so repeats asked for while one is waiting
/// are lost: 3 ARPs a burst where 6 (and 4) were asked for. vipd sends every one.
#[test]
fn keepalived_garp_refresh_and_interval_as_measured_beside_vipd() {
    use netns_tests::Capture;
    use netns_tests::announce::{Schedule, garp_times};
    if !ready() {
        return;
    }
    let lab = Lab::new(netns_tests::LabSpec {
        nodes: 1,
        ..Default::default()
    })
    .expect("lab");
    let node = lab.node(0);
    let vips = [lab.vip4(0), lab.vip4(1)];
    let spec = VrrpSpec::new(2, 51, vips[0].into(), V2_INTERVAL);
    let conf = format!(
        "global_defs {{\n  router_id n0\n  vrrp_garp_interval 0.1\n}}\nvrrp_instance vt {{\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  priority 200\n  advert_int 1\n  garp_master_repeat 3\n  garp_master_delay 0\n  garp_master_refresh 2\n  garp_master_refresh_repeat 2\n  virtual_ipaddress {{\n    {}/24 dev eth0\n    {}/24 dev eth0\n  }}\n}}\n",
        vips[0], vips[1]
    );
    let mut ka = Keepalived::new(node, &spec, 200, lab.log_path("")).with_config(conf);
    let cap = Capture::start(
        &lab.client,
        "eth0",
        "arp",
        lab.log_path("client-ka-garp.pcap"),
    )
    .unwrap();
    ka.start().unwrap();
    // Master_Down_Interval (about 3.2 s at priority 200), then the first burst and three
    // refreshes.
    std::thread::sleep(Duration::from_millis(4000 + 3 * 2000 + 1500));
    let frames = cap.stop().unwrap();
    let _ = ka.stop();
    let mac = node.mac("eth0").unwrap();
    let times = garp_times(&frames, mac, &vips);
    let t0 = times.first().copied().unwrap_or_default();
    let seen: Vec<(f64, std::net::Ipv4Addr)> = frames
        .iter()
        .filter_map(|f| netns_tests::decode::is_garp(&f.data).map(|(ip, _)| (f.ts - t0, ip)))
        .collect();
    eprintln!("keepalived gratuitous ARPs (s from the first, VIP): {seen:?}");
    let m = Schedule::of(&times, 0.6);
    let (min, max) = m.gap_range();
    eprintln!(
        "keepalived garp: bursts {:?}; refresh periods (s) {:?}; gaps within bursts (ms) min {:.1} max {:.1}",
        m.sizes,
        m.periods,
        min * 1000.0,
        max * 1000.0
    );
    assert!(
        m.sizes.len() >= 3,
        "keepalived refreshed: {:?} at {times:?}\n{}",
        m.sizes,
        ka.log_text()
    );
}
