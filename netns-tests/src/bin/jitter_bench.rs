//! Does tracking disturb the protocol? The interval between a Master's adverts (v3, 100 ms),
//! measured from a capture in the client namespace, with no tracker scripts and with many
//! scripts that each take 2 s running concurrently (issue: p99 jitter under 2 ms), for vipd
//! and for keepalived on the same lab.
//!
//! Usage (root): `jitter_bench [--secs N] [--scripts N]` (defaults 30 and 100). Needs
//! `vipd` (VIPD_BIN or the target directory) and tcpdump. Prints a Markdown table.

use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::time::Duration;

use netns_tests::vipd::{Vipd, VrrpState, wait_holds};
use netns_tests::{Capture, Lab, LabSpec, decode};

const INTERVAL_MS: f64 = 100.0;

struct Row {
    agent: &'static str,
    scripts: usize,
    adverts: usize,
    mean_ms: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

fn main() -> ExitCode {
    let (mut secs, mut scripts) = (30u64, 100usize);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse().ok());
        match (pair[0].as_str(), value) {
            ("--secs", Some(v)) => secs = v,
            ("--scripts", Some(v)) => scripts = v as usize,
            _ => {
                eprintln!("usage: jitter_bench [--secs N] [--scripts N]");
                return ExitCode::from(2);
            }
        }
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("jitter_bench: needs root (network namespaces)");
        return ExitCode::from(2);
    }
    let mut rows = Vec::new();
    for (agent, n) in [
        ("vipd", 0),
        ("keepalived", 0),
        ("vipd", scripts),
        ("keepalived", scripts),
    ] {
        eprintln!("measuring {agent} for {secs} s with {n} tracker scripts running...");
        match measure(agent, n, Duration::from_secs(secs)) {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("jitter_bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "Advert interval jitter of a Master, VRRPv3 every 100 ms, {secs} s per row; jitter = |interval - 100 ms|, from a capture at the client.\n"
    );
    println!(
        "| agent | tracker scripts (each `sleep 2`) | adverts | mean interval | p50 jitter | p99 jitter | max jitter |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms |",
            r.agent, r.scripts, r.adverts, r.mean_ms, r.p50, r.p99, r.max
        );
    }
    ExitCode::SUCCESS
}

fn measure(agent: &'static str, scripts: usize, window: Duration) -> Result<Row, String> {
    let lab = Lab::new(LabSpec {
        nodes: 1,
        ..LabSpec::default()
    })
    .map_err(|e| e.to_string())?;
    let node = lab.node(0);
    let dir = lab.log_path("checks");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let script = dir.join("slow.sh");
    std::fs::write(&script, "#!/bin/sh\nsleep 2\n").map_err(|e| e.to_string())?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;

    let vip = lab.vip4(0);
    let _agent_proc;
    let _vipd;
    if agent == "vipd" {
        let mut vipd = Vipd::start_yaml(&lab, node, &vipd_yaml(&lab, &script, scripts))
            .map_err(|e| e.to_string())?;
        vipd.wait_state("web", VrrpState::Master, Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        _vipd = Some(vipd);
    } else {
        let conf = lab.log_path("keepalived.conf");
        std::fs::write(&conf, keepalived_conf(&script, scripts, vip)).map_err(|e| e.to_string())?;
        let (pid, vrrp_pid) = (lab.log_path("k.pid"), lab.log_path("k-vrrp.pid"));
        let args = [
            "keepalived",
            "-n",
            "-P",
            "-l",
            "-G",
            "-f",
            &conf.to_string_lossy(),
            "-p",
            &pid.to_string_lossy(),
            "-r",
            &vrrp_pid.to_string_lossy(),
        ]
        .map(String::from);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        _agent_proc = Some(
            node.spawn(&args, lab.log_path("keepalived.log"))
                .map_err(|e| e.to_string())?,
        );
        wait_holds(node, vip, true, Duration::from_secs(15));
    }
    // Let the scripts reach their steady rhythm before measuring.
    std::thread::sleep(Duration::from_secs(3));
    let capture = Capture::start(
        &lab.client,
        "eth0",
        "ip proto 112",
        lab.log_path("jitter.pcap"),
    )
    .map_err(|e| e.to_string())?;
    std::thread::sleep(window);
    let frames = capture.stop().map_err(|e| e.to_string())?;
    let times: Vec<f64> = frames
        .iter()
        .filter(|f| decode::is_vrrp_advert(&f.data).is_some_and(|a| a.priority > 0))
        .map(|f| f.ts)
        .collect();
    if times.len() < 10 {
        return Err(format!("only {} adverts captured", times.len()));
    }
    let intervals: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) * 1e3).collect();
    let mut worst: Vec<(f64, f64)> = intervals
        .iter()
        .zip(&times)
        .map(|(i, t)| ((i - INTERVAL_MS).abs(), t - times[0]))
        .collect();
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (j, at) in worst.iter().take(5) {
        eprintln!("  {agent}, {scripts} scripts: jitter {j:.3} ms at +{at:.3} s");
    }
    let mean_ms = intervals.iter().sum::<f64>() / intervals.len() as f64;
    let mut jitter: Vec<f64> = intervals.iter().map(|i| (i - INTERVAL_MS).abs()).collect();
    jitter.sort_by(f64::total_cmp);
    let pct = |p: f64| jitter[((jitter.len() - 1) as f64 * p).round() as usize];
    Ok(Row {
        agent,
        scripts,
        adverts: times.len(),
        mean_ms,
        p50: pct(0.5),
        p99: pct(0.99),
        max: *jitter.last().unwrap(),
    })
}

fn vipd_yaml(lab: &Lab, script: &std::path::Path, scripts: usize) -> String {
    let mut yaml = format!(
        "global: {{ control_socket: {} }}\n",
        lab.log_path("jitter.sock").display()
    );
    let mut track = String::new();
    if scripts > 0 {
        yaml.push_str("checks:\n");
        for i in 0..scripts {
            // A 1 s interval with a 2 s script: each check runs back to back, so all of them
            // are running at any moment (about 50 process starts a second for 100 scripts).
            yaml.push_str(&format!(
                "  c{i}: {{ script: {}, interval: 1s, timeout: 5s }}\n",
                script.display()
            ));
            track.push_str(&format!(
                "{}{{ check: c{i}, weight: -1 }}",
                if i == 0 { "" } else { ", " }
            ));
        }
    }
    yaml.push_str(&format!(
        "instances:\n  web:\n    interface: eth0\n    vrid: 51\n    version: 3\n    priority: 150\n    advert_interval: 100ms\n    vips: [{}/24]\n",
        lab.vip4(0)
    ));
    if scripts > 0 {
        yaml.push_str(&format!("    track: [{track}]\n"));
    }
    yaml
}

/// The same instance and scripts for keepalived: `vrrp_script`s run every second, each
/// taking 2 s, tracked with weight -1.
fn keepalived_conf(script: &std::path::Path, scripts: usize, vip: std::net::Ipv4Addr) -> String {
    let mut conf = String::from("global_defs {\n  router_id jitter\n}\n");
    for i in 0..scripts {
        conf.push_str(&format!(
            "vrrp_script c{i} {{\n  script \"{}\"\n  interval 1\n  timeout 5\n  weight -1\n}}\n",
            script.display()
        ));
    }
    conf.push_str(&format!(
        "vrrp_instance web {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  version 3\n  priority 150\n  advert_int 0.1\n  virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n"
    ));
    if scripts > 0 {
        conf.push_str("  track_script {\n");
        for i in 0..scripts {
            conf.push_str(&format!("    c{i}\n"));
        }
        conf.push_str("  }\n");
    }
    conf.push_str("}\n");
    conf
}
