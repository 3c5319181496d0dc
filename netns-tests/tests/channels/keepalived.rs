//! A `vrrp` channel toward keepalived: keepalived runs with its only path on the heartbeat
//! link (unicast peers there, VIP on eth0); vipd has multicast on the LAN plus a channel on
//! eth1. The pair elects, hands over on a stop and preempts back over that channel alone.

use std::net::IpAddr;
use std::time::Duration;

use netns_tests::peers::{Agent, KEEPALIVED, Keepalived, VrrpSpec, require_tools};
use netns_tests::require_root;
use netns_tests::vipd::{Vipd, VipdConfig, VrrpState};

use crate::common::*;
use crate::setup::*;

#[test]
fn a_vrrp_channel_pairs_with_keepalived_unicast_peers() {
    if !(require_root() && require_tools(&[KEEPALIVED])) {
        return;
    }
    let lab = hb_lab();
    let (n0, n1) = (lab.node(0), lab.node(1));
    let vip: IpAddr = lab.vip4(0).into();
    let interval = Duration::from_millis(100);
    let ka_spec = VrrpSpec::new(3, 51, vip, interval);
    let (hb0, hb1) = (n0.hb_ip4().unwrap(), n1.hb_ip4().unwrap());
    let conf = format!(
        "global_defs {{\n  router_id {}\n}}\nvrrp_instance vt {{\n  state BACKUP\n  \
         interface eth1\n  virtual_router_id 51\n  priority 100\n  version 3\n  \
         advert_int 0.1\n  unicast_src_ip {hb1}\n  unicast_peer {{\n    {hb0}\n  }}\n  \
         virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n",
        n1.name()
    );
    let mut ka = Keepalived::new(n1, &ka_spec, 100, lab.log_path("")).with_config(conf);
    let mut high = spec(vip, 150);
    high.extra = vec![vrrp_channel(n1)];
    let mut d0 = Vipd::start(&lab, n0, &VipdConfig::single(n0.name(), high.clone())).unwrap();
    settle(&mut d0, &high, VrrpState::Master);
    ka.start().unwrap();
    // keepalived hears vipd only on eth1: it must stay Backup.
    std::thread::sleep(high.master_down_interval() * 4);
    assert!(
        holds(n0, "eth0", vip) && !holds(n1, "eth0", vip),
        "{}",
        ka.log_text()
    );
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());

    // vipd stops: its priority 0 goes out on eth1 too, and keepalived takes over.
    d0.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(d0.wait_exit(Duration::from_secs(5)).is_some());
    wait_holds(n1, "eth0", vip, true, TOLERANCE);
    assert_client_sees(&lab, vip, n1.mac("eth0").unwrap());

    // vipd back: it hears keepalived on eth1 only, and preempts it.
    let mut d0 = Vipd::start(&lab, n0, &VipdConfig::single(n0.name(), high.clone())).unwrap();
    let t = d0
        .wait_state(
            &high.name,
            VrrpState::Master,
            high.master_down_interval() + START_SLACK,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}\n{}", d0.log_text());
    wait_holds(n1, "eth0", vip, false, TOLERANCE);
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());
    assert!(channel_counter(&d0, "eth1", "adverts_received") > 0);
    ka.stop().unwrap();
}
