//! The forged-advert flood benchmark behind the `flood_bench` binary: vipd against
//! keepalived on the same lab. node0 (priority 150) is Master and node1 (100) Backup of one
//! VIP at VRRPv3 100 ms; the client pings the VIP every 10 ms and floods the LAN with
//! well-formed forged adverts for the pair's VRID. nftables counters in the switch count the
//! VRRP and ARP frames each node puts on the wire; each agent's notify command appends a
//! line per run.
//!
//! Attacks: `lower`, adverts at priority 50 from a different address each (what a Master
//! answers); `resign`, priority-0 adverts from the Master's own address (what makes a Backup
//! take over after Skew_Time). `vipd+sealed` is vipd with a UDP channel over a heartbeat link
//! and `authenticated_decisions: true`.

pub mod args;
pub mod report;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::forge::{self, Forgery, Source};
use crate::lab::{Lab, LabSpec};
use crate::netns::in_netns;
use crate::node::Node;
use crate::ping::Pinger;

use super::agent::{Setup, tail, wait_master};
use super::idle::{clock_ticks_per_sec, cpu_ticks};
use super::{Agent, BACKUP_PRIORITY, MASTER_PRIORITY, Options, Profile};

/// What the client forges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// Lower-priority adverts, each from a different address.
    Lower,
    /// Priority-0 adverts from the Master's address.
    Resign,
}

impl std::fmt::Display for Attack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Attack::Lower => "lower",
            Attack::Resign => "resign",
        })
    }
}

/// Who defends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defender {
    /// An agent with its defaults.
    Plain(Agent),
    /// vipd with a sealed UDP channel and `authenticated_decisions: true`.
    VipdSealed,
}

impl std::fmt::Display for Defender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Defender::Plain(a) => write!(f, "{a}"),
            Defender::VipdSealed => f.write_str("vipd+sealed"),
        }
    }
}

impl Defender {
    fn agent(self) -> Agent {
        match self {
            Defender::Plain(a) => a,
            Defender::VipdSealed => Agent::Vipd,
        }
    }
}

/// Everything one `flood_bench` invocation does.
#[derive(Debug, Clone)]
pub struct FloodOptions {
    /// Runs, agents, binaries.
    pub common: Options,
    /// Attacks, in table order.
    pub attacks: Vec<Attack>,
    /// Forged lower-priority adverts per second.
    pub rate: u32,
    /// Forged resignations per second. A fast flood of them keeps pushing a Backup's
    /// Skew_Time deadline back; a few a second is what makes one take over.
    pub resign_rate: u32,
    /// How long each flood lasts.
    pub duration: Duration,
    /// Also run vipd with a sealed channel and `authenticated_decisions`.
    pub sealed: bool,
}

/// What one node did during the flood.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeFigures {
    /// VRRP packets it sent.
    pub adverts_out: u64,
    /// ARP packets it sent (gratuitous ARPs, and replies to the client's requests).
    pub arps_out: u64,
    /// Notify command runs.
    pub notify_runs: u64,
    /// CPU of every process of the agent, % of one core.
    pub cpu_percent: f64,
}

/// One run.
#[derive(Debug, Clone)]
pub struct FloodRun {
    /// Who defended.
    pub defender: Defender,
    /// What was forged.
    pub attack: Attack,
    /// Forged adverts actually sent.
    pub forged: u64,
    /// The window measured (the flood).
    pub window: Duration,
    /// node0 (Master) and node1 (Backup).
    pub nodes: [NodeFigures; 2],
    /// Pings the client lost.
    pub pings_lost: u64,
    /// Pings the client sent.
    pub pings_sent: u64,
    /// Why the run failed, if it did.
    pub failure: Option<String>,
}

const PROFILE: Profile = Profile::V3_100MS;
const KEY: &[u8] = b"flood bench key, at least 16 bytes";
const PORT: u16 = 5405;

/// Runs one flood; a failure is recorded in the result.
pub fn run(opts: &FloodOptions, defender: Defender, attack: Attack) -> FloodRun {
    let mut r = FloodRun {
        defender,
        attack,
        forged: 0,
        window: Duration::ZERO,
        nodes: [NodeFigures::default(); 2],
        pings_lost: 0,
        pings_sent: 0,
        failure: None,
    };
    if let Err(e) = measure(opts, &mut r) {
        r.failure = Some(e.to_string());
    }
    r
}

fn measure(opts: &FloodOptions, r: &mut FloodRun) -> Result<()> {
    let lab = Lab::new(LabSpec {
        nodes: 2,
        heartbeat_link: r.defender == Defender::VipdSealed,
        ..Default::default()
    })?;
    let vip = lab.vip4(0);
    let key = lab.log_path("heartbeat.key");
    write_private(&key, KEY)?;
    let mut procs = Vec::new();
    for (i, priority) in [MASTER_PRIORITY, BACKUP_PRIORITY].into_iter().enumerate() {
        let node = lab.node(i);
        let script = notify_script(&lab, node)?;
        let peer_hb = lab.node(1 - i).hb_ip4();
        let setup = Setup {
            agent: r.defender.agent(),
            profile: PROFILE,
            priority,
            vips: &[vip],
        };
        let sealed = r.defender == Defender::VipdSealed;
        let key = key.display().to_string();
        let mut proc = setup.start_edited(&lab, node, &opts.common, |text| match setup.agent {
            Agent::Vipd => {
                let mut t = text + &format!("    notify: {{ any: {} }}\n", script);
                if let (true, Some(peer)) = (sealed, peer_hb) {
                    t += &format!(
                        "    channels: [{{ type: udp, interface: eth1, port: {PORT}, key_file: {key}, peers: [{peer}] }}]\n    authenticated_decisions: true\n"
                    );
                }
                t
            }
            Agent::Keepalived => {
                let at = text.rfind('}').expect("an instance block");
                format!("{}  notify {script}\n{}", &text[..at], &text[at..])
            }
        })?;
        if i == 0 {
            wait_master(
                node,
                &mut proc,
                &[vip],
                PROFILE.master_down() * 2 + Duration::from_secs(20),
            )?;
        }
        procs.push(proc);
    }
    // node1 settles as Backup, and the start-up announcements are over.
    std::thread::sleep(PROFILE.master_down() * 3 + Duration::from_secs(2));
    for (i, p) in procs.iter_mut().enumerate() {
        if let Some(status) = p.try_status() {
            return Err(HarnessError::parse(
                format!("node{i}"),
                format!("exited ({status}): {}", tail(&p.log_text())),
            ));
        }
    }
    count_on_switch(&lab)?;
    let notified = |i: usize| {
        std::fs::read_to_string(notify_log(&lab, lab.node(i)))
            .map_or(0, |s| s.lines().count() as u64)
    };
    let runs_before = [notified(0), notified(1)];
    let pinger = Pinger::start(
        &lab.client,
        &opts.common.pinger,
        IpAddr::V4(vip),
        None,
        lab.log_path("ping.log"),
    )?;
    std::thread::sleep(Duration::from_millis(300));
    let cpu_before: Vec<u64> = procs
        .iter()
        .map(|p| cpu_ticks(p.pid()).values().sum())
        .collect();
    let counted_before = counters(&lab)?;
    let forgery = match r.attack {
        Attack::Lower => Forgery::multicast(PROFILE.version, 51, 50, &[vip]),
        Attack::Resign => Forgery {
            src: Source::Fixed(lab.node(0).ip4()),
            ..Forgery::multicast(PROFILE.version, 51, 0, &[vip])
        },
    };
    let start = Instant::now();
    let rate = match r.attack {
        Attack::Lower => opts.rate,
        Attack::Resign => opts.resign_rate,
    };
    r.forged = in_netns(lab.client.ns(), || {
        forge::flood(&forgery, rate, opts.duration)
    })??;
    r.window = start.elapsed();
    let counted_after = counters(&lab)?;
    let cpu_after: Vec<u64> = procs
        .iter()
        .map(|p| cpu_ticks(p.pid()).values().sum())
        .collect();
    // Let the pair settle, then see what the client lost.
    std::thread::sleep(PROFILE.master_down() * 2);
    let report = pinger.stop()?;
    r.pings_lost = report.lost;
    r.pings_sent = report.sent;
    for i in 0..2 {
        let ticks = cpu_after[i].saturating_sub(cpu_before[i]) as f64;
        r.nodes[i] = NodeFigures {
            adverts_out: counted_after[i].0 - counted_before[i].0,
            arps_out: counted_after[i].1 - counted_before[i].1,
            notify_runs: notified(i) - runs_before[i],
            cpu_percent: ticks / clock_ticks_per_sec() / r.window.as_secs_f64() * 100.0,
        };
    }
    Ok(())
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| HarnessError::io(format!("write {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| HarnessError::io(format!("chmod {}", path.display()), e))
}

fn notify_log(lab: &Lab, node: &Node) -> std::path::PathBuf {
    lab.log_path(&format!("{}-notify.log", node.name()))
}

/// A notify command that appends its arguments to the node's notify log.
fn notify_script(lab: &Lab, node: &Node) -> Result<String> {
    let path = lab.log_path(&format!("{}-notify.sh", node.name()));
    let text = format!(
        "#!/bin/sh\necho \"$*\" >> {}\n",
        notify_log(lab, node).display()
    );
    std::fs::write(&path, text)
        .map_err(|e| HarnessError::io(format!("write {}", path.display()), e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| HarnessError::io(format!("chmod {}", path.display()), e))?;
    Ok(path.display().to_string())
}

/// nftables counters in the switch of what each node puts on the wire: VRRP and ARP frames
/// by source MAC, counted once where they enter the bridge (agents send gratuitous ARPs on
/// packet sockets, which a node's own output hooks never see).
fn count_on_switch(lab: &Lab) -> Result<()> {
    let mut rules = String::from(
        "table bridge flood_bench {\n chain in {\n  type filter hook prerouting priority 0;\n",
    );
    for i in 0..2 {
        let mac = lab.node(i).mac("eth0")?;
        rules += &format!("  ether saddr {mac} ip protocol 112 counter\n");
        rules += &format!("  ether saddr {mac} ether type arp counter\n");
    }
    rules += " }\n}\n";
    let file = std::env::temp_dir().join(format!("flood-bench-{}.nft", std::process::id()));
    std::fs::write(&file, rules).map_err(|e| HarnessError::io("write nft rules", e))?;
    let loaded = crate::cmd::run(
        "ip",
        &[
            "netns",
            "exec",
            lab.switch_ns(),
            "nft",
            "-f",
            &file.display().to_string(),
        ],
    );
    let _ = std::fs::remove_file(&file);
    loaded.map(|_| ())
}

/// (VRRP frames, ARP frames) node0 and node1 have sent since [`count_on_switch`].
fn counters(lab: &Lab) -> Result<[(u64, u64); 2]> {
    let out = crate::cmd::run(
        "ip",
        &[
            "netns",
            "exec",
            lab.switch_ns(),
            "nft",
            "list",
            "table",
            "bridge",
            "flood_bench",
        ],
    )?;
    let n = packets(&String::from_utf8_lossy(&out.stdout));
    let at = |k: usize| n.get(k).copied().unwrap_or(0);
    Ok([(at(0), at(1)), (at(2), at(3))])
}

/// Every `counter packets N` of an `nft list` output, in order.
fn packets(listing: &str) -> Vec<u64> {
    let words: Vec<&str> = listing.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == "packets")
        .filter_map(|w| w[1].parse().ok())
        .collect()
}

/// Every run `opts` asks for, with progress on stderr, and the Markdown report.
pub fn session(opts: &FloodOptions, cmdline: &str) -> String {
    let started = Instant::now();
    let mut defenders: Vec<Defender> = opts
        .common
        .agents
        .iter()
        .map(|a| Defender::Plain(*a))
        .collect();
    if opts.sealed && opts.common.agents.contains(&Agent::Vipd) {
        defenders.push(Defender::VipdSealed);
    }
    let mut runs = Vec::new();
    for &attack in &opts.attacks {
        for index in 1..=opts.common.runs {
            for &defender in &defenders {
                let r = run(opts, defender, attack);
                eprintln!(
                    "[{:>5.0} s] {defender} {attack} run {index}: {}",
                    started.elapsed().as_secs_f64(),
                    r.failure.as_deref().map_or_else(
                        || format!(
                            "{} forged; node0 {} adverts out, node1 {}; {} pings lost",
                            r.forged, r.nodes[0].adverts_out, r.nodes[1].adverts_out, r.pings_lost
                        ),
                        |why| format!("FAILED: {why}")
                    )
                );
                runs.push(r);
            }
        }
    }
    report::document(opts, cmdline, &runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_reads_every_counter_of_a_listing_in_order() {
        let listing = "table inet flood_bench {\n\tchain out {\n\t\ttype filter hook output priority filter; policy accept;\n\t\tmeta l4proto 112 counter packets 75 bytes 3000\n\t}\n}\n";
        assert_eq!(packets(listing), vec![75]);
        let two = "ether saddr a counter packets 3 bytes 1 ether saddr b counter packets 9 bytes 2";
        assert_eq!(packets(two), vec![3, 9]);
        assert!(packets("table bridge flood_bench {}").is_empty());
    }
}
