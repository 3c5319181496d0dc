//! Netlink (rtnetlink): interfaces, addresses, link events and virtual-MAC interfaces.

mod addr;
mod events;

use futures::TryStreamExt;
use rtnetlink::Handle;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};

use crate::net::{MacAddr, NetError};

pub use addr::Addr;
pub use events::{LinkEvent, LinkEvents};

/// One interface as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The interface index.
    pub index: u32,
    /// The interface name.
    pub name: String,
    /// The hardware address, for interfaces that have an Ethernet-sized one.
    pub mac: Option<MacAddr>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Operationally up (`IFF_RUNNING`: operstate UP, or UNKNOWN for drivers that do not
    /// report carrier, such as dummy and loopback).
    pub oper_up: bool,
}

impl Link {
    /// Up in both senses: usable for sending and receiving.
    pub fn usable(&self) -> bool {
        self.up && self.oper_up
    }

    pub(crate) fn from_message(msg: &LinkMessage) -> Self {
        let mut name = String::new();
        let mut mac = None;
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => name.clone_from(n),
                LinkAttribute::Address(a) => {
                    if let [a, b, c, d, e, f] = a[..] {
                        mac = Some(MacAddr::new(a, b, c, d, e, f));
                    }
                }
                _ => {}
            }
        }
        Link {
            index: msg.header.index,
            name,
            mac,
            up: msg.header.flags.contains(LinkFlags::Up),
            oper_up: msg.header.flags.contains(LinkFlags::Running),
        }
    }
}

/// A handle on the kernel's routing netlink socket of the current network namespace.
///
/// Cheap to clone; all clones share one socket, served by a task on the tokio runtime
/// that created it (the task ends when the last clone is dropped).
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens the netlink socket. Must be called inside a tokio runtime.
    pub fn new() -> Result<Self, NetError> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetError::io("opening a netlink socket", e))?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Looks up an interface by name; a missing one is [`NetError::InterfaceNotFound`].
    pub async fn link_by_name(&self, name: &str) -> Result<Link, NetError> {
        let req = self.handle.link().get().match_name(name.to_owned());
        match req.execute().try_next().await {
            Ok(Some(msg)) => Ok(Link::from_message(&msg)),
            Ok(None) => Err(NetError::InterfaceNotFound(name.to_owned())),
            Err(e) => match NetError::netlink(format!("looking up interface {name}"), e) {
                e if e.errno() == Some(nix::errno::Errno::ENODEV) => {
                    Err(NetError::InterfaceNotFound(name.to_owned()))
                }
                e => Err(e),
            },
        }
    }

    /// Looks up an interface by index; a missing one is [`NetError::IfIndexNotFound`].
    pub async fn link_by_index(&self, index: u32) -> Result<Link, NetError> {
        let req = self.handle.link().get().match_index(index);
        match req.execute().try_next().await {
            Ok(Some(msg)) => Ok(Link::from_message(&msg)),
            Ok(None) => Err(NetError::IfIndexNotFound(index)),
            Err(e) => match NetError::netlink(format!("looking up interface {index}"), e) {
                e if e.errno() == Some(nix::errno::Errno::ENODEV) => {
                    Err(NetError::IfIndexNotFound(index))
                }
                e => Err(e),
            },
        }
    }

    /// All interfaces of the namespace.
    pub async fn links(&self) -> Result<Vec<Link>, NetError> {
        let msgs: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetError::netlink("listing interfaces", e))?;
        Ok(msgs.iter().map(Link::from_message).collect())
    }

    /// The name of interface `index` for error messages; falls back to the number so a
    /// failing lookup never hides the original error.
    pub(crate) async fn describe(&self, index: u32) -> String {
        match self.link_by_index(index).await {
            Ok(link) => link.name,
            Err(_) => format!("interface {index}"),
        }
    }

    /// Deletes interface `index` (e.g. a macvlan vipd created).
    pub async fn delete_link(&self, index: u32) -> Result<(), NetError> {
        let name = self.describe(index).await;
        self.handle
            .link()
            .del(index)
            .execute()
            .await
            .map_err(|e| NetError::netlink(format!("deleting interface {name}"), e))
    }
}
