//! State-machine tests: an injected clock, the exact deadline and the exact ordered actions
//! after each input. One test per rule, named after it.

mod backup;
mod control;
mod fence;
mod hostile;
mod isolation;
mod lease;
mod master;
mod receive;
mod refresh;
mod stalled;
mod start;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::vrrp::timing::Centis;
use crate::vrrp::{State, Version};

/// Our own address in every test unless a test says otherwise.
const US: &str = "10.0.0.1";
/// A peer.
const PEER: &str = "10.0.0.2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// VRRPv2, 1 s, preempt, no delays, keepalived's announce schedule, yield advert on.
/// Shared with the other modules' tests that need a plain router.
pub(crate) fn v2(priority: u8) -> RouterConfig {
    RouterConfig {
        channel_names: vec!["eth0".into()].into(),
        vips: vec![ip("192.0.2.100")].into(),
        ..RouterConfig::with_defaults("web", 51, Version::V2, priority, ip(US))
    }
}

/// `config` tracking "check w" with `weight`.
fn weighted(config: RouterConfig, weight: i16) -> RouterConfig {
    RouterConfig {
        trackers: vec![TrackerConfig {
            source: "check w".into(),
            weight,
            file: false,
        }]
        .into(),
        ..config
    }
}

/// The health report of "check w".
fn check(ok: bool) -> Input {
    Input::Health {
        source: "check w".into(),
        health: if ok {
            crate::vrrp::health::Health::Ok
        } else {
            crate::vrrp::health::Health::Failed
        },
    }
}

/// The active fault sources, as the logs name them.
fn fault_names(r: &Router) -> Vec<String> {
    r.faults().iter().map(ToString::to_string).collect()
}

/// VRRPv3 at `cs` centiseconds, otherwise as [`v2`].
fn v3(priority: u8, cs: u16) -> RouterConfig {
    RouterConfig {
        version: Version::V3,
        advert_interval: Centis::new(cs),
        ..v2(priority)
    }
}

fn advert(from: &str, priority: u8, cs: u16) -> Input {
    Input::Advert(Advert {
        from: ip(from),
        channel: 0,
        priority,
        interval: Centis::new(cs),
    })
}

fn notify(from: State, to: State, reason: Reason, priority: u8, master: Option<&str>) -> Action {
    Action::Notify(Transition {
        from,
        to,
        reason,
        priority,
        master: master.map(ip),
    })
}

/// The actions of becoming Master at priority `p` with the default announce schedule.
fn takeover(from: State, reason: Reason, p: u8) -> Vec<Action> {
    vec![
        Action::SendAdvert { priority: p },
        Action::AddVips,
        Action::Announce { count: 5 },
        notify(from, State::Master, reason, p, Some(US)),
    ]
}

/// A started Backup. Its trackers, if any, reported healthy before it started.
fn backup(config: RouterConfig, t0: Instant) -> Router {
    let sources: Vec<String> = config.trackers.iter().map(|t| t.source.clone()).collect();
    let mut r = Router::new(config);
    for source in sources {
        let health = crate::vrrp::health::Health::Ok;
        r.handle(t0, Input::Health { source, health });
    }
    r.handle(t0, Input::Start);
    assert_eq!(r.state(), State::Backup);
    r
}

/// A Backup started at `t0` that became Master when its master-down timer fired.
fn master(config: RouterConfig, t0: Instant) -> (Router, Instant) {
    let mut r = backup(config, t0);
    let t = r.next_deadline().unwrap();
    r.handle(t, Input::Timer);
    assert_eq!(r.state(), State::Master);
    (r, t)
}

/// A fault input: "link IFACE" is a link fault; "check NAME" is that tracker's health (the
/// router must track it with weight 0).
fn fault(source: &str, active: bool) -> Input {
    match source.strip_prefix("link ") {
        Some(iface) => Input::Fault {
            source: FaultSource::Link(iface.into()),
            active,
        },
        None => Input::Health {
            source: source.into(),
            health: if active {
                crate::vrrp::health::Health::Failed
            } else {
                crate::vrrp::health::Health::Ok
            },
        },
    }
}

/// The fault source a [`fault`] input names.
fn source(name: &str) -> FaultSource {
    match name.strip_prefix("link ") {
        Some(iface) => FaultSource::Link(iface.into()),
        None => FaultSource::Tracker(name.into()),
    }
}

/// `config` tracking each of `checks` with weight 0.
fn tracking(config: RouterConfig, checks: &[&str]) -> RouterConfig {
    RouterConfig {
        trackers: checks
            .iter()
            .map(|c| TrackerConfig {
                source: (*c).into(),
                weight: 0,
                file: false,
            })
            .collect(),
        ..config
    }
}

fn sync_master() -> Input {
    Input::Sync(SyncOrder::Master {
        group: "lb".into(),
        member: "api".into(),
    })
}

fn sync_backup() -> Input {
    Input::Sync(SyncOrder::Backup {
        group: "lb".into(),
        member: "api".into(),
    })
}

fn sync_reason() -> Reason {
    Reason::Sync {
        group: "lb".into(),
        member: "api".into(),
    }
}
