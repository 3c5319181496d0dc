//! The configuration API: defaults, decoded values, the RouterConfig mapping, and how errors
//! are collected and reported.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use vipd::config::{
    CheckKind, Config, DEFAULT_REALTIME_PRIORITY, ErrorKind, MAX_FILE_BYTES, TrackTarget,
};
use vipd::vrrp::router::AnnounceSchedule;
use vipd::vrrp::timing::Centis;
use vipd::vrrp::{Family, V3Checksum, Version};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn minimal_instance_gets_every_default() {
    let c = Config::load(repo("tests/configs/good/minimal.yaml")).expect("valid");
    assert_eq!(c.global.control_socket, Path::new("/run/vipd/vipd.sock"));
    assert_eq!(c.global.metrics_listen, None);
    assert_eq!(c.global.realtime_priority, DEFAULT_REALTIME_PRIORITY);
    let i = &c.instances["web"];
    assert_eq!(i.version, Version::V3);
    assert_eq!(i.priority, 100);
    assert_eq!(i.advert_interval, Centis::ONE_SECOND);
    assert!(i.preempt);
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert_eq!(i.startup_delay, Duration::ZERO);
    assert_eq!(i.down_timer_adverts, 3);
    assert_eq!(i.v3_checksum, V3Checksum::PseudoHeader);
    assert_eq!(i.garp(), AnnounceSchedule::default());
    // The default is not kept in every instance (the daemon keeps them all), nor in its
    // router's configuration.
    assert!(i.garp.is_none());
    let any: IpAddr = "10.0.0.1".parse().expect("addr");
    assert!(i.router_config("web", any, &[any]).announce.is_none());
    assert!(i.yield_advert);
    assert!(i.unicast_ttl_check && !i.authenticated_decisions);
    assert!(!i.use_vmac);
    assert_eq!(i.notify().timeout, Duration::from_secs(10));
    assert!(i.unicast.is_none() && i.track.is_empty() && i.auth.is_none());
    // A bare address is a host route.
    assert_eq!(i.vips[0].addr.to_string(), "192.0.2.10/32");
}

#[test]
fn full_config_decodes_every_key() {
    let c = Config::load(repo("tests/configs/good/full.yaml")).expect("valid");
    assert_eq!(
        c.global.metrics_listen,
        Some("[::1]:9742".parse().expect("addr"))
    );
    assert_eq!(c.global.realtime_priority, 30);
    let script = &c.checks["script_check"];
    assert_eq!(script.interval, Duration::from_millis(500));
    assert_eq!(script.timeout, Duration::from_millis(200));
    assert_eq!((script.rise, script.fall), (2, 3));
    let tcp = &c.checks["tcp_check"];
    assert_eq!(
        tcp.kind,
        CheckKind::Tcp {
            host: "2001:db8::1".into(),
            port: 443
        }
    );
    // The timeout defaults to the interval.
    assert_eq!(tcp.timeout, tcp.interval);
    let CheckKind::Http(h) = &c.checks["http_check"].kind else {
        panic!("not http")
    };
    assert_eq!(
        (h.expect_status, h.expect_body.as_deref()),
        (204, Some("ok"))
    );

    let w = &c.instances["web"];
    assert_eq!(w.advert_interval, Centis::new(10));
    assert_eq!(w.down_timer_adverts, 5);
    assert_eq!(w.vips[1].label.as_deref(), Some("eth0:vip"));
    let u = w.unicast.as_ref().expect("unicast");
    assert_eq!(u.source, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
    assert_eq!(u.peers.len(), 2);
    assert_eq!(
        w.channels[0].net().map(|n| n.interface.as_str()),
        Some("eth1")
    );
    assert_eq!(w.track[0].target, TrackTarget::Check("script_check".into()));
    assert_eq!(w.track[0].weight, -60);
    assert_eq!(w.track[1].weight, 0, "weight defaults to 0 (FAULT)");
    assert_eq!(w.notify().commands().count(), 5);
    assert_eq!(w.v3_checksum, V3Checksum::Rfc9568);
    assert_eq!(w.garp().repeat_after, Duration::from_secs(2));
    assert_eq!(
        (w.garp().refresh, w.garp().refresh_count),
        (Duration::from_secs(60), 2)
    );
    assert_eq!(
        (w.garp().arp_interval, w.garp().na_interval),
        (Duration::from_millis(10), Duration::from_millis(5))
    );
    assert!(!w.yield_advert && w.use_vmac);
    assert_eq!(c.groups["lb"], ["web", "api"]);
}

#[test]
fn router_config_carries_the_instance_settings() {
    let c = Config::load(repo("tests/configs/good/full.yaml")).expect("valid");
    let primary: IpAddr = "10.0.0.1".parse().expect("addr");
    let rc = c.instances["web"].router_config("web", primary, &[primary]);
    assert_eq!(&*rc.name, "web");
    assert_eq!((rc.vrid, rc.version, rc.priority), (51, Version::V3, 150));
    assert_eq!(rc.advert_interval, Centis::new(10));
    assert_eq!(rc.preempt_delay, Duration::from_secs(30));
    assert_eq!(rc.startup_delay, Duration::from_secs(5));
    assert_eq!(rc.down_timer_adverts, 5);
    assert_eq!(rc.announce().initial, 3);
    assert!(!rc.yield_advert);
    assert!(!rc.unicast_ttl_check && rc.authenticated_decisions);
    assert_eq!(rc.primary_addr, primary);
}

#[test]
fn one_family_per_instance_same_vrid_allowed_across_families() {
    let c = Config::load(repo("tests/configs/good/ipv6_and_ipv4_same_vrid.yaml")).expect("valid");
    assert_eq!(c.instances["web4"].family(), Family::V4);
    assert_eq!(c.instances["web6"].family(), Family::V6);
    assert_eq!(
        c.instances["web6"].vips[1].addr.to_string(),
        "fe80::100/128"
    );
}

#[test]
fn example_pair_matches_its_description() {
    let lb1 = Config::load(repo("conf/lb1.yaml")).expect("lb1 valid");
    let lb2 = Config::load(repo("conf/lb2.yaml")).expect("lb2 valid");
    let (a, b) = (&lb1.instances["web"], &lb2.instances["web"]);
    assert_eq!((a.priority, b.priority), (150, 100));
    assert_eq!(a.vrid, b.vrid);
    for i in [a, b] {
        assert_eq!(i.interface, "eth0");
        assert_eq!(i.vips[0].addr.to_string(), "192.168.1.100/24");
        let TrackTarget::Check(name) = &i.track[0].target else {
            panic!("check tracked")
        };
        assert!(matches!(lb1.checks[name].kind, CheckKind::Script(_)));
    }
}

const MANY_ERRORS: &str = "\
checks:
  c:
    script: /bin/true
    rise: 0
instances:
  a:
    interface: eth0
    vrid: 300
    priorty: 120
    vips: [192.0.2.1/24]
  b:
    interface: eth0
    vrid: 9
    version: 2
    advert_interval: 1500ms
    vips: [2001:db8::1/64]
";

#[test]
fn all_errors_are_reported_in_file_order() {
    let errs = Config::parse(MANY_ERRORS, "many.yaml").expect_err("invalid");
    let lines: Vec<String> = errs.errors().iter().map(ToString::to_string).collect();
    let expected = [
        "many.yaml:4:11: checks.c.rise: must be 1..=1000, got 0",
        "many.yaml:8:11: instances.a.vrid: must be 1..=255, got 300",
        "many.yaml:9:5: instances.a.priorty: unknown key; did you mean 'priority'?",
        "many.yaml:14:14: instances.b.version: VRRPv2 is IPv4 only",
        "many.yaml:15:22: instances.b.advert_interval: VRRPv2 advert intervals are whole seconds",
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (got, want) in lines.iter().zip(expected) {
        assert!(got.starts_with(want), "got {got}\nwant {want}");
    }
    // The Display of the collection is one error per line.
    assert_eq!(errs.to_string().lines().count(), expected.len());
}

#[test]
fn a_broken_entry_does_not_cascade() {
    // Check `c` fails to decode; the tracker naming it must not add "no check named 'c'".
    let text = "checks:\n  c:\n    script: /bin/true\n    fall: 0\ninstances:\n  a:\n    \
                interface: eth0\n    vrid: 1\n    vips: [192.0.2.1]\n    track: [{check: c}]\n";
    let errs = Config::parse(text, "x.yaml").expect_err("invalid");
    assert_eq!(errs.errors().len(), 1, "{errs}");
}

#[test]
fn error_kinds_distinguish_syntax_limits_and_semantics() {
    let kinds = |text: &str| -> Vec<ErrorKind> {
        let errs = Config::parse(text, "k.yaml").expect_err("invalid");
        errs.errors().iter().map(|e| e.kind).collect()
    };
    assert_eq!(kinds("a: 1\na: 2\n"), [ErrorKind::Syntax]);
    assert_eq!(kinds("instances: [\n"), [ErrorKind::Syntax]);
    let bomb = std::fs::read_to_string(repo("tests/configs/bad/alias_bomb.yaml")).expect("read");
    assert_eq!(kinds(&bomb), [ErrorKind::Limit]);
    let inst = "instances:\n  a:\n    interface: eth0\n    vrid: 1\n    vips: [x]\n    p: 1\n";
    assert_eq!(kinds(inst), [ErrorKind::Invalid, ErrorKind::UnknownKey]);
    assert_eq!(kinds("instances:\n  a:\n    vrid: yes\n"), {
        // `vrid: yes` is a string under strict booleans, and interface/vips are missing.
        [
            ErrorKind::MissingKey,
            ErrorKind::MissingKey,
            ErrorKind::Type,
        ]
    });
}

#[test]
fn unreadable_and_oversized_files_are_refused() {
    let missing = Config::load("/nonexistent/vipd.yaml").expect_err("missing");
    assert!(missing.is_unreadable());
    assert!(
        missing
            .to_string()
            .starts_with("/nonexistent/vipd.yaml: cannot read:"),
        "{missing}"
    );

    let dir = std::env::temp_dir().join(format!("vipd-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let big = dir.join("big.yaml");
    // A valid comment line repeated past the limit: refused on size, not on content.
    let line = "# padding padding padding padding padding padding padding padding\n";
    let copies = usize::try_from(MAX_FILE_BYTES).expect("fits") / line.len() + 1;
    std::fs::write(&big, line.repeat(copies)).expect("write");
    let result = Config::load(&big);
    std::fs::remove_dir_all(&dir).expect("cleanup");
    let errs = result.expect_err("too large");
    assert_eq!(errs.errors()[0].kind, ErrorKind::TooLarge);
    assert!(!errs.is_unreadable());
}

#[test]
fn devices_and_directories_are_refused_as_configs() {
    for (path, kind) in [("/dev/zero", "a character device"), ("/", "a directory")] {
        let errs = Config::load(path).expect_err(path);
        assert!(errs.is_unreadable(), "{errs}");
        assert!(
            errs.to_string()
                .contains(&format!("cannot read: is {kind}, not a regular file")),
            "{errs}"
        );
    }
}

#[test]
fn a_shared_receive_route_is_reported_once_per_key_naming_both_instances() {
    // web shares eth0 with api (its interface, and a channel of its own over eth0 too) and
    // eth1 with api's channel: one error for each of web's keys that shares, none twice.
    let text = "\
instances:
  api:
    interface: eth0
    vrid: 51
    vips: [192.0.2.1/24]
    channels: [{interface: eth1, peers: [10.0.0.2]}]
  web:
    interface: eth0
    vrid: 51
    vips: [192.0.2.2/24]
    channels:
      - {interface: eth0, peers: [192.0.2.9]}
      - {interface: eth1, peers: [10.0.0.3]}
";
    let errs = Config::parse(text, "s.yaml").expect_err("invalid");
    let lines: Vec<String> = errs.errors().iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with("s.yaml:9:11: instances.web.vrid: VRID 51 on eth0 (IPv4)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("s.yaml:13:21: instances.web.channels[1].interface: "),
        "{}",
        lines[1]
    );
    for line in &lines {
        assert!(line.contains("'api'") && line.contains("'web'"), "{line}");
    }
}

#[test]
fn the_same_vrid_on_separate_interfaces_and_ports_loads() {
    let c =
        Config::load(repo("tests/configs/good/same_vrid_on_separate_lans.yaml")).expect("valid");
    assert!(c.instances.values().all(|i| i.vrid == 51 || i.vrid == 52));
}

/// Each bounded duration: its key path, the line that sets it (`V` for the value), whether
/// that line belongs to check `c` (else to instance `web`), and its maximum.
fn duration_settings() -> Vec<(&'static str, &'static str, bool, Duration)> {
    use vipd::config::{
        MAX_CHECK_INTERVAL, MAX_GARP_GAP, MAX_GARP_REFRESH, MAX_GARP_REPEAT_AFTER,
        MAX_ISOLATION_TIMEOUT, MAX_PREEMPT_DELAY, MAX_STARTUP_DELAY,
    };
    vec![
        (
            "instances.web.preempt_delay",
            "preempt_delay: V",
            false,
            MAX_PREEMPT_DELAY,
        ),
        (
            "instances.web.startup_delay",
            "startup_delay: V",
            false,
            MAX_STARTUP_DELAY,
        ),
        (
            "instances.web.garp.repeat_after",
            "garp: {repeat_after: V}",
            false,
            MAX_GARP_REPEAT_AFTER,
        ),
        (
            "instances.web.garp.refresh",
            "garp: {refresh: V}",
            false,
            MAX_GARP_REFRESH,
        ),
        (
            "instances.web.garp.arp_interval",
            "garp: {arp_interval: V}",
            false,
            MAX_GARP_GAP,
        ),
        (
            "instances.web.garp.na_interval",
            "garp: {na_interval: V}",
            false,
            MAX_GARP_GAP,
        ),
        (
            "instances.web.isolation_check.timeout",
            "isolation_check: {ping: 192.0.2.1, timeout: V}",
            false,
            MAX_ISOLATION_TIMEOUT,
        ),
        (
            "instances.web.fence.timeout",
            "fence: {command: /bin/true, timeout: V}",
            false,
            vipd::config::MAX_FENCE_TIMEOUT,
        ),
        ("checks.c.interval", "interval: V", true, MAX_CHECK_INTERVAL),
        ("checks.c.timeout", "timeout: V", true, MAX_CHECK_INTERVAL),
    ]
}

/// A config with `line` set to `value` in check `c` or instance `web`.
fn with_duration(line: &str, in_check: bool, value: &str) -> String {
    let line = format!("    {}\n", line.replace('V', value));
    let (check, inst) = if in_check {
        (line.as_str(), "")
    } else {
        ("", line.as_str())
    };
    format!(
        "checks:\n  c:\n    script: /bin/true\n{check}instances:\n  web:\n    \
         interface: eth0\n    vrid: 51\n    vips: [192.0.2.10/24]\n    track: [{{check: c}}]\n\
         {inst}"
    )
}

#[test]
fn every_duration_the_daemon_adds_to_the_clock_is_bounded_at_load() {
    assert_eq!(vipd::config::MAX_PREEMPT_DELAY, Duration::from_secs(1000));
    for (path, line, in_check, max) in duration_settings() {
        let at_max = with_duration(line, in_check, &format!("{}ms", max.as_millis()));
        if let Err(e) = Config::parse(&at_max, "max.yaml") {
            panic!("{path} at its maximum must load:\n{at_max}\n{e}");
        }
        let above = with_duration(line, in_check, &format!("{}ms", max.as_millis() + 1));
        let errs = Config::parse(&above, "above.yaml").expect_err(path);
        let e = &errs.errors()[0];
        assert_eq!((errs.errors().len(), e.path.as_str()), (1, path), "{errs}");
        let secs = format!("at most {}s", max.as_secs());
        assert!(e.message.contains(&secs), "{e}");
        // Far past i64 seconds: added to an Instant, this used to panic the task adding it.
        let absurd = with_duration(line, in_check, "500000000000y");
        let errs = Config::parse(&absurd, "absurd.yaml").expect_err(path);
        assert_eq!(errs.errors()[0].path, path, "{errs}");
    }
}

#[test]
fn garp_refresh_is_off_or_at_least_a_second_with_one_to_a_hundred_per_refresh() {
    let with = |garp: &str| with_duration(&format!("garp: {{{garp}}}"), false, "");
    let off = Config::parse(&with("refresh: 0s"), "off.yaml").expect("0s is off");
    assert_eq!(off.instances["web"].garp().refresh, Duration::ZERO);
    for (garp, path, says) in [
        (
            "refresh: 500ms",
            "instances.web.garp.refresh",
            "at least 1s",
        ),
        ("refresh_count: 0", "instances.web.garp.refresh_count", "1"),
        (
            "refresh_count: 101",
            "instances.web.garp.refresh_count",
            "100",
        ),
    ] {
        let errs = Config::parse(&with(garp), "bad.yaml").expect_err(garp);
        let e = &errs.errors()[0];
        assert_eq!(e.path, path, "{errs}");
        assert!(e.message.contains(says), "{garp}: {e}");
    }
}

/// keepalived's virtual_ipaddress_excluded: held with the VIPs, never in an advert, and not
/// counted against the advert's address limit.
#[test]
fn unadvertised_vips_are_held_but_not_advertised() {
    let mut text = String::from(
        "instances:\n  web:\n    interface: eth0\n    vrid: 51\n    version: 2\n    vips:\n      - 192.0.2.1/24\n",
    );
    for k in 0..25 {
        text.push_str(&format!(
            "      - {{address: 198.51.100.{k}/24, advertise: false}}\n"
        ));
    }
    let c = Config::parse(&text, "x.yaml").expect("valid");
    let i = &c.instances["web"];
    assert_eq!(i.vips.len(), 26);
    assert!(i.vips[0].advertise && !i.vips[1].advertise);
    let primary: IpAddr = "10.0.0.1".parse().expect("addr");
    let rc = i.router_config("web", primary, &[primary]);
    let only: IpAddr = "192.0.2.1".parse().expect("addr");
    assert_eq!(*rc.vips, [only]);

    let none = "instances:\n  web:\n    interface: eth0\n    vrid: 51\n    vips: [{address: 192.0.2.1, advertise: false}]\n";
    let errs = Config::parse(none, "n.yaml").expect_err("nothing advertised");
    assert!(errs.to_string().contains("must be advertised"), "{errs}");
    // Of the other family too (keepalived's docs suggest excluded addresses for mixing
    // families), except with a virtual MAC, which is per family.
    let other = "instances:\n  web:\n    interface: eth0\n    vrid: 51\n    vips: [192.0.2.1, {address: \"2001:db8::1\", advertise: false}]\n";
    let c = Config::parse(other, "o.yaml").expect("other family, unadvertised");
    assert_eq!(c.instances["web"].family(), Family::V4);
    let vmac = format!("{other}    use_vmac: true\n");
    let errs = Config::parse(&vmac, "v.yaml").expect_err("other family with use_vmac");
    assert!(errs.to_string().contains("with use_vmac"), "{errs}");
}
