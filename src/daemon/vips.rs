//! The address worker: one task per instance that adds and removes its VIPs over netlink and
//! sends the announcements, in the order the router asked for them.
//!
//! Running it beside the router task keeps netlink round trips off the protocol path, and
//! the single queue keeps "add, then announce" ordered: an ARP never leaves before its
//! address is on the interface, and leaves right after it.

use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{debug, info, warn};

use super::driver::VipOp;
use crate::config::Vip;
use crate::net::{Announcer, NetError, Netlink};

/// Errno values that mean "already as wanted".
const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;
const ENOENT: i32 = 2;

/// Carries out `ops` until the queue closes.
pub async fn run(
    name: String,
    nl: Netlink,
    ifindex: u32,
    iface: String,
    vips: Vec<Vip>,
    announcer: Announcer,
    mut ops: UnboundedReceiver<VipOp>,
) {
    while let Some(op) = ops.recv().await {
        match op {
            VipOp::Add => {
                for vip in &vips {
                    let done = nl.add_addr(ifindex, vip.addr, vip.label.as_deref()).await;
                    report(&name, &iface, vip, "added", done, EEXIST);
                }
            }
            VipOp::Remove => {
                for vip in &vips {
                    let done = nl.del_addr(ifindex, vip.addr).await;
                    let done = match done {
                        Err(e) if e.errno().map(|n| n as i32) == Some(ENOENT) => Ok(()),
                        other => other,
                    };
                    report(&name, &iface, vip, "removed", done, EADDRNOTAVAIL);
                }
            }
            VipOp::Announce(count) => match announcer.announce(count as usize) {
                Ok(sent) => debug!(instance = %name, sent, "gratuitous ARP / NA sent"),
                Err(error) => warn!(instance = %name, %error, "announcement failed"),
            },
        }
    }
}

/// Logs the outcome of adding or removing one VIP; `done` is "added" or "removed".
fn report(
    name: &str,
    iface: &str,
    vip: &Vip,
    done: &str,
    result: Result<(), NetError>,
    benign: i32,
) {
    match result {
        Ok(()) => info!(instance = name, vip = %vip.addr, interface = iface, "VIP {done}"),
        Err(e) if e.errno().map(|n| n as i32) == Some(benign) => {
            debug!(instance = name, vip = %vip.addr, "VIP already {done}")
        }
        Err(error) => warn!(instance = name, vip = %vip.addr, %error, "VIP not {done}"),
    }
}
