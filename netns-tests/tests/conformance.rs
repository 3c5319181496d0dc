//! Conformance of what a live vipd puts on the wire, judged by Wireshark's dissectors.
//!
//! One vipd runs alone in a lab, becomes Master, advertises, and stops cleanly (priority 0);
//! the client captures every frame from vipd's node. tshark must then find no malformed
//! frame, no expert warning or error, and a good checksum on every VRRP advert, IPv4 header
//! and ICMPv6 message (the unsolicited Neighbour Advertisements). Covered: VRRPv2 (with and
//! without PASS authentication), VRRPv3 over IPv4 with each checksum convention, and VRRPv3
//! over IPv6, with the gratuitous ARPs or NAs that go with them.
//!
//! Wireshark picks the VRRPv3-over-IPv4 checksum convention by the preference
//! `vrrp.v3_checksum_as_in_v2` (FALSE: with the IPv4 pseudo-header; TRUE: RFC 9568); each
//! mode is dissected with its own, and the RFC 9568 capture once more with the other as a
//! control that tshark really verifies these live checksums.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netns_tests::peers::{Agent, TSHARK, Vipd, VrrpSpec, require_tools};
use netns_tests::{Capture, Lab, LabSpec, decode, require_root, wait_until};

/// Wireshark's expert severity for warnings (errors are higher).
const PI_WARN: u64 = 0x0060_0000;
/// `*.checksum.status` values.
const GOOD: &str = "1";
const BAD: &str = "0";

/// What the capture of one vipd run holds, decoded independently of tshark.
struct Run {
    pcap: std::path::PathBuf,
    adverts: usize,
    goodbyes: usize,
    announcements: usize,
    // Keeps the capture file until the checks are done; removed (or kept on failure) on drop.
    _lab: Lab,
}

/// Runs vipd with `spec` until it has sent a few adverts as Master, then stops it, capturing
/// everything its node sends.
fn capture_vipd(spec_of: impl Fn(&Lab) -> VrrpSpec, tag: &str) -> Run {
    let lab = Lab::new(LabSpec {
        nodes: 1,
        ipv6_ula: true,
        ..Default::default()
    })
    .expect("lab");
    let spec = spec_of(&lab);
    let node = lab.node(0);
    let mac = node.mac("eth0").expect("mac");
    let pcap = lab.log_path(&format!("{tag}.pcap"));
    let cap = Capture::start(
        &lab.client,
        "eth0",
        &format!("ether src {mac}"),
        pcap.clone(),
    )
    .expect("capture");
    let mut vipd = Vipd::new(node, &spec, 150, lab.log_path(""));
    vipd.start().expect("start vipd");
    wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
        node.has_addr("eth0", spec.vip).unwrap_or(false)
    })
    .unwrap_or_else(|e| panic!("vipd never became Master: {e}\n{}", vipd.log_text()));
    // A few adverts as Master (v2's interval is a second).
    std::thread::sleep((spec.interval * 4).max(Duration::from_secs(1)));
    vipd.stop().expect("stop vipd");
    let frames = cap.stop().expect("stop capture");

    let ours = |f: &&netns_tests::Frame| {
        decode::is_vrrp_advert(&f.data).is_some_and(|a| a.vrid == spec.vrid)
    };
    let adverts: Vec<_> = frames
        .iter()
        .filter(ours)
        .filter_map(|f| decode::is_vrrp_advert(&f.data))
        .collect();
    let announcements = frames
        .iter()
        .filter(|f| match spec.vip {
            IpAddr::V4(v4) => decode::is_garp(&f.data) == Some((v4, mac)),
            IpAddr::V6(v6) => decode::is_unsolicited_na(&f.data) == Some((v6, mac)),
        })
        .count();
    Run {
        pcap,
        adverts: adverts.iter().filter(|a| a.priority == 150).count(),
        goodbyes: adverts.iter().filter(|a| a.priority == 0).count(),
        announcements,
        _lab: lab,
    }
}

/// One tshark line per frame: protocols | VRRP, IPv4 header, ICMPv6 checksum status |
/// expert severities.
fn tshark(pcap: &Path, v3_checksum_as_in_v2: bool) -> Vec<[String; 5]> {
    let pref = format!(
        "vrrp.v3_checksum_as_in_v2:{}",
        if v3_checksum_as_in_v2 {
            "TRUE"
        } else {
            "FALSE"
        }
    );
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-o", &pref, "-o", "ip.check_checksum:TRUE"])
        .args(["-T", "fields", "-E", "separator=|", "-E", "aggregator=,"])
        .args(["-e", "frame.protocols", "-e", "vrrp.checksum.status"])
        .args(["-e", "ip.checksum.status", "-e", "icmpv6.checksum.status"])
        .args(["-e", "_ws.expert.severity"])
        .output()
        .expect("run tshark (apt-get install tshark)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut f = l.split('|').map(String::from);
            std::array::from_fn(|_| f.next().unwrap_or_default())
        })
        .collect()
}

/// Asserts what the module docs promise for `run` dissected with the matching preference.
fn assert_conforms(run: &Run, as_in_v2: bool, tag: &str) {
    assert!(
        run.adverts >= 2 && run.goodbyes >= 1 && run.announcements >= 1,
        "{tag}: capture too thin to judge: {} adverts, {} priority-0, {} announcements",
        run.adverts,
        run.goodbyes,
        run.announcements
    );
    let lines = tshark(&run.pcap, as_in_v2);
    let mut vrrp = 0;
    for (i, [protos, vrrp_ck, ip_ck, icmp6_ck, severity]) in lines.iter().enumerate() {
        let frame = i + 1;
        let layers: Vec<&str> = protos.split(':').collect();
        assert!(
            !layers.contains(&"_ws.malformed"),
            "{tag}: frame {frame} malformed: {protos}"
        );
        for s in severity.split(',').filter(|s| !s.is_empty()) {
            let s: u64 = s.parse().expect("numeric severity");
            assert!(
                s < PI_WARN,
                "{tag}: frame {frame} ({protos}) has an expert warning or error ({s:#x})"
            );
        }
        if layers.contains(&"vrrp") {
            vrrp += 1;
            assert_eq!(vrrp_ck, GOOD, "{tag}: frame {frame} VRRP checksum");
        }
        if layers.contains(&"ip") {
            assert_eq!(ip_ck, GOOD, "{tag}: frame {frame} IPv4 header checksum");
        }
        if layers.contains(&"icmpv6") {
            assert_eq!(icmp6_ck, GOOD, "{tag}: frame {frame} ICMPv6 checksum");
        }
    }
    assert_eq!(
        vrrp,
        run.adverts + run.goodbyes,
        "{tag}: tshark and our decoder disagree on the number of adverts"
    );
}

fn v4_spec(lab: &Lab, version: u8) -> VrrpSpec {
    let interval = if version == 2 { 1000 } else { 100 };
    VrrpSpec::new(
        version,
        61,
        lab.vip4(1).into(),
        Duration::from_millis(interval),
    )
}

#[test]
fn vrrp_v2_adverts_and_gratuitous_arps() {
    if !(require_root() && require_tools(&[TSHARK])) {
        return;
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            let run = capture_vipd(|lab| v4_spec(lab, 2), "v2");
            assert_conforms(&run, false, "v2");
        });
        s.spawn(|| {
            let with_auth = |lab: &Lab| VrrpSpec {
                auth_pass: Some("8charsPW".into()),
                ..v4_spec(lab, 2)
            };
            let run = capture_vipd(with_auth, "v2-auth");
            assert_conforms(&run, false, "v2-auth");
        });
    });
}

#[test]
fn vrrp_v3_ipv4_pseudo_header_checksum() {
    if !(require_root() && require_tools(&[TSHARK])) {
        return;
    }
    let run = capture_vipd(|lab| v4_spec(lab, 3), "v3-pseudo");
    assert_conforms(&run, false, "v3-pseudo");
}

#[test]
fn vrrp_v3_ipv4_rfc9568_checksum() {
    if !(require_root() && require_tools(&[TSHARK])) {
        return;
    }
    let rfc = |lab: &Lab| VrrpSpec {
        rfc9568_checksum: true,
        ..v4_spec(lab, 3)
    };
    let run = capture_vipd(rfc, "v3-rfc9568");
    assert_conforms(&run, true, "v3-rfc9568");
    // Control: read as pseudo-header checksums, every advert must be flagged bad.
    let as_pseudo = tshark(&run.pcap, false);
    let statuses: Vec<&str> = as_pseudo
        .iter()
        .filter(|l| l[0].split(':').any(|p| p == "vrrp"))
        .map(|l| l[1].as_str())
        .collect();
    assert_eq!(statuses.len(), run.adverts + run.goodbyes);
    assert!(
        statuses.iter().all(|s| *s == BAD),
        "RFC 9568 checksums read with the pseudo-header preference: {statuses:?}"
    );
}

#[test]
fn vrrp_v3_ipv6_adverts_and_unsolicited_neighbour_adverts() {
    if !(require_root() && require_tools(&[TSHARK])) {
        return;
    }
    let v6 = |lab: &Lab| VrrpSpec::new(3, 62, lab.vip6(1).into(), Duration::from_millis(100));
    let run = capture_vipd(v6, "v3-ipv6");
    assert_conforms(&run, false, "v3-ipv6");
}
