//! The address worker: per instance, adds and removes its VIPs over netlink and sends the
//! announcements, in the order the router asked for them.
//!
//! Running it beside the router task keeps netlink round trips off the protocol path, and
//! the single queue keeps "add, then announce" ordered: an ARP never leaves before its
//! address is on the interface, and leaves right after it.
//!
//! A paced burst (`garp.arp_interval`, `garp.na_interval`) goes out from here too, between
//! operations: the worker waits for the next frame's time or the next operation, whichever
//! comes first, so a long burst delays no removal, and a removal ends the burst.
//!
//! The worker is a task only while it has something to do (see [`queue`]): between state
//! changes an instance's worker is its state and nothing more.

mod queue;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use tokio::time::Instant as TokioInstant;
use tracing::{debug, info, warn};

use super::driver::VipOp;
use crate::config::Vip;
use crate::net::announce::{self, Kind, Pacer, Pacing};
use crate::net::{Announcer, MacAddr, NetError, Netlink};

pub use queue::WorkQueue;
/// Errno values that mean "already as wanted".
const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;
const ENOENT: i32 = 2;

/// Where an instance's VIPs live.
#[derive(Clone, Debug)]
pub struct Target {
    /// Instance name, for logs (shared with the router's I/O).
    pub name: Arc<str>,
    /// Interface index of the VIPs.
    pub ifindex: u32,
    /// Interface name, for logs (shared with the status view).
    pub iface: Arc<str>,
    /// Source MAC of announcements.
    pub mac: MacAddr,
    /// Link-local source of unsolicited NAs.
    pub src_ll: Option<Ipv6Addr>,
    /// Announcements per VIP for a VIP a reload adds while held (the `garp.initial` burst).
    pub burst: u32,
}

/// An instance's address worker queue, as the router task and the supervisor hold it.
pub type VipQueue = WorkQueue<Worker<Kernel>>;

/// An idle address worker for `target`, holding `vips`, announcing with `announcer` and
/// pacing a reload's burst by `pacing` until the router's first announcement says otherwise.
pub fn queue(
    target: Target,
    pacing: Pacing,
    nl: Netlink,
    vips: Arc<[Vip]>,
    announcer: Announcer,
) -> VipQueue {
    WorkQueue::new(Worker::new(target, pacing, Kernel { nl, announcer }, vips))
}

/// What the worker does to the system: netlink for the addresses, a packet socket for the
/// announcements. A trait so the worker's ordering is tested without privileges.
pub trait Hands: Send + Sync + 'static {
    /// Adds `vip` to interface `ifindex`.
    fn add(&self, ifindex: u32, vip: &Vip) -> impl Future<Output = Result<(), NetError>> + Send;
    /// Removes `vip` from interface `ifindex`.
    fn remove(&self, ifindex: u32, vip: &Vip) -> impl Future<Output = Result<(), NetError>> + Send;
    /// Sends one announcement of `vip` from `mac` (an IPv6 VIP's NA from `src_ll`).
    fn announce(&self, mac: MacAddr, vip: IpAddr, src_ll: Option<Ipv6Addr>)
    -> Result<(), NetError>;
}

/// The real [`Hands`].
pub struct Kernel {
    nl: Netlink,
    announcer: Announcer,
}

impl Hands for Kernel {
    fn add(&self, ifindex: u32, vip: &Vip) -> impl Future<Output = Result<(), NetError>> + Send {
        self.nl.add_addr(ifindex, vip.addr, vip.label.as_deref())
    }
    fn remove(&self, ifindex: u32, vip: &Vip) -> impl Future<Output = Result<(), NetError>> + Send {
        self.nl.del_addr(ifindex, vip.addr)
    }
    fn announce(
        &self,
        mac: MacAddr,
        vip: IpAddr,
        src_ll: Option<Ipv6Addr>,
    ) -> Result<(), NetError> {
        self.announcer.send(mac, vip, src_ll, false)
    }
}

/// One instance's address worker: what it holds between operations.
pub struct Worker<H: Hands> {
    target: Target,
    hands: H,
    /// Shared with the instance's settings and status view.
    vips: Arc<[Vip]>,
    /// Whether the router last asked for the VIPs to be held: a reload's new VIPs are added
    /// only then.
    held: bool,
    /// Its pacing is the router's last announcement's, for the burst of a reload's new
    /// VIPs.
    queue: Pacer,
}

impl<H: Hands> Worker<H> {
    /// A worker that does not hold its VIPs yet; see [`queue`] for `pacing`.
    pub fn new(target: Target, pacing: Pacing, hands: H, vips: Arc<[Vip]>) -> Self {
        Worker {
            queue: Pacer::new(pacing),
            target,
            hands,
            vips,
            held: false,
        }
    }

    /// Whether it holds the VIPs, and which: what a worker must remember between tasks.
    #[cfg(test)]
    pub fn holding(&self) -> (bool, &[Vip]) {
        (self.held, &self.vips)
    }
}

impl<H: Hands> queue::Work for Worker<H> {
    type Op = VipOp;

    async fn run(&mut self, op: VipOp) {
        let target = &self.target;
        let hands = &self.hands;
        match op {
            VipOp::Add => {
                self.held = true;
                add(target, hands, &self.vips).await;
            }
            VipOp::Remove => {
                self.held = false;
                self.queue.clear();
                remove(target, hands, &self.vips).await;
            }
            VipOp::Announce { count, pacing } => {
                self.queue.push(&kinds(&self.vips), count as usize, pacing);
            }
            VipOp::Set { vips, src_ll } => self.set(vips, src_ll).await,
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.queue.next_due(now())
    }

    /// Frames due now (every frame of an unpaced burst) go before the next operation.
    fn tick(&mut self) {
        send_due(&self.target, &self.hands, &self.vips, &mut self.queue);
    }
}

impl<H: Hands> Worker<H> {
    async fn set(&mut self, new: Arc<[Vip]>, src_ll: Option<Ipv6Addr>) {
        let added: Vec<Vip> = new
            .iter()
            .filter(|v| !self.vips.contains(v))
            .cloned()
            .collect();
        let dropped: Vec<Vip> = self
            .vips
            .iter()
            .filter(|v| !new.contains(v))
            .cloned()
            .collect();
        self.vips = new;
        self.target.src_ll = src_ll;
        let t = &self.target;
        // The queued indices name the old list.
        self.queue.clear();
        if self.held {
            remove(t, &self.hands, &dropped).await;
            add(t, &self.hands, &added).await;
            if !added.is_empty() {
                let kinds = kinds(&self.vips);
                let pacing = self.queue.pacing();
                self.queue.push(&kinds, t.burst as usize, pacing);
            }
        }
    }
}

fn now() -> Instant {
    TokioInstant::now().into_std()
}

/// The kind of each VIP's announcement, in order: what the pacer's indices name.
fn kinds(vips: &[Vip]) -> Vec<Kind> {
    vips.iter()
        .map(|v| announce::kind_of(v.addr.addr()))
        .collect()
}

/// Sends the frames due now. After a failed send (a full transmit queue) the rest of this
/// moment's frames are dropped: they would fail too.
fn send_due(t: &Target, hands: &impl Hands, vips: &[Vip], queue: &mut Pacer) {
    let due = queue.take_due(now());
    if due.is_empty() {
        return;
    }
    let mut sent = 0;
    // An index from before the VIPs last changed names nothing: the queue is cleared then.
    for vip in due.into_iter().filter_map(|i| vips.get(i)) {
        match hands.announce(t.mac, vip.addr.addr(), t.src_ll) {
            Ok(()) => sent += 1,
            // A VIP that cannot be announced (an IPv6 one with no link-local source, which
            // start and reload refuse) costs only its own frame.
            Err(error @ NetError::Invalid { .. }) => {
                warn!(instance = %t.name, %error, "announcement failed")
            }
            Err(error) => {
                warn!(instance = %t.name, %error, "announcement failed");
                break;
            }
        }
    }
    debug!(instance = %t.name, sent, "gratuitous ARP / NA sent");
}

async fn add(t: &Target, hands: &impl Hands, vips: &[Vip]) {
    for vip in vips {
        let done = hands.add(t.ifindex, vip).await;
        report(t, vip, ("add", "added"), done, EEXIST);
    }
}

async fn remove(t: &Target, hands: &impl Hands, vips: &[Vip]) {
    for vip in vips {
        let done = match hands.remove(t.ifindex, vip).await {
            Err(e) if e.errno().map(|n| n as i32) == Some(ENOENT) => Ok(()),
            other => other,
        };
        report(t, vip, ("remove", "removed"), done, EADDRNOTAVAIL);
    }
}

fn report(
    t: &Target,
    vip: &Vip,
    (verb, done_verb): (&str, &str),
    done: Result<(), NetError>,
    benign: i32,
) {
    match done {
        Ok(()) => {
            info!(instance = %t.name, vip = %vip.addr, interface = %t.iface, "VIP {done_verb}")
        }
        Err(e) if e.errno().map(|n| n as i32) == Some(benign) => {
            debug!(instance = %t.name, vip = %vip.addr, "VIP {verb}: already done")
        }
        Err(error) => warn!(instance = %t.name, vip = %vip.addr, %error, "VIP {verb} failed"),
    }
}
