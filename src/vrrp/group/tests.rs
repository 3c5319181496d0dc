use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::vrrp::router::{Action, Advert, Router, RouterConfig, SyncMembership};
use crate::vrrp::timing::Centis;

fn config(name: &str, priority: u8, members: &[&str]) -> RouterConfig {
    RouterConfig {
        name: name.into(),
        sync_group: Some(Box::new(SyncMembership {
            group: "lb".into(),
            members: members.iter().map(|m| m.to_string()).collect(),
        })),
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

/// The fault source a log line names: "sync group G: M", "link IFACE down" or a tracker.
fn src(name: &str) -> FaultSource {
    if let Some(rest) = name.strip_prefix("sync group ") {
        let (group, member) = rest.split_once(": ").unwrap();
        FaultSource::Group {
            group: group.into(),
            member: member.into(),
        }
    } else if let Some(iface) = name.strip_prefix("link ") {
        FaultSource::Link(iface.trim_end_matches(" down").into())
    } else {
        FaultSource::Tracker(name.into())
    }
}

fn fault(source: &str, active: bool) -> Input {
    Input::Fault {
        source: src(source),
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
        source: src("sync group lb: web"),
    };
    let faulted = transition(State::Backup, State::Fault, group_fault);
    assert_eq!(lb().on_transition("api", &faulted), vec![]);
}

#[test]
fn a_member_fault_raises_and_its_end_clears_a_named_source_on_the_others() {
    let own = Reason::Fault {
        source: src("link eth0"),
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
fn startup_clears_what_a_previous_self_passed_on_and_strangers_give_no_orders() {
    let started = transition(State::Initialize, State::Backup, Reason::Startup);
    assert_eq!(
        lb().on_transition("web", &started),
        to(&["api", "db"], fault("sync group lb: web", false))
    );
    let up = transition(State::Backup, State::Master, down());
    assert_eq!(lb().on_transition("mail", &up), vec![]);
}

#[test]
fn fault_orders_follow_the_members_own_faults_only() {
    let raised = [src("sync group lb: api"), src("check haproxy")];
    assert_eq!(
        lb().on_faults("web", &raised),
        to(&["api", "db"], fault("sync group lb: web", true))
    );
    assert_eq!(
        lb().on_faults("web", &[src("sync group lb: api")]),
        to(&["api", "db"], fault("sync group lb: web", false))
    );
}

fn grant(attempt: u64) -> Input {
    Input::Gate(GateAnswer {
        gate: GateKind::SyncGroup,
        attempt,
        granted: true,
        detail: "every member of sync group lb wants to be Master".into(),
        fenced: false,
    })
}

/// Every member running as a Backup.
fn running() -> SyncGroup {
    let mut g = lb();
    for m in ["web", "api", "db"] {
        g.seed(m, State::Backup);
    }
    g
}

#[test]
fn the_gate_grants_only_when_every_member_asks() {
    let mut g = running();
    assert_eq!(g.ask("web", 1), vec![]);
    assert_eq!(g.ask("api", 7), vec![]);
    let grants = g.ask("db", 3);
    assert_eq!(
        grants,
        vec![
            ("api".to_string(), grant(7)),
            ("db".to_string(), grant(3)),
            ("web".to_string(), grant(1)),
        ]
    );
    // Granted requests are spent: a new ask waits again.
    assert_eq!(g.ask("web", 2), vec![]);
}

#[test]
fn a_withdrawn_request_no_longer_counts() {
    let mut g = running();
    g.ask("web", 1);
    g.withdraw("web", 1);
    g.ask("api", 1);
    assert_eq!(g.ask("db", 1), vec![]);
    // Withdrawing an older attempt leaves the newer one standing.
    let mut g = running();
    g.ask("web", 2);
    g.withdraw("web", 1);
    g.ask("api", 1);
    assert_eq!(g.ask("db", 1).len(), 3);
}

#[test]
fn masters_and_stopped_members_do_not_hold_the_gate() {
    let mut g = running();
    g.seed("api", State::Master);
    g.seed("db", State::Initialize);
    assert_eq!(g.ask("web", 4), vec![("web".to_string(), grant(4))]);
}

#[test]
fn a_member_leaving_backup_withdraws_its_request() {
    let mut g = running();
    g.ask("web", 1);
    let faulted = transition(State::Backup, State::Fault, fault_reason("link eth0"));
    g.on_transition("web", &faulted);
    g.on_transition(
        "web",
        &transition(State::Fault, State::Backup, Reason::FaultCleared),
    );
    g.ask("api", 1);
    assert_eq!(g.ask("db", 1), vec![]);
}

fn fault_reason(name: &str) -> Reason {
    Reason::Fault { source: src(name) }
}

/// One host's members, with the daemon's routing of group orders.
struct Host {
    group: SyncGroup,
    routers: BTreeMap<String, Router>,
}

impl Host {
    fn new(members: &[(&str, u8)], t0: Instant) -> Self {
        let names: Vec<&str> = members.iter().map(|(n, _)| *n).collect();
        let mut host = Host {
            group: SyncGroup::new("lb", names.clone()),
            routers: BTreeMap::new(),
        };
        for (name, priority) in members {
            let r = Router::new(config(name, *priority, &names));
            host.routers.insert(name.to_string(), r);
        }
        for name in &names {
            host.feed(t0, name, Input::Start);
        }
        host
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
            let before = router.faults();
            for action in router.handle(now, input) {
                match &action {
                    Action::Notify(t) => queue.extend(self.group.on_transition(&name, t)),
                    Action::AskGate { attempt, .. } => {
                        queue.extend(self.group.ask(&name, *attempt))
                    }
                    Action::WithdrawGate { attempt, .. } => self.group.withdraw(&name, *attempt),
                    Action::RefuseSyncOrder { .. } => queue.extend(self.group.on_refused(&name)),
                    _ => {}
                }
                done.push((name.clone(), action));
            }
            if router.faults() != before {
                queue.extend(self.group.on_faults(&name, &router.faults()));
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
fn driver_the_group_takes_over_when_the_last_member_wants_to() {
    let t0 = Instant::now();
    let mut host = Host::new(&[("web", 200), ("api", 100), ("db", 50)], t0);
    for member in ["web", "api"] {
        let t = host.routers[member].next_deadline().unwrap();
        host.feed(t, member, Input::Timer);
        assert_eq!(host.states(), [State::Backup; 3], "{member} alone wants it");
    }
    let t = host.routers["db"].next_deadline().unwrap();
    let done = host.feed(t, "db", Input::Timer);
    assert_eq!(host.states(), [State::Master; 3]);
    let order: Vec<_> = done
        .iter()
        .filter(|(_, a)| matches!(a, Action::Notify(_)))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(order, ["api", "db", "web"]);
}

#[test]
fn driver_one_way_loss_on_one_lan_moves_nothing() {
    let t0 = Instant::now();
    let mut host = Host::new(&[("ext", 100), ("int", 100)], t0);
    // int hears its Master every second; ext hears nothing (its LAN lost VRRP one way).
    let mut transitions = 0;
    for s in 1..=60 {
        let now = t0 + Duration::from_secs(s);
        host.feed(now, "int", peer_advert(200));
        while let Some(t) = host.routers["ext"].next_deadline().filter(|t| *t <= now) {
            for (_, a) in host.feed(t, "ext", Input::Timer) {
                transitions += usize::from(matches!(a, Action::Notify(_)));
            }
        }
    }
    assert_eq!(transitions, 0);
    assert_eq!(host.states(), [State::Backup; 2]);
    assert!(host.routers["ext"].waiting_for_gate());
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
    assert!(!host.routers["web"].faulted());
}

#[test]
fn driver_late_own_fault_keeps_the_group_in_fault() {
    let t0 = Instant::now();
    let mut host = Host::new(&[("web", 100), ("api", 100)], t0);
    host.feed(t0, "web", fault("link eth0", true));
    // api is already in FAULT because of web when its own check fails: no transition.
    host.feed(t0, "api", fault("link eth1", true));
    host.feed(t0, "web", fault("link eth0", false));
    assert_eq!(host.states(), [State::Fault; 2]);
    host.feed(t0, "api", fault("link eth1", false));
    assert_eq!(host.states(), [State::Backup; 2]);
}

#[test]
fn a_rebuilt_group_whose_members_disagree_orders_the_backups_to_master() {
    let mut g = running();
    g.seed("api", State::Master);
    g.seed("db", State::Fault);
    let order = Input::Sync(SyncOrder::Master {
        group: "lb".into(),
        member: "api".into(),
    });
    let clears = [
        to(&["api", "db"], fault("sync group lb: web", false)),
        to(&["web", "db"], fault("sync group lb: api", false)),
    ]
    .concat();
    assert_eq!(g.reconcile(), [clears, to(&["web"], order)].concat());
    assert!(
        running()
            .reconcile()
            .iter()
            .all(|(_, i)| matches!(i, Input::Fault { active: false, .. }))
    );
}

#[test]
fn a_member_back_from_fault_beside_a_master_is_ordered_to_master() {
    let mut g = running();
    g.seed("api", State::Master);
    g.seed("db", State::Fault);
    let back = transition(State::Fault, State::Backup, Reason::FaultCleared);
    let follow = Input::Sync(SyncOrder::Master {
        group: "lb".into(),
        member: "api".into(),
    });
    assert_eq!(
        g.on_transition("db", &back),
        [
            to(&["web", "api"], fault("sync group lb: db", false)),
            to(&["db"], follow)
        ]
        .concat()
    );
    // With no member Master, coming back from FAULT orders nothing.
    let mut g = running();
    g.seed("db", State::Fault);
    let orders = g.on_transition("db", &back);
    assert!(
        orders.iter().all(|(_, i)| matches!(i, Input::Fault { .. })),
        "{orders:?}"
    );
}
