//! A stream of interface up/down changes, from the kernel's RTNLGRP_LINK multicast group.

use std::collections::HashMap;

use futures::channel::mpsc::UnboundedReceiver;
use futures::{StreamExt, TryStreamExt};
use rtnetlink::MulticastGroup;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::LinkMessage;
use rtnetlink::sys::SocketAddr;
use tokio::task::JoinHandle;

use super::Link;
use crate::net::NetError;

/// An interface became usable or stopped being usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkEvent {
    /// The interface index.
    pub index: u32,
    /// The interface name.
    pub name: String,
    /// Administratively and operationally up; `false` also when the interface was deleted.
    pub up: bool,
}

/// Subscription to link changes in the current network namespace.
///
/// The kernel sends a link message for many reasons (MTU, addresses, statistics flags);
/// this yields an event only when an interface's usability (`up && oper_up`) changes, or
/// when an interface appears or disappears.
#[derive(Debug)]
pub struct LinkEvents {
    rx: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    known: HashMap<u32, bool>,
    task: JoinHandle<()>,
}

impl LinkEvents {
    /// Subscribes, then reads the current state of every interface, so the first event for
    /// an interface is a real change and nothing between the two steps is missed.
    pub async fn subscribe() -> Result<Self, NetError> {
        let (conn, handle, rx) = rtnetlink::new_multicast_connection(&[MulticastGroup::Link])
            .map_err(|e| NetError::io("subscribing to netlink link events", e))?;
        let task = tokio::spawn(conn);
        let current: Vec<LinkMessage> = handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetError::netlink("listing interfaces for link events", e))?;
        let known = current
            .iter()
            .map(|m| {
                let l = Link::from_message(m);
                (l.index, l.usable())
            })
            .collect();
        Ok(LinkEvents { rx, known, task })
    }

    /// The next change; `None` if the netlink socket closed.
    pub async fn next(&mut self) -> Option<LinkEvent> {
        while let Some((msg, _)) = self.rx.next().await {
            if let Some(ev) = self.digest(msg) {
                return Some(ev);
            }
        }
        None
    }

    fn digest(&mut self, msg: NetlinkMessage<RouteNetlinkMessage>) -> Option<LinkEvent> {
        let NetlinkPayload::InnerMessage(inner) = msg.payload else {
            return None;
        };
        let (link, up) = match inner {
            RouteNetlinkMessage::NewLink(m) => {
                let l = Link::from_message(&m);
                let up = l.usable();
                (l, up)
            }
            RouteNetlinkMessage::DelLink(m) => {
                let l = Link::from_message(&m);
                // An interface we never saw come up or down needs no "down" event.
                self.known.remove(&l.index)?;
                return Some(LinkEvent {
                    index: l.index,
                    name: l.name,
                    up: false,
                });
            }
            _ => return None,
        };
        if self.known.insert(link.index, up) == Some(up) {
            return None;
        }
        Some(LinkEvent {
            index: link.index,
            name: link.name,
            up,
        })
    }
}

impl Drop for LinkEvents {
    fn drop(&mut self) {
        // The connection task holds the socket; without this it would outlive us.
        self.task.abort();
    }
}
