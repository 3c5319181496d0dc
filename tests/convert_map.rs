//! keepalived keyword mapping: each test converts a small keepalived.conf, loads the result
//! with vipd's own parser (so the output is valid by construction of the test) and checks
//! the values, the rewrite comments and the unsupported list.

use std::path::Path;
use std::time::Duration;

use vipd::config::{Config, Instance, TrackTarget};
use vipd::convert::{Options, convert_str};
use vipd::vrrp::Version;

struct Converted {
    config: Config,
    yaml: String,
    /// `(line, keyword)` of everything reported.
    unsupported: Vec<(u32, String)>,
}

fn convert(text: &str) -> Converted {
    let c = convert_str(text, "ka.conf", Path::new("."), &Options::default()).expect("converts");
    let yaml = c.yaml.expect("at least one instance");
    let config = Config::parse(&yaml, "out.yaml")
        .unwrap_or_else(|e| panic!("vipd rejects the output:\n{e}\n---\n{yaml}"));
    let unsupported = c
        .unsupported
        .iter()
        .map(|u| (u.loc.line, u.keyword.clone()))
        .collect();
    Converted {
        config,
        yaml,
        unsupported,
    }
}

/// Everything a conversion reports, also when nothing could be converted.
struct Reported {
    yaml: Option<String>,
    unsupported: Vec<(u32, String)>,
    /// The entries that would change the node's behaviour on the wire.
    wire: Vec<(u32, String)>,
    reasons: Vec<String>,
}

fn convert_all(text: &str) -> Reported {
    let c = convert_str(text, "ka.conf", Path::new("."), &Options::default()).expect("converts");
    let pick = |wire: bool| {
        c.unsupported
            .iter()
            .filter(|u| !wire || u.on_wire)
            .map(|u| (u.loc.line, u.keyword.clone()))
            .collect()
    };
    Reported {
        yaml: c.yaml.clone(),
        unsupported: pick(false),
        wire: pick(true),
        reasons: c.unsupported.iter().map(|u| u.to_string()).collect(),
    }
}

fn inst<'a>(c: &'a Converted, name: &str) -> &'a Instance {
    c.config
        .instances
        .get(name)
        .unwrap_or_else(|| panic!("no instance {name} in\n{}", c.yaml))
}

/// A minimal instance with extra lines inside, starting at line 7.
fn one(extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{\n  192.0.2.10/24\n }}\n{extra}\n}}\n"
    )
}

#[test]
fn state_master_without_priority_is_the_address_owner() {
    let c = convert(&one("state MASTER"));
    assert_eq!(inst(&c, "VI_1").priority, 255);
    assert!(
        c.yaml.contains("without a priority means 255"),
        "{}",
        c.yaml
    );
    assert!(
        c.yaml
            .contains("'state MASTER' (ka.conf:7) has no vipd equivalent")
    );
    let c = convert(&one("state BACKUP"));
    assert_eq!(inst(&c, "VI_1").priority, 100);
    assert!(c.unsupported.is_empty());
}

#[test]
fn version_is_always_written_and_defaults_to_keepalived_s_2() {
    let c = convert(&one(""));
    assert_eq!(inst(&c, "VI_1").version, Version::V2);
    assert!(c.yaml.contains("version: 2"));
    assert!(c.yaml.contains("keepalived's default is VRRPv2"));
    let c = convert(&format!("global_defs {{\n vrrp_version 3\n}}\n{}", one("")));
    assert_eq!(inst(&c, "VI_1").version, Version::V3);
    let c = convert(&one("version 3"));
    assert_eq!(inst(&c, "VI_1").version, Version::V3);
}

#[test]
fn v2_intervals_round_to_whole_seconds_and_v3_to_10ms() {
    let cases = [
        ("advert_int 1.5", 200),
        ("advert_int 0.4", 100),
        ("advert_int 300", 25500),
        ("advert_int 3", 300),
    ];
    for (line, centis) in cases {
        let c = convert(&one(line));
        assert_eq!(inst(&c, "VI_1").advert_interval.get(), centis, "{line}");
    }
    assert!(
        convert(&one("advert_int 1.5"))
            .yaml
            .contains("keepalived rounds 1500ms to 2s")
    );
    let c = convert(&one("version 3\nadvert_int 0.015"));
    assert_eq!(inst(&c, "VI_1").advert_interval.get(), 2);
    let c = convert(&one("version 3\nadvert_int 0.25"));
    assert_eq!(inst(&c, "VI_1").advert_interval.get(), 25);
    assert!(
        !c.yaml.contains("10ms steps"),
        "no comment when nothing changed"
    );
}

/// keepalived sends VRRPv2 over IPv6 when told to (strict_mode turns it into 3); vipd
/// cannot, so only the strict form converts cleanly.
#[test]
fn version_2_on_ipv6_is_kept_only_where_keepalived_makes_it_3() {
    let v6 = "vrrp_instance V {\n interface eth0\n virtual_router_id 7\n version 2\n virtual_ipaddress {\n  2001:db8::10/64\n }\n}\n";
    let c = convert_all(v6);
    assert_eq!(c.wire, [(4, "version 2".to_owned())], "{:?}", c.unsupported);
    let strict = v6.replace("version 2\n", "version 2\n strict_mode\n");
    let c = convert_all(&strict);
    assert!(c.wire.is_empty(), "{:?}", c.wire);
    let c = convert(&strict);
    assert_eq!(inst(&c, "V").version, Version::V3);
    assert!(
        c.yaml
            .contains("strict_mode turns version 2 on IPv6 into VRRPv3")
    );
}

/// keepalived ignores addresses of the other family in virtual_ipaddress ("address family
/// must match VRRP instance - ignoring"): one instance, the first address's family, nothing
/// split off into a second instance that would send adverts the peer never sends.
#[test]
fn mixed_families_keep_the_first_family_like_keepalived() {
    let mixed = "vrrp_instance V {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  192.0.2.1/24\n  2001:db8::1/64\n }\n unicast_peer {\n  192.0.2.2\n }\n}\n";
    let c = convert(mixed);
    assert_eq!(c.config.instances.len(), 1, "{}", c.yaml);
    assert!(c.config.groups.is_empty(), "{}", c.yaml);
    let v = inst(&c, "V");
    assert_eq!((v.vrid, v.version), (7, Version::V2));
    assert_eq!(v.vips.len(), 1);
    assert!(v.unicast.is_some());
    assert_eq!(
        c.unsupported,
        [(6, "virtual_ipaddress 2001:db8::1/64".to_owned())]
    );
    let c = convert_all(mixed);
    assert!(c.wire.is_empty(), "the wire is keepalived's: {:?}", c.wire);

    let v6_first = "vrrp_instance V {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  2001:db8::1/64\n  192.0.2.1/24\n }\n}\n";
    let c = convert(v6_first);
    assert_eq!(inst(&c, "V").version, Version::V3);
    assert!(inst(&c, "V").vips[0].addr.addr().is_ipv6());

    // An excluded address of the other family is held, unadvertised, as keepalived holds
    // it; with a virtual MAC (per family) it cannot be.
    let evip6 = "vrrp_instance V {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  192.0.2.1/24\n }\n virtual_ipaddress_excluded {\n  2001:db8::1/64\n }\n}\n";
    let c = convert(evip6);
    let v = inst(&c, "V");
    assert_eq!(v.vips.len(), 2);
    assert!(v.vips[1].addr.addr().is_ipv6() && !v.vips[1].advertise);
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    let vmac = evip6.replace(" interface eth0\n", " interface eth0\n use_vmac\n");
    let c = convert_all(&vmac);
    assert_eq!(
        c.wire,
        [(9, "virtual_ipaddress_excluded 2001:db8::1/64".to_owned())]
    );
}

/// virtual_ipaddress_excluded is held but never advertised: keepalived up to 2.3.2 drops an
/// advert whose address count differs from its own.
#[test]
fn excluded_addresses_are_held_but_not_advertised() {
    let mut text = String::from(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.1/24\n }\n virtual_ipaddress_excluded {\n",
    );
    for k in 0..25 {
        text.push_str(&format!("  198.51.100.{k}/24\n"));
    }
    text.push_str(" }\n}\n");
    let c = convert(&text);
    let i = inst(&c, "V");
    assert_eq!(i.vips.len(), 26);
    assert_eq!(i.advertised().count(), 1);
    assert!(i.vips[1..].iter().all(|v| !v.advertise));
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    assert!(c.yaml.contains("advertise: false"), "{}", c.yaml);
    assert!(!c.yaml.contains("only logs"), "{}", c.yaml);
    let primary = "10.0.0.1".parse().expect("addr");
    let rc = i.router_config("V", primary, &[primary]);
    assert_eq!(
        *rc.vips,
        ["192.0.2.1".parse::<std::net::IpAddr>().expect("addr")]
    );
}

/// keepalived strips a /prefix from unicast_src_ip and unicast_peer; an address it cannot
/// read leaves the instance out rather than turning it into a multicast one.
#[test]
fn unicast_addresses_with_a_prefix_keep_unicast() {
    let c = convert(&one(
        "unicast_src_ip 192.168.0.11/24\nunicast_peer {\n 192.168.0.12/24\n}",
    ));
    let u = inst(&c, "VI_1").unicast.clone().expect("still unicast");
    assert_eq!(u.source, Some("192.168.0.11".parse().expect("addr")));
    assert_eq!(
        u.peers,
        ["192.168.0.12".parse::<std::net::IpAddr>().expect("addr")]
    );
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);

    let bad = convert_all(&one("unicast_peer {\n 192.168.0.300\n}"));
    assert!(bad.yaml.is_none(), "never multicast: {:?}", bad.yaml);
    assert!(
        bad.reasons
            .iter()
            .any(|r| r.contains("left out rather than turned into a multicast")),
        "{:?}",
        bad.reasons
    );
}

/// keepalived 2.1+ takes the interface from unicast_src_ip; offline that cannot be found, so
/// the message names the keyword to add.
#[test]
fn an_instance_without_interface_names_the_keyword() {
    let text = "vrrp_instance V {\n virtual_router_id 9\n unicast_src_ip 192.0.2.5\n unicast_peer {\n  192.0.2.6\n }\n virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n";
    let c = convert_all(text);
    assert!(c.yaml.is_none());
    assert!(
        c.reasons
            .iter()
            .any(|r| r.contains("without 'interface'") && r.contains("add 'interface NAME'")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn preemption() {
    let c = convert(&one("nopreempt"));
    assert!(!inst(&c, "VI_1").preempt);
    let c = convert(&one("nopreempt\nstate MASTER\npriority 100"));
    assert!(
        inst(&c, "VI_1").preempt,
        "keepalived clears nopreempt with state MASTER"
    );
    assert!(c.yaml.contains("ignores nopreempt with 'state MASTER'"));
    let c = convert(&one("preempt_delay 2.5"));
    assert_eq!(inst(&c, "VI_1").preempt_delay, Duration::from_millis(2500));
    let c = convert(&one("preempt_delay 30\nnopreempt"));
    assert_eq!(inst(&c, "VI_1").preempt_delay, Duration::ZERO);
}

#[test]
fn preempt_delay_maps_up_to_keepalived_s_cap_and_is_reported_past_it() {
    let c = convert(&one("preempt_delay 1000"));
    assert_eq!(
        inst(&c, "VI_1").preempt_delay,
        vipd::config::MAX_PREEMPT_DELAY
    );
    // keepalived refuses these and runs without a delay: so does the converted instance,
    // and the report says why.
    for too_long in ["1000.5", "1001", "99999999999999"] {
        let c = convert(&one(&format!("preempt_delay {too_long}")));
        assert_eq!(inst(&c, "VI_1").preempt_delay, Duration::ZERO);
        assert_eq!(c.unsupported, [(7, "preempt_delay".to_owned())]);
        let text = one(&format!("preempt_delay {too_long}"));
        let raw = convert_str(&text, "ka.conf", Path::new("."), &Options::default()).unwrap();
        let why = &raw.unsupported[0].reason;
        assert!(why.contains("0..=1000"), "{why}");
        assert!(
            why.contains("keepalived reports a longer delay and runs without one"),
            "{why}"
        );
    }
}

#[test]
fn unicast_and_authentication() {
    let c = convert(&one(
        "unicast_src_ip 192.0.2.1\nunicast_peer {\n 192.0.2.2\n 192.0.2.3\n}\nauthentication {\n auth_type PASS\n auth_pass secret123456\n}",
    ));
    let i = inst(&c, "VI_1");
    let u = i.unicast.as_ref().expect("unicast");
    assert_eq!(u.source, Some("192.0.2.1".parse().expect("ip")));
    assert_eq!(u.peers.len(), 2);
    assert_eq!(
        i.auth.as_ref().map(|a| a.password.as_str()),
        Some("secret12")
    );
    assert!(c.yaml.contains("only the first 8 characters"));
    let c = convert(&one(
        "version 3\nauthentication {\n auth_type PASS\n auth_pass x\n}",
    ));
    assert!(
        inst(&c, "VI_1").auth.is_none(),
        "keepalived ignores auth with v3"
    );
    let c = convert(&one("authentication {\n auth_type AH\n auth_pass x\n}"));
    assert_eq!(c.unsupported, [(7, "authentication".to_owned())]);
}

#[test]
fn routed_unicast_peers_turn_the_ttl_check_off() {
    let on_link = convert(&one("unicast_peer {\n 192.0.2.2\n}"));
    assert!(inst(&on_link, "VI_1").unicast_ttl_check);
    assert!(on_link.yaml.contains("set unicast_ttl_check: false"));
    for routed in [
        "unicast_ttl 64\nunicast_peer {\n 192.0.2.2\n}",
        "unicast_peer {\n 192.0.2.2 min_ttl 250 max_ttl 255\n}",
    ] {
        let c = convert(&one(routed));
        assert!(!inst(&c, "VI_1").unicast_ttl_check, "{routed}");
        assert!(c.yaml.contains("unicast_ttl_check: false"), "{routed}");
    }
}

#[test]
fn vip_labels_devices_and_excluded_addresses() {
    let c = convert(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.1/24 dev eth0 label eth0:vip\n  192.0.2.2 dev eth1 brd 192.0.2.255\n }\n virtual_ipaddress_excluded {\n  192.0.2.3/24\n }\n}\n",
    );
    let i = inst(&c, "V");
    assert_eq!(i.vips[0].label.as_deref(), Some("eth0:vip"));
    assert_eq!(i.vips.len(), 3);
    assert_eq!(
        c.unsupported,
        [
            (6, "virtual_ipaddress option brd".to_owned()),
            (6, "virtual_ipaddress dev eth1".to_owned())
        ]
    );
    assert!(!i.vips[2].advertise);
    // vipd holds every VIP on the instance's interface: an address keepalived put on eth1
    // would be answered on eth0, which cannot be kept.
    let all = convert_all(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.1/24\n  192.0.2.2 dev eth1\n }\n}\n",
    );
    assert_eq!(all.wire, [(6, "virtual_ipaddress dev eth1".to_owned())]);
}

const SCRIPTS: &str = "vrrp_script chk_a {\n script \"/bin/check a\"\n interval 2\n timeout 3\n rise 2\n fall 4\n weight -10\n user nobody\n}\nvrrp_script chk_port {\n script \"</dev/tcp/127.0.0.1/80\"\n}\n";

#[test]
fn scripts_become_checks_with_weights_on_the_tracker() {
    let c = convert(&format!(
        "{SCRIPTS}{}",
        one(
            "priority 100\ntrack_script {\n chk_a\n chk_port weight -5\n}\ntrack_interface {\n eth1\n eth2 weight -20\n}"
        )
    ));
    let chk = &c.config.checks["chk_a"];
    assert_eq!(chk.interval, Duration::from_secs(2));
    assert_eq!(chk.timeout, Duration::from_secs(3));
    assert_eq!((chk.rise, chk.fall), (2, 4));
    assert_eq!(chk.user.as_deref(), Some("nobody"));
    assert!(matches!(
        &c.config.checks["chk_port"].kind,
        vipd::config::CheckKind::Tcp { port: 80, .. }
    ));
    let t: Vec<(TrackTarget, i16)> = inst(&c, "VI_1")
        .track
        .iter()
        .map(|t| (t.target.clone(), t.weight))
        .collect();
    assert_eq!(
        t,
        [
            (TrackTarget::Check("chk_a".into()), -10),
            (TrackTarget::Check("chk_port".into()), -5),
            (TrackTarget::Interface("eth1".into()), 0),
            (TrackTarget::Interface("eth2".into()), -20),
        ]
    );
}

#[test]
fn weights_carry_over_with_their_sign() {
    // vipd adds a positive weight while healthy and a negative one while failed, as
    // keepalived does: nothing to rewrite.
    let c = convert(&one(
        "priority 100\ntrack_interface {\n eth1 weight 10\n eth2 weight -5\n}",
    ));
    let i = inst(&c, "VI_1");
    assert_eq!(i.priority, 100);
    let w: Vec<i16> = i.track.iter().map(|t| t.weight).collect();
    assert_eq!(w, [10, -5]);
}

#[test]
fn owner_and_sync_group_members_lose_weighted_trackers() {
    let c = convert(&one(
        "priority 255\ntrack_interface {\n eth1 weight -10\n eth2\n}",
    ));
    let i = inst(&c, "VI_1");
    assert_eq!(i.track.len(), 1);
    assert_eq!(i.track[0].weight, 0);
    let group = "vrrp_sync_group G {\n group {\n  VI_1\n }\n}\nvrrp_script s {\n script /bin/true\n weight -5\n}\n";
    let c = convert(&format!(
        "{group}{}",
        one("track_interface {\n eth1 weight -10\n eth2\n}\ntrack_script {\n s\n}")
    ));
    let t: Vec<(TrackTarget, i16)> = inst(&c, "VI_1")
        .track
        .iter()
        .map(|t| (t.target.clone(), t.weight))
        .collect();
    assert_eq!(
        t,
        [
            (TrackTarget::Interface("eth1".into()), 0),
            (TrackTarget::Interface("eth2".into()), 0)
        ],
        "weighted scripts removed, interface weights zeroed"
    );
    assert!(
        c.yaml
            .contains("ignores weighted track_script entries of sync-group members")
    );
    assert!(
        c.yaml
            .contains("sets the weights of a sync-group member's other trackers to 0")
    );
    assert_eq!(c.config.groups["G"], ["VI_1"]);
    let keep = "vrrp_sync_group G {\n group {\n  VI_1\n }\n sync_group_tracking_weight\n track_interface {\n  eth9\n }\n}\n";
    let c = convert(&format!(
        "{keep}{}",
        one("track_interface {\n eth1 weight -10\n}")
    ));
    let t: Vec<TrackTarget> = inst(&c, "VI_1")
        .track
        .iter()
        .map(|t| t.target.clone())
        .collect();
    assert_eq!(
        t,
        [
            TrackTarget::Interface("eth1".into()),
            TrackTarget::Interface("eth9".into())
        ]
    );
}

#[test]
fn track_file_maps_with_keepalived_semantics() {
    let c = convert(&format!(
        "track_file tf {{\n file /run/ok\n weight -7\n}}\n{}",
        one("track_file {\n tf\n}")
    ));
    let t = &inst(&c, "VI_1").track[0];
    assert_eq!(t.target, TrackTarget::File("/run/ok".into()));
    assert_eq!(t.weight, -7);
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
}

#[test]
fn notify_commands() {
    let c = convert(&one(
        "notify_master \"/bin/n master\"\nnotify_backup /bin/b\nnotify_fault /bin/f\nnotify_stop /bin/s\nnotify /bin/any\nnotify_master_rx_lower_pri /bin/x",
    ));
    let n = inst(&c, "VI_1").notify();
    assert_eq!(n.master.as_deref(), Some("/bin/n master"));
    assert_eq!(n.backup.as_deref(), Some("/bin/b"));
    assert_eq!(n.fault.as_deref(), Some("/bin/f"));
    assert_eq!(n.stop.as_deref(), Some("/bin/s"));
    assert_eq!(n.any.as_deref(), Some("/bin/any"));
    assert!(
        c.yaml
            .contains("vipd appends 'INSTANCE <name> <STATE> <priority>'")
    );
    assert_eq!(
        c.unsupported,
        [(12, "notify_master_rx_lower_pri".to_owned())]
    );
    let c = convert(&one("notify_master /bin/m root"));
    assert_eq!(c.unsupported, [(7, "notify_master".to_owned())]);
}

#[test]
fn vmac_garp_and_globals() {
    let c = convert(&format!(
        "global_defs {{\n router_id lb1\n script_user vrrp\n enable_script_security\n vrrp_higher_prio_send_advert\n vrrp_garp_master_repeat 2\n vrrp_startup_delay 5\n}}\n{}",
        one("use_vmac\ngarp_master_delay 3")
    ));
    assert_eq!(c.config.global.router_id.as_deref(), Some("lb1"));
    assert_eq!(c.config.global.script_user.as_deref(), Some("vrrp"));
    let i = inst(&c, "VI_1");
    assert!(i.use_vmac && i.yield_advert);
    assert_eq!(
        (i.garp().initial, i.garp().repeat, i.garp().repeat_after),
        (2, 2, Duration::from_secs(3))
    );
    assert_eq!(i.startup_delay, Duration::from_secs(5));
    assert!(c.yaml.contains("enable_script_security"));
    assert!(c.yaml.contains("yield_advert: true"));
    let c = convert(&one("garp_master_delay 0"));
    assert_eq!(
        inst(&c, "VI_1").garp().repeat,
        0,
        "delay 0: no second burst"
    );
}

#[test]
fn vrrp_rt_priority_becomes_realtime_priority() {
    let c = convert(&format!(
        "global_defs {{\n vrrp_rt_priority 40\n}}\n{}",
        one("")
    ));
    assert_eq!(c.config.global.realtime_priority, 40);
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    // Without it, vipd's own default stays: nothing is written.
    let c = convert(&one(""));
    assert_eq!(
        c.config.global.realtime_priority,
        vipd::config::DEFAULT_REALTIME_PRIORITY
    );
    assert!(!c.yaml.contains("realtime_priority"), "{}", c.yaml);
    let c = convert(&format!(
        "global_defs {{\n vrrp_rt_priority 100\n}}\n{}",
        one("")
    ));
    assert!(!c.yaml.contains("realtime_priority"), "{}", c.yaml);
}

#[test]
fn unmappable_keywords_are_listed_with_their_lines() {
    let c = convert(&format!(
        "global_defs {{\n vrrp_strict\n notification_email {{\n  a@b\n }}\n}}\n{}virtual_server 10.0.0.1 80 {{\n delay_loop 6\n}}\n",
        one("smtp_alert\ndont_track_primary\nvirtual_routes {\n 0.0.0.0/0 via 192.0.2.254\n}")
    ));
    let want = [
        (2, "vrrp_strict"),
        (3, "notification_email"),
        (13, "smtp_alert"),
        (14, "dont_track_primary"),
        (15, "virtual_routes"),
        (19, "virtual_server"),
    ];
    let want: Vec<(u32, String)> = want.iter().map(|(l, k)| (*l, (*k).to_owned())).collect();
    assert_eq!(c.unsupported, want);
}

#[test]
fn instances_vipd_cannot_run_are_left_out_and_reported() {
    let text = "vrrp_instance NOIF {\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\nvrrp_instance NOADVERT {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress_excluded {\n  192.0.2.2\n }\n}\n";
    let c = convert_str(text, "ka.conf", Path::new("."), &Options::default()).expect("converts");
    assert!(c.yaml.is_none());
    let lines: Vec<u32> = c.unsupported.iter().map(|u| u.loc.line).collect();
    assert_eq!(lines, [1, 7]);
}

#[test]
fn odd_names_are_made_valid() {
    let c = convert(&format!(
        "vrrp_script chk.web {{\n script /bin/true\n}}\n{}",
        one("track_script {\n chk.web\n}").replace("VI_1", "vi.web")
    ));
    assert!(c.config.checks.contains_key("chk_web"));
    assert_eq!(
        inst(&c, "vi_web").track[0].target,
        TrackTarget::Check("chk_web".into())
    );
    assert!(c.yaml.contains("keepalived name: vi.web"));
}

#[test]
fn values_past_vipds_caps_are_written_as_the_cap_with_a_note() {
    // keepalived takes these; vipd refuses them, so convert writes the cap and says so (the
    // output must pass vipd's checks, which `convert` asserts).
    let c = convert(&format!(
        "global_defs {{\n vrrp_startup_delay 4000\n}}\nvrrp_script s {{\n script /bin/true\n interval 7200\n timeout 4000\n}}\n{}",
        one("track_script {\n s\n}")
    ));
    assert_eq!(
        inst(&c, "VI_1").startup_delay,
        vipd::config::MAX_STARTUP_DELAY
    );
    let check = &c.config.checks["s"];
    assert_eq!(check.interval, vipd::config::MAX_CHECK_INTERVAL);
    assert_eq!(check.timeout, vipd::config::MAX_CHECK_INTERVAL);
    assert!(
        c.yaml
            .contains("vrrp_startup_delay (ka.conf:2) is longer than vipd's cap"),
        "{}",
        c.yaml
    );
    assert!(
        c.yaml.contains("interval (ka.conf:6) is longer"),
        "{}",
        c.yaml
    );
}

#[test]
fn garp_refresh_maps_from_the_instance_or_global_defs() {
    let c = convert(&one("garp_master_refresh 60\ngarp_master_refresh_repeat 2"));
    let g = inst(&c, "VI_1").garp();
    assert_eq!((g.refresh, g.refresh_count), (Duration::from_secs(60), 2));
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    // The global refresh with keepalived's default of one per refresh; an instance's own
    // 0 turns it off for that instance, as in keepalived.
    let c = convert(&format!(
        "global_defs {{\n vrrp_garp_master_refresh 30\n}}\n{}",
        one("")
    ));
    let g = inst(&c, "VI_1").garp();
    assert_eq!((g.refresh, g.refresh_count), (Duration::from_secs(30), 1));
    let c = convert(&format!(
        "global_defs {{\n vrrp_garp_master_refresh 30\n vrrp_garp_master_refresh_repeat 3\n}}\n{}",
        one("garp_master_refresh 0")
    ));
    assert_eq!(inst(&c, "VI_1").garp().refresh, Duration::ZERO);
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
}

#[test]
fn garp_refresh_beyond_vipds_cap_is_written_as_the_cap_with_a_note() {
    let c = convert(&one("garp_master_refresh 200000"));
    assert_eq!(
        inst(&c, "VI_1").garp().refresh,
        vipd::config::MAX_GARP_REFRESH
    );
    assert!(c.yaml.contains("longer than vipd's cap"), "{}", c.yaml);
}

#[test]
fn garp_and_gna_intervals_map_to_the_pacing() {
    let c = convert(&format!(
        "global_defs {{\n vrrp_garp_interval 0.001\n vrrp_gna_interval 0.000005\n}}\n{}",
        one("")
    ));
    let g = inst(&c, "VI_1").garp();
    assert_eq!(
        (g.arp_interval, g.na_interval),
        (Duration::from_millis(1), Duration::from_micros(5))
    );
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    // Longer than vipd paces: cannot be kept, so it is reported (convert exits non-zero).
    let c = convert(&format!(
        "global_defs {{\n vrrp_garp_interval 2\n}}\n{}",
        one("")
    ));
    assert_eq!(c.unsupported, [(2, "vrrp_garp_interval".to_owned())]);
}

#[test]
fn a_garp_group_paces_the_instances_on_its_interfaces() {
    let text = format!(
        "global_defs {{\n vrrp_garp_interval 0.002\n}}\ngarp_group {{\n garp_interval 0.01\n gna_interval 0.02\n interface eth0\n}}\n{}vrrp_instance OTHER {{\n interface eth1\n virtual_router_id 52\n virtual_ipaddress {{\n  192.0.2.11/24\n }}\n}}\n",
        one("")
    );
    let c = convert(&text);
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    let on_eth0 = inst(&c, "VI_1").garp();
    assert_eq!(
        (on_eth0.arp_interval, on_eth0.na_interval),
        (Duration::from_millis(10), Duration::from_millis(20))
    );
    let elsewhere = inst(&c, "OTHER").garp();
    assert_eq!(
        (elsewhere.arp_interval, elsewhere.na_interval),
        (Duration::from_millis(2), Duration::ZERO)
    );
}

#[test]
fn vrrp_min_garp_sends_one_and_no_second_burst_unless_told_otherwise() {
    let c = convert(&format!("global_defs {{\n vrrp_min_garp\n}}\n{}", one("")));
    let g = inst(&c, "VI_1").garp();
    assert_eq!((g.initial, g.repeat, g.refresh), (1, 0, Duration::ZERO));
    // Settings written explicitly win over what vrrp_min_garp changes.
    let c = convert(&format!(
        "global_defs {{\n vrrp_min_garp true\n vrrp_garp_master_repeat 3\n}}\n{}",
        one("garp_master_delay 2")
    ));
    let g = inst(&c, "VI_1").garp();
    assert_eq!(
        (g.initial, g.repeat, g.repeat_after),
        (3, 3, Duration::from_secs(2))
    );
    // It makes keepalived's refresh send nothing unless a count is given.
    let c = convert(&format!(
        "global_defs {{\n vrrp_min_garp\n}}\n{}",
        one("garp_master_refresh 10")
    ));
    assert_eq!(inst(&c, "VI_1").garp().refresh, Duration::ZERO);
    let c = convert(&format!(
        "global_defs {{\n vrrp_min_garp off\n}}\n{}",
        one("")
    ));
    assert_eq!(
        inst(&c, "VI_1").garp(),
        vipd::vrrp::router::AnnounceSchedule::default()
    );
}

#[test]
fn notify_fifo_becomes_the_event_log_in_keepalived_format() {
    use vipd::config::EventLogFormat;
    let c = convert(&format!(
        "global_defs {{\n vrrp_notify_fifo /run/ka.fifo\n notify_fifo /run/ka.fifo\n}}\n{}",
        one("")
    ));
    let g = &c.config.global;
    assert_eq!(g.event_log.as_deref(), Some(Path::new("/run/ka.fifo")));
    assert_eq!(g.event_log_format, EventLogFormat::Keepalived);
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);

    // One event log: a second, different FIFO, the owner and the reader script are reported.
    let c = convert(&format!(
        "global_defs {{\n notify_fifo /run/a.fifo\n vrrp_notify_fifo /run/b.fifo\n vrrp_notify_fifo_script /bin/reader\n notify_fifo /run/a.fifo haproxy\n}}\n{}",
        one("")
    ));
    assert_eq!(
        c.config.global.event_log.as_deref(),
        Some(Path::new("/run/a.fifo"))
    );
    assert_eq!(
        c.unsupported,
        [
            (3, "vrrp_notify_fifo".to_owned()),
            (4, "vrrp_notify_fifo_script".to_owned()),
            (5, "notify_fifo".to_owned()),
        ]
    );
}

#[test]
fn vrrp_track_process_becomes_a_process_check_tracked_with_its_weight() {
    use vipd::config::{ArgsMatch, CheckKind};
    let c = convert(&format!(
        "vrrp_track_process haproxy {{\n process /usr/sbin/haproxy -f /etc/haproxy\n param_match partial\n quorum 2\n quorum_max 4\n delay 1.5\n terminate_delay 3\n weight -30\n}}\nvrrp_track_process sshd {{\n process sshd\n}}\n{}",
        one(" track_process {\n  haproxy\n  sshd weight 10\n }")
    ));
    assert!(c.unsupported.is_empty(), "{:?}\n{}", c.unsupported, c.yaml);
    let CheckKind::Process(p) = &c.config.checks["haproxy"].kind else {
        panic!("{}", c.yaml)
    };
    assert_eq!(p.name, "/usr/sbin/haproxy");
    assert_eq!(p.args, ["-f", "/etc/haproxy"]);
    assert_eq!(p.args_match, ArgsMatch::Partial);
    assert_eq!((p.quorum, p.quorum_max), (2, Some(4)));
    assert_eq!(p.fork_delay, Duration::from_millis(1500));
    assert_eq!(p.terminate_delay, Duration::from_secs(3));
    let CheckKind::Process(s) = &c.config.checks["sshd"].kind else {
        panic!("{}", c.yaml)
    };
    assert_eq!((s.name.as_str(), s.args_match), ("sshd", ArgsMatch::Any));
    let track: Vec<(TrackTarget, i16)> = inst(&c, "VI_1")
        .track
        .iter()
        .map(|t| (t.target.clone(), t.weight))
        .collect();
    assert_eq!(
        track,
        [
            (TrackTarget::Check("haproxy".into()), -30),
            (TrackTarget::Check("sshd".into()), 10)
        ]
    );
    // A bare param_match: the command has exactly the given parameters (here none).
    let c = convert(&format!(
        "vrrp_track_process p {{\n process nginx\n param_match\n}}\n{}",
        one(" track_process {\n  p\n }")
    ));
    let CheckKind::Process(p) = &c.config.checks["p"].kind else {
        panic!("{}", c.yaml)
    };
    assert_eq!((p.args_match, p.args.len()), (ArgsMatch::Exact, 0));
}
