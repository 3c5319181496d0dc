use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::vrrp::router::{Action, Advert, Router, RouterConfig};
use crate::vrrp::timing::Centis;

fn config(name: &str, priority: u8) -> RouterConfig {
    RouterConfig {
        name: name.into(),
        ..crate::vrrp::router::tests::v2(priority)
    }
}

fn transition(from: State, to: State, reason: Reason) -> Transition {
    Transition {
        from,
        to,
        reason,
        priority: 100,
        master: None,
    }
}

fn lb() -> SyncGroup {
    SyncGroup::new("lb", ["web", "api", "db"])
}

fn fault(source: &str, active: bool) -> Input {
    Input::Fault {
        source: source.into(),
        active,
    }
}

fn down() -> Reason {
    Reason::MasterDown {
        last_master: None,
        silent_for: Duration::from_secs(3),
    }
}

fn to(members: &[&str], input: Input) -> Vec<(String, Input)> {
    members
        .iter()
        .map(|m| (m.to_string(), input.clone()))
        .collect()
}

#[test]
fn a_member_becoming_master_orders_the_others_to_master() {
    let t = transition(State::Backup, State::Master, down());
    let order = Input::Sync(SyncOrder::Master {
        group: "lb".into(),
        member: "web".into(),
    });
    assert_eq!(lb().on_transition("web", &t), to(&["api", "db"], order));
}

#[test]
fn a_master_member_falling_back_orders_the_others_to_backup() {
    let reason = Reason::PreemptedBy {
        from: "10.0.0.2".parse().unwrap(),
        priority: 200,
    };
    let t = transition(State::Master, State::Backup, reason);
    let order = Input::Sync(SyncOrder::Backup {
        group: "lb".into(),
        member: "api".into(),
    });
    assert_eq!(lb().on_transition("api", &t), to(&["web", "db"], order));
}

#[test]
fn transitions_ordered_by_the_group_do_not_echo() {
    let reason = Reason::Sync {
        group: "lb".into(),
        member: "web".into(),
    };
    let up = transition(State::Backup, State::Master, reason.clone());
    let back = transition(State::Master, State::Backup, reason);
    assert_eq!(lb().on_transition("api", &up), vec![]);
    assert_eq!(lb().on_transition("api", &back), vec![]);
    let group_fault = Reason::Fault {
        source: "sync group lb: web".into(),
    };
    let faulted = transition(State::Backup, State::Fault, group_fault);
    assert_eq!(lb().on_transition("api", &faulted), vec![]);
}

#[test]
fn a_member_fault_raises_and_its_end_clears_a_named_source_on_the_others() {
    let own = Reason::Fault {
        source: "link eth0".into(),
    };
    let faulted = transition(State::Master, State::Fault, own);
    assert_eq!(
        lb().on_transition("db", &faulted),
        to(&["web", "api"], fault("sync group lb: db", true))
    );
    let cleared = transition(State::Fault, State::Backup, Reason::FaultCleared);
    assert_eq!(
        lb().on_transition("db", &cleared),
        to(&["web", "api"], fault("sync group lb: db", false))
    );
}

#[test]
fn a_master_reasserting_itself_gives_no_orders() {
    let reason = Reason::Reasserted {
        over: "10.0.0.2".parse().unwrap(),
        priority: 50,
    };
    let t = transition(State::Master, State::Master, reason);
    assert_eq!(lb().on_transition("web", &t), vec![]);
}

#[test]
fn startup_and_strangers_give_no_orders() {
    let started = transition(State::Initialize, State::Backup, Reason::Startup);
    assert_eq!(lb().on_transition("web", &started), vec![]);
    let up = transition(State::Backup, State::Master, down());
    assert_eq!(lb().on_transition("mail", &up), vec![]);
}

#[test]
fn fault_orders_follow_the_members_own_faults_only() {
    let raised = ["sync group lb: api", "check haproxy"];
    assert_eq!(
        lb().on_fault("web", "check haproxy", raised),
        to(&["api", "db"], fault("sync group lb: web", true))
    );
    assert_eq!(
        lb().on_fault("web", "check haproxy", ["sync group lb: api"]),
        to(&["api", "db"], fault("sync group lb: web", false))
    );
}

#[test]
fn fault_inputs_from_the_group_give_no_fault_orders() {
    let faults = ["sync group lb: api", "check haproxy"];
    assert_eq!(lb().on_fault("web", "sync group lb: api", faults), vec![]);
}

/// One host's members, with the daemon's routing of group orders.
struct Host {
    group: SyncGroup,
    routers: BTreeMap<String, Router>,
}

impl Host {
    fn new(members: &[(&str, u8)], t0: Instant) -> Self {
        let names = members.iter().map(|(n, _)| *n);
        let mut routers = BTreeMap::new();
        for (name, priority) in members {
            let mut r = Router::new(config(name, *priority));
            r.handle(t0, Input::Start);
            routers.insert(name.to_string(), r);
        }
        Host {
            group: SyncGroup::new("lb", names),
            routers,
        }
    }

    /// Feeds `input` to `member` and routes every resulting order until none is left.
    /// Returns each member's actions in the order they happened.
    fn feed(&mut self, now: Instant, member: &str, input: Input) -> Vec<(String, Action)> {
        let mut queue = VecDeque::from([(member.to_owned(), input)]);
        let mut done = Vec::new();
        let mut steps = 0;
        while let Some((name, input)) = queue.pop_front() {
            steps += 1;
            assert!(steps < 100, "orders do not settle: {done:?}");
            let router = self.routers.get_mut(&name).unwrap();
            let fault_source = match &input {
                Input::Fault { source, .. } => Some(source.clone()),
                _ => None,
            };
            for action in router.handle(now, input) {
                if let Action::Notify(t) = &action {
                    queue.extend(self.group.on_transition(&name, t));
                }
                done.push((name.clone(), action));
            }
            if let Some(source) = fault_source {
                queue.extend(self.group.on_fault(&name, &source, router.faults()));
            }
        }
        done
    }

    fn states(&self) -> Vec<State> {
        self.routers.values().map(Router::state).collect()
    }
}

fn peer_advert(priority: u8) -> Input {
    Input::Advert(Advert {
        from: "10.0.0.2".parse::<IpAddr>().unwrap(),
        channel: 0,
        priority,
        interval: Centis::ONE_SECOND,
    })
}

#[test]
fn driver_first_member_to_take_over_brings_the_others() {
    let t0 = Instant::now();
    let mut host = Host::new(&[("web", 200), ("api", 100), ("db", 50)], t0);
    let t = host.routers["web"].next_deadline().unwrap();
    let done = host.feed(t, "web", Input::Timer);
    assert_eq!(host.states(), [State::Master; 3]);
    let order: Vec<_> = done
        .iter()
        .filter(|(_, a)| matches!(a, Action::Notify(_)))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(order, ["web", "api", "db"]);
}

#[test]
fn driver_one_member_preempted_takes_the_others_to_backup_held() {
    let t0 = Instant::now();
    let mut host = Host::new(&[("web", 100), ("api", 100)], t0);
    let t = host.routers["web"].next_deadline().unwrap();
    host.feed(t, "web", Input::Timer);
    host.feed(t, "api", Input::Timer);
    assert_eq!(host.states(), [State::Master; 2]);
    host.feed(t + Duration::from_millis(100), "web", peer_advert(200));
    assert_eq!(host.states(), [State::Backup; 2]);
    assert!(host.routers["api"].held_by_group());
    assert!(!host.routers["web"].held_by_group());
}

#[test]
fn driver_a_fault_takes_the_group_to_fault_and_back() {
    let t0 = Instant::now();
    let mut host = Host::new(&[("web", 100), ("api", 100), ("db", 100)], t0);
    host.feed(t0, "api", fault("link eth0", true));
    assert_eq!(host.states(), [State::Fault; 3]);
    host.feed(t0, "api", fault("link eth0", false));
    assert_eq!(host.states(), [State::Backup; 3]);
    assert_eq!(host.routers["web"].faults().count(), 0);
}

#[test]
fn driver_late_own_fault_keeps_the_group_in_fault() {
    let t0 = Instant::now();
    let mut host = Host::new(&[("web", 100), ("api", 100)], t0);
    host.feed(t0, "web", fault("link eth0", true));
    // api is already in FAULT because of web when its own check fails: no transition.
    host.feed(t0, "api", fault("check api", true));
    host.feed(t0, "web", fault("link eth0", false));
    assert_eq!(host.states(), [State::Fault; 2]);
    host.feed(t0, "api", fault("check api", false));
    assert_eq!(host.states(), [State::Backup; 2]);
}
