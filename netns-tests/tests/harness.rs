//! Self-tests of the netns harness: the lab, the probes, captures, the pinger and teardown.
//! Each needs root; without it, it says SKIPPED (or fails under CI=true).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netns_tests::{Capture, Lab, LabSpec, PingReport, Pinger, decode, require_root};

const PROBE: Duration = Duration::from_millis(600);

fn pinger() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_pinger"))
}

fn lab(nodes: usize) -> Lab {
    Lab::new(LabSpec {
        nodes,
        ipv6_ula: true,
        ..Default::default()
    })
    .expect("lab")
}

fn existing_namespaces() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

fn assert_gone(names: &[String]) {
    assert!(!names.is_empty());
    let left: Vec<_> = existing_namespaces()
        .into_iter()
        .filter(|n| names.contains(n))
        .collect();
    assert!(left.is_empty(), "namespaces left after teardown: {left:?}");
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Alive means it exists and is not a zombie waiting for its reaper.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            != Some("Z")
    })
}

#[test]
fn lan_connects_nodes_and_client_and_probes_see_one_owner() {
    if !require_root() {
        return;
    }
    let lab = lab(2);
    let (n0, n1, client) = (lab.node(0), lab.node(1), &lab.client);
    assert!(n0.has_addr("eth0", n0.ip4().into()).unwrap());
    assert!(
        n0.ping_once(client.ip4().into()),
        "node0 cannot ping the client"
    );
    assert!(
        n0.ping_once(IpAddr::V6(client.ip6().unwrap())),
        "node0 cannot ping the client over IPv6"
    );

    let mac1 = n1.mac("eth0").unwrap();
    assert_ne!(mac1, n0.mac("eth0").unwrap());
    assert_eq!(client.arp_probe(n1.ip4(), PROBE).unwrap(), vec![mac1]);
    assert_eq!(
        client.ndisc_probe(n1.ip6().unwrap(), PROBE).unwrap(),
        vec![mac1]
    );
    // Nobody holds a free address.
    assert_eq!(client.arp_probe(lab.vip4(0), PROBE).unwrap(), vec![]);

    assert!(client.ping_once(n1.ip4().into()));
    assert_eq!(client.neigh_mac(n1.ip4().into()).unwrap(), Some(mac1));
    assert_eq!(client.neigh_mac(lab.vip4(1).into()).unwrap(), None);

    let names = lab.namespaces().to_vec();
    assert_eq!(names.len(), 4, "switch, two nodes, client: {names:?}");
    drop(lab);
    assert_gone(&names);
}

#[test]
fn probes_report_every_host_claiming_an_address() {
    if !require_root() {
        return;
    }
    let lab = lab(2);
    let (vip4, vip6) = (lab.vip4(0), lab.vip6(0));
    for node in &lab.nodes {
        node.exec_ok(&["ip", "addr", "add", &format!("{vip4}/24"), "dev", "eth0"])
            .unwrap();
        node.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{vip6}/64"),
            "dev",
            "eth0",
            "nodad",
        ])
        .unwrap();
        assert!(node.has_addr("eth0", vip4.into()).unwrap());
    }
    let mut both: Vec<_> = lab.nodes.iter().map(|n| n.mac("eth0").unwrap()).collect();
    both.sort();
    let mut seen = lab.client.arp_probe(vip4, PROBE).unwrap();
    seen.sort();
    assert_eq!(seen, both, "ARP split brain not detected");
    let mut seen = lab.client.ndisc_probe(vip6, PROBE).unwrap();
    seen.sort();
    assert_eq!(seen, both, "IPv6 split brain not detected");
}

#[test]
fn capture_sees_pings_and_heartbeat_link_works() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(LabSpec {
        nodes: 2,
        heartbeat_link: true,
        v4_net: Some([10, 250, 7]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(lab.node(1).ip4(), std::net::Ipv4Addr::new(10, 250, 7, 2));
    assert_eq!(lab.client.ip4(), std::net::Ipv4Addr::new(10, 250, 7, 200));
    let (n0, n1, client) = (lab.node(0), lab.node(1), &lab.client);
    let cap = Capture::start(client, "eth0", "icmp", lab.log_path("client.pcap")).unwrap();
    assert!(client.ping_once(n0.ip4().into()));
    let frames = cap.stop().unwrap();
    let echoes: Vec<_> = frames
        .iter()
        .filter_map(|f| decode::icmp_echo(&f.data))
        .collect();
    let request = echoes
        .iter()
        .find(|e| !e.reply && e.dst == IpAddr::from(n0.ip4()))
        .expect("request captured");
    let reply = echoes
        .iter()
        .find(|e| e.reply && e.src == IpAddr::from(n0.ip4()))
        .expect("reply captured");
    assert_eq!((reply.id, reply.seq), (request.id, request.seq));
    assert_eq!(reply.src_mac, n0.mac("eth0").unwrap());
    assert!(
        frames.iter().all(|f| (f.ts - now()).abs() < 60.0),
        "timestamps are not wall-clock"
    );

    // The heartbeat link joins the nodes on eth1, and not the client.
    let hb1 = n1.hb_ip4().unwrap();
    assert!(n0.ping_once(hb1.into()));
    assert!(n0.has_addr("eth1", n0.hb_ip4().unwrap().into()).unwrap());
    assert!(!client.ping_once(hb1.into()));
    lab.set_heartbeat_port(n1, false).unwrap();
    assert!(
        !n0.ping_once(hb1.into()),
        "heartbeat cable cut, yet ping passes"
    );
    assert!(
        n0.ping_once(n1.ip4().into()),
        "cutting the heartbeat cut the LAN"
    );
}

/// Pings `dst` from the client for `duration` and returns the report.
fn ping_for(lab: &Lab, dst: IpAddr, duration: Duration) -> PingReport {
    let log = lab.log_path(&format!("pinger-{dst}.log"));
    let p = Pinger::start(&lab.client, pinger(), dst, Some(duration), log).unwrap();
    p.finish(Duration::from_secs(10)).unwrap()
}

#[test]
fn pinger_sees_no_loss_on_a_healthy_link() {
    if !require_root() {
        return;
    }
    let lab = lab(1);
    let (n0, client) = (lab.node(0), &lab.client);
    // Resolve the neighbour first, so the first request does not wait for ARP.
    assert!(client.ping_once(n0.ip4().into()));
    let r = ping_for(&lab, n0.ip4().into(), Duration::from_secs(1));
    assert!((95..=101).contains(&r.sent), "grid not held: {r:?}");
    assert_eq!((r.lost, r.duplicates), (0, 0), "{r:?}");
    assert!(r.loss_window.is_none() && r.windows.is_empty());

    let ip6 = IpAddr::V6(n0.ip6().unwrap());
    assert!(client.ping_once(ip6));
    let r = ping_for(&lab, ip6, Duration::from_millis(500));
    assert!((45..=51).contains(&r.sent) && r.lost == 0, "{r:?}");
}

#[test]
fn pinger_reports_the_window_of_a_cut_cable() {
    if !require_root() {
        return;
    }
    let lab = lab(1);
    let (n0, client) = (lab.node(0), &lab.client);
    assert!(client.ping_once(n0.ip4().into()));
    let p = Pinger::start(
        client,
        pinger(),
        n0.ip4().into(),
        None,
        lab.log_path("pinger.log"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let cut = now();
    lab.set_port(n0, false).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    lab.set_port(n0, true).unwrap();
    let healed = now();
    std::thread::sleep(Duration::from_millis(500));
    let r = p.stop().unwrap();
    eprintln!(
        "cut {:.0} ms -> lost {} of {}, window {:.1} ms, late sends {}",
        (healed - cut) * 1e3,
        r.lost,
        r.sent,
        r.longest_gap_ms,
        r.late_sends
    );

    let w = r.loss_window.clone().expect("a loss window");
    assert_eq!(r.windows.len(), 1, "one cut, one window: {r:?}");
    // The window must lie over the cut: it starts after the cut began (less one reply in
    // flight) and ends soon after the cable is back.
    assert!(
        w.start >= cut - 0.02 && w.start <= healed,
        "window start {} vs cut {cut}: {r:?}",
        w.start
    );
    assert!(
        w.end >= healed - 0.02 && w.end <= healed + 0.15,
        "window end {} vs heal {healed}: {r:?}",
        w.end
    );
    assert!((150.0..=400.0).contains(&w.ms), "{r:?}");
    assert_eq!(r.lost, w.lost);
    assert!((r.longest_gap_ms - w.ms).abs() < 1e-9);
    assert!(r.sent >= 100, "{r:?}");
}

#[test]
fn teardown_removes_everything_even_when_the_test_panics() {
    if !require_root() {
        return;
    }
    let names = Mutex::new(Vec::new());
    let logdir = Mutex::new(None);
    let pids = Mutex::new(Vec::new());
    let result = std::panic::catch_unwind(|| {
        let lab = lab(2);
        names.lock().unwrap().extend_from_slice(lab.namespaces());
        *logdir.lock().unwrap() = Some(lab.log_path(""));
        // One process the test owns, and one that escaped into the background: teardown
        // must kill both.
        let owned = lab
            .node(0)
            .spawn(&["sleep", "300"], lab.log_path("sleep.log"))
            .unwrap();
        pids.lock().unwrap().push(owned.pid() as i32);
        let out = lab
            .node(1)
            .exec_ok(&["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"])
            .unwrap();
        pids.lock()
            .unwrap()
            .push(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap());
        assert!(pids.lock().unwrap().iter().all(|p| alive(*p)));
        panic!("deliberate panic inside a lab");
    });
    assert!(result.is_err());
    assert_gone(&names.lock().unwrap());
    for pid in pids.lock().unwrap().iter() {
        let gone =
            netns_tests::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
                !alive(*pid)
            });
        assert!(gone.is_ok(), "process {pid} survived teardown");
    }
    // A failing test keeps its logs for debugging; this failure was on purpose.
    let logdir = logdir.lock().unwrap().take().unwrap();
    assert!(
        logdir.join("sleep.log").is_file(),
        "logs of a failed lab were not kept"
    );
    std::fs::remove_dir_all(logdir).unwrap();
}
