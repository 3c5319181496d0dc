//! The partition-heal benchmark behind the `heal_bench` binary: vipd against keepalived on
//! the same lab, how long two Masters coexist after a full partition heals, and how long the
//! client takes to reach the winner.
//!
//! One run: node0 (priority 150) is Master and the client talks to it; `Cut::Node(node0)`
//! drops every frame of node0's switch port while its link stays up, so node1 (100) takes
//! over after Master_Down_Interval and node0 stays Master alone behind the cut; after
//! [`HealOptions::hold`] the cut heals. A capture in the client namespace and the pinger's
//! 10 ms grid give the timings ([`analyze`]); [`report`] prints them.

pub mod analyze;
pub mod args;
pub mod report;

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::capture::Capture;
use crate::error::{HarnessError, Result};
use crate::lab::{Cut, Lab, LabSpec};
use crate::pcap;
use crate::ping::Pinger;
use crate::wait::wait_until;

use super::agent::{FIRST_VRID, Setup, tail, wait_master};
use super::failover::keep_logs;
use super::rng::Rng;
use super::{Agent, BACKUP_PRIORITY, MASTER_PRIORITY, Options, Profile};
use analyze::{HealTimings, Roles};

/// Everything one `heal_bench` invocation does.
#[derive(Debug, Clone)]
pub struct HealOptions {
    /// Runs, profiles, agents, binaries, seed (the failover-only fields are unused).
    pub common: Options,
    /// How long the partition is held once node1 has taken over and the client followed.
    pub hold: Duration,
    /// How long to wait after the heal for the client to reach node0 before giving up.
    pub max_observe: Duration,
}

/// The client's loss around the heal, from the pinger.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Loss {
    /// The longest run of unanswered pings that ends after the heal, in ms (0: none lost).
    pub longest_ms: f64,
    /// Pings lost in all the runs of loss that end after the heal.
    pub lost: u64,
}

/// The outcome of one run. A failed run keeps whatever was measured before it failed.
#[derive(Debug, Clone)]
pub struct HealRun {
    /// Which agent.
    pub agent: Agent,
    /// Which profile.
    pub profile: Profile,
    /// Run number, from 1.
    pub index: usize,
    /// Timings from the capture.
    pub timings: HealTimings,
    /// The client's loss around the heal.
    pub loss: Option<Loss>,
    /// From handing the heal to the waiting nft to nft's exit: the rule was removed somewhere
    /// in this window after the time every figure is measured from.
    pub heal_cmd_ms: f64,
    /// Why the run failed; `None` for a good run (the client reached node0 after the heal).
    pub failure: Option<String>,
}

impl HealRun {
    /// A good run: no error, and the client reached the winner after the heal.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// Whether the client reached the winner within one advert interval of the heal (the
    /// issue's target), with one ping interval of slack: the pinger asks every 10 ms, so a
    /// reply can only show up on that grid. `None` when it never reached it.
    pub fn on_target(&self) -> Option<bool> {
        let limit = self.profile.advert().as_secs_f64() * 1e3 + PING_SLOT_MS;
        self.timings.reach.map(|r| r <= limit)
    }
}

/// The pinger's interval, the resolution of every client-side figure.
pub const PING_SLOT_MS: f64 = 10.0;

/// Runs one partition and heal and measures it. Never fails: errors become
/// [`HealRun::failure`], so a benchmark of many runs reports them instead of stopping.
pub fn run(
    opts: &HealOptions,
    agent: Agent,
    profile: Profile,
    index: usize,
    rng: &mut Rng,
) -> HealRun {
    let mut out = HealRun {
        agent,
        profile,
        index,
        timings: HealTimings::default(),
        loss: None,
        heal_cmd_ms: 0.0,
        failure: None,
    };
    let result = Lab::new(LabSpec {
        nodes: 2,
        ..Default::default()
    })
    .and_then(|lab| {
        let r = partition_and_heal(&lab, opts, rng, &mut out);
        let failed = r.is_err() || out.timings.reach.is_none();
        if let (true, Some(dir)) = (failed, &opts.common.keep_failed) {
            let name = format!("{agent}-v{}-heal-run{index}", profile.version_number());
            keep_logs(&lab.log_path(""), &dir.join(name));
        }
        r
    });
    out.failure = match result {
        Ok(()) if out.timings.reach.is_some() => None,
        Ok(()) => Some(format!(
            "the client did not reach node0 within {:?} of the heal",
            opts.max_observe
        )),
        Err(e) => Some(e.to_string()),
    };
    out
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn fail(what: &str, detail: impl Into<String>) -> HarnessError {
    HarnessError::parse(what, detail)
}

fn partition_and_heal(
    lab: &Lab,
    opts: &HealOptions,
    rng: &mut Rng,
    out: &mut HealRun,
) -> Result<()> {
    let common = &opts.common;
    let (profile, advert) = (out.profile, out.profile.advert());
    let (winner, loser, client) = (lab.node(0), lab.node(1), &lab.client);
    let vips = [lab.vip4(0)];
    let vip = IpAddr::V4(vips[0]);
    let setup = |priority| Setup {
        agent: out.agent,
        profile,
        priority,
        vips: &vips,
    };

    // 1. Settle: node0 Master, node1 Backup, the client's entry for the VIP at node0.
    let mut master = setup(MASTER_PRIORITY).start(lab, winner, common)?;
    wait_master(
        winner,
        &mut master,
        &vips,
        profile.master_down() * 2 + Duration::from_secs(10),
    )?;
    let mut backup = setup(BACKUP_PRIORITY).start(lab, loser, common)?;
    std::thread::sleep(Duration::from_millis(500).max(advert * 2));
    if let Some(status) = backup.try_status() {
        return Err(fail(
            "backup",
            format!("exited ({status}): {}", tail(&backup.log_text())),
        ));
    }
    if loser.has_addr("eth0", vip)? {
        return Err(fail("election", "node1 holds the VIP before the cut"));
    }
    if !client.ping_once(vip) {
        return Err(fail("client", "cannot ping the VIP before the cut"));
    }
    let roles = Roles {
        winner: winner.ip4().into(),
        winner_mac: winner.mac("eth0")?,
        loser: loser.ip4().into(),
        loser_mac: loser.mac("eth0")?,
        vip: vips[0],
        vrid: FIRST_VRID,
    };
    if client.neigh_mac(vip)? != Some(roles.winner_mac) {
        return Err(fail(
            "client",
            "its neighbour entry for the VIP is not node0's MAC",
        ));
    }
    let capture = Capture::start(
        client,
        "eth0",
        "ip proto 112 or arp or icmp",
        lab.log_path("client.pcap"),
    )?;
    let pinger = Pinger::start(
        client,
        &common.pinger,
        vip,
        None,
        lab.log_path("pinger.log"),
    )?;

    // 2. Cut node0 off at a random phase of its advert cycle; node1 takes over and the client
    // follows its gratuitous ARPs. node0 hears nothing and stays Master: two Masters.
    std::thread::sleep(advert + advert.mul_f64(1.0 + rng.unit()));
    let cut_at = now();
    let cut = lab.cut(Cut::Node(winner))?;
    let file = capture.file().to_path_buf();
    let limit = profile.master_down() * 2 + Duration::from_secs(5);
    let moved = wait_until(limit, Duration::from_millis(20), || {
        client.neigh_mac(vip).ok().flatten() == Some(roles.loser_mac)
            && pcap::read(&file).is_ok_and(|f| {
                let t = analyze::analyze(&f, cut_at, f64::INFINITY, &roles);
                t.takeover.is_some() && t.client_moved.is_some()
            })
    });
    if let Err(what) = moved {
        out.timings = analyze::analyze(&capture.stop()?, cut_at, f64::INFINITY, &roles);
        return Err(HarnessError::Timeout {
            what: format!("node1 to take over and the client to follow it ({what})"),
            waited: limit,
        });
    }
    if !winner.has_addr("eth0", vip)? {
        return Err(fail(
            "partition",
            "node0 released the VIP behind the cut: no split brain",
        ));
    }

    // 3. Hold, then heal at a random phase. The nft that heals is started beforehand, so the
    // heal's time is the moment it is handed the command, not a process start-up earlier.
    let pending = cut.prepare_heal()?;
    std::thread::sleep(opts.hold + advert.mul_f64(rng.unit()));
    let heal_at = now();
    let started = Instant::now();
    pending.fire()?;
    out.heal_cmd_ms = started.elapsed().as_secs_f64() * 1e3;

    // Watch until the client has reached node0 and the loser has had time to yield and say
    // so, or give up at `max_observe`.
    let settle = Duration::from_secs(1) + advert * 2;
    let observe_start = Instant::now();
    let _ = wait_until(opts.max_observe, Duration::from_millis(50), || {
        observe_start.elapsed() >= settle
            && pcap::read(&file).is_ok_and(|f| {
                analyze::analyze(&f, cut_at, heal_at, &roles)
                    .reach
                    .is_some()
            })
    });
    let report = pinger.stop();
    let frames = capture.stop()?;
    out.timings = analyze::analyze(&frames, cut_at, heal_at, &roles);
    let windows = report?.windows;
    let after: Vec<_> = windows.iter().filter(|w| w.end >= heal_at).collect();
    out.loss = Some(Loss {
        longest_ms: after.iter().map(|w| w.ms).fold(0.0, f64::max),
        lost: after.iter().map(|w| w.lost).sum(),
    });
    if loser.has_addr("eth0", vip)? && winner.has_addr("eth0", vip)? {
        return Err(fail("heal", "both nodes still hold the VIP at the end"));
    }
    Ok(())
}

/// Runs every heal `opts` asks for, printing progress on stderr, and returns the Markdown
/// report. `cmdline` is printed in it as given.
pub fn session(opts: &HealOptions, cmdline: &str) -> String {
    let started = Instant::now();
    let c = &opts.common;
    let mut rng = Rng::new(c.seed);
    let mut runs = Vec::new();
    for &profile in &c.profiles {
        for index in 1..=c.runs {
            // Agents alternate within a round, so a slow patch of the machine hits both.
            for &agent in &c.agents {
                let r = run(opts, agent, profile, index, &mut rng);
                eprintln!(
                    "[{:>5.0} s] {agent} {profile} heal run {index}: {}",
                    started.elapsed().as_secs_f64(),
                    match &r.failure {
                        None => format!(
                            "client reached node0 {:.1} ms after the heal",
                            r.timings.reach.unwrap_or(f64::NAN)
                        ),
                        Some(why) => format!("FAILED: {why}"),
                    }
                );
                runs.push(r);
            }
        }
    }
    report::document(opts, cmdline, &runs, started.elapsed())
}
