//! Mixed pairs of vipd and FRR 8.4 vrrpd (VRRPv3 only) on one LAN, same VRID: election,
//! graceful stop (priority 0), crash and preemption, with vipd as the preferred Master and
//! with FRR as it (see `netns_tests::peers::exercise_pair`). FRR answers for the VIP from
//! the macvlan with the virtual MAC the test gives it; vipd from its interface's MAC.

use std::path::PathBuf;
use std::time::Duration;

use netns_tests::peers::{Agent, Case, FRR, Frr, VrrpSpec, require_tools};
use netns_tests::{Lab, Node, require_root};

fn frr(node: &Node, spec: &VrrpSpec, priority: u8, dir: PathBuf) -> Box<dyn Agent> {
    Box::new(Frr::new(node, spec, priority, dir))
}

/// Root, the lab's tools and FRR.
fn ready() -> bool {
    require_root() && require_tools(&FRR)
}

fn case(ipv6: bool) -> Case {
    Case {
        version: 3,
        ipv6,
        // FRR takes milliseconds, in multiples of 10.
        interval: Duration::from_millis(100),
        tweak: |_: &Lab, _: &mut VrrpSpec| {},
        peer: frr,
    }
}

#[test]
fn vrrp_v3_ipv4() {
    if ready() {
        case(false).run_both_ways();
    }
}

#[test]
fn vrrp_v3_ipv6() {
    if ready() {
        case(true).run_both_ways();
    }
}

/// FRR 8.4.4 verifies VRRPv3-over-IPv4 checksums only with the pseudo-header (it has no
/// switch to change that); vipd set to `v3_checksum: rfc9568` is dropped with "Bad VRRP
/// checksum" and both become Master. See `Case::rfc9568_against_peer`.
#[test]
fn v3_rfc9568_checksum_is_dropped_by_frr_and_vipd_names_the_mismatch() {
    if ready() {
        case(false).rfc9568_against_peer("Datagram invalid: Bad VRRP checksum");
    }
}
