//! Converted configurations against the keepalived node they were converted beside: for each
//! keepalived shape whose conversion once changed what went on the wire, node A runs vipd
//! with the file `vipd convert` made of its keepalived.conf and node B runs keepalived 2.2.7
//! with its own, in both directions (vipd the preferred Master, then keepalived). Each run is
//! the full pair scenario (election, priority-0 handover, preemption, crash, reboot: exactly
//! one MAC answers for the VIP at every step), then one more election after which the Master
//! must hold every address keepalived would hold, and keepalived must have accepted vipd's
//! adverts (its log never says "unexpected ip number count").
//!
//! They need root, keepalived and a vipd binary built from this tree (`cargo build -p vipd`,
//! or `VIPD_BIN`); without them they say SKIPPED loudly (and fail under CI=true).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use netns_tests::peers::{
    Agent, HIGH, KEEPALIVED, Keepalived, LOW, Unicast, VRID, Vipd, VrrpSpec, exercise_pair,
    expect_holder, master_down_interval, require_tools,
};
use netns_tests::vipd::vipd_bin;
use netns_tests::{Lab, LabSpec, require_root};

/// Addresses in virtual_ipaddress_excluded: more than a VRRPv2 advert may carry (20), as in
/// the configuration whose conversion once failed outright.
const EXCLUDED: u8 = 25;

/// What keepalived logs when it drops an advert for its address list.
const KEEPALIVED_DROPS: [&str; 2] = ["unexpected ip number count", "not present in MASTER advert"];

fn ready() -> bool {
    require_root() && require_tools(&[KEEPALIVED])
}

/// A keepalived.conf shape: the instance body for node `i` at `priority`.
type Shape = fn(&Lab, usize, u8) -> String;

fn instance(lab: &Lab, priority: u8, body: &str) -> String {
    format!(
        "global_defs {{\n  router_id lab\n}}\nvrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {VRID}\n  priority {priority}\n  advert_int 1\n  virtual_ipaddress {{\n    {}/24 dev eth0\n{body}  }}\n",
        lab.vip4(0)
    )
}

fn excluded(lab: &Lab, _: usize, priority: u8) -> String {
    let mut evips = String::new();
    for k in 1..=EXCLUDED {
        evips.push_str(&format!("    {}/24\n", lab.vip4(k)));
    }
    // keepalived's docs suggest excluded addresses for holding both families.
    evips.push_str(&format!("    {}/64\n", lab.vip6(1)));
    let mut c = instance(lab, priority, "");
    c.push_str(&format!(
        "  virtual_ipaddress_excluded {{\n{evips}  }}\n}}\n"
    ));
    c
}

fn mixed(lab: &Lab, _: usize, priority: u8) -> String {
    let mut c = instance(lab, priority, &format!("    {}/64\n", lab.vip6(0)));
    c.push_str("}\n");
    c
}

fn unicast_with_prefix(lab: &Lab, i: usize, priority: u8) -> String {
    let (own, peer) = (lab.node(i).ip4(), lab.node(1 - i).ip4());
    let mut c = instance(lab, priority, "");
    c.push_str(&format!(
        "  unicast_src_ip {own}/24\n  unicast_peer {{\n    {peer}/24\n  }}\n}}\n"
    ));
    c
}

/// `vipd convert CONF -o YAML` (plus `--allow-unsupported` when `reported` lines are
/// expected), then `vipd check YAML`. Every `reported` text must be on stderr, and nothing
/// may be marked as differing on the wire.
fn convert(conf: &Path, reported: &[&str]) -> PathBuf {
    let yaml = conf.with_extension("yaml");
    let bin = vipd_bin().expect("vipd binary");
    assert!(
        bin.is_file(),
        "no vipd binary at {}: build it (cargo build -p vipd) or set VIPD_BIN",
        bin.display()
    );
    let mut cmd = Command::new(&bin);
    cmd.arg("convert").arg(conf).arg("-o").arg(&yaml);
    if !reported.is_empty() {
        cmd.arg("--allow-unsupported");
    }
    let out = cmd.output().expect("run vipd convert");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let input = std::fs::read_to_string(conf).unwrap_or_default();
    assert!(
        out.status.success() && !stderr.contains("differs on the wire"),
        "vipd convert failed ({}):\n{stderr}\n--- input ---\n{input}",
        out.status
    );
    for r in reported {
        assert!(stderr.contains(r), "{r:?} not reported:\n{stderr}");
    }
    if reported.is_empty() {
        assert!(stderr.trim().is_empty(), "unexpected warnings:\n{stderr}");
    }
    let check = Command::new(&bin)
        .arg("check")
        .arg(&yaml)
        .output()
        .expect("run vipd check");
    assert!(
        check.status.success(),
        "vipd check rejects the converted file:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    yaml
}

/// Runs `shape` both ways; after each, the Master of a fresh election must hold the first
/// list of `held(lab)` and the Backup none of them, and neither node the second list.
fn run(tag: &str, shape: Shape, unicast: bool, reported: &[&str], held: fn(&Lab) -> Held) {
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let mut spec = VrrpSpec::new(2, VRID, lab.vip4(0).into(), Duration::from_secs(1));
    if unicast {
        spec.unicast = Some(Unicast {
            addrs: [lab.node(0).ip4().into(), lab.node(1).ip4().into()],
        });
    }
    let dir = lab.log_path("");
    for vipd_high in [true, false] {
        let (pv, pk) = if vipd_high { (HIGH, LOW) } else { (LOW, HIGH) };
        let conf = dir.join(format!("{tag}-a-{pv}.conf"));
        std::fs::write(&conf, shape(&lab, 0, pv)).expect("write conf");
        let yaml = convert(&conf, reported);
        let mut v = Vipd::new(lab.node(0), &spec, pv, dir.clone()).with_config_file(yaml);
        let mut k =
            Keepalived::new(lab.node(1), &spec, pk, dir.clone()).with_config(shape(&lab, 1, pk));
        let r = if vipd_high {
            exercise_pair(&lab, &spec, &mut v, &mut k)
        } else {
            exercise_pair(&lab, &spec, &mut k, &mut v)
        };
        eprintln!(
            "{tag}, vipd {}: priority-0 takeover {:?}, crash takeover {:?}",
            if vipd_high { "Master" } else { "Backup" },
            r.stop_takeover,
            r.crash_takeover
        );
        let (high, low): (&mut dyn Agent, &mut dyn Agent) = if vipd_high {
            (&mut v, &mut k)
        } else {
            (&mut k, &mut v)
        };
        holds(&lab, &spec, high, low, &held(&lab));
        let log = k.log_text();
        for bad in KEEPALIVED_DROPS {
            assert!(
                !log.contains(bad),
                "{tag}: keepalived dropped vipd's adverts ({bad}):\n{log}"
            );
        }
        for bad in ["announcement failed", "VIP add failed", "VIP remove failed"] {
            assert!(
                !v.log_text().contains(bad),
                "{tag}: vipd: {bad}:\n{}",
                v.log_text()
            );
        }
        assert!(
            !v.log_text().contains("other virtual addresses than ours"),
            "{tag}: vipd saw another address list:\n{}",
            v.log_text()
        );
    }
}

/// Addresses the Master must hold, and addresses no node may hold.
type Held = (Vec<IpAddr>, Vec<IpAddr>);

/// One more election: `high` must hold the first list and `low` none of it; neither may hold
/// the second. Stops both.
fn holds(
    lab: &Lab,
    spec: &VrrpSpec,
    high: &mut dyn Agent,
    low: &mut dyn Agent,
    (addrs, absent): &Held,
) {
    let settle =
        master_down_interval(spec.version, LOW, spec.interval) * 3 + Duration::from_secs(5);
    low.start().expect("start low");
    high.start().expect("start high");
    let outcome = expect_holder(lab, spec.vip, &*high, settle).and_then(|()| {
        for a in addrs {
            let on_high = high
                .node()
                .has_addr("eth0", *a)
                .map_err(|e| e.to_string())?;
            let on_low = low.node().has_addr("eth0", *a).map_err(|e| e.to_string())?;
            if !on_high || on_low {
                return Err(format!(
                    "{a}: on the Master ({}) {on_high}, on the Backup ({}) {on_low}",
                    high.kind(),
                    low.kind()
                ));
            }
        }
        if !absent.is_empty() {
            // An instance of its own for them would take them only after its down timer.
            std::thread::sleep(master_down_interval(3, LOW, spec.interval) * 2);
        }
        for a in absent {
            for node in [high.node(), low.node()] {
                if node.has_addr("eth0", *a).map_err(|e| e.to_string())? {
                    return Err(format!(
                        "{a} is on {}, keepalived never holds it",
                        node.name()
                    ));
                }
            }
        }
        Ok(())
    });
    let stopped = (high.stop(), low.stop());
    if let Err(why) = outcome {
        panic!(
            "after the election: {why}\n--- {} ---\n{}\n--- {} ---\n{}",
            high.kind(),
            high.log_text(),
            low.kind(),
            low.log_text()
        );
    }
    stopped.0.expect("stop high");
    stopped.1.expect("stop low");
}

/// virtual_ipaddress_excluded, 25 IPv4 addresses and one IPv6: held by the Master, never in
/// an advert.
#[test]
fn excluded_addresses_against_keepalived() {
    if ready() {
        run("excluded", excluded, false, &[], |lab| {
            let mut held: Vec<IpAddr> = (0..=EXCLUDED).map(|k| lab.vip4(k).into()).collect();
            held.push(lab.vip6(1).into());
            (held, vec![])
        });
    }
}

/// An IPv6 address in an IPv4 instance's virtual_ipaddress: keepalived ignores it, and so
/// does the converted node (reported, not a difference on the wire).
#[test]
fn mixed_families_against_keepalived() {
    if ready() {
        run(
            "mixed",
            mixed,
            false,
            &["address family must match VRRP instance"],
            |lab| (vec![lab.vip4(0).into()], vec![lab.vip6(0).into()]),
        );
    }
}

/// unicast_src_ip and unicast_peer written with a /24: unicast on both sides.
#[test]
fn unicast_with_a_prefix_against_keepalived() {
    if ready() {
        run("unicast", unicast_with_prefix, true, &[], |lab| {
            (vec![lab.vip4(0).into()], vec![])
        });
    }
}
