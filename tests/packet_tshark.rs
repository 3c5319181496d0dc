//! Conformance against Wireshark's VRRP dissector: adverts we emit, framed in Ethernet and
//! IP and written to a pcap, must dissect without "Malformed" or a bad checksum, and every
//! dissected field must equal what we emitted.
//!
//! Wireshark decides the VRRPv3-over-IPv4 checksum convention by a preference,
//! `vrrp.v3_checksum_as_in_v2` (default FALSE: with the pseudo-header; TRUE: the message
//! alone, RFC 9568). Each mode is tested with its matching preference, and against the
//! other one as a control that tshark really checks.
//!
//! Without tshark the tests say so loudly and skip, or fail when CI=true.

#[path = "support/pcap.rs"]
mod pcap;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::Command;

use vipd::vrrp::packet::{self, Advert, Auth};
use vipd::vrrp::timing::Centis;
use vipd::vrrp::{V3Checksum, Version};

const SRC4: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 3);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x200, 0x5eff, 0xfe00, 0x101);

/// True when tshark can run; otherwise explains, and fails under CI.
fn tshark_available() -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let msg = "\n*** tshark NOT FOUND: Wireshark conformance of the VRRP encoder NOT TESTED ***\n\
                   *** install it: apt-get install tshark                                    ***\n";
        // Straight to the stderr handle: libtest captures eprintln! of passing tests, and a
        // skip must never be silent.
        let _ = std::io::stderr().write_all(msg.as_bytes());
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark is required when CI=true"
        );
    }
    found
}

struct Case {
    advert: Advert,
    src: IpAddr,
    mode: V3Checksum,
}

fn v4(a: u8, b: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, a, b))
}

fn v6(n: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))
}

fn advert(
    version: Version,
    vrid: u8,
    priority: u8,
    interval: Centis,
    addresses: Vec<IpAddr>,
) -> Advert {
    Advert {
        version,
        vrid,
        priority,
        interval,
        addresses: addresses.into(),
        auth: Auth::None,
    }
}

/// The frame a router would put on the wire: virtual MAC source, multicast MAC destination.
fn frame(case: &Case) -> Vec<u8> {
    let a = &case.advert;
    match case.src {
        IpAddr::V4(src) => {
            let ip = packet::emit_ipv4(a, src, packet::MULTICAST_V4, case.mode).unwrap();
            let dst_mac = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
            pcap::ethernet_frame(
                dst_mac,
                [0, 0, 0x5e, 0, 1, a.vrid],
                pcap::ETHERTYPE_IPV4,
                &ip,
            )
        }
        IpAddr::V6(src) => {
            let dst = packet::MULTICAST_V6;
            let msg = packet::emit(a, src.into(), dst.into(), case.mode).unwrap();
            let ip = pcap::ipv6_packet(src, dst, 255, packet::PROTOCOL, &msg);
            let dst_mac = [0x33, 0x33, 0x00, 0x00, 0x00, 0x12];
            pcap::ethernet_frame(
                dst_mac,
                [0, 0, 0x5e, 0, 2, a.vrid],
                pcap::ETHERTYPE_IPV6,
                &ip,
            )
        }
    }
}

/// Writes the cases to a temporary pcap and runs tshark on it with the given v3 checksum
/// preference and extra arguments; returns stdout.
fn tshark(name: &str, cases: &[Case], as_in_v2: bool, args: &[&str]) -> String {
    let frames: Vec<Vec<u8>> = cases.iter().map(frame).collect();
    let path: PathBuf =
        std::env::temp_dir().join(format!("vipd-tshark-{name}-{}.pcap", std::process::id()));
    std::fs::write(&path, pcap::write(pcap::LINKTYPE_ETHERNET, &frames)).unwrap();
    let pref = format!(
        "vrrp.v3_checksum_as_in_v2:{}",
        if as_in_v2 { "TRUE" } else { "FALSE" }
    );
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-o", &pref, "-o", "ip.check_checksum:TRUE"])
        .args(args)
        .output()
        .expect("run tshark");
    std::fs::remove_file(&path).ok();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tshark prints UTF-8")
}

const FIELDS: [&str; 12] = [
    "vrrp.version",
    "vrrp.type",
    "vrrp.virt_rtr_id",
    "vrrp.prio",
    "vrrp.addr_count",
    "vrrp.auth_type",
    "vrrp.adver_int",
    "vrrp.short_adver_int",
    "vrrp.auth_string",
    "vrrp.ip_addr",
    "vrrp.ipv6_addr",
    "vrrp.checksum.status",
];

/// The line tshark should print for `case` with FIELDS, separator `|`, aggregator `,`.
fn expected_fields(case: &Case) -> String {
    let a = &case.advert;
    let join = |v4: bool| {
        a.addresses
            .iter()
            .filter(|ip| ip.is_ipv4() == v4)
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let (auth_type, adver_int, short_int, auth_string) = match a.version {
        Version::V2 => {
            let password = match a.auth {
                Auth::None => String::new(),
                Auth::Simple(data) => {
                    String::from_utf8(data.split(|b| *b == 0).next().unwrap().to_vec()).unwrap()
                }
            };
            (
                a.auth.type_code().to_string(),
                (a.interval.get() / 100).to_string(),
                String::new(),
                password,
            )
        }
        Version::V3 => (
            String::new(),
            String::new(),
            a.interval.get().to_string(),
            String::new(),
        ),
    };
    let version = if a.version == Version::V2 { "2" } else { "3" };
    [
        version.to_string(),
        "1".into(),
        a.vrid.to_string(),
        a.priority.to_string(),
        a.addresses.len().to_string(),
        auth_type,
        adver_int,
        short_int,
        auth_string,
        join(true),
        join(false),
        "1".into(), // PROTO_CHECKSUM_E_GOOD
    ]
    .join("|")
}

/// Dissects the cases with the matching preference: nothing malformed, every checksum
/// good, every field as emitted.
fn assert_conforms(name: &str, cases: &[Case], as_in_v2: bool) {
    let verbose = tshark(name, cases, as_in_v2, &["-V"]);
    for bad in ["Malformed", "[Bad", "incorrect", "Expert Info (Warning"] {
        assert!(
            !verbose.contains(bad),
            "{name}: tshark says {bad:?}:\n{verbose}"
        );
    }
    assert_eq!(
        verbose.matches("[Checksum Status: Good]").count(),
        cases.len(),
        "{name}:\n{verbose}"
    );
    let v4_frames = cases.iter().filter(|c| c.src.is_ipv4()).count();
    assert_eq!(
        verbose.matches("[Header checksum status: Good]").count(),
        v4_frames,
        "{name}: IPv4 header checksum"
    );

    let mut args = vec!["-T", "fields", "-E", "separator=|", "-E", "aggregator=,"];
    for f in FIELDS {
        args.extend(["-e", f]);
    }
    args.extend(["-e", "ip.ttl", "-e", "ipv6.hlim"]);
    let fields = tshark(name, cases, as_in_v2, &args);
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(
        lines.len(),
        cases.len(),
        "{name}: one line per frame:\n{fields}"
    );
    for (case, line) in cases.iter().zip(lines) {
        let ttl = if case.src.is_ipv4() { "255|" } else { "|255" };
        assert_eq!(
            line,
            format!("{}|{ttl}", expected_fields(case)),
            "{name}: {:?}",
            case.advert
        );
    }
}

/// The same frames with the other preference must be flagged: tshark does verify.
fn assert_flagged_bad(name: &str, cases: &[Case], as_in_v2: bool) {
    let verbose = tshark(name, cases, as_in_v2, &["-V"]);
    assert_eq!(
        verbose.matches("[Checksum Status: Bad]").count(),
        cases.len(),
        "{name}:\n{verbose}"
    );
}

fn v2_cases() -> Vec<Case> {
    let mut with_auth = advert(Version::V2, 52, 100, Centis::from_secs(3), vec![v4(1, 20)]);
    with_auth.auth = Auth::simple(b"secret").unwrap();
    let mut full_password = advert(Version::V2, 255, 0, Centis::from_secs(255), vec![v4(1, 21)]);
    full_password.auth = Auth::simple(b"8charsPW").unwrap();
    let addresses = (1..=20).map(|i| v4(2, i)).collect();
    [
        advert(
            Version::V2,
            51,
            150,
            Centis::from_secs(1),
            vec![v4(1, 10), v4(1, 11)],
        ),
        with_auth,
        full_password,
        advert(Version::V2, 1, 255, Centis::from_secs(1), addresses),
    ]
    .into_iter()
    .map(|advert| Case {
        advert,
        src: SRC4.into(),
        mode: V3Checksum::default(),
    })
    .collect()
}

fn v3_ipv4_cases(mode: V3Checksum) -> Vec<Case> {
    let addresses = (1..=20).map(|i| v4(3, i)).collect();
    [
        advert(
            Version::V3,
            53,
            200,
            Centis::new(50),
            vec![v4(1, 30), v4(1, 31)],
        ),
        advert(Version::V3, 1, 0, Centis::new(1), vec![v4(1, 32)]),
        advert(Version::V3, 255, 255, Centis::V3_MAX, addresses),
        advert(Version::V3, 77, 100, Centis::new(100), vec![v4(1, 33)]),
    ]
    .into_iter()
    .map(|advert| Case {
        advert,
        src: SRC4.into(),
        mode,
    })
    .collect()
}

fn v3_ipv6_cases() -> Vec<Case> {
    [
        advert(Version::V3, 55, 120, Centis::new(50), vec![v6(0x55)]),
        advert(
            Version::V3,
            56,
            254,
            Centis::new(4095),
            (1..=10).map(v6).collect(),
        ),
        advert(Version::V3, 57, 1, Centis::new(7), vec![IpAddr::V6(SRC6)]),
    ]
    .into_iter()
    .map(|advert| Case {
        advert,
        src: SRC6.into(),
        mode: V3Checksum::default(),
    })
    .collect()
}

#[test]
fn v2_with_and_without_auth_dissects_as_emitted() {
    if !tshark_available() {
        return;
    }
    // v2 has one checksum convention; the v3 preference must not matter.
    assert_conforms("v2", &v2_cases(), false);
    assert_conforms("v2-pref", &v2_cases(), true);
}

#[test]
fn v3_ipv4_pseudo_header_dissects_with_default_preference() {
    if !tshark_available() {
        return;
    }
    let cases = v3_ipv4_cases(V3Checksum::PseudoHeader);
    assert_conforms("v3-pseudo", &cases, false);
    assert_flagged_bad("v3-pseudo-wrong-pref", &cases, true);
}

#[test]
fn v3_ipv4_rfc9568_dissects_with_checksum_as_in_v2() {
    if !tshark_available() {
        return;
    }
    let cases = v3_ipv4_cases(V3Checksum::Rfc9568);
    assert_conforms("v3-rfc9568", &cases, true);
    assert_flagged_bad("v3-rfc9568-wrong-pref", &cases, false);
}

#[test]
fn v3_ipv6_dissects_as_emitted() {
    if !tshark_available() {
        return;
    }
    assert_conforms("v3-ipv6", &v3_ipv6_cases(), false);
}
