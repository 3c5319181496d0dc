//! Opening and configuring the raw VRRP sockets (protocol 112), one per interface and family.

use std::ffi::c_void;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

use super::{VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_PROTOCOL};
use crate::net::NetError;

/// TTL / hop limit of every VRRP packet: receivers drop adverts with anything else
/// (RFC 9568 §5.1.1.3 and §5.1.2.3), which proves the sender is on the link.
const VRRP_TTL: u32 = 255;

/// IP precedence 6 ("internetwork control"), as keepalived and FRR send adverts, so that
/// switches with QoS queue them ahead of data.
const VRRP_TOS: u32 = 0xC0;

/// Opens an IPv4 raw VRRP socket bound to `ifname`, joined to 224.0.0.18 on `ifindex`.
///
/// The kernel builds the IP header (no `IP_HDRINCL`): TTL, TOS and the source address come
/// from socket options and per-packet `IP_PKTINFO`, so the codec only produces the VRRP
/// message, and the kernel fills in the IP ID, total length and header checksum.
pub(super) fn open_v4(ifname: &str, ifindex: u32) -> Result<Socket, NetError> {
    let what = |step: &str| format!("{step} on the IPv4 VRRP socket of {ifname}");
    let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(VRRP_PROTOCOL)))
        .map_err(|e| NetError::socket(format!("opening an IPv4 VRRP socket on {ifname}"), e))?;
    bind_to_device(&sock, ifname).map_err(|e| NetError::socket(what("SO_BINDTODEVICE"), e))?;
    let index = socket2::InterfaceIndexOrAddress::Index(ifindex);
    sock.join_multicast_v4_n(&VRRP_GROUP_V4, &index)
        .map_err(|e| NetError::io(what("joining 224.0.0.18"), e))?;
    // Without this a raw socket also sees groups that other sockets on the host joined.
    sock.set_multicast_all_v4(false)
        .map_err(|e| NetError::io(what("IP_MULTICAST_ALL"), e))?;
    set_multicast_if_index_v4(&sock, ifindex)
        .map_err(|e| NetError::io(what("IP_MULTICAST_IF"), e))?;
    sock.set_multicast_ttl_v4(VRRP_TTL)
        .map_err(|e| NetError::io(what("IP_MULTICAST_TTL"), e))?;
    sock.set_ttl_v4(VRRP_TTL)
        .map_err(|e| NetError::io(what("IP_TTL"), e))?;
    sock.set_tos_v4(VRRP_TOS)
        .map_err(|e| NetError::io(what("IP_TOS"), e))?;
    // Our own adverts must not come back to us as if a peer had sent them.
    sock.set_multicast_loop_v4(false)
        .map_err(|e| NetError::io(what("IP_MULTICAST_LOOP"), e))?;
    // No IP_PKTINFO or IP_RECVTTL: a raw IPv4 socket receives the IP header, which holds
    // the destination and TTL, and the socket is bound to its interface. (Sending with an
    // IP_PKTINFO control message needs no option.)
    sock.set_nonblocking(true)
        .map_err(|e| NetError::io(what("O_NONBLOCK"), e))?;
    Ok(sock)
}

/// Opens an IPv6 raw VRRP socket bound to `ifname`, joined to ff02::12 on `ifindex`.
///
/// `IPV6_CHECKSUM` stays off: the kernel only computes checksums for protocols it knows,
/// and the VRRP checksum (with the pseudo-header) is the codec's job.
pub(super) fn open_v6(ifname: &str, ifindex: u32) -> Result<Socket, NetError> {
    let what = |step: &str| format!("{step} on the IPv6 VRRP socket of {ifname}");
    let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(VRRP_PROTOCOL)))
        .map_err(|e| NetError::socket(format!("opening an IPv6 VRRP socket on {ifname}"), e))?;
    bind_to_device(&sock, ifname).map_err(|e| NetError::socket(what("SO_BINDTODEVICE"), e))?;
    sock.join_multicast_v6(&VRRP_GROUP_V6, ifindex)
        .map_err(|e| NetError::io(what("joining ff02::12"), e))?;
    sock.set_multicast_all_v6(false)
        .map_err(|e| NetError::io(what("IPV6_MULTICAST_ALL"), e))?;
    sock.set_multicast_if_v6(ifindex)
        .map_err(|e| NetError::io(what("IPV6_MULTICAST_IF"), e))?;
    sock.set_multicast_hops_v6(VRRP_TTL)
        .map_err(|e| NetError::io(what("IPV6_MULTICAST_HOPS"), e))?;
    sock.set_unicast_hops_v6(VRRP_TTL)
        .map_err(|e| NetError::io(what("IPV6_UNICAST_HOPS"), e))?;
    sock.set_multicast_loop_v6(false)
        .map_err(|e| NetError::io(what("IPV6_MULTICAST_LOOP"), e))?;
    // An IPv6 raw socket never sees the IP header, so the hop limit and the destination
    // must come as ancillary data.
    setsockopt(&sock, sockopt::Ipv6RecvHopLimit, &true)
        .map_err(|e| NetError::io(what("IPV6_RECVHOPLIMIT"), e.into()))?;
    setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true)
        .map_err(|e| NetError::io(what("IPV6_RECVPKTINFO"), e.into()))?;
    sock.set_nonblocking(true)
        .map_err(|e| NetError::io(what("O_NONBLOCK"), e))?;
    Ok(sock)
}

fn bind_to_device(sock: &Socket, ifname: &str) -> io::Result<()> {
    sock.bind_device(Some(ifname.as_bytes()))
}

/// `IP_MULTICAST_IF` by interface index (`struct ip_mreqn`), which socket2 only offers by
/// address; an index keeps working when the interface has no IPv4 address yet.
fn set_multicast_if_index_v4(sock: &Socket, ifindex: u32) -> io::Result<()> {
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr {
            s_addr: u32::from(Ipv4Addr::UNSPECIFIED).to_be(),
        },
        imr_ifindex: i32::try_from(ifindex)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
    };
    // SAFETY: `mreqn` is a valid `ip_mreqn` that outlives the call, and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&raw const mreqn).cast::<c_void>(),
            mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Is `addr` link-scoped, so that sending to it needs the interface as scope id?
pub(super) fn needs_scope(addr: &Ipv6Addr) -> bool {
    addr.is_unicast_link_local() || (addr.is_multicast() && (addr.segments()[0] & 0x000f) <= 2)
}

#[cfg(test)]
mod tests {
    use super::needs_scope;

    #[test]
    fn link_scoped_destinations_need_the_interface() {
        for a in ["fe80::1", "ff02::12", "ff01::1"] {
            assert!(needs_scope(&a.parse().unwrap()), "{a}");
        }
        for a in ["2001:db8::1", "ff05::12", "ff0e::1"] {
            assert!(!needs_scope(&a.parse().unwrap()), "{a}");
        }
    }
}
