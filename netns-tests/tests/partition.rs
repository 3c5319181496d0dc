//! The lab's nftables partitions (`Lab::cut`): each cut drops what it names and nothing else,
//! counts what it dropped, and healing or dropping the guard removes exactly its table.
//! Each test needs root; without it, it says SKIPPED (or fails under CI=true).

use std::io::Read;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use netns_tests::{Cut, Lab, LabSpec, Node, in_netns, require_root};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// What every test packet carries, so stray traffic is never mistaken for it.
const MARKER: &[u8] = b"vt-partition-probe";
/// How long a receiver waits for a packet that should arrive.
const WAIT: Duration = Duration::from_millis(500);

fn lab() -> Lab {
    Lab::new(LabSpec {
        nodes: 2,
        heartbeat_link: true,
        ipv6_ula: true,
        ..Default::default()
    })
    .expect("lab")
}

/// Whether an echo is answered within 3 s. Single echoes are retried until then: after a
/// cut the neighbour entry may be FAILED, and ping gives up at the first local "host
/// unreachable" even with a deadline, while the next packet starts a fresh resolution.
fn ping(from: &Node, to: IpAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let out = from
            .exec(&["ping", "-n", "-q", "-c", "1", "-W", "1", &to.to_string()])
            .expect("run ping");
        if out.status.success() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn tables(lab: &Lab) -> String {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", lab.switch_ns(), "nft", "list", "tables"])
        .output()
        .expect("nft list tables");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn operstate(node: &Node, iface: &str) -> String {
    let out = node
        .exec_ok(&["cat", &format!("/sys/class/net/{iface}/operstate")])
        .expect("operstate");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A socket in `node`'s namespace, made by `make`, with a read timeout of [`WAIT`].
fn socket_in(node: &Node, make: impl FnOnce() -> Socket + Send) -> Socket {
    let sock = in_netns(node.ns(), make).expect("enter namespace");
    sock.set_read_timeout(Some(WAIT)).expect("read timeout");
    sock
}

fn family(ip: IpAddr) -> Domain {
    if ip.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    }
}

/// A raw socket for IP protocol 112 (VRRP) of `ip`'s family, in `node`'s namespace.
fn vrrp_socket(node: &Node, ip: IpAddr) -> Socket {
    socket_in(node, || {
        Socket::new(family(ip), Type::RAW, Some(Protocol::from(112))).expect("raw socket")
    })
}

/// Whether a packet holding [`MARKER`] arrives on `sock` within [`WAIT`]. An IPv4 raw
/// socket hands over the IP header too, so the marker is searched, not compared.
fn marker_arrives(mut sock: &Socket) -> bool {
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        match sock.read(&mut buf) {
            Ok(n) if buf[..n].windows(MARKER.len()).any(|w| w == MARKER) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
    false
}

/// Sends one protocol-112 packet holding [`MARKER`] from `from` to `to` and says whether a
/// receiver on `to_node` got it.
fn vrrp_passes(from: &Node, to_node: &Node, to: IpAddr) -> bool {
    let rx = vrrp_socket(to_node, to);
    let tx = vrrp_socket(from, to);
    tx.send_to(MARKER, &SockAddr::from(SocketAddr::new(to, 0)))
        .expect("send protocol 112");
    marker_arrives(&rx)
}

/// Sends one UDP datagram holding [`MARKER`] from `from` to `to_node`'s `ip:port` and says
/// whether it arrived.
fn udp_passes(from: &Node, to_node: &Node, ip: IpAddr, port: u16) -> bool {
    let rx = socket_in(to_node, || {
        let s = Socket::new(family(ip), Type::DGRAM, None).expect("udp socket");
        s.bind(&SockAddr::from(SocketAddr::new(ip, port)))
            .expect("bind");
        s
    });
    in_netns(from.ns(), || {
        let tx = UdpSocket::bind(if ip.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })
            .expect("bind sender");
        tx.send_to(MARKER, (ip, port)).expect("send udp");
    })
    .expect("enter namespace");
    marker_arrives(&rx)
}

#[test]
fn node_cut_drops_that_port_both_ways_and_keeps_the_link_up() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let (n0, n1, client) = (lab.node(0), lab.node(1), &lab.client);
    assert!(ping(client, n0.ip4().into()) && ping(client, n1.ip4().into()));

    let cut = lab.cut(Cut::Node(n0)).expect("cut");
    assert!(tables(&lab).contains(cut.table()));
    assert!(
        !ping(client, n0.ip4().into()),
        "client reaches the cut node"
    );
    assert!(!ping(n0, n1.ip4().into()), "the cut node reaches node1");
    assert!(ping(client, n1.ip4().into()), "the cut hit node1 too");
    let hb1 = n1.hb_ip4().expect("heartbeat link").into();
    assert!(ping(n0, hb1), "a LAN cut broke the heartbeat link");
    // A partition, not a pulled cable: the node sees no carrier change.
    assert_eq!(operstate(n0, "eth0"), "up");
    // Two echo requests, at least, met the rules.
    let dropped = cut.dropped().expect("counter");
    assert!(dropped >= 2, "dropped {dropped}");

    let table = cut.table().to_string();
    cut.heal().expect("heal");
    assert!(!tables(&lab).contains(&table), "{}", tables(&lab));
    assert!(ping(client, n0.ip4().into()), "not restored by heal");
}

#[test]
fn heartbeat_cut_drops_the_heartbeat_link_only_and_drop_heals() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let (n0, n1) = (lab.node(0), lab.node(1));
    let hb1: IpAddr = n1.hb_ip4().expect("heartbeat link").into();
    assert!(ping(n0, hb1));

    let cut = lab.cut(Cut::Heartbeat(n0)).expect("cut");
    assert!(!ping(n0, hb1), "heartbeat link still passes");
    assert!(ping(n0, n1.ip4().into()), "a heartbeat cut broke the LAN");
    assert!(ping(&lab.client, n0.ip4().into()));
    assert!(cut.dropped().expect("counter") >= 1);

    let table = cut.table().to_string();
    drop(cut);
    assert!(!tables(&lab).contains(&table), "{}", tables(&lab));
    assert!(ping(n0, hb1), "not restored by drop");
}

#[test]
fn heartbeat_cut_needs_a_heartbeat_link() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let err = lab.cut(Cut::Heartbeat(lab.node(0))).unwrap_err();
    assert!(err.to_string().contains("no heartbeat link"), "{err}");
    assert!(!tables(&lab).contains("vtcut"), "{}", tables(&lab));
}

#[test]
fn vrrp_cut_drops_protocol_112_on_the_lan_in_both_families_only() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let (n0, n1) = (lab.node(0), lab.node(1));
    let v4: IpAddr = n1.ip4().into();
    let v6: IpAddr = n1.ip6().expect("ULA").into();
    let hb: IpAddr = n1.hb_ip4().expect("heartbeat link").into();
    assert!(
        vrrp_passes(n0, n1, v4) && vrrp_passes(n0, n1, v6),
        "not even before the cut"
    );

    let cut = lab.cut(Cut::VrrpOnLan).expect("cut");
    assert!(!vrrp_passes(n0, n1, v4), "IPv4 protocol 112 passes");
    assert!(!vrrp_passes(n0, n1, v6), "IPv6 protocol 112 passes");
    assert!(
        !vrrp_passes(&lab.client, n1, v4),
        "protocol 112 from the client's port passes"
    );
    assert_eq!(cut.dropped().expect("counter"), 3);
    // Everything else on the LAN, and protocol 112 on the heartbeat link, still flows.
    assert!(vrrp_passes(n0, n1, hb), "the heartbeat link is cut too");
    assert!(ping(n0, v4) && ping(n0, v6));
    assert!(udp_passes(n0, n1, v4, 5999));

    cut.heal().expect("heal");
    assert!(
        vrrp_passes(n0, n1, v4) && vrrp_passes(n0, n1, v6),
        "not restored"
    );
}

#[test]
fn udp_cut_drops_that_port_only() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let (client, n1) = (&lab.client, lab.node(1));
    let v4: IpAddr = n1.ip4().into();
    let v6: IpAddr = n1.ip6().expect("ULA").into();
    assert!(udp_passes(client, n1, v4, 5999));

    let cut = lab.cut(Cut::UdpPortOnLan(5999)).expect("cut");
    assert!(!udp_passes(client, n1, v4, 5999), "IPv4 UDP 5999 passes");
    assert!(!udp_passes(client, n1, v6, 5999), "IPv6 UDP 5999 passes");
    assert_eq!(cut.dropped().expect("counter"), 2);
    assert!(udp_passes(client, n1, v4, 6000), "another port is cut");
    assert!(
        udp_passes(client, n1, v6, 6000),
        "another port is cut (IPv6)"
    );
    assert!(vrrp_passes(client, n1, v4), "protocol 112 is cut");
    assert!(ping(client, v4));
    assert_eq!(cut.dropped().expect("counter"), 2, "counted other traffic");

    cut.heal().expect("heal");
    assert!(udp_passes(client, n1, v4, 5999), "not restored");
}

#[test]
fn cuts_stack_and_each_removes_only_its_own_table() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let (n0, n1, client) = (lab.node(0), lab.node(1), &lab.client);
    let first = lab.cut(Cut::Node(n0)).expect("cut node0");
    let second = lab.cut(Cut::Node(n1)).expect("cut node1");
    assert_ne!(first.table(), second.table());
    let listed = tables(&lab);
    assert!(listed.contains(first.table()) && listed.contains(second.table()));
    assert!(!ping(client, n0.ip4().into()) && !ping(client, n1.ip4().into()));

    let second_table = second.table().to_string();
    first.heal().expect("heal node0");
    assert!(ping(client, n0.ip4().into()), "node0 not restored");
    assert!(!ping(client, n1.ip4().into()), "healing node0 healed node1");
    assert!(tables(&lab).contains(&second_table));

    drop(second);
    assert!(ping(client, n1.ip4().into()), "node1 not restored by drop");
    assert!(!tables(&lab).contains("vtcut"), "{}", tables(&lab));
}

#[test]
fn a_prepared_heal_heals_when_fired_or_dropped() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let (n0, n1, client) = (lab.node(0), lab.node(1), &lab.client);
    let pending = lab
        .cut(Cut::Node(n0))
        .expect("cut")
        .prepare_heal()
        .expect("prepare");
    // Prepared is not healed: the cut still holds.
    assert!(!ping(client, n0.ip4().into()), "healed before firing");
    let started = Instant::now();
    pending.fire().expect("fire");
    let took = started.elapsed();
    assert!(ping(client, n0.ip4().into()), "not restored by fire");
    assert!(took < Duration::from_millis(500), "fire took {took:?}");

    let unfired = lab
        .cut(Cut::Node(n1))
        .expect("cut")
        .prepare_heal()
        .expect("prepare");
    assert!(!ping(client, n1.ip4().into()));
    drop(unfired);
    assert!(
        ping(client, n1.ip4().into()),
        "not restored by dropping an unfired heal"
    );
    assert!(!tables(&lab).contains("vtcut"), "{}", tables(&lab));
}
