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
