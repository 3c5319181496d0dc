use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};

use super::*;
use crate::control::protocol::InstanceStatus;
use crate::control::server::View;
use crate::daemon::stats::Stats;

fn instance(state: &str) -> Instance {
    let status = InstanceStatus {
        name: "web".into(),
        interface: "eth0".into(),
        vrid: 51,
        version: 3,
        state: state.into(),
        base_priority: 150,
        effective_priority: 90,
        master: None,
        vips: vec![],
        vips_held: state == "MASTER",
        advert_interval_ms: 100,
        master_advert_interval_ms: 100,
        since: String::new(),
        seconds_in_state: 0.0,
        last_reason: String::new(),
        faults: vec!["link eth0 down".into()],
        maintenance: false,
        trackers: Vec::new(),
        counters: Default::default(),
        channels: vec![crate::control::protocol::ChannelStatus {
            name: "eth1".into(),
            lost: true,
            last_advert_ms_ago: None,
            counters: Default::default(),
        }],
        heartbeat_warning: Some("running on 1 of 2 channels; lost: eth1".into()),
    };
    let (_, view) = watch::channel(View {
        status,
        since: SystemTime::now(),
        state: crate::vrrp::State::Backup,
    });
    let stats = Arc::new(Stats::default());
    stats.bump("adverts_sent");
    stats.bump("bad_checksum");
    stats.bump("bad_checksum");
    stats.bump("v3_ipv4_rfc9568");
    stats.bump("address_mismatch");
    stats.transition(("BACKUP".into(), "MASTER".into(), "master_down"));
    let (inbox, _) = mpsc::channel(1);
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
    Instance {
        name: "web".into(),
        view,
        stats,
        channels: vec![("eth0".into(), eth0), ("eth1".into(), eth1)],
        inbox,
        trackers: board,
        notify,
    }
}

#[test]
fn metrics_carry_state_priorities_transitions_and_rejections() {
    let text = render(&[instance("MASTER")]);
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
        "# HELP vipd_packets_rejected Packets dropped, by reason",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    // A processed advert with another address list is not a rejection.
    assert!(!text.contains(r#"reason="address_mismatch""#), "{text}");
}
