//! The announce schedule on the wire, captured on the client: the refresh while Master
//! (`garp.refresh`, keepalived's `garp_master_refresh`) and the pacing inside a burst
//! (`garp.arp_interval`, keepalived's `vrrp_garp_interval`).

use std::net::IpAddr;
use std::time::Duration;

use netns_tests::vipd::VrrpState;
use netns_tests::{Capture, decode, require_root};

use crate::common::*;

/// The refresh period and the gap under test.
const REFRESH: Duration = Duration::from_secs(2);
const GAP: Duration = Duration::from_millis(100);
/// Gaps between two ARPs of one burst stay below this; bursts are further apart.
const BURST_SPLIT: f64 = 0.6;

/// Splits timestamps (seconds) into bursts: a new one starts after a silence of
/// `BURST_SPLIT`.
fn bursts(times: &[f64]) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::new();
    for &t in times {
        match out.last_mut() {
            Some(b) if t - b.last().unwrap() < BURST_SPLIT => b.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

#[test]
fn a_master_refreshes_its_arps_on_the_period_with_the_configured_gap() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vips: Vec<IpAddr> = vec![lab.vip4(0).into(), lab.vip4(1).into()];
    let n0 = lab.node(0);
    let mac = n0.mac("eth0").unwrap();
    let mut s = spec(vips[0], 200);
    s.vips = vips.clone();
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
    let times: Vec<f64> = frames
        .iter()
        .filter(|f| {
            decode::is_garp(&f.data).is_some_and(|(ip, m)| m == mac && vips.contains(&ip.into()))
        })
        .map(|f| f.ts)
        .collect();
    let b = bursts(&times);
    let sizes: Vec<usize> = b.iter().map(Vec::len).collect();
    assert!(
        b.len() >= 4 && sizes[0] == 6 && sizes[1..].iter().all(|n| *n == 4),
        "a burst of 6, then refreshes of 4: {sizes:?} at {times:?}"
    );
    // Pacing: no two ARPs closer than the gap (a little under, for capture timestamps), and
    // the burst not stretched far beyond it.
    let gaps: Vec<f64> = b
        .iter()
        .flat_map(|b| b.windows(2).map(|w| w[1] - w[0]))
        .collect();
    let min = gaps.iter().cloned().fold(f64::MAX, f64::min);
    let max = gaps.iter().cloned().fold(0.0, f64::max);
    assert!(
        min >= GAP.as_secs_f64() * 0.8 && max < BURST_SPLIT,
        "gaps between ARPs of a burst: {gaps:?}"
    );
    // Refresh: bursts start one period apart (generous bounds, loaded machine), on a grid
    // from becoming Master, so the starts do not drift.
    let starts: Vec<f64> = b.iter().map(|b| b[0]).collect();
    let periods: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    let p = REFRESH.as_secs_f64();
    assert!(
        periods.iter().all(|d| (p - 0.4..p + 0.8).contains(d)),
        "refresh periods: {periods:?}"
    );
    let drift = starts.last().unwrap() - starts[0] - p * periods.len() as f64;
    assert!(
        drift.abs() < 0.5,
        "refresh drifted {drift:.3}s over {periods:?}"
    );
    eprintln!(
        "garp refresh periods (s): {periods:?}; gaps within bursts (ms): min {:.1} max {:.1}",
        min * 1000.0,
        max * 1000.0
    );
}
