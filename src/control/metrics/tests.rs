use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::watch;

use super::*;
use crate::control::server::View;
use crate::daemon::latest::Latest;
use crate::daemon::stats::Stats;

fn instance(state: crate::vrrp::State) -> Instance {
    use crate::vrrp::router::RouterConfig;
    let mut config = RouterConfig::with_defaults(
        "web",
        51,
        crate::vrrp::Version::V3,
        150,
        "10.0.0.1".parse().unwrap(),
    );
    config.advert_interval = crate::vrrp::timing::Centis::new(10);
    config.channel_names = ["eth0", "eth1", "tcp eth2:5406", "serial /dev/ttyS1"]
        .map(String::from)
        .into();
    let mut view = View::initial(Arc::new(config), "eth0".into(), Arc::new([]));
    view.state = state;
    view.effective_priority = 90;
    view.set_trouble(["link eth0 down".into()].into(), [1].into());
    let view = Latest::new(view).reader();
    let stats = Arc::new(Stats::default());
    stats.bump("adverts_sent");
    stats.bump("bad_checksum");
    stats.bump("bad_checksum");
    stats.bump("v3_ipv4_rfc9568");
    stats.bump("address_mismatch");
    for _ in 0..7 {
        stats.bump("answers_suppressed");
    }
    stats.bump("resignations_doubted");
    stats.bump("takeovers_deferred");
    stats.bump("fence_fenced");
    stats.bump("fence_failed");
    stats.bump("fence_failed");
    stats.transition(("BACKUP", "MASTER", "master_down"));
    let (inbox, _) = crate::daemon::router_inbox::RouterInbox::unread(1);
    let board = crate::track::Board::default();
    board.write().unwrap().insert(
        "web".into(),
        vec![crate::track::Tracker {
            source: "check app".into(),
            weight: 0,
            file: false,
            health: crate::track::Health::Failed,
        }],
    );
    let notify = Arc::new(crate::notify::NotifyCounters::default());
    notify.failed.fetch_add(3, Relaxed);
    let (eth0, eth1) = (Arc::new(Stats::default()), Arc::new(Stats::default()));
    eth0.bump("adverts_received");
    eth1.bump("udp_bad_mac");
    // A TCP channel: one peer connected, one reconnecting.
    let tcp = Arc::new(Stats::default());
    tcp.link("10.99.0.2".parse().unwrap(), 1, true);
    tcp.link("10.99.0.3".parse().unwrap(), 2, false);
    tcp.bump("tcp_reconnects");
    tcp.bump("tcp_bad_length");
    // A serial line: open, one frame dropped from its queue, one forged frame.
    let serial = Arc::new(Stats::default());
    serial.link("10.0.0.2".parse().unwrap(), 3, true);
    serial.bump("serial_queue_dropped");
    serial.bump("serial_bad_mac");
    Instance {
        name: "web".into(),
        view,
        stats,
        channels: vec![
            ("eth0".into(), eth0),
            ("eth1".into(), eth1),
            ("tcp eth2:5406".into(), tcp),
            ("serial /dev/ttyS1".into(), serial),
        ],
        inbox,
        trackers: board,
        notify,
        arbiter: None,
    }
}

#[test]
fn metrics_carry_state_priorities_transitions_and_rejections() {
    let text = render(&[Arc::new(instance(crate::vrrp::State::Master))]);
    for line in [
        r#"vipd_instance_state{instance="web",state="MASTER"} 1"#,
        r#"vipd_instance_state{instance="web",state="BACKUP"} 0"#,
        r#"vipd_effective_priority{instance="web"} 90"#,
        r#"vipd_base_priority{instance="web"} 150"#,
        r#"vipd_vips_held{instance="web"} 1"#,
        r#"vipd_active_faults{instance="web"} 1"#,
        r#"vipd_transitions_total{instance="web",from="BACKUP",to="MASTER",reason="master_down"} 1"#,
        r#"vipd_adverts_sent_total{instance="web"} 1"#,
        r#"vipd_packets_rejected_total{instance="web",reason="bad_checksum"} 2"#,
        r#"vipd_tracker_failed{instance="web",tracker="check app"} 1"#,
        r#"vipd_notify_failures_total{instance="web"} 3"#,
        r#"vipd_adverts_received_by_checksum_total{instance="web",checksum="v3_ipv4_rfc9568"} 1"#,
        r#"vipd_channel_adverts_received_total{instance="web",channel="eth0"} 1"#,
        r#"vipd_channel_packets_rejected_total{instance="web",channel="eth1",reason="udp_bad_mac"} 1"#,
        r#"vipd_channel_lost{instance="web",channel="eth1"} 1"#,
        r#"vipd_channel_lost{instance="web",channel="eth0"} 0"#,
        r#"vipd_channel_peer_connected{instance="web",channel="tcp eth2:5406",peer="10.99.0.2"} 1"#,
        r#"vipd_channel_peer_connected{instance="web",channel="tcp eth2:5406",peer="10.99.0.3"} 0"#,
        r#"vipd_channel_link_events_total{instance="web",channel="tcp eth2:5406",event="reconnect"} 1"#,
        r#"vipd_channel_link_events_total{instance="web",channel="tcp eth2:5406",event="queue_dropped"} 0"#,
        r#"vipd_channel_packets_rejected_total{instance="web",channel="tcp eth2:5406",reason="tcp_bad_length"} 1"#,
        r#"vipd_channel_peer_connected{instance="web",channel="serial /dev/ttyS1",peer="10.0.0.2"} 1"#,
        r#"vipd_channel_link_events_total{instance="web",channel="serial /dev/ttyS1",event="queue_dropped"} 1"#,
        r#"vipd_channel_link_events_total{instance="web",channel="serial /dev/ttyS1",event="reconnect"} 0"#,
        r#"vipd_channel_packets_rejected_total{instance="web",channel="serial /dev/ttyS1",reason="serial_bad_mac"} 1"#,
        "# HELP vipd_packets_rejected Packets dropped, by reason",
        r#"vipd_held_back_total{instance="web",what="answer"} 7"#,
        r#"vipd_held_back_total{instance="web",what="resignation"} 1"#,
        r#"vipd_held_back_total{instance="web",what="takeover"} 1"#,
        r#"vipd_fence_runs_total{instance="web",outcome="fenced"} 1"#,
        r#"vipd_fence_runs_total{instance="web",outcome="failed"} 2"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    // A processed advert with another address list is not a rejection.
    assert!(!text.contains(r#"reason="address_mismatch""#), "{text}");
    // Nor is what the limits held back.
    assert!(!text.contains(r#"reason="answers_suppressed""#), "{text}");
    // Nor a fence.
    assert!(!text.contains(r#"reason="fence_"#), "{text}");
    // Nor is a TCP channel reconnecting.
    assert!(!text.contains(r#"reason="tcp_reconnects""#), "{text}");
    assert!(!text.contains(r#"reason="serial_queue_dropped""#), "{text}");
}

/// `GET path` on `addr`; the whole answer.
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: vipd\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).await.unwrap();
        text
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), exchange)
        .await
        .expect("an answer within 10 s")
}

#[tokio::test]
async fn a_scrape_is_answered_while_hundreds_of_idle_connections_are_open() {
    let bound = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    bound.set_nonblocking(true).unwrap();
    let addr = bound.local_addr().unwrap();
    let (_keep, instances) = watch::channel(vec![Arc::new(instance(crate::vrrp::State::Master))]);
    let counters = Arc::new(listener::Counters::default());
    let all = vec![("metrics", counters.clone())];
    tokio::spawn(serve(bound, instances, counters.clone(), all));
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let answer = get(addr, "/metrics").await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    let plain = render(&[Arc::new(instance(crate::vrrp::State::Master))]);
    let (families, _) = plain.split_once("# EOF").unwrap();
    assert!(body.starts_with(families), "{body}");
    assert!(
        body.contains("vipd_listener_connections_total{listener=\"metrics\",outcome=\"evicted\"}"),
        "{body}"
    );
    assert!(counters.evicted.load(Relaxed) >= 300 - listener::CAP as u64);
    let missing = get(addr, "/nothing").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(
        missing.ends_with("only GET /metrics is served here\n"),
        "{missing}"
    );
    drop(idle);
}

#[test]
fn packets_a_socket_dropped_before_any_instance_are_exported_per_socket() {
    use crate::daemon::socket_counters;
    use crate::vrrp::Family;
    let (stats, listed) = socket_counters::register("lan9", Family::V4);
    stats.bump("too_short");
    stats.bump("too_short");
    stats.bump("unknown_vrid");
    let text = render(&[]);
    for line in [
        r#"vipd_socket_packets_dropped_total{interface="lan9",family="ipv4",reason="too_short"} 2"#,
        r#"vipd_socket_packets_dropped_total{interface="lan9",family="ipv4",reason="unknown_vrid"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no {line} in:\n{text}");
    }
    drop(listed);
    assert!(
        !render(&[]).contains(r#"interface="lan9""#),
        "listed after its loop ended"
    );
}

mod shipped;
