//! The Linux shell: raw VRRP sockets, netlink addresses and links, ARP/NA, macvlan.
//!
//! Everything here talks to the kernel of the current network namespace; nothing here
//! knows the VRRP rules. Sockets move bytes (the codec is `vrrp::packet`), netlink calls
//! return typed [`NetError`]s that name what was being done.

pub mod announce;
mod error;
pub mod macvlan;
pub mod netlink;
pub mod proc_connector;
pub mod serial_port;
pub mod sysctl;
pub mod tcp_socket;
pub mod udp_socket;
pub mod vrrp_socket;

pub use announce::Announcer;
pub use error::NetError;
pub use ipnet::IpNet;
pub use netlink::{Addr, Link, LinkEvent, LinkEvents, Netlink};
pub use pnet_base::MacAddr;
pub use udp_socket::UdpChannelSocket;
pub use vrrp_socket::{
    BATCH_SLOTS, QueueFill, Ready, RecvPacket, RoutineSocket, SendBatches, VrrpSocket,
};

/// The index of interface `name` in the current network namespace.
pub fn ifindex_by_name(name: &str) -> Result<u32, NetError> {
    match nix::net::if_::if_nametoindex(name) {
        Ok(i) => Ok(i),
        Err(nix::errno::Errno::ENODEV) => Err(NetError::InterfaceNotFound(name.to_owned())),
        Err(e) => Err(NetError::io(
            format!("looking up interface {name}"),
            e.into(),
        )),
    }
}
