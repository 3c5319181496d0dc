//! Property test of the rule that two instances can never share a receive route: random
//! configurations of a few instances with vrrp and udp channels, checked against a small
//! model of where each instance hears adverts, computed from the generated values alone.
//!
//! `SIM_CASES` sets the number of configurations (default 2000).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError};
use vipd::config::Config;

fn cases() -> u32 {
    std::env::var("SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

const IFACES: [&str; 3] = ["eth0", "eth1", "eth2"];
const PEERS: [&str; 2] = ["10.9.0.2", "10.9.0.3"];

#[derive(Clone, Debug)]
enum Chan {
    Vrrp {
        iface: usize,
        peer: usize,
    },
    Udp {
        iface: usize,
        port: u16,
        peer: usize,
    },
}

#[derive(Clone, Debug)]
struct Inst {
    name: String,
    iface: usize,
    vrid: u8,
    channels: Vec<Chan>,
}

/// Where the model says an instance hears adverts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Raw(usize),
    Udp(u16, usize),
}

fn chan() -> impl Strategy<Value = Chan> {
    prop_oneof![
        (0..IFACES.len(), 0..PEERS.len()).prop_map(|(iface, peer)| Chan::Vrrp { iface, peer }),
        (0..IFACES.len(), 5405u16..=5406, 0..PEERS.len())
            .prop_map(|(iface, port, peer)| Chan::Udp { iface, port, peer }),
    ]
}

fn instances() -> impl Strategy<Value = Vec<Inst>> {
    let one = (
        "[a-z][a-z0-9_-]{0,9}",
        0..IFACES.len(),
        1u8..=3,
        prop::collection::vec(chan(), 0..=2),
    )
        .prop_map(|(name, iface, vrid, channels)| Inst {
            name,
            iface,
            vrid,
            channels,
        });
    prop::collection::vec(one, 2..=4).prop_filter("instance names are distinct", |v| {
        v.iter().map(|i| &i.name).collect::<BTreeSet<_>>().len() == v.len()
    })
}

fn yaml(insts: &[Inst]) -> String {
    let mut s = String::from("instances:\n");
    for (n, i) in insts.iter().enumerate() {
        // Quoted keys: a generated name such as `no` or `on` stays a plain string.
        let _ = writeln!(s, "  \"{}\":", i.name);
        let _ = writeln!(s, "    interface: {}", IFACES[i.iface]);
        let _ = writeln!(s, "    vrid: {}", i.vrid);
        let _ = writeln!(s, "    vips: [192.0.2.{}/32]", n + 1);
        if i.channels.is_empty() {
            continue;
        }
        s.push_str("    channels:\n");
        for c in &i.channels {
            let _ = match c {
                Chan::Vrrp { iface, peer } => writeln!(
                    s,
                    "      - {{interface: {}, peers: [{}]}}",
                    IFACES[*iface], PEERS[*peer]
                ),
                Chan::Udp { iface, port, peer } => writeln!(
                    s,
                    "      - {{type: udp, interface: {}, port: {port}, key_file: /etc/vipd/k, \
                     peers: [{}]}}",
                    IFACES[*iface], PEERS[*peer]
                ),
            };
        }
    }
    s
}

fn places(i: &Inst) -> BTreeSet<Place> {
    let mut out = BTreeSet::from([Place::Raw(i.iface)]);
    for c in &i.channels {
        out.insert(match c {
            Chan::Vrrp { iface, .. } => Place::Raw(*iface),
            Chan::Udp { iface, port, .. } => Place::Udp(*port, *iface),
        });
    }
    out
}

/// Problems within one instance that the generator can produce: the same channel listed
/// twice (same interface, type, port and peers), or two udp channels on one port and
/// interface (one UDP route carries one channel).
fn self_problem(i: &Inst) -> bool {
    let c = &i.channels;
    (0..c.len()).any(|a| {
        (a + 1..c.len()).any(|b| match (&c[a], &c[b]) {
            (Chan::Vrrp { iface: x, peer: p }, Chan::Vrrp { iface: y, peer: q }) => {
                x == y && p == q
            }
            (
                Chan::Udp {
                    iface: x, port: p, ..
                },
                Chan::Udp {
                    iface: y, port: q, ..
                },
            ) => x == y && p == q,
            _ => false,
        })
    })
}

/// For each instance and each place it hears where an earlier instance (in file order) of
/// the same VRID already hears: (that instance, the earliest such one).
fn shared_routes(insts: &[Inst]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (x, later) in insts.iter().enumerate() {
        for p in places(later) {
            let first = insts[..x]
                .iter()
                .find(|e| e.vrid == later.vrid && places(e).contains(&p));
            if let Some(e) = first {
                out.push((later.name.clone(), e.name.clone()));
            }
        }
    }
    out
}

fn check(insts: &[Inst]) -> Result<(), TestCaseError> {
    let text = yaml(insts);
    let shared = shared_routes(insts);
    let selfish: BTreeSet<&str> = insts
        .iter()
        .filter(|i| self_problem(i))
        .map(|i| i.name.as_str())
        .collect();
    let parsed = Config::parse(&text, "t.yaml");
    let Err(errs) = parsed else {
        prop_assert!(
            shared.is_empty() && selfish.is_empty(),
            "accepted, but the model expects a refusal: shared {shared:?}, within one \
             instance {selfish:?}\n{text}"
        );
        return Ok(());
    };
    prop_assert!(
        !(shared.is_empty() && selfish.is_empty()),
        "refused, but the model finds nothing wrong:\n{errs}\n{text}"
    );
    let position: BTreeMap<&str, usize> = insts
        .iter()
        .enumerate()
        .map(|(n, i)| (i.name.as_str(), n))
        .collect();
    let mut named_pairs = Vec::new();
    let mut alone = BTreeSet::new();
    for e in errs.errors() {
        let named: Vec<&str> = insts
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| e.message.contains(&format!("'{n}'")))
            .collect();
        let owner = e
            .path
            .strip_prefix("instances.")
            .and_then(|rest| rest.split('.').next())
            .unwrap_or("");
        match named[..] {
            [] => {
                alone.insert(owner.to_owned());
            }
            [a, b] => {
                let (later, earlier) = if position[a] > position[b] {
                    (a, b)
                } else {
                    (b, a)
                };
                prop_assert_eq!(
                    owner,
                    later,
                    "a shared route is reported on the later instance: {}\n{}",
                    e,
                    text
                );
                named_pairs.push((later.to_owned(), earlier.to_owned()));
            }
            _ => prop_assert!(false, "an error names {named:?}: {e}\n{text}"),
        }
    }
    let mut expected = shared.clone();
    expected.sort();
    named_pairs.sort();
    prop_assert_eq!(
        &named_pairs,
        &expected,
        "errors naming two instances vs shared routes in the model\n{}\n{}",
        errs,
        text
    );
    let selfish: BTreeSet<String> = selfish.into_iter().map(str::to_owned).collect();
    prop_assert_eq!(
        &alone,
        &selfish,
        "instances with an error of their own vs the model\n{}\n{}",
        errs,
        text
    );
    Ok(())
}

proptest! {
    #![proptest_config(PropConfig { cases: cases(), failure_persistence: None, ..PropConfig::default() })]

    /// A configuration is refused exactly when two instances of one VRID would hear adverts
    /// at one place (an interface for raw VRRP, a port and interface for UDP) or one
    /// instance lists a channel twice or two udp channels on one port and interface; each
    /// shared place gets one error, on the later instance, naming both.
    #[test]
    fn refused_iff_two_instances_share_a_receive_route(insts in instances()) {
        check(&insts)?;
    }
}

/// The model itself can tell a shared route apart: one configuration of each kind.
#[test]
fn model_examples() {
    let inst = |name: &str, iface, vrid, channels| Inst {
        name: name.to_owned(),
        iface,
        vrid,
        channels,
    };
    // A vrrp channel of one instance on the primary interface of another, same VRID.
    let raw = vec![
        inst("a", 0, 1, vec![]),
        inst("b", 1, 1, vec![Chan::Vrrp { iface: 0, peer: 0 }]),
    ];
    assert_eq!(shared_routes(&raw), vec![("b".into(), "a".into())]);
    assert!(Config::parse(&yaml(&raw), "t.yaml").is_err());
    // The same UDP port on different interfaces, or different ports, share nothing.
    let udp = vec![
        inst(
            "a",
            0,
            1,
            vec![Chan::Udp {
                iface: 2,
                port: 5405,
                peer: 0,
            }],
        ),
        inst(
            "b",
            1,
            1,
            vec![Chan::Udp {
                iface: 1,
                port: 5405,
                peer: 0,
            }],
        ),
        inst(
            "c",
            2,
            2,
            vec![Chan::Udp {
                iface: 2,
                port: 5405,
                peer: 0,
            }],
        ),
    ];
    assert!(shared_routes(&udp).is_empty());
    Config::parse(&yaml(&udp), "t.yaml").unwrap_or_else(|e| panic!("{e}"));
}
