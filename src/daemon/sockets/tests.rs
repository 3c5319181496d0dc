//! Unit tests of the socket tables.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use super::endpoint::{peer_dests, peer_dests_except};
use super::*;
use crate::config::{Channel, Config, NetPath, SealedPort};
use crate::daemon::receiver::Routes;
use crate::net::udp_socket::UdpChannelSocket;
use crate::vrrp::Family;

fn route(name: &str) -> Route {
    Route {
        name: name.into(),
        router: Arc::new(tokio::sync::mpsc::channel(1).0),
        channels: Vec::new(),
        stats: Arc::new(Stats::default()),
    }
}

fn key() -> Arc<FrameKey> {
    Arc::new(FrameKey::new(b"a key of some twenty bytes".to_vec()).unwrap())
}

/// `web`, VRID 51, IPv4, with one UDP channel on lo at `port`.
fn web() -> Instance {
    let text = "instances:\n  web:\n    interface: lo\n    vrid: 51\n    vips: [192.0.2.1/24]\n";
    Config::parse(text, "t.yaml").unwrap().instances["web"].clone()
}

fn udp_channel(port: u16) -> ResolvedChannel {
    ResolvedChannel {
        channel: Channel {
            kind: ChannelKind::Udp(
                NetPath {
                    interface: "lo".into(),
                    peers: vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))],
                    source: None,
                },
                SealedPort {
                    port,
                    key_file: PathBuf::from("/k"),
                },
            ),
        },
        src: IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

#[test]
fn a_vrid_another_instance_holds_is_refused_not_replaced() {
    let table = RwLock::new(Routes::default());
    claim(&table, 51, route("api")).unwrap();
    assert_eq!(claim(&table, 51, route("web")), Err("api".to_owned()));
    assert_eq!(
        &*read(&table).get(&51).unwrap().name,
        "api",
        "the holder keeps its route"
    );
    // Its own route again (a reload re-attaching it) and another VRID are fine.
    claim(&table, 51, route("api")).unwrap();
    claim(&table, 52, route("web")).unwrap();
    assert_eq!(read(&table).values().count(), 2);
}

#[test]
fn every_raw_socket_on_the_interface_counts_whatever_its_source() {
    let v4 = |d| IpAddr::V4(Ipv4Addr::new(192, 0, 2, d));
    let api = RwLock::new(Routes::from_iter([(51, route("api"))]));
    let tables = [(("eth0".to_owned(), Family::V4, v4(1)), api)];
    let holder = |iface, family, vrid, name| {
        raw_holder(
            tables.iter().map(|(k, t)| (k, t)),
            iface,
            family,
            vrid,
            name,
        )
    };
    // web would send from another address, so from another socket on eth0: it would
    // still hear api's peers.
    assert_eq!(
        holder("eth0", Family::V4, 51, "web"),
        Some("api".to_owned())
    );
    assert_eq!(holder("eth0", Family::V4, 51, "api"), None);
    assert_eq!(holder("eth1", Family::V4, 51, "web"), None);
    assert_eq!(holder("eth0", Family::V6, 51, "web"), None);
    assert_eq!(holder("eth0", Family::V4, 52, "web"), None);
}

#[test]
fn a_udp_channel_sends_to_no_address_of_this_host() {
    let ip = |d| IpAddr::V4(Ipv4Addr::new(10, 99, 0, d));
    // One config for both nodes: node .1 lists itself, and .3 is another address of it.
    let peers = [ip(1), ip(2), ip(3)];
    let dests = peer_dests_except(&peers, 5405, ip(1), &[ip(3), Ipv4Addr::LOCALHOST.into()]);
    assert_eq!(dests, [SocketAddr::new(ip(2), 5405)]);
    // The loopback address is always ours.
    let dests = peer_dests(&[Ipv4Addr::LOCALHOST.into(), ip(2)], 5405, ip(1));
    assert_eq!(dests, [SocketAddr::new(ip(2), 5405)]);
}

/// The UDP transport of `ch` (a `udp_channel`).
fn udp_of(ch: &ResolvedChannel) -> Box<dyn SealedTransport + '_> {
    transport(&ch.channel).expect("a sealed channel")
}

/// The socket an open UDP endpoint shares.
fn udp_socket(sockets: &mut Sockets, ch: &ResolvedChannel) -> Arc<UdpChannelSocket> {
    let t = udp_of(ch);
    let key = t.key(Family::V4);
    let shared = sockets.endpoint(&key, &*t).expect("opened");
    shared.downcast::<UdpChannelSocket>().expect("a UDP socket")
}

#[tokio::test]
async fn a_udp_socket_still_open_elsewhere_is_taken_back_not_bound_again() {
    let mut sockets = Sockets::default();
    let first = udp_socket(&mut sockets, &udp_channel(0));
    // Port 0 got a port of its own; the key a config would name is that port.
    let port = first.local_port();
    let ch = udp_channel(port);
    let key = udp_of(&ch).key(Family::V4);
    drop(first);
    sockets.sealed = std::mem::take(&mut sockets.sealed)
        .into_values()
        .map(|v| (key.clone(), v))
        .collect();
    // A stopping router task still holds its paths, the socket among them.
    let held = sockets.sealed[&key].shared.clone();
    sockets.detach("web", &[Attachment::Sealed(key.clone())]);
    assert!(sockets.sealed.is_empty(), "closed here");
    let again = udp_socket(&mut sockets, &ch);
    let held = held.downcast::<UdpChannelSocket>().unwrap();
    assert!(Arc::ptr_eq(&again, &held), "taken back, not bound again");
    // Once nobody holds it, the port is bound afresh.
    sockets.detach("web", &[Attachment::Sealed(key.clone())]);
    let gone = Arc::downgrade(&held);
    drop((again, held));
    // The aborted receive task drops its handle when the runtime next runs it.
    tokio::task::yield_now().await;
    assert_eq!(gone.strong_count(), 0, "closed everywhere");
    let fresh = udp_socket(&mut sockets, &ch);
    assert_eq!(fresh.local_port(), port);
}

#[test]
fn a_peer_that_is_ours_is_found_among_the_channel_and_host_addresses() {
    let ip = |d| IpAddr::V4(Ipv4Addr::new(10, 99, 0, d));
    let mine = [ip(1), ip(9)];
    assert_eq!(own_peer(&[ip(2), ip(1)], &mine, &[]), Some(ip(1)));
    assert_eq!(own_peer(&[ip(2), ip(9)], &mine, &[]), Some(ip(9)));
    assert_eq!(own_peer(&[ip(3), ip(2)], &mine, &[ip(3)]), Some(ip(3)));
    assert_eq!(own_peer(&[ip(2)], &mine, &[ip(3)]), None);
}

#[tokio::test]
async fn a_udp_channel_naming_an_address_of_this_host_is_refused_before_opening() {
    let inst = web();
    let keys = HashMap::from([(PathBuf::from("/k"), key())]);
    let mut ch = udp_channel(0);
    // 127.0.0.1 is on this host's loopback, whatever else it has.
    let ChannelKind::Udp(net, _) = &mut ch.channel.kind else {
        unreachable!("a UDP channel")
    };
    net.peers = vec![
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        Ipv4Addr::LOCALHOST.into(),
    ];
    ch.src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let plan = Plan {
        name: &"web".into(),
        inst: &inst,
        parent: "lo",
        vmac_iface: None,
        primary: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)),
        channels: std::slice::from_ref(&ch),
        router: Arc::new(tokio::sync::mpsc::channel(1).0),
        stats: Arc::new(Stats::default()),
        keys: &keys,
    };
    let mut sockets = Sockets::default();
    let err = sockets
        .attach(&plan, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("instance web: channel udp lo:0 lists 127.0.0.1 as a peer"),
        "{err}"
    );
    assert!(err.contains("address of this host"), "{err}");
    assert!(
        sockets.sealed.is_empty() && sockets.raw.is_empty(),
        "nothing opened"
    );
}

#[tokio::test]
async fn a_udp_port_where_another_instance_holds_the_vrid_is_refused() {
    let mut sockets = Sockets::default();
    let ch = udp_channel(0);
    udp_socket(&mut sockets, &ch);
    let ukey = udp_of(&ch).key(Family::V4);
    let api = SealedRoute {
        route: route("api"),
        key: key(),
        origin: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    claim(&sockets.sealed[&ukey].entry.routes, 51, api).unwrap();

    let inst = web();
    let keys = HashMap::from([(PathBuf::from("/k"), key())]);
    let stats = Arc::new(Stats::default());
    let name: Arc<str> = "web".into();
    let plan = |channels| Plan {
        name: &name,
        inst: &inst,
        parent: "lo",
        vmac_iface: None,
        primary: IpAddr::V4(Ipv4Addr::LOCALHOST),
        channels,
        router: Arc::new(tokio::sync::mpsc::channel(1).0),
        stats: stats.clone(),
        keys: &keys,
    };
    let shared = [udp_channel(0)];
    let err = sockets
        .check_claims(&plan(&shared))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("instance web") && err.contains("instance api"),
        "{err}"
    );
    assert!(err.contains("VRID 51 (IPv4) on udp lo:0"), "{err}");
    // Another port is another socket.
    let other_port = [udp_channel(1)];
    sockets.check_claims(&plan(&other_port)).unwrap();
    // Two channels of web on one port would replace each other.
    let twice = [udp_channel(1), udp_channel(1)];
    let err = sockets.check_claims(&plan(&twice)).unwrap_err().to_string();
    assert!(
        err.contains("another channel of the same instance"),
        "{err}"
    );
    let routes = read(&sockets.sealed[&ukey].entry.routes);
    assert_eq!(&*routes.get(&51).unwrap().route.name, "api");
}
