//! Sync groups on simulated hosts: every host runs one router per LAN (member `k` on LAN
//! `k`, VRID 50 + k), all in one sync group, with the daemon's routing between routers and
//! the group reproduced: transitions, fault changes and gate requests go to the host's
//! `SyncGroup`, its orders and grants come back a moment later. LANs lose, delay and cut
//! adverts independently, one way or both.
//!
//! After every transition to Master the simulator checks the group property: a member never
//! becomes Master while it hears (an advert within its Master_Down_Interval, from a node that
//! is Master now) a Master of its own VRID that it would not preempt.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use vipd::vrrp::State;
use vipd::vrrp::Version;
use vipd::vrrp::group::SyncGroup;
use vipd::vrrp::router::{Input, Router, RouterConfig, SyncMembership, Transition};
use vipd::vrrp::timing::Centis;

mod run;

/// Something due at a virtual time.
enum Event {
    Advert {
        lan: usize,
        from: usize,
        to: usize,
        priority: u8,
    },
    Input {
        node: usize,
        /// The incarnation of the host that sent it: a dead process's orders die with it.
        epoch: u64,
        member: usize,
        input: Input,
    },
}

struct Host {
    /// Bumped by every restart.
    epoch: u64,
    routers: Vec<Router>,
    group: SyncGroup,
    alive: bool,
    /// Per member: the last advert heard from each other node, (priority, when).
    heard: Vec<BTreeMap<usize, (u8, Duration)>>,
}

/// The simulated hosts and LANs.
pub struct GroupSim {
    t0: Instant,
    now: Duration,
    interval: Centis,
    /// Priorities, `[node][member]`.
    priorities: Vec<Vec<u8>>,
    /// The members the group holds (every member at first).
    grouped: Vec<usize>,
    hosts: Vec<Host>,
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
    events: HashMap<u64, Event>,
    seq: u64,
    rng: u64,
    /// When the last order to each (host, member) arrives: orders keep their order.
    last_order: HashMap<(usize, usize), Duration>,
    /// Directed cuts: (lan, from, to).
    cut: BTreeSet<(usize, usize, usize)>,
    /// Chance an advert copy is lost, per mille.
    pub loss: u32,
    /// Upper bound of a copy's delay.
    pub max_delay: Duration,
    /// The group gate grants every request at once (the old rule, "the first member whose
    /// timer fires takes the group along"), to prove the properties catch it.
    pub eager: bool,
    /// Every transition: (when, node, member, transition).
    pub log: Vec<(Duration, usize, usize, Transition)>,
    /// Property violations seen so far.
    pub violations: Vec<String>,
}

fn member_name(k: usize) -> String {
    format!("m{k}")
}

/// Node `n`'s address on LAN `k`: every LAN orders the nodes alike.
fn addr(k: usize, n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, k as u8, 0, n as u8 + 1))
}

impl GroupSim {
    /// Hosts with `priorities[node][member]`, VRRPv3 at `interval`, preempt on.
    pub fn new(priorities: Vec<Vec<u8>>, interval: Centis, seed: u64) -> GroupSim {
        let mut sim = GroupSim {
            t0: Instant::now(),
            now: Duration::ZERO,
            interval,
            hosts: Vec::new(),
            grouped: (0..priorities[0].len()).collect(),
            priorities,
            queue: BinaryHeap::new(),
            events: HashMap::new(),
            seq: 0,
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            cut: BTreeSet::new(),
            last_order: HashMap::new(),
            loss: 0,
            max_delay: Duration::ZERO,
            eager: false,
            log: Vec::new(),
            violations: Vec::new(),
        };
        sim.hosts = (0..sim.priorities.len()).map(|n| sim.host(n)).collect();
        sim
    }

    /// The configuration of member `k` of host `n` as the file says now.
    fn config(&self, n: usize, k: usize) -> RouterConfig {
        let members: Vec<String> = self.grouped.iter().map(|&m| member_name(m)).collect();
        RouterConfig {
            advert_interval: self.interval,
            channel_names: vec![format!("lan{k}")].into(),
            sync_group: self.grouped.contains(&k).then(|| {
                Box::new(SyncMembership {
                    group: "lb".into(),
                    members,
                })
            }),
            vips: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + k as u8))].into(),
            ..RouterConfig::with_defaults(
                &member_name(k),
                50 + k as u8,
                Version::V3,
                self.priorities[n][k],
                addr(k, n),
            )
        }
    }

    fn group(&self) -> SyncGroup {
        SyncGroup::new("lb", self.grouped.iter().map(|&m| member_name(m)))
    }

    fn host(&self, n: usize) -> Host {
        let lans = self.priorities[n].len();
        Host {
            epoch: self.hosts.get(n).map_or(0, |h| h.epoch + 1),
            routers: (0..lans).map(|k| Router::new(self.config(n, k))).collect(),
            group: self.group(),
            alive: true,
            heard: vec![BTreeMap::new(); lans],
        }
    }

    /// Every host reloads a file whose group holds the members in `grouped` (the others
    /// leave it): the routers are reconfigured and each host's group task is rebuilt,
    /// seeded with its members' states, as the daemon does.
    pub fn regroup(&mut self, grouped: Vec<usize>) {
        self.grouped = grouped;
        for n in 0..self.nodes() {
            let mut group = self.group();
            for (k, r) in self.hosts[n].routers.iter().enumerate() {
                group.seed(&member_name(k), r.state());
            }
            let orders = group.reconcile();
            self.hosts[n].group = group;
            for k in 0..self.lans() {
                let config = self.config(n, k);
                self.input(n, k, Input::Configure(config.into()));
            }
            self.route(n, orders);
        }
    }

    /// The fault sources of member `k` of host `n`, as logs name them.
    pub fn faults(&self, n: usize, k: usize) -> Vec<String> {
        let r = &self.hosts[n].routers[k];
        r.faults().iter().map(ToString::to_string).collect()
    }

    /// The members in the group now.
    pub fn grouped(&self) -> &[usize] {
        &self.grouped
    }

    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Members per host (= LANs).
    pub fn lans(&self) -> usize {
        self.priorities[0].len()
    }

    /// Hosts.
    pub fn nodes(&self) -> usize {
        self.hosts.len()
    }

    /// Starts every member of every host.
    pub fn start_all(&mut self) {
        for n in 0..self.nodes() {
            for k in 0..self.lans() {
                self.input(n, k, Input::Start);
            }
        }
    }

    /// Kills host `n`: it says nothing more.
    pub fn crash(&mut self, n: usize) {
        self.hosts[n].alive = false;
    }

    /// Brings a crashed host back as a fresh process.
    pub fn restart(&mut self, n: usize) {
        if self.hosts[n].alive {
            return;
        }
        self.hosts[n] = self.host(n);
        for k in 0..self.lans() {
            self.input(n, k, Input::Start);
        }
    }

    /// Stops adverts of LAN `lan` from `from` to `to` (one way).
    pub fn cut_one_way(&mut self, lan: usize, from: usize, to: usize) {
        self.cut.insert((lan, from, to));
    }

    /// Heals every cut.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// The state of member `k` of host `n`.
    pub fn state(&self, n: usize, k: usize) -> State {
        self.hosts[n].routers[k].state()
    }

    /// The last `count` transitions, a line each, for failure messages.
    pub fn tail(&self, count: usize) -> String {
        let from = self.log.len().saturating_sub(count);
        self.log[from..]
            .iter()
            .map(|(at, n, k, t)| {
                format!("{at:?} host {n} m{k} {} -> {}: {}", t.from, t.to, t.reason)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Master_Down_Interval of the slowest member.
    pub fn master_down(&self) -> Duration {
        let low = self.priorities.iter().flatten().copied().min().unwrap_or(1);
        vipd::vrrp::timing::master_down_interval(Version::V3, low, self.interval, 3)
    }

    fn schedule(&mut self, at: Duration, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at.max(self.now), self.seq)));
        self.events.insert(self.seq, event);
    }

    fn next_u64(&mut self) -> u64 {
        super::net::splitmix64(&mut self.rng)
    }

    fn jitter(&mut self, max: Duration) -> Duration {
        let span = max.as_micros() as u64;
        Duration::from_micros(self.next_u64() % (span + 1))
    }
}
