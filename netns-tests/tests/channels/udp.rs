//! The UDP channel carries the pair alone (VRRP dropped on the LAN), and forged, replayed
//! and truncated frames are refused and counted while the pair keeps working.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use netns_tests::vipd::VrrpState;
use netns_tests::{Cut, in_netns, require_root};

use crate::common::*;
use crate::setup::*;

/// Tries to bind `addr` as user and group 65534 (nobody), with SO_REUSEADDR as a user
/// wanting to share the port would set it. Run on a thread of its own: the raw syscalls
/// change this thread's credentials only (glibc's wrappers would change every thread's).
fn bind_as_nobody(addr: SocketAddr) -> std::io::Result<()> {
    // SAFETY: plain syscalls on the calling thread's credentials; no memory is passed.
    let dropped = unsafe {
        libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) == 0
            && libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) == 0
            && libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) == 0
    };
    assert!(
        dropped,
        "dropping to nobody: {}",
        std::io::Error::last_os_error()
    );
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())
}

#[test]
fn another_local_user_cannot_bind_the_heartbeat_port() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        high,
        low,
        d0,
        d1,
        ..
    } = udp_pair(&[]);
    let channel = format!("udp eth1:{PORT}");
    let _lan = lab.cut(Cut::VrrpOnLan).unwrap();
    let n1 = lab.node(1);
    let hb: IpAddr = n1.hb_ip4().unwrap().into();
    let targets = [
        SocketAddr::new(IpAddr::from([0, 0, 0, 0]), PORT),
        SocketAddr::new(hb, PORT),
    ];
    let try_all = |when: &str| {
        for to in targets {
            // in_netns runs the closure on a thread of its own, which then ends.
            let got = in_netns(n1.ns(), || bind_as_nobody(to)).unwrap();
            let refused = got
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse);
            assert!(refused, "{when}: nobody binding {to}: {got:?}");
        }
    };
    try_all("while vipd runs");
    // A reload keeps the socket; it must not need the port shared to do so.
    d1.ctl_ok(&["reload"]).unwrap();
    try_all("after a reload");
    let carried = channel_counter(&d1, &channel, "adverts_received");
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
    assert!(
        channel_counter(&d1, &channel, "adverts_received") > carried + 10,
        "UDP still carries the adverts after the reload"
    );
}

#[test]
fn a_udp_channel_naming_an_address_of_this_node_is_refused_at_start() {
    if !require_root() {
        return;
    }
    let lab = hb_lab();
    let key_file = key_file(&lab);
    let (n0, n1) = (lab.node(0), lab.node(1));
    // node0's own heartbeat address beside its peer's: not the channel's source as written
    // (that `vipd check` already refuses), so only the interfaces' addresses tell.
    let own = n0.hb_ip4().unwrap();
    let mut s = spec(lab.vip4(0).into(), 150);
    s.extra = vec![format!(
        "channels: [{{ type: udp, interface: eth1, port: {PORT}, key_file: {}, peers: [{}, {own}] }}]",
        key_file.display(),
        n1.hb_ip4().unwrap()
    )];
    let mut d0 = netns_tests::vipd::Vipd::start(
        &lab,
        n0,
        &netns_tests::vipd::VipdConfig::single(n0.name(), s),
    )
    .unwrap();
    let status = d0.wait_exit(Duration::from_secs(20));
    let log = d0.log_text();
    assert!(
        status.is_some_and(|s| !s.success()),
        "vipd must refuse to run: {status:?}\n{log}"
    );
    let named = format!("lists {own} as a peer, but {own} is an address of this host");
    assert!(log.contains(&named), "{log}");
}

#[test]
fn forged_replayed_future_dated_and_truncated_frames_are_refused_and_counted() {
    if !require_root() {
        return;
    }
    let HbPair {
        lab,
        vip,
        high,
        low,
        d0,
        d1,
        ..
    } = udp_pair(&[]);
    let channel = format!("udp eth1:{PORT}");
    let lan = lab.cut(Cut::VrrpOnLan).unwrap();
    // With VRRP gone from the LAN, only UDP carries node0's adverts.
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert!(lan.dropped().unwrap() > 0);
    let carried = channel_counter(&d1, &channel, "adverts_received");
    assert!(carried > 10, "UDP carried {carried} adverts");

    let (n0, n1) = (lab.node(0), lab.node(1));
    // Frames carry the sender's identity, its primary (LAN) address.
    let origin: IpAddr = n0.ip4().into();
    let to = SocketAddr::new(n1.hb_ip4().unwrap().into(), PORT);
    let f = Forged::new(origin, vip, high.priority);
    let frames = [
        (f.wrong_key, "udp_bad_mac"),
        (f.stale, "udp_stale"),
        (f.future, "udp_future"),
        // Truncated: a real frame cut short.
        (f.good[..40].to_vec(), "udp_truncated"),
        (f.good[..f.good.len() - 1].to_vec(), "udp_truncated"),
    ];
    in_netns(n0.ns(), || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        for (f, _) in &frames {
            for _ in 0..3 {
                sock.send_to(f, to).unwrap();
            }
        }
        // Heard once, then three copies of it.
        for _ in 0..4 {
            sock.send_to(&f.once, to).unwrap();
        }
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for reason in frames.iter().map(|(_, r)| *r).chain(["udp_replayed"]) {
        let n = channel_counter(&d1, &channel, reason);
        assert!(n >= 3, "{reason}: {n}; {}", channel_status(&d1, &channel));
    }
    let before = channel_counter(&d1, &channel, "adverts_received");
    assert_stays(&d1, &low.name, VrrpState::Backup, quiet(&low));
    assert_stays(&d0, &high.name, VrrpState::Master, Duration::ZERO);
    assert!(carried > 0);
    let after = channel_counter(&d1, &channel, "adverts_received");
    assert!(
        after > before + 10,
        "node0 still heard over UDP: {before} -> {after}"
    );
    assert_client_sees(&lab, vip, n0.mac("eth0").unwrap());
}
