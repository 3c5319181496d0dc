//! The announce schedule on the wire, captured on the client: the refresh while Master
//! (`garp.refresh`, keepalived's `garp_master_refresh`) and the pacing inside a burst
//! (`garp.arp_interval`, keepalived's `vrrp_garp_interval`). `interop_keepalived.rs` measures
//! keepalived configured the same.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use netns_tests::announce::{Schedule, garp_times, na_times};
use netns_tests::vipd::{VipdConfig, VrrpState};
use netns_tests::{Capture, require_root};

use crate::common::*;

/// The refresh period and the gap under test.
const REFRESH: Duration = Duration::from_secs(2);
const GAP: Duration = Duration::from_millis(100);
/// Gaps between two ARPs of one burst stay below this; bursts are further apart.
const BURST_SPLIT: f64 = 0.6;

#[test]
fn a_master_refreshes_its_arps_on_the_period_with_the_configured_gap() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vips: Vec<Ipv4Addr> = vec![lab.vip4(0), lab.vip4(1)];
    let n0 = lab.node(0);
    let mac = n0.mac("eth0").unwrap();
    let mut s = spec(vips[0].into(), 200);
    s.vips = vips.iter().map(|v| IpAddr::from(*v)).collect();
    // Three rounds over two VIPs on becoming Master, no second burst, then two rounds every
    // REFRESH: bursts of 6 and then 4 ARPs, 100 ms apart.
    s.extra = vec![format!(
        "garp: {{initial: 3, repeat: 0, refresh: {}s, refresh_count: 2, arp_interval: {}ms}}",
        REFRESH.as_secs(),
        GAP.as_millis()
    )];
    let cap = Capture::start(&lab.client, "eth0", "arp", lab.log_path("client-garp.pcap")).unwrap();
    let mut d0 = start(&lab, 0, &s);
    settle(&mut d0, &s, VrrpState::Master);
    // The first burst and three refreshes.
    std::thread::sleep(REFRESH * 3 + Duration::from_millis(1500));
    let frames = cap.stop().unwrap();
    let times = garp_times(&frames, mac, &vips);
    let m = Schedule::of(&times, BURST_SPLIT);
    assert!(
        m.sizes.len() >= 4 && m.sizes[0] == 6 && m.sizes[1..].iter().all(|n| *n == 4),
        "a burst of 6, then refreshes of 4: {:?} at {times:?}",
        m.sizes
    );
    // Pacing: no two ARPs closer than the gap (less 2 ms for the client's capture
    // timestamps), and the burst not stretched far beyond it.
    let (min, max) = m.gap_range();
    assert!(
        min >= GAP.as_secs_f64() - 0.002 && max < BURST_SPLIT,
        "gaps between ARPs of a burst: {:?}",
        m.gaps
    );
    // Refresh: bursts start one period apart (generous bounds, loaded machine), on a grid
    // from becoming Master, so the starts do not drift.
    let p = REFRESH.as_secs_f64();
    assert!(
        m.periods.iter().all(|d| (p - 0.4..p + 0.8).contains(d)),
        "refresh periods: {:?}",
        m.periods
    );
    let drift = m.periods.iter().sum::<f64>() - p * m.periods.len() as f64;
    assert!(
        drift.abs() < 0.5,
        "refresh drifted {drift:.3}s over {:?}",
        m.periods
    );
    eprintln!(
        "vipd garp: bursts {:?}; refresh periods (s) {:?}; gaps within bursts (ms) min {:.1} max {:.1}",
        m.sizes,
        m.periods,
        min * 1000.0,
        max * 1000.0
    );
}

#[test]
fn unsolicited_nas_are_paced_by_their_own_interval_and_refreshed() {
    if !require_root() {
        return;
    }
    let lab = lab(true);
    let vips: Vec<Ipv6Addr> = vec![lab.vip6(0), lab.vip6(1)];
    let n0 = lab.node(0);
    let mac = n0.mac("eth0").unwrap();
    let mut s = spec(vips[0].into(), 200);
    s.vips = vips.iter().map(|v| IpAddr::from(*v)).collect();
    // Bursts of 4 NAs (2 rounds over 2 VIPs) 50 ms apart; the ARP interval must not apply.
    let na_gap = 0.05;
    s.extra = vec![format!(
        "garp: {{initial: 2, repeat: 0, refresh: {}s, refresh_count: 2, arp_interval: 1s, na_interval: 50ms}}",
        REFRESH.as_secs()
    )];
    let cap = Capture::start(&lab.client, "eth0", "icmp6", lab.log_path("client-na.pcap")).unwrap();
    let mut d0 = start(&lab, 0, &s);
    settle(&mut d0, &s, VrrpState::Master);
    std::thread::sleep(REFRESH * 2 + Duration::from_millis(1500));
    let frames = cap.stop().unwrap();
    let times = na_times(&frames, mac, &vips);
    let m = Schedule::of(&times, BURST_SPLIT);
    assert!(
        m.sizes.len() >= 3 && m.sizes.iter().all(|n| *n == 4),
        "bursts of 4 NAs: {:?} at {times:?}",
        m.sizes
    );
    let (min, max) = m.gap_range();
    assert!(
        min >= na_gap - 0.002 && max < 0.5,
        "gaps between NAs of a burst: {:?}",
        m.gaps
    );
    let p = REFRESH.as_secs_f64();
    assert!(
        m.periods.iter().all(|d| (p - 0.4..p + 0.8).contains(d)),
        "refresh periods: {:?}",
        m.periods
    );
    eprintln!(
        "vipd NA: bursts {:?}; refresh periods (s) {:?}; gaps within bursts (ms) min {:.1} max {:.1}",
        m.sizes,
        m.periods,
        min * 1000.0,
        max * 1000.0
    );
}

#[test]
fn a_reload_that_gives_an_ipv4_master_an_ipv6_address_announces_it() {
    if !require_root() {
        return;
    }
    let lab = lab(true);
    let n0 = lab.node(0);
    let mac = n0.mac("eth0").unwrap();
    // No IPv6 address at start: the instance had no source for NAs until the reload.
    let s = spec(lab.vip4(0).into(), 200);
    let mut d0 = start(&lab, 0, &s);
    settle(&mut d0, &s, VrrpState::Master);
    let v6 = lab.vip6(0);
    let mut s2 = s.clone();
    s2.unadvertised = vec![v6.into()];
    let cap = Capture::start(&lab.client, "eth0", "icmp6", lab.log_path("client-na.pcap")).unwrap();
    d0.rewrite(&VipdConfig::single(n0.name(), s2)).unwrap();
    let out = d0.ctl_ok(&["reload"]).unwrap();
    assert!(out.contains("updated in place: web"), "{out}");
    wait_holds(n0, "eth0", v6.into(), true, TOLERANCE);
    // The first NA goes out with the address; give it a generous while on a loaded machine.
    std::thread::sleep(Duration::from_secs(1));
    let frames = cap.stop().unwrap();
    let times = na_times(&frames, mac, &[v6]);
    assert!(
        !times.is_empty(),
        "no unsolicited NA for {v6} after the reload; log:\n{}",
        d0.log_text()
    );
    let log = d0.log_text();
    assert!(
        !log.contains("no IPv6 link-local source") && !log.contains("announcement failed"),
        "a warning about announcements; log:\n{log}"
    );
}

#[test]
fn a_reload_giving_an_ipv6_address_where_no_link_local_is_refused_and_the_master_stays() {
    if !require_root() {
        return;
    }
    let lab = lab(true);
    let n0 = lab.node(0);
    let s = spec(lab.vip4(0).into(), 200);
    let mut d0 = start(&lab, 0, &s);
    settle(&mut d0, &s, VrrpState::Master);
    // The kernel makes a link-local address only when the link comes up.
    n0.exec_ok(&["ip", "-6", "addr", "flush", "dev", "eth0", "scope", "link"])
        .unwrap();
    let before = d0.transitions("web").len();
    let v6 = lab.vip6(0);
    let mut s2 = s.clone();
    s2.unadvertised = vec![v6.into()];
    d0.rewrite(&VipdConfig::single(n0.name(), s2)).unwrap();
    let out = d0.ctl(&["reload"]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the reload must fail: {stderr}");
    assert!(
        stderr.contains("instance web: interface eth0 has no IPv6 link-local address"),
        "the error must name the instance, the interface and what is missing:\n{stderr}"
    );
    // Nothing lost: still Master of its IPv4 VIP, the IPv6 one not half-added.
    std::thread::sleep(Duration::from_millis(500));
    assert!(holds(n0, "eth0", lab.vip4(0).into()));
    assert!(!holds(n0, "eth0", v6.into()));
    assert_eq!(d0.status().unwrap().instance("web").state, "MASTER");
    assert_eq!(
        d0.transitions("web").len(),
        before,
        "no transition; log:\n{}",
        d0.log_text()
    );
}
