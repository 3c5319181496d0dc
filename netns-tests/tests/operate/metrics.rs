//! The Prometheus endpoint, scraped from inside each node before and after a failover.

use std::net::SocketAddr;

use netns_tests::require_root;
use netns_tests::vipd::VrrpState;
use netns_tests::vipd::metrics::{sample, scrape};

use crate::common::*;

#[test]
fn metrics_show_the_transition_counters_and_states_moving_across_a_failover() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    // Each node has a namespace of its own, so both can listen on the same address.
    let addr: SocketAddr = "127.0.0.1:9742".parse().unwrap();
    let (high, low) = (inst("web", 51, vip, 150), inst("web", 51, vip, 100));
    let mut c0 = config(n0, vec![high.clone()]);
    let mut c1 = config(n1, vec![low.clone()]);
    c0.metrics_listen = Some(addr);
    c1.metrics_listen = Some(addr);
    let [d0, mut d1] = master_then_backup(&lab, &c0, &c1);
    wait_holds(n0, vip, true, TOLERANCE);

    let state = |text: &str, s: &str| {
        sample(
            text,
            "vipd_instance_state",
            &[("instance", "web"), ("state", s)],
        )
    };
    let transitions = |text: &str, from: &str, to: &str| {
        sample(
            text,
            "vipd_transitions_total",
            &[("instance", "web"), ("from", from), ("to", to)],
        )
        .unwrap_or(0.0)
    };
    let (m0, m1) = (scrape(n0, addr).unwrap(), scrape(n1, addr).unwrap());
    assert_eq!(state(&m0, "MASTER"), Some(1.0), "{m0}");
    assert_eq!(state(&m0, "BACKUP"), Some(0.0), "{m0}");
    assert_eq!(state(&m1, "BACKUP"), Some(1.0), "{m1}");
    assert_eq!(state(&m1, "MASTER"), Some(0.0), "{m1}");
    assert_eq!(transitions(&m0, "BACKUP", "MASTER"), 1.0, "{m0}");
    assert_eq!(transitions(&m1, "BACKUP", "MASTER"), 0.0, "{m1}");
    assert_eq!(transitions(&m0, "MASTER", "BACKUP"), 0.0, "{m0}");
    assert!(m0.contains("# HELP vipd_transitions"), "help texts: {m0}");
    let effective = |text: &str| sample(text, "vipd_effective_priority", &[("instance", "web")]);
    assert_eq!(effective(&m0), Some(150.0));
    let sent0 = sample(&m0, "vipd_adverts_sent_total", &[("instance", "web")]).unwrap();
    assert!(sent0 > 0.0, "{m0}");

    // The failover: node0 drains, node1 takes over on the priority-0 advert.
    d0.ctl_ok(&["maintenance", "on"]).unwrap();
    d1.wait_state("web", VrrpState::Master, low.skew_time() + TOLERANCE)
        .unwrap();
    wait_holds(n0, vip, false, TOLERANCE);
    let (a0, a1) = (scrape(n0, addr).unwrap(), scrape(n1, addr).unwrap());
    assert_eq!(state(&a0, "MASTER"), Some(0.0), "{a0}");
    assert_eq!(state(&a0, "BACKUP"), Some(1.0), "{a0}");
    assert_eq!(state(&a1, "MASTER"), Some(1.0), "{a1}");
    assert_eq!(state(&a1, "BACKUP"), Some(0.0), "{a1}");
    assert_eq!(transitions(&a0, "MASTER", "BACKUP"), 1.0, "{a0}");
    assert_eq!(transitions(&a1, "BACKUP", "MASTER"), 1.0, "{a1}");
    assert_eq!(
        sample(
            &a1,
            "vipd_transitions_total",
            &[
                ("instance", "web"),
                ("to", "MASTER"),
                ("reason", "master_resigned")
            ]
        ),
        Some(1.0),
        "the reason label: {a1}"
    );
    assert_eq!(
        sample(&a0, "vipd_maintenance", &[("instance", "web")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&a0, "vipd_vips_held", &[("instance", "web")]),
        Some(0.0)
    );
    assert_eq!(
        sample(&a1, "vipd_vips_held", &[("instance", "web")]),
        Some(1.0)
    );
    let sent1 = sample(&a0, "vipd_adverts_sent_total", &[("instance", "web")]).unwrap();
    assert!(
        sent1 > sent0,
        "counters only grow, and a Master kept sending"
    );
}
