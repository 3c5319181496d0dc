//! State-machine tests: an injected clock, the exact deadline and the exact ordered actions
//! after each input. One test per rule, named after it.

mod backup;
mod control;
mod isolation;
mod master;
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
        name: "web".into(),
        vrid: 51,
        version: Version::V2,
        priority,
        advert_interval: Centis::ONE_SECOND,
        preempt: true,
        preempt_delay: Duration::ZERO,
        startup_delay: Duration::ZERO,
        down_timer_adverts: 3,
        announce: AnnounceSchedule::default(),
        yield_advert: true,
        primary_addr: ip(US),
        channel_addrs: vec![ip(US)],
        isolation_guard: false,
    }
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

/// A started Backup.
fn backup(config: RouterConfig, t0: Instant) -> Router {
    let mut r = Router::new(config);
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

fn fault(source: &str, active: bool) -> Input {
    Input::Fault {
        source: source.into(),
        active,
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
