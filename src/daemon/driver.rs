//! The task that owns one virtual router: feeds it inputs and timer expiries, and hands its
//! actions to the outside world through [`RouterIo`].
//!
//! This is the only place where protocol time meets the tokio clock. Nothing here waits on
//! I/O: `RouterIo` implementations queue slow work (netlink, scripts) elsewhere, so an
//! advert or a timer is never delayed by it.

use std::time::Instant;

use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;

use super::wakeup::{Slack, Wakeup, advert_grid};

use std::net::IpAddr;

use crate::net::announce::Pacing;
use crate::vrrp::channels::HealthChange;
use crate::vrrp::router::{
    Action, GateKind, Input, Packet, Receipt, Router, Suppressed, Takeover, Transition,
};

/// What to do with the virtual addresses; queued to an address worker, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VipOp {
    /// Add every VIP, then announce it.
    Add,
    /// Remove every VIP.
    Remove,
    /// Send this many gratuitous ARPs / unsolicited NAs per VIP, paced as the router's
    /// configuration says at the time.
    Announce {
        /// Rounds over every VIP.
        count: u32,
        /// The least gaps between two frames of a kind.
        pacing: Pacing,
    },
    /// A reload changed the VIPs: while they are held, add the new ones (and announce them)
    /// and remove the dropped ones; the others stay untouched.
    Set(Vec<crate::config::Vip>),
}

/// One [`Action::AskGate`], as the shell answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateQuestion {
    /// The gate asked.
    pub gate: GateKind,
    /// The attempt its answer must name.
    pub attempt: u64,
    /// What kind of takeover it is.
    pub takeover: Takeover,
    /// The Master the takeover replaces, as last heard (what a fence fences).
    pub peer: Option<IpAddr>,
    /// An earlier gate of this attempt fenced `peer`.
    pub after_fence: bool,
}

/// The outside world of one router task. Every method must return at once. The methods the
/// router waits on (the gates) have no default body: an implementation that forgot one would
/// leave a takeover waiting for an answer nobody sends.
pub trait RouterIo: Send {
    /// Sends an advert with `priority` on every channel, now; its content (VIPs, interval)
    /// is the router's configuration.
    fn send_advert(&mut self, router: &Router, priority: u8);
    /// Queues an address operation.
    fn vips(&mut self, op: VipOp);
    /// Reports a state change (logs, notify, events).
    fn transition(&mut self, router: &Router, transition: &Transition);
    /// Asks a gate about a takeover attempt; the answer comes back as [`Input::Gate`].
    fn ask_gate(&mut self, router: &Router, question: GateQuestion);
    /// Takeover `attempt` no longer waits for `gate`.
    fn withdraw_gate(&mut self, gate: GateKind, attempt: u64);
    /// The router left Master under an arbiter: the lease goes back at once.
    fn release_lease(&mut self);
    /// The router refused its sync group's order to Master; the group must hear of it.
    fn sync_refused(&mut self);
    /// The router's fault sources changed (`router.faults()` has the new set). A sync group
    /// needs this even when the state did not change.
    fn faults_changed(&mut self, _router: &Router) {}
    /// Called after every input, to publish what changed (status views).
    fn after_input(&mut self, _router: &Router) {}
    /// A heartbeat channel was lost or recovered (`router.channel_health()` describes it).
    fn channel(&mut self, router: &Router, change: HealthChange);
    /// A limit held back an answer (counters).
    fn suppressed(&mut self, what: Suppressed);
    /// A received advert was judged (counters, logs).
    fn receipt(&mut self, router: &Router, channel: usize, from: IpAddr, receipt: Receipt);
}

/// The most queued packets read before a timer is served: what one inbox holds.
pub const PACKET_LANE: usize = 256;

/// A router task's two inboxes. Packets come from anyone on the network and may be dropped
/// when the lane is full (counted by the sender); control inputs (reloads, trackers, gates,
/// links, the group) come from this daemon, are never dropped, and are served before
/// packets, so a flood can neither crowd them out nor delay them.
pub struct Inbox {
    /// Inputs from the daemon itself.
    pub control: mpsc::Receiver<Box<Input>>,
    /// Received adverts, parsed, not yet judged (capacity [`PACKET_LANE`]).
    pub packets: mpsc::Receiver<Box<Packet>>,
}

/// Runs `router` until its control inbox closes or it has handled [`Input::Stop`]; returns
/// the I/O so the caller can wait for queued work to finish.
pub fn drive<I: RouterIo>(
    router: Router,
    inbox: Inbox,
    io: I,
    wakeup: Wakeup,
) -> impl Future<Output = I> + Send {
    // The router and its I/O live on the heap, once: an async fn keeps its arguments in its
    // future beside the locals they are moved into, and a router is a kilobyte; a thousand
    // instances each paid for it twice.
    serve(Box::new(Task { router, io }), inbox, wakeup)
}

async fn serve<I: RouterIo>(mut task: Box<Task<I>>, inbox: Inbox, mut wakeup: Wakeup) -> I {
    let Inbox {
        mut control,
        mut packets,
    } = inbox;
    let mut packets_open = true;
    loop {
        let deadline = task.router.next_deadline();
        let slack = slack(&task.router, deadline);
        let master_down = deadline.is_some() && task.router.deadlines().master_down == deadline;
        // Timers before control before packets: a flood of packets must not starve the
        // advert timer, and nothing from the network goes before the daemon's own inputs.
        tokio::select! {
            biased;
            () = wakeup.until(deadline, slack) => {
                if master_down {
                    // A Backup whose thread was held up (a loaded host) wakes with the
                    // Master's adverts still in the socket: the timerfd and the socket become
                    // ready in the same poll, in either order. Yielding lets the runtime poll
                    // its I/O driver and run the receive loops first (tokio runs a yielded
                    // task after the I/O woken in that poll), so the adverts reach the lane
                    // drained below. Only Master_Down pays for this, and it fires rarely.
                    tokio::task::yield_now().await;
                }
                // Read what is queued before acting on an expiry: a Backup that ran late must
                // not declare a Master down whose advert sits unread in its inbox. Bounded by
                // the lane's capacity, so the timer is served after at most that many.
                for _ in 0..PACKET_LANE {
                    let Ok(packet) = packets.try_recv() else { break };
                    task.handle(Input::Packet(packet));
                }
                task.handle(Input::Timer);
            }
            msg = control.recv() => match msg {
                Some(input) => {
                    let stopping = *input == Input::Stop;
                    task.handle(*input);
                    if stopping {
                        break;
                    }
                }
                None => break,
            },
            packet = packets.recv(), if packets_open => match packet {
                Some(packet) => task.handle(Input::Packet(packet)),
                None => packets_open = false,
            },
        }
    }
    task.io
}

/// How exactly `deadline`, the router's next, must be kept: a Master's next advert may wait
/// for the grid (see `wakeup`); nothing else may.
fn slack(router: &Router, deadline: Option<Instant>) -> Slack {
    if deadline.is_some() && router.deadlines().advert == deadline {
        Slack::Grid(advert_grid(router.config().advert_interval.as_duration()))
    } else {
        Slack::Exact
    }
}

/// A router and its outside world, inside the task.
struct Task<I> {
    router: Router,
    io: I,
}

impl<I: RouterIo> Task<I> {
    fn handle(&mut self, input: Input) {
        let Task { router, io } = self;
        // Received adverts and timers never change faults, and they are nearly every input:
        // only the rest pay for the comparison.
        let faults_before = (!matches!(input, Input::Advert(_) | Input::Packet(_) | Input::Timer))
            .then(|| router.faults());
        let now: Instant = TokioInstant::now().into_std();
        for action in router.handle(now, input) {
            match action {
                Action::SendAdvert { priority } => io.send_advert(router, priority),
                Action::AddVips => io.vips(VipOp::Add),
                Action::RemoveVips => io.vips(VipOp::Remove),
                Action::Announce { count } => {
                    let schedule = router.config().announce;
                    let pacing = Pacing {
                        arp: schedule.arp_interval,
                        na: schedule.na_interval,
                    };
                    io.vips(VipOp::Announce { count, pacing })
                }
                Action::Notify(t) => io.transition(router, &t),
                Action::AskGate {
                    gate,
                    attempt,
                    takeover,
                    peer,
                    after_fence,
                } => io.ask_gate(
                    router,
                    GateQuestion {
                        gate,
                        attempt,
                        takeover,
                        peer,
                        after_fence,
                    },
                ),
                Action::WithdrawGate { gate, attempt } => io.withdraw_gate(gate, attempt),
                Action::ReleaseLease => io.release_lease(),
                Action::RefuseSyncOrder { .. } => io.sync_refused(),
                Action::Channel(change) => io.channel(router, change),
                Action::Suppressed(what) => io.suppressed(what),
                Action::Receipt {
                    channel,
                    from,
                    receipt,
                } => io.receipt(router, channel, from, receipt),
            }
        }
        if faults_before.is_some_and(|before| before != router.faults()) {
            io.faults_changed(router);
        }
        io.after_input(router);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use super::*;
    use crate::daemon::router_inbox::RouterInbox;
    use crate::vrrp::Version;
    use crate::vrrp::router::{Advert, RouterConfig};
    use crate::vrrp::timing::Centis;

    #[derive(Default)]
    struct Recorder {
        log: Vec<(Duration, String)>,
        t0: Option<TokioInstant>,
    }

    impl Recorder {
        fn at(&self) -> Duration {
            TokioInstant::now() - self.t0.unwrap()
        }
    }

    impl RouterIo for Recorder {
        fn send_advert(&mut self, _: &Router, priority: u8) {
            self.log.push((self.at(), format!("advert {priority}")));
        }
        fn ask_gate(&mut self, _: &Router, q: GateQuestion) {
            self.log
                .push((self.at(), format!("ask {:?} {}", q.gate, q.attempt)));
        }
        fn withdraw_gate(&mut self, gate: GateKind, attempt: u64) {
            self.log
                .push((self.at(), format!("withdraw {gate:?} {attempt}")));
        }
        fn release_lease(&mut self) {
            self.log.push((self.at(), "release lease".into()));
        }
        fn sync_refused(&mut self) {
            self.log.push((self.at(), "sync refused".into()));
        }
        fn channel(&mut self, _: &Router, change: HealthChange) {
            self.log.push((self.at(), format!("{change:?}")));
        }
        fn suppressed(&mut self, what: Suppressed) {
            self.log.push((self.at(), format!("{what:?}")));
        }
        fn receipt(&mut self, _: &Router, _: usize, _: IpAddr, receipt: Receipt) {
            self.log.push((self.at(), format!("{receipt:?}")));
        }
        fn vips(&mut self, op: VipOp) {
            self.log.push((self.at(), format!("{op:?}")));
        }
        fn transition(&mut self, _: &Router, t: &Transition) {
            self.log
                .push((self.at(), format!("{} -> {}", t.from, t.to)));
        }
    }

    #[test]
    fn only_a_masters_advert_timer_may_wait_for_the_grid() {
        let t0 = Instant::now();
        let mut backup = router(100);
        backup.handle(t0, Input::Start);
        assert_eq!(slack(&backup, backup.next_deadline()), Slack::Exact);
        // Its Master_Down_Interval passes: it is Master, and its next deadline is an advert.
        let down = backup.next_deadline().unwrap();
        backup.handle(down, Input::Timer);
        assert_eq!(backup.state(), crate::vrrp::State::Master);
        let next = backup.next_deadline();
        assert_eq!(next, backup.deadlines().advert);
        // 100 ms adverts: a 10 ms grid.
        assert_eq!(slack(&backup, next), Slack::Grid(Duration::from_millis(10)));
    }

    /// An inbox whose packet lane nobody sends on.
    fn control_only(control: mpsc::Receiver<Box<Input>>) -> Inbox {
        Inbox {
            control,
            packets: mpsc::channel(1).1,
        }
    }

    fn router(priority: u8) -> Router {
        let v2 = crate::vrrp::router::tests::v2(priority);
        Router::new(RouterConfig {
            version: Version::V3,
            advert_interval: Centis::new(10),
            ..v2
        })
    }

    #[tokio::test(start_paused = true)]
    async fn backup_takes_over_on_the_tokio_clock_at_master_down_interval() {
        let (tx, rx) = RouterInbox::channel(8);
        let rec = Recorder {
            t0: Some(TokioInstant::now()),
            ..Recorder::default()
        };
        let task = tokio::spawn(drive(router(100), control_only(rx), rec, Wakeup::Tokio));
        tx.send(Input::Start).await.unwrap();
        // v3, 100 ms, priority 100: 3 * 100 ms + 60.9375 ms.
        tokio::time::sleep(Duration::from_millis(500)).await;
        tx.send(Input::Stop).await.unwrap();
        let rec = task.await.unwrap();
        let became_master = rec
            .log
            .iter()
            .find(|(_, e)| e == "BACKUP -> MASTER")
            .unwrap()
            .0;
        // tokio timers tick in whole milliseconds: 360.9375 ms fires at 361 ms.
        assert_eq!(became_master, Duration::from_millis(361));
        let events: Vec<&str> = rec.log.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(&events[..1], &["INIT -> BACKUP"]);
        assert!(
            events.ends_with(&["advert 0", "Remove", "MASTER -> INIT"]),
            "{events:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn adverts_from_a_higher_master_keep_the_backup_quiet() {
        let (tx, rx) = RouterInbox::channel(8);
        let rec = Recorder {
            t0: Some(TokioInstant::now()),
            ..Recorder::default()
        };
        let task = tokio::spawn(drive(router(100), control_only(rx), rec, Wakeup::Tokio));
        tx.send(Input::Start).await.unwrap();
        let advert = Advert {
            from: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            channel: 0,
            priority: 200,
            interval: Centis::new(10),
        };
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(Input::Advert(advert)).await.unwrap();
        }
        drop(tx);
        let rec = task.await.unwrap();
        let events: Vec<&str> = rec.log.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(events, ["INIT -> BACKUP"]);
    }

    /// The Master's advert as the receive loop queues it.
    fn queued_advert() -> Box<Packet> {
        use crate::vrrp::packet::{self, Auth, ChecksumKind, Received};
        let advert = packet::Advert {
            version: Version::V3,
            vrid: 51,
            priority: 200,
            interval: Centis::new(10),
            addresses: Vec::new(),
            auth: Auth::None,
        };
        Box::new(Packet {
            received: Received {
                advert,
                src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
                dst: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
                ttl: 255,
                checksum: ChecksumKind::V3Ipv4PseudoHeader,
            },
            channel: 0,
            arrival: crate::vrrp::router::Arrival::Multicast,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn an_advert_queued_when_the_down_timer_is_due_is_read_first() {
        let (control, control_rx) = RouterInbox::channel(8);
        let (packets, packets_rx) = mpsc::channel(PACKET_LANE);
        let mut r = router(100);
        r.handle(TokioInstant::now().into_std(), Input::Start);
        // The task runs late: by its first turn the down timer (360.9 ms) has passed, and the
        // Master's advert has been waiting in the lane.
        tokio::time::advance(Duration::from_millis(400)).await;
        packets.try_send(queued_advert()).unwrap();
        let rec = Recorder {
            t0: Some(TokioInstant::now()),
            ..Recorder::default()
        };
        let inbox = Inbox {
            control: control_rx,
            packets: packets_rx,
        };
        let task = tokio::spawn(drive(r, inbox, rec, Wakeup::Tokio));
        tokio::time::sleep(Duration::from_millis(100)).await;
        control.send(Input::Stop).await.unwrap();
        let rec = task.await.unwrap();
        let events: Vec<&str> = rec.log.iter().map(|(_, e)| e.as_str()).collect();
        assert!(!events.contains(&"BACKUP -> MASTER"), "{events:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_advert_read_by_the_receive_loop_in_the_same_turn_as_the_down_timer_counts() {
        let (control, control_rx) = RouterInbox::channel(8);
        let (packets, packets_rx) = mpsc::channel(PACKET_LANE);
        let mut r = router(100);
        let start = TokioInstant::now();
        r.handle(start.into_std(), Input::Start);
        let rec = Recorder {
            t0: Some(start),
            ..Recorder::default()
        };
        let inbox = Inbox {
            control: control_rx,
            packets: packets_rx,
        };
        // The router task waits first; a receive loop that finds the Master's advert becomes
        // ready in the same turn as the down timer (both at 361 ms on tokio's clock).
        let task = tokio::spawn(drive(r, inbox, rec, Wakeup::Tokio));
        tokio::task::yield_now().await;
        let receiver = tokio::spawn(async move {
            tokio::time::sleep_until(start + Duration::from_millis(361)).await;
            packets.try_send(queued_advert()).unwrap();
        });
        tokio::time::sleep(Duration::from_millis(400)).await;
        receiver.await.unwrap();
        control.send(Input::Stop).await.unwrap();
        let rec = task.await.unwrap();
        let events: Vec<&str> = rec.log.iter().map(|(_, e)| e.as_str()).collect();
        assert!(!events.contains(&"BACKUP -> MASTER"), "{events:?}");
    }
}
