//! The interop scenario every mixed pair goes through, with the client's view as the judge.
//!
//! With `high` the agent of higher priority and `low` the other:
//! 1. election: both start together; the client sees only `high`'s MAC for the VIP;
//! 2. graceful stop of `high`: `low` hears priority 0 and takes over after Skew_Time, well
//!    before Master_Down_Interval (measured on the wire at `low`'s switch port);
//! 3. `high` restarts and preempts back;
//! 4. crash: `high` is SIGKILLed and its cable cut at once; `low` takes over;
//! 5. `high`'s node "reboots" (what the crash left is removed, cable back) and `high` preempts
//!    back again.
//!
//! Running it once with vipd high and once with the peer high covers every rule both ways.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Agent, VrrpSpec};
use crate::capture::Capture;
use crate::decode;
use crate::lab::Lab;
use crate::mac::Mac;
use crate::node::Node;
use crate::pcap::Frame;
use crate::wait::wait_until;

/// Which side of a pair has the higher priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// vipd is the preferred Master.
    Vipd,
    /// The other implementation is.
    Peer,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct PairReport {
    /// From `high`'s priority-0 advert to `low`'s first advert as Master (on the wire).
    pub stop_takeover: Duration,
    /// From the SIGKILL of `high` to `low`'s first advert as Master (on the wire). The kill
    /// falls at a random phase of the advert cycle, so this lies between
    /// Master_Down_Interval minus one interval and Master_Down_Interval.
    pub crash_takeover: Duration,
    /// Every distinct IP destination of the adverts seen at `low`'s port while `high` stopped
    /// (the multicast group, or the unicast peers).
    pub advert_destinations: Vec<IpAddr>,
}

/// Numbers the captures of this process.
static CAPTURES: AtomicU32 = AtomicU32::new(0);

/// How long one neighbour probe listens for answers.
const PROBE: Duration = Duration::from_millis(300);

/// RFC 9568 Skew_Time for `priority` (v2: in seconds of 256ths; v3: of the interval).
pub fn skew_time(version: u8, priority: u8, interval: Duration) -> Duration {
    let base = if version == 2 {
        Duration::from_secs(1)
    } else {
        interval
    };
    base * (256 - u32::from(priority)) / 256
}

/// RFC 9568 Master_Down_Interval: three intervals plus Skew_Time.
pub fn master_down_interval(version: u8, priority: u8, interval: Duration) -> Duration {
    interval * 3 + skew_time(version, priority, interval)
}

/// Runs the scenario on a pair of agents in `lab` (see the module docs). Panics, with both
/// agents' logs, on the first expectation that fails.
pub fn exercise_pair(
    lab: &Lab,
    spec: &VrrpSpec,
    high: &mut dyn Agent,
    low: &mut dyn Agent,
) -> PairReport {
    assert!(high.priority() > low.priority(), "high must outrank low");
    let mdi = master_down_interval(spec.version, low.priority(), spec.interval);
    let ctx = Ctx { lab, vip: spec.vip };
    // Starting, binding and (for FRR) connecting to zebra take a moment on a loaded machine.
    let settle = mdi * 3 + Duration::from_secs(5);

    step(high, low, "election", |h, l| {
        l.start().map_err(failed("start low"))?;
        h.start().map_err(failed("start high"))?;
        ctx.expect_holder(h, settle)
    });

    let mut stop_takeover = Duration::ZERO;
    let mut advert_destinations = Vec::new();
    step(high, low, "graceful stop of the Master", |h, l| {
        let priority = l.priority();
        (stop_takeover, advert_destinations) = graceful_handover(lab, spec, h, l, priority)?;
        Ok(())
    });

    step(high, low, "preemption after restart", |h, _| {
        h.start().map_err(failed("restart high"))?;
        ctx.expect_holder(h, settle)
    });

    let mut crash_takeover = Duration::ZERO;
    step(
        high,
        low,
        "crash of the Master (SIGKILL + cable cut)",
        |h, l| {
            let cap = ctx.capture_at(l, "crash");
            // Capture timestamps are wall-clock time, so the kill is stamped on the same clock.
            let killed = SystemTime::now();
            h.kill();
            lab.set_port(h.node(), false).map_err(failed("cut cable"))?;
            // A crash that leaves a forked child (keepalived's VRRP process, FRR's zebra)
            // alive would not be one.
            let ns = h.node().ns().to_string();
            wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
                processes_in(&ns).is_empty()
            })
            .map_err(|e| {
                format!(
                    "processes left in {ns} after SIGKILL: {:?} ({e})",
                    processes_in(&ns)
                )
            })?;
            ctx.expect_holder(l, mdi * 2 + Duration::from_secs(2))?;
            let frames = cap.stop().map_err(failed("stop capture"))?;
            crash_takeover = first_advert_after(&frames, spec.vrid, l.priority(), killed)?;
            // The down timer must be Master_Down_Interval; the slack covers scheduling on a
            // loaded machine, not a wrong timer (one interval late would be 100 ms..1 s more).
            let bound = mdi + Duration::from_millis(250) + l.first_advert_lag();
            if crash_takeover > bound {
                return Err(format!(
                    "{} took over {crash_takeover:?} after the crash; Master_Down_Interval is {mdi:?}",
                    l.kind()
                ));
            }
            Ok(())
        },
    );

    step(high, low, "preemption after reboot", |h, _| {
        h.wipe().map_err(failed("wipe crashed node"))?;
        lab.set_port(h.node(), true)
            .map_err(failed("reconnect cable"))?;
        h.start().map_err(failed("start high after reboot"))?;
        ctx.expect_holder(h, settle)
    });

    step(high, low, "clean shutdown of both", |h, l| {
        h.stop().map_err(|e| e.to_string())?;
        l.stop().map_err(|e| e.to_string())
    });
    PairReport {
        stop_takeover,
        crash_takeover,
        advert_destinations,
    }
}

/// Stops `master` the polite way and checks that `taker`, advertising `taker_priority` (its
/// priority with trackers applied), takes over on the priority-0 advert rather than on its
/// down timer: on the wire at `taker`'s switch port well before Master_Down_Interval, and
/// for the client. Returns that time and every IP destination of the adverts seen.
pub fn graceful_handover(
    lab: &Lab,
    spec: &VrrpSpec,
    master: &mut dyn Agent,
    taker: &dyn Agent,
    taker_priority: u8,
) -> Result<(Duration, Vec<IpAddr>), String> {
    let ctx = Ctx { lab, vip: spec.vip };
    let mdi = master_down_interval(spec.version, taker_priority, spec.interval);
    let cap = ctx.capture_at(taker, "stop");
    master.stop().map_err(failed("stop the Master"))?;
    ctx.expect_holder(taker, mdi * 2 + Duration::from_secs(2))?;
    // Let the capture see a few of the taker's adverts before stopping it.
    std::thread::sleep(spec.interval * 2);
    let frames = cap.stop().map_err(failed("stop capture"))?;
    let mut destinations = Vec::new();
    for f in &frames {
        if let Some(ip) = decode::ip(&f.data).filter(|_| decode::is_vrrp_advert(&f.data).is_some())
            && !destinations.contains(&ip.dst)
        {
            destinations.push(ip.dst);
        }
    }
    let took = takeover_after_priority_zero(&frames, spec.vrid, taker_priority)?;
    let bound = mdi / 2 + taker.first_advert_lag();
    if took >= bound {
        return Err(format!(
            "{} took over {took:?} after priority 0; must be well before \
             Master_Down_Interval {mdi:?} (bound {bound:?})",
            taker.kind()
        ));
    }
    Ok((took, destinations))
}

/// Waits until the client sees exactly `agent`'s MAC answer for `vip`, twice in a row (so a
/// transient is not mistaken for the outcome), within `within`.
pub fn expect_holder(
    lab: &Lab,
    vip: IpAddr,
    agent: &dyn Agent,
    within: Duration,
) -> Result<(), String> {
    Ctx { lab, vip }.expect_holder(agent, within)
}

/// Turns a harness error into a step failure that says what was being done.
fn failed<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

/// Runs one step; on failure panics with its name and both agents' logs.
fn step(
    high: &mut dyn Agent,
    low: &mut dyn Agent,
    name: &str,
    f: impl FnOnce(&mut dyn Agent, &mut dyn Agent) -> Result<(), String>,
) {
    if let Err(why) = f(high, low) {
        panic!(
            "step `{name}` failed ({} high, {} low): {why}\n--- {} log (high) ---\n{}\n--- {} \
             log (low) ---\n{}",
            high.kind(),
            low.kind(),
            high.kind(),
            tail(&high.log_text(), 60),
            low.kind(),
            tail(&low.log_text(), 60),
        );
    }
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

struct Ctx<'a> {
    lab: &'a Lab,
    vip: IpAddr,
}

impl Ctx<'_> {
    /// Every MAC that answers the client's ARP / NS for the VIP.
    fn answerers(&self) -> Vec<Mac> {
        let c = &self.lab.client;
        match self.vip {
            IpAddr::V4(v4) => c.arp_probe(v4, PROBE),
            IpAddr::V6(v6) => c.ndisc_probe(v6, PROBE),
        }
        .expect("neighbour probe")
    }

    /// Waits until exactly `agent`'s MAC answers for the VIP, twice in a row (so a transient
    /// is not mistaken for the outcome).
    fn expect_holder(&self, agent: &dyn Agent, within: Duration) -> Result<(), String> {
        let want = agent.vip_mac().map_err(|e| e.to_string())?;
        let start = Instant::now();
        let mut last = Vec::new();
        let mut good = 0;
        while start.elapsed() < within || good > 0 {
            last = self.answerers();
            if last == [want] {
                good += 1;
                if good == 2 {
                    return Ok(());
                }
            } else {
                good = 0;
            }
        }
        Err(format!(
            "the client should see exactly {} ({want}) for {} within {within:?}; it last saw {last:?}",
            agent.kind(),
            self.vip
        ))
    }

    /// Captures VRRP at the switch port of `agent`'s node: everything it sends and receives,
    /// multicast or unicast.
    fn capture_at(&self, agent: &dyn Agent, tag: &str) -> Capture {
        let i = self
            .lab
            .nodes
            .iter()
            .position(|n| n.ns() == agent.node().ns())
            .expect("agent runs in a lab node");
        let switch = Node::new(
            "switch",
            self.lab.switch_ns(),
            std::net::Ipv4Addr::UNSPECIFIED,
            None,
            None,
        );
        // A name of its own per capture: Capture::start waits for "listening on" in the
        // capture's log, so a log left by an earlier capture of the same name would let it
        // return before tcpdump listens (and the first frames would be lost).
        let n = CAPTURES.fetch_add(1, Ordering::Relaxed);
        let file = self.lab.log_path(&format!("{tag}-n{i}-{n}.pcap"));
        Capture::start(&switch, &format!("n{i}"), "proto 112", file).expect("start capture")
    }
}

/// The time from the first priority-0 advert of `vrid` to the first advert at `priority`
/// after it.
fn takeover_after_priority_zero(
    frames: &[Frame],
    vrid: u8,
    priority: u8,
) -> Result<Duration, String> {
    let adverts: Vec<(f64, decode::VrrpAdvert)> = frames
        .iter()
        .filter_map(|f| decode::is_vrrp_advert(&f.data).map(|a| (f.ts, a)))
        .filter(|(_, a)| a.vrid == vrid)
        .collect();
    let (t0, _) = adverts
        .iter()
        .find(|(_, a)| a.priority == 0)
        .ok_or("the stopping Master sent no priority-0 advert")?;
    let (t1, _) = adverts
        .iter()
        .find(|(t, a)| t > t0 && a.priority == priority)
        .ok_or(format!("no advert at priority {priority} after priority 0"))?;
    Ok(Duration::from_secs_f64(t1 - t0))
}

/// The time from `since` to the first advert of `vrid` at `priority` captured after it.
fn first_advert_after(
    frames: &[Frame],
    vrid: u8,
    priority: u8,
    since: SystemTime,
) -> Result<Duration, String> {
    let t0 = since
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs_f64();
    frames
        .iter()
        .filter(|f| f.ts > t0)
        .find(|f| {
            decode::is_vrrp_advert(&f.data)
                .is_some_and(|a| a.vrid == vrid && a.priority == priority)
        })
        .map(|f| Duration::from_secs_f64(f.ts - t0))
        .ok_or(format!("no advert at priority {priority} after the crash"))
}

/// The PIDs of the processes in network namespace `ns`.
fn processes_in(ns: &str) -> Vec<String> {
    let out = crate::cmd::run("ip", &["netns", "pids", ns]).expect("ip netns pids");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}
