//! The address worker: one task per instance that adds and removes its VIPs over netlink and
//! sends the announcements, in the order the router asked for them.
//!
//! Running it beside the router task keeps netlink round trips off the protocol path, and
//! the single queue keeps "add, then announce" ordered: an ARP never leaves before its
//! address is on the interface, and leaves right after it.
//!
//! A paced burst (`garp.arp_interval`, `garp.na_interval`) goes out from here too, between
//! operations: the worker waits for the next frame's time or the next operation, whichever
//! comes first, so a long burst delays no removal, and a removal ends the burst.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Instant;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant as TokioInstant;
use tracing::{debug, info, warn};

use super::driver::VipOp;
use crate::config::Vip;
use crate::net::announce::{Pacer, Pacing};
use crate::net::{Announcer, MacAddr, NetError, Netlink};

/// Errno values that mean "already as wanted".
const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;
const ENOENT: i32 = 2;

/// Where an instance's VIPs live.
#[derive(Clone, Debug)]
pub struct Target {
    /// Instance name, for logs.
    pub name: String,
    /// Interface index of the VIPs.
    pub ifindex: u32,
    /// Interface name, for logs.
    pub iface: String,
    /// Source MAC of announcements.
    pub mac: MacAddr,
    /// Link-local source of unsolicited NAs.
    pub src_ll: Option<Ipv6Addr>,
    /// Announcements per VIP for a VIP a reload adds while held (the `garp.initial` burst).
    pub burst: u32,
    /// The pacing of that burst, until the router's first announcement says otherwise.
    pub pacing: Pacing,
}

/// Carries out `ops` until the queue closes.
pub async fn run(
    target: Target,
    nl: Netlink,
    mut vips: Vec<Vip>,
    mut announcer: Announcer,
    mut ops: UnboundedReceiver<VipOp>,
) {
    // Whether the router last asked for the VIPs to be held: a reload's new VIPs are added
    // only then.
    let mut held = false;
    let mut queue = Pacer::default();
    let mut pacing = target.pacing;
    loop {
        let next = queue.next_due(now()).map(TokioInstant::from_std);
        let op = tokio::select! {
            op = ops.recv() => match op {
                Some(op) => op,
                None => break,
            },
            _ = tokio::time::sleep_until(next.unwrap_or_else(TokioInstant::now)), if next.is_some() => {
                send_due(&target, &announcer, &mut queue);
                continue;
            }
        };
        match op {
            VipOp::Add => {
                held = true;
                add(&target, &nl, &vips).await;
            }
            VipOp::Remove => {
                held = false;
                queue.clear();
                remove(&target, &nl, &vips).await;
            }
            VipOp::Announce { count, pacing: p } => {
                pacing = p;
                queue.push(&announcer.kinds(), count as usize, pacing);
            }
            VipOp::Set(new) => {
                let added: Vec<Vip> = new.iter().filter(|v| !vips.contains(v)).cloned().collect();
                let dropped: Vec<Vip> = vips.iter().filter(|v| !new.contains(v)).cloned().collect();
                vips = new;
                let addrs: Vec<IpAddr> = vips.iter().map(|v| v.addr.addr()).collect();
                // The queued indices name the old frames.
                queue.clear();
                if let Err(error) = announcer.set_vips(target.mac, &addrs, target.src_ll, false) {
                    warn!(instance = %target.name, %error, "announcements for the new VIPs");
                }
                if held {
                    remove(&target, &nl, &dropped).await;
                    add(&target, &nl, &added).await;
                    if !added.is_empty() {
                        queue.push(&announcer.kinds(), target.burst as usize, pacing);
                    }
                }
            }
        }
        // Frames due now (every frame of an unpaced burst) go before the next operation.
        send_due(&target, &announcer, &mut queue);
    }
}

fn now() -> Instant {
    TokioInstant::now().into_std()
}

/// Sends the frames due now. After a failure (a full transmit queue) the rest of this
/// moment's frames are dropped: they would fail too.
fn send_due(t: &Target, announcer: &Announcer, queue: &mut Pacer) {
    let due = queue.take_due(now());
    if due.is_empty() {
        return;
    }
    let mut sent = 0;
    for index in due {
        match announcer.send(index) {
            Ok(()) => sent += 1,
            Err(error) => {
                warn!(instance = %t.name, %error, "announcement failed");
                break;
            }
        }
    }
    debug!(instance = %t.name, sent, "gratuitous ARP / NA sent");
}

async fn add(t: &Target, nl: &Netlink, vips: &[Vip]) {
    for vip in vips {
        let done = nl.add_addr(t.ifindex, vip.addr, vip.label.as_deref()).await;
        report(t, vip, ("add", "added"), done, EEXIST);
    }
}

async fn remove(t: &Target, nl: &Netlink, vips: &[Vip]) {
    for vip in vips {
        let done = match nl.del_addr(t.ifindex, vip.addr).await {
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
