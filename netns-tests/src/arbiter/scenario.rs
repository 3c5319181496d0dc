//! The faults an arbiter must survive, each run on a settled [`ArbiterPair`] and returned as
//! the VIP timeline with the moments that matter. They assert nothing: the tests decide what
//! the timeline must look like, the benchmark measures it.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::error::Result;
use crate::holders::Timeline;
use crate::lab::Cut;

use super::ArbiterPair;

/// What one scenario saw.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Who held the VIP, from the pair's start to the end of the scenario.
    pub timeline: Timeline,
    /// When the fault began (just after it was put in place).
    pub fault: Instant,
    /// When it ended (healed, members restarted, SIGCONT), if the scenario ends it.
    pub healed: Option<Instant>,
}

impl Outcome {
    /// When node 1 first held the VIP after the fault.
    pub fn backup_took_over(&self) -> Option<Instant> {
        self.timeline.first_after(self.fault, |h| h[1])
    }

    /// When node 0 first stopped holding the VIP after the fault.
    pub fn master_dropped(&self) -> Option<Instant> {
        self.timeline.first_after(self.fault, |h| !h[0])
    }
}

fn finish(pair: &ArbiterPair, fault: Instant, healed: Option<Instant>, after: Duration) -> Outcome {
    std::thread::sleep(after);
    Outcome {
        timeline: pair.watch.timeline(),
        fault,
        healed,
    }
}

/// (a) VRRP dropped between the two nodes (nftables in the switch) for `hold`, both still
/// reaching etcd; then healed and watched for `after`.
pub fn vrrp_cut(pair: &ArbiterPair, hold: Duration, after: Duration) -> Result<Outcome> {
    let cut = pair.lab.cut(Cut::VrrpOnLan)?;
    let fault = Instant::now();
    std::thread::sleep(hold);
    cut.heal()?;
    Ok(finish(pair, fault, Some(Instant::now()), after))
}

/// (b) node 0 (the Master) cut from every etcd member for `hold`, while its adverts still
/// reach node 1; then healed and watched for `after`.
pub fn master_cut_from_store(
    pair: &ArbiterPair,
    hold: Duration,
    after: Duration,
) -> Result<Outcome> {
    let cut = pair.cluster.cut(pair.lab.node(0).ns())?;
    let fault = Instant::now();
    std::thread::sleep(hold);
    cut.heal()?;
    Ok(finish(pair, fault, Some(Instant::now()), after))
}

/// (c) the raft leader and one more member killed (quorum lost) for `hold`, then both
/// started again; watched for `after` once the cluster is healthy again.
pub fn quorum_loss(pair: &mut ArbiterPair, hold: Duration, after: Duration) -> Result<Outcome> {
    let leader = pair.cluster.leader()?;
    let other = (leader + 1) % crate::etcd::MEMBERS;
    pair.cluster.stop(leader);
    pair.cluster.stop(other);
    let fault = Instant::now();
    std::thread::sleep(hold);
    pair.cluster.start_member(leader)?;
    pair.cluster.start_member(other)?;
    let healed = Instant::now();
    pair.cluster.wait_healthy(Duration::from_secs(30))?;
    Ok(finish(pair, fault, Some(healed), after))
}

/// (d) node 0's vipd frozen (SIGSTOP) for `hold`, then thawed (SIGCONT) and watched for
/// `after`.
pub fn freeze_master(pair: &mut ArbiterPair, hold: Duration, after: Duration) -> Result<Outcome> {
    pair.vipds[0].signal(Signal::SIGSTOP)?;
    let fault = Instant::now();
    std::thread::sleep(hold);
    pair.vipds[0].signal(Signal::SIGCONT)?;
    Ok(finish(pair, fault, Some(Instant::now()), after))
}

/// (d) as [`freeze_master`], but thawed only once node 1 holds the VIP (or `limit` passed),
/// and `then` after that. How long a frozen Master's lease outlives its last renewal is up
/// to the store: on a loaded machine etcd may answer late, or elect a new leader, which
/// extends every lease by an election timeout. A fixed freeze then ends before the takeover
/// it was meant to show.
pub fn freeze_master_past_takeover(
    pair: &mut ArbiterPair,
    limit: Duration,
    then: Duration,
    after: Duration,
) -> Result<Outcome> {
    pair.vipds[0].signal(Signal::SIGSTOP)?;
    let fault = Instant::now();
    let _ = pair.watch.wait(limit, |h| h[1]);
    std::thread::sleep(then);
    pair.vipds[0].signal(Signal::SIGCONT)?;
    Ok(finish(pair, fault, Some(Instant::now()), after))
}

/// (e) node 0's vipd killed (SIGKILL) and its LAN port cut at the same moment, a dead host
/// (else its kernel keeps answering for the VIP it leaves behind); or (f) stopped with
/// SIGTERM. Watched until node 1 holds the VIP or `limit` passes, then `after` more.
pub fn stop_master(
    pair: &mut ArbiterPair,
    signal: Signal,
    limit: Duration,
    after: Duration,
) -> Result<Outcome> {
    let fault = Instant::now();
    if signal == Signal::SIGKILL {
        pair.vipds[0].kill();
        pair.lab.set_port(pair.lab.node(0), false)?;
    } else {
        pair.vipds[0].signal(signal)?;
    }
    let _ = pair.watch.wait(limit, |h| h[1]);
    Ok(finish(pair, fault, None, after))
}
