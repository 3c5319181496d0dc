//! tcp and http probes against a server in the node, a tracked interface, a track file.

use std::net::SocketAddr;
use std::time::Duration;

use netns_tests::require_root;
use netns_tests::vipd::{CheckKind, CheckSpec, TrackSpec, TrackTarget, VrrpState};

use crate::common::*;
use crate::server::{BODY, Server};

/// The port the probed server listens on, inside node0's own namespace.
const PORT: u16 = 8080;

/// node0 (150) tracks a check of a server it runs; node1 (100) tracks nothing. Stopping the
/// server moves the VIP to node1; starting it again brings the VIP back (preemption).
fn server_stop_moves_the_vip(kind: CheckKind, weight: i16, while_failed: VrrpState) {
    let lab = lab(false);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let server = Server::start(n0, PORT);
    let high = web(vip, 150, vec![track_check("svc", weight)]);
    let low = web(vip, 100, vec![]);
    let mut c0 = config(n0, high.clone());
    c0.checks = vec![CheckSpec::new("svc", kind)];
    let check = c0.checks[0].clone();
    let [mut d0, mut d1] = master_then_backup(&lab, &c0, &config(n1, low.clone()));
    wait_holds(n0, vip, true, TOLERANCE);
    assert!(d0.status().unwrap().instance("web").faults.is_empty());

    server.stop();
    let limit = check.detection_time() + low.master_down_interval() + TOLERANCE;
    let took = wait_holds(n1, vip, true, limit);
    eprintln!("server stopped: VIP moved in {took:?}");
    let t = d0.wait_state("web", while_failed, TOLERANCE).unwrap();
    assert_eq!(t.from, VrrpState::Master);
    d1.wait_state("web", VrrpState::Master, TOLERANCE).unwrap();
    assert_master(&lab, n1, vip);

    let _server = Server::start(n0, PORT);
    let t = d0
        .wait_state(
            "web",
            VrrpState::Master,
            check.recovery_time() + high.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    wait_holds(n1, vip, false, TOLERANCE);
    assert_master(&lab, n0, vip);
}

#[test]
fn tcp_probe_server_stopping_faults_the_master() {
    if !require_root() {
        return;
    }
    let addr: SocketAddr = ([127, 0, 0, 1], PORT).into();
    server_stop_moves_the_vip(CheckKind::Tcp(addr), 0, VrrpState::Fault);
}

#[test]
fn http_probe_server_stopping_lowers_the_master_below_the_backup() {
    if !require_root() {
        return;
    }
    let kind = CheckKind::Http {
        url: format!("http://127.0.0.1:{PORT}/health"),
        expect_body: Some(BODY.trim().into()),
    };
    server_stop_moves_the_vip(kind, -100, VrrpState::Backup);
}

#[test]
fn a_tracked_heartbeat_interface_going_down_moves_the_vip() {
    if !require_root() {
        return;
    }
    let lab = lab(true);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let eth1 = || TrackSpec {
        target: TrackTarget::Interface("eth1".into()),
        weight: 0,
    };
    let (high, low) = (web(vip, 150, vec![eth1()]), web(vip, 100, vec![eth1()]));
    let [mut d0, mut d1] =
        master_then_backup(&lab, &config(n0, high.clone()), &config(n1, low.clone()));
    wait_holds(n0, vip, true, TOLERANCE);

    // The switch end of node0's heartbeat cable: node0 sees carrier loss on eth1.
    lab.set_heartbeat_port(n0, false).unwrap();
    let took = wait_holds(n1, vip, true, low.skew_time() + TOLERANCE);
    eprintln!("eth1 down: VIP moved in {took:?}");
    let t = d0.wait_state("web", VrrpState::Fault, TOLERANCE).unwrap();
    assert!(t.reason.contains("eth1"), "{t:?}");
    let t = d1.wait_state("web", VrrpState::Master, TOLERANCE).unwrap();
    assert!(t.reason.contains("resigned (priority 0)"), "{t:?}");
    assert_master(&lab, n1, vip);
    assert_eq!(
        d1.state("web"),
        Some(VrrpState::Master),
        "node1's eth1 is up"
    );

    lab.set_heartbeat_port(n0, true).unwrap();
    let t = d0
        .wait_state(
            "web",
            VrrpState::Master,
            high.master_down_interval() + TOLERANCE * 2,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    wait_holds(n1, vip, false, TOLERANCE);
    assert_master(&lab, n0, vip);
}

#[test]
fn writing_a_track_file_forces_a_failover_and_removing_it_restores() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let file = lab.log_path("node0.track");
    let high = web(
        vip,
        150,
        vec![TrackSpec {
            target: TrackTarget::File(file.clone()),
            weight: -100,
        }],
    );
    let low = web(vip, 100, vec![]);
    let [mut d0, mut d1] =
        master_then_backup(&lab, &config(n0, high.clone()), &config(n1, low.clone()));
    wait_holds(n0, vip, true, TOLERANCE);

    // vipd reads track files every second (no check, so no configured interval).
    let read = Duration::from_secs(1);
    std::fs::write(&file, "1\n").unwrap();
    let took = wait_holds(n1, vip, true, read + high.advert_interval * 2 + TOLERANCE);
    eprintln!("track file 1 x -100: VIP moved in {took:?}");
    let t = d1.wait_state("web", VrrpState::Master, TOLERANCE).unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    d0.wait_state("web", VrrpState::Backup, TOLERANCE).unwrap();
    wait_priority(&d0, 50, TOLERANCE);
    assert_master(&lab, n1, vip);

    std::fs::remove_file(&file).unwrap();
    let t = d0
        .wait_state(
            "web",
            VrrpState::Master,
            read + high.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    wait_priority(&d0, 150, TOLERANCE);
    wait_holds(n1, vip, false, TOLERANCE);
    assert_master(&lab, n0, vip);
}
