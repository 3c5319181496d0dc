//! One scale run: a case (instances, interval) for one agent, on a fresh two-node lab.
//!
//! node0 starts alone and becomes Master of everything; node1 then starts as Backup of
//! everything (timed to all-Backup). After a settling pause, both nodes are measured over the
//! idle window while node0 captures whatever node1 sends: a Backup that sends an advert has
//! taken over, falsely. For large cases, vipd's reload of the unchanged file is timed on both
//! nodes (captured too: no advert from the Backup, no transition logged), then node0 is
//! killed and a sample of takeovers is timed from node1's capture.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::lab::{Lab, LabSpec};
use crate::node::Node;
use crate::proc::Proc;
use crate::vipd::parse_transition;
use crate::wait::wait_until;

use super::super::Agent;
use super::super::agent::{spawn, tail};
use super::layout::{Slot, keepalived_config, layout, uses_eth1, vipd_config};
use super::stalls::Stalls;
use super::usage::{cpu_between, cpu_ns, load_average, major_faults, memory};
use super::watch::{
    BACKUP, addrs_of, first_adverts, longest_gap, sample_takeovers, sent_by, takeovers_seen,
};
use super::{Case, Contender, RunResult, ScaleOptions};

/// Priority of the Master (the Backup's is [`BACKUP`]), as in the lab.
const MASTER: u8 = 200;

/// Runs `case` for `who`; a failure is recorded in the result, not returned.
pub fn run(opts: &ScaleOptions, who: &Contender, case: Case) -> RunResult {
    let mut r = RunResult::new(who.label.clone(), case);
    if let Err(e) = measure(opts, who, case, &mut r) {
        r.failure = Some(e.to_string());
    }
    r
}

fn measure(opts: &ScaleOptions, who: &Contender, case: Case, r: &mut RunResult) -> Result<()> {
    let slots = layout(case.instances)
        .ok_or_else(|| HarnessError::parse("instances", "too many for two interfaces"))?;
    let lab = Lab::new(LabSpec {
        nodes: 2,
        heartbeat_link: uses_eth1(&slots),
        ..Default::default()
    })?;
    if opts.threaded_switch {
        lab.thread_switch_ports()?;
    }
    let (n0, n1) = (lab.node(0), lab.node(1));
    let ifaces: &[&str] = if uses_eth1(&slots) {
        &["eth0", "eth1"]
    } else {
        &["eth0"]
    };
    // Generous: a loaded 2-core machine adding 1,000 addresses and sending their ARPs.
    let start_budget = Duration::from_secs(30) + Duration::from_millis(30) * slots.len() as u32;

    let started = Instant::now();
    let mut master = start(&lab, n0, who, &slots, MASTER, case, opts.apart.then_some(0))?;
    wait_vips(n0, &mut master, &slots, start_budget)?;
    r.startup_master = Some(started.elapsed());
    let master_since = Instant::now();

    let mut backup = start(&lab, n1, who, &slots, BACKUP, case, opts.apart.then_some(1))?;
    r.startup_backup = Some(wait_all_backup(
        &lab,
        n1,
        who,
        &mut backup,
        &slots,
        start_budget,
    )?);

    // A new Master repeats its gratuitous ARPs 5 s later (keepalived's garp_master_delay,
    // vipd's garp.repeat): start the window after them.
    std::thread::sleep(Duration::from_secs(7).saturating_sub(master_since.elapsed()));
    let (backup_v4, backup_v6) = (addrs_of(n1, ifaces, false)?, addrs_of(n1, ifaces, true)?);
    let watch = sent_by(&lab, n0, ifaces, &backup_v4, &backup_v6, "idle")?;
    // The first instance's adverts as the Backup receives them: a gap longer than the
    // Master_Down_Interval makes a takeover correct, whoever ran late.
    let first = first_adverts(&lab, n1, slots[0], false)?;
    // The same adverts as they left the Master: a gap here too, and the Master sent late.
    let first_sent = first_adverts(&lab, n0, slots[0], true)?;

    let burners = Burners::start(opts.burn);
    let stalls = Stalls::start(&[0, 1]);
    r.load_before = load_average();
    let faults = (major_faults(master.pid()), major_faults(backup.pid()));
    let (m0, b0) = (cpu_ns(master.pid()), cpu_ns(backup.pid()));
    let t0 = Instant::now();
    r.window_start = Some(std::time::SystemTime::now());
    std::thread::sleep(opts.common.idle);
    let (m1, b1) = (cpu_ns(master.pid()), cpu_ns(backup.pid()));
    r.window = t0.elapsed();
    r.major_faults = (
        major_faults(master.pid()).saturating_sub(faults.0),
        major_faults(backup.pid()).saturating_sub(faults.1),
    );
    r.load_after = load_average();
    r.stalls = stalls.finish();
    drop(burners);
    r.master_cpu_ns = cpu_between(&m0, &m1);
    r.backup_cpu_ns = cpu_between(&b0, &b1);
    r.master_mem = memory(master.pid());
    r.backup_mem = memory(backup.pid());
    for (p, role) in [(&mut master, "Master"), (&mut backup, "Backup")] {
        if let Some(status) = p.try_status() {
            return Err(HarnessError::parse(
                role,
                format!("exited ({status}): {}", tail(&p.log_text())),
            ));
        }
    }
    r.false_takeovers = takeovers_seen(watch)?;
    r.longest_gap = longest_gap(first)?;
    r.longest_sent_gap = longest_gap(first_sent)?;
    if r.false_takeovers > 0 {
        // The agents' logs say which instance took over when, and why.
        lab.keep_logs();
    }

    if case.instances >= 100 {
        if who.agent == Agent::Vipd {
            let watch = sent_by(&lab, n0, ifaces, &backup_v4, &backup_v6, "reload")?;
            let logged = [master.log_text().len(), backup.log_text().len()];
            let master_reload = reload(&lab, n0, who)?;
            let backup_reload = reload(&lab, n1, who)?;
            // Anything the reload set off would show within a Master_Down_Interval.
            std::thread::sleep(Duration::from_secs(2));
            let moved = [&master, &backup]
                .iter()
                .zip(logged)
                .map(|(p, from)| {
                    p.log_text()[from..]
                        .lines()
                        .filter_map(parse_transition)
                        .count()
                })
                .sum::<usize>();
            r.reload = Some(super::Reload {
                master: master_reload,
                backup: backup_reload,
                transitions: moved,
                backup_adverts: takeovers_seen(watch)?,
            });
        }
        if opts.takeover_sample > 0 {
            r.takeovers = sample_takeovers(&lab, n1, ifaces, &mut master, &slots, opts, case)?;
        }
    }
    Ok(())
}

fn start(
    lab: &Lab,
    node: &Node,
    who: &Contender,
    slots: &[Slot],
    prio: u8,
    case: Case,
    cpu: Option<usize>,
) -> Result<Proc> {
    let name = node.name();
    let conf = lab.log_path(&format!("{name}-{}.conf", who.agent));
    let text = match who.agent {
        Agent::Vipd => vipd_config(slots, prio, case.interval, name, &socket(lab, node, who)),
        Agent::Keepalived => keepalived_config(slots, prio, case.interval, name),
    };
    std::fs::write(&conf, text)
        .map_err(|e| HarnessError::io(format!("write {}", conf.display()), e))?;
    spawn(lab, node, who.agent, &who.bin, &conf, cpu)
}

fn socket(lab: &Lab, node: &Node, who: &Contender) -> std::path::PathBuf {
    lab.log_path(&format!("{}-{}.sock", node.name(), who.agent))
}

/// Waits until `node` holds every VIP (it is Master of every instance).
fn wait_vips(node: &Node, proc: &mut Proc, slots: &[Slot], budget: Duration) -> Result<()> {
    let mut exited = None;
    let held = wait_until(budget, Duration::from_millis(100), || {
        exited = proc.try_status();
        exited.is_some()
            || ["eth0", "eth1"].iter().all(|iface| {
                let want: Vec<IpAddr> = slots
                    .iter()
                    .filter(|s| s.iface == *iface)
                    .map(|s| s.vip)
                    .collect();
                want.is_empty()
                    || node
                        .addrs(iface)
                        .is_ok_and(|have| want.iter().all(|v| have.contains(v)))
            })
    });
    match (exited, held) {
        (None, Ok(_)) => Ok(()),
        (Some(status), _) => Err(HarnessError::parse(
            node.name(),
            format!(
                "exited ({status}) before becoming Master: {}",
                tail(&proc.log_text())
            ),
        )),
        (None, Err(what)) => Err(HarnessError::Timeout {
            what: format!(
                "{} to hold {} VIPs ({what}): {}",
                node.name(),
                slots.len(),
                tail(&proc.log_text())
            ),
            waited: budget,
        }),
    }
}

/// Time from now (just after the start) until every instance on `node` is Backup: vipd's
/// status for vipd, keepalived's log lines for keepalived.
fn wait_all_backup(
    lab: &Lab,
    node: &Node,
    who: &Contender,
    proc: &mut Proc,
    slots: &[Slot],
    budget: Duration,
) -> Result<Duration> {
    let started = Instant::now();
    let sock = socket(lab, node, who);
    let backups = |proc: &Proc| -> usize {
        match who.agent {
            Agent::Keepalived => proc.log_text().matches("Entering BACKUP STATE").count(),
            Agent::Vipd => {
                let (bin, sock) = (who.bin.to_string_lossy(), sock.to_string_lossy());
                node.exec(&[&bin, "status", "--json", "--socket", &sock])
                    .ok()
                    .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
                    .and_then(|v| v["instances"].as_array().cloned())
                    .map_or(0, |all| {
                        all.iter()
                            .filter(|i| {
                                i["state"]
                                    .as_str()
                                    .is_some_and(|s| s.eq_ignore_ascii_case("backup"))
                            })
                            .count()
                    })
            }
        }
    };
    let mut exited = None;
    let done = wait_until(budget, Duration::from_millis(20), || {
        exited = proc.try_status();
        exited.is_some() || backups(proc) >= slots.len()
    });
    let took = started.elapsed();
    match (exited, done) {
        (None, Ok(_)) => Ok(took),
        (Some(status), _) => Err(HarnessError::parse(
            node.name(),
            format!("exited ({status}): {}", tail(&proc.log_text())),
        )),
        (None, Err(what)) => Err(HarnessError::Timeout {
            what: format!(
                "{} to be Backup of {} instances ({what})",
                node.name(),
                slots.len()
            ),
            waited: budget,
        }),
    }
}

/// `vipd reload` on `node`, timed to its answer (it answers when the reload is applied).
fn reload(lab: &Lab, node: &Node, who: &Contender) -> Result<Duration> {
    let (bin, sock) = (who.bin.to_string_lossy(), socket(lab, node, who));
    let t = Instant::now();
    let out = node.exec(&[&bin, "reload", "--socket", &sock.to_string_lossy()])?;
    let took = t.elapsed();
    if !out.status.success() {
        return Err(HarnessError::parse(
            "vipd reload",
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(took)
}

/// Busy threads that keep the cores saturated while they live.
struct Burners {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Burners {
    fn start(n: usize) -> Burners {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Burners { stop, threads }
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
