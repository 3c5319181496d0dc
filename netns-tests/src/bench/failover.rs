//! One failover run: a fresh lab, the Master and the Backup, a capture and a pinger in the
//! client namespace, a fault at a random phase of the advert cycle, and the timings.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;

use crate::capture::Capture;
use crate::error::{HarnessError, Result};
use crate::lab::{Lab, LabSpec};
use crate::pcap;
use crate::ping::Pinger;
use crate::wait::wait_until;

use super::agent::{FIRST_VRID, Setup, wait_master};
use super::analyze::{Roles, Timings, analyze};
use super::arbiter::ArbiterHook;
use super::rng::Rng;
use super::{Agent, BACKUP_PRIORITY, Fault, MASTER_PRIORITY, Options, Profile};

/// The outcome of one run. A run that failed keeps whatever was measured before it failed.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Which agent.
    pub agent: Agent,
    /// Which profile.
    pub profile: Profile,
    /// Which fault.
    pub fault: Fault,
    /// Run number, from 1.
    pub index: usize,
    /// Timings from the capture.
    pub timings: Timings,
    /// The client's longest loss window from the fault on (0 if nothing was lost).
    pub outage: Option<f64>,
    /// Why the run failed (no takeover seen, or the lab failed); `None` for a good run.
    pub failure: Option<String>,
}

impl RunResult {
    /// A good run: no error and a takeover seen.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// What [`attempt`] measured, even if it stopped early.
#[derive(Default)]
struct Partial {
    timings: Timings,
    outage: Option<f64>,
}

/// Runs one fault and measures it. Never fails: errors become [`RunResult::failure`], so a
/// benchmark of many runs reports them instead of stopping or dropping them.
pub fn run(
    opts: &Options,
    agent: Agent,
    profile: Profile,
    fault: Fault,
    index: usize,
    rng: &mut Rng,
) -> RunResult {
    run_with(opts, (agent, profile, fault, index), rng, None)
}

/// [`run`], with vipd's instances under an etcd arbiter when `arbiter` is given.
pub fn run_with(
    opts: &Options,
    (agent, profile, fault, index): (Agent, Profile, Fault, usize),
    rng: &mut Rng,
    arbiter: Option<&mut ArbiterHook<'_>>,
) -> RunResult {
    let mut partial = Partial::default();
    let which = (agent, profile, fault, index);
    let failure = match attempt(opts, which, rng, arbiter, &mut partial) {
        Ok(()) if partial.timings.took_over() => None,
        Ok(()) => Some("no advert from the new Master was captured".into()),
        Err(e) => Some(e.to_string()),
    };
    RunResult {
        agent,
        profile,
        fault,
        index,
        timings: partial.timings,
        outage: partial.outage,
        failure,
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn attempt(
    opts: &Options,
    (agent, profile, fault, index): (Agent, Profile, Fault, usize),
    rng: &mut Rng,
    arbiter: Option<&mut ArbiterHook<'_>>,
    out: &mut Partial,
) -> Result<()> {
    let lab = Lab::new(LabSpec {
        nodes: 2,
        ..Default::default()
    })?;
    let mut edit: Box<dyn Fn(String) -> String> = Box::new(|text| text);
    let mut extra = Duration::ZERO;
    if let Some(hook) = arbiter {
        for node in &lab.nodes {
            hook.cluster.attach(node)?;
        }
        // A key of its own per run: the last run's killed Master may hold its key still.
        let arb = hook.section(index);
        extra = hook.ttl + Duration::from_secs(1);
        edit = Box::new(move |text| ArbiterHook::edit(&arb, text));
    }
    let result = fault_and_measure(&lab, opts, (agent, profile, fault), &*edit, extra, rng, out);
    let failed = result.is_err() || !out.timings.took_over();
    if let (true, Some(dir)) = (failed, &opts.keep_failed) {
        let name = format!(
            "{agent}-v{}-{}-run{}",
            profile.version_number(),
            fault_slug(fault),
            index
        );
        keep_logs(&lab.log_path(""), &dir.join(name));
    }
    result
}

fn fault_slug(fault: Fault) -> &'static str {
    match fault {
        Fault::Kill => "kill",
        Fault::Term => "term",
    }
}

fn fault_and_measure(
    lab: &Lab,
    opts: &Options,
    (agent, profile, fault): (Agent, Profile, Fault),
    edit: &dyn Fn(String) -> String,
    extra_wait: Duration,
    rng: &mut Rng,
    out: &mut Partial,
) -> Result<()> {
    let (old, new, client) = (lab.node(0), lab.node(1), &lab.client);
    let vips = [lab.vip4(0)];
    let setup = |priority| Setup {
        agent,
        profile,
        priority,
        vips: &vips,
    };
    let advert = profile.advert();
    // The Master starts alone, so it wins without a contest; both agents start as Backup
    // and take Master_Down_Interval to get there.
    let mut master = setup(MASTER_PRIORITY).start_edited(lab, old, opts, edit)?;
    wait_master(
        old,
        &mut master,
        &vips,
        profile.master_down() * 2 + Duration::from_secs(10),
    )?;
    let mut backup = setup(BACKUP_PRIORITY).start_edited(lab, new, opts, edit)?;
    // Neither agent says the same thing when it is up as Backup; a few adverts' time is
    // ample for it to start and hear the Master.
    std::thread::sleep(Duration::from_millis(500).max(advert * 2));
    if let Some(status) = backup.try_status() {
        return Err(HarnessError::parse(
            "backup",
            format!(
                "exited ({status}): {}",
                super::agent::tail(&backup.log_text())
            ),
        ));
    }
    if new.has_addr("eth0", vips[0].into())? {
        return Err(HarnessError::parse(
            "election",
            "the Backup holds the VIP too",
        ));
    }
    let vip = IpAddr::V4(vips[0]);
    if !client.ping_once(vip) {
        return Err(HarnessError::parse(
            "client",
            "cannot ping the VIP before the fault",
        ));
    }
    let capture = Capture::start(
        client,
        "eth0",
        "ip proto 112 or arp",
        lab.log_path("client.pcap"),
    )?;
    let pinger = Pinger::start(client, &opts.pinger, vip, None, lab.log_path("pinger.log"))?;
    let roles = Roles {
        old: old.ip4().into(),
        new: new.ip4().into(),
        new_mac: new.mac("eth0")?,
        vip: vips[0],
        vrid: FIRST_VRID,
    };
    // At least one whole cycle first, so the capture holds the Master's last advert before
    // the fault; then a uniform draw over one cycle puts the fault at a random phase.
    std::thread::sleep(advert + advert.mul_f64(1.0 + rng.unit()));
    let fault_at = now();
    match fault {
        Fault::Kill => {
            master.signal_group(Signal::SIGKILL)?;
            lab.set_port(old, false)?;
        }
        Fault::Term => master.signal(Signal::SIGTERM)?,
    }
    let file = capture.file().to_path_buf();
    let limit = profile.master_down() * 2 + Duration::from_secs(3) + extra_wait;
    let seen = wait_until(limit, Duration::from_millis(20), || {
        pcap::read(&file).is_ok_and(|f| analyze(&f, fault_at, &roles).took_over())
    });
    // Time for the gratuitous ARPs, the client's recovery and the next advert to be seen.
    std::thread::sleep(Duration::from_millis(500) + advert);
    let report = pinger.stop();
    let frames = capture.stop()?;
    out.timings = analyze(&frames, fault_at, &roles);
    let report = report?;
    out.outage = Some(
        report
            .windows
            .iter()
            .filter(|w| w.end >= fault_at)
            .map(|w| w.ms)
            .fold(0.0, f64::max),
    );
    seen.map_err(|what| HarnessError::Timeout {
        what: format!("an advert from the new Master ({what})"),
        waited: limit,
    })?;
    Ok(())
}

/// Copies the files of a failed run's lab directory (agent logs, configs, capture) to `to`.
pub(crate) fn keep_logs(from: &Path, to: &Path) {
    let copied = std::fs::create_dir_all(to).and_then(|()| {
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), to.join(entry.file_name()))?;
            }
        }
        Ok(())
    });
    match copied {
        Ok(()) => eprintln!("  logs of the failed run kept in {}", to.display()),
        Err(e) => eprintln!(
            "  could not keep the failed run's logs in {}: {e}",
            to.display()
        ),
    }
}
