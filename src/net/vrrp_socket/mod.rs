//! Raw VRRP sockets (IP protocol 112): they move bytes, the codec in `vrrp::packet` reads them.

mod arrival;
mod batch;
mod filter;
mod recv;
mod routine;
mod send;
mod setup;

pub use batch::SendBatches;
pub use filter::MOST_SOURCES;
pub use recv::BATCH_SLOTS;
use recv::RecvBatch;
pub use routine::{QueueFill, RoutineSocket};

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use socket2::Socket;
use tokio::io::Interest;
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};

use crate::net::{NetError, ifindex_by_name};
use crate::vrrp::Family;

/// The IP protocol number of VRRP.
pub const VRRP_PROTOCOL: i32 = 112;
/// The IPv4 multicast group of VRRP adverts.
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP adverts (link scope).
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// One packet as the kernel delivered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvPacket {
    /// IPv4: the whole IP datagram, header included (the codec reads TTL and IHL from it).
    /// IPv6: the VRRP message only; the kernel strips the IPv6 header from raw sockets.
    pub data: Vec<u8>,
    /// The sender's address.
    pub src: IpAddr,
    /// The destination address of the packet (the group for multicast adverts); for IPv4
    /// from the header, 0.0.0.0 if the datagram is too short to hold one.
    pub dst: IpAddr,
    /// The interface the packet arrived on.
    pub ifindex: u32,
    /// The IPv4 TTL (from the header) or IPv6 hop limit (from ancillary data, the only way
    /// to see it).
    pub hop_limit: u8,
    /// The packet was longer than the receive buffer and `data` holds only its start.
    pub truncated: bool,
    /// When it arrived: the kernel's receive stamp where the socket asks for one, else when
    /// it was read (see `arrival`).
    pub arrived: Instant,
}

/// A raw VRRP socket on one interface, for one address family.
///
/// Multicast adverts go to 224.0.0.18 / ff02::12 with TTL (hop limit) 255; `send_to` a
/// peer's unicast address works on the same socket. Multicast loopback is off, so the
/// socket does not hear its own adverts; a peer sending with one of our addresses (or a
/// second instance on the same host) is visible through [`VrrpSocket::local_addrs`].
#[derive(Debug)]
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    family: Family,
    ifname: String,
    ifindex: u32,
    src: Option<IpAddr>,
}

impl VrrpSocket {
    /// Opens the IPv4 socket on `ifname`.
    ///
    /// `src` is the source address of every packet sent; `None` lets the kernel pick the
    /// interface's primary address. The socket is not `bind`ed to it, because a raw socket
    /// bound to an address only receives packets *to* that address, not to the group.
    pub fn open_v4(ifname: &str, src: Option<Ipv4Addr>) -> Result<Self, NetError> {
        let ifindex = ifindex_by_name(ifname)?;
        let sock = setup::open_v4(ifname, ifindex)?;
        Self::wrap(sock, Family::V4, ifname, ifindex, src.map(IpAddr::V4))
    }

    /// Opens the IPv6 socket on `ifname`, sending from `src_ll`, or when `None` from the
    /// interface's link-local address (RFC 9568 §5.1.2.2 requires a link-local source).
    ///
    /// The source is set per packet (`IPV6_PKTINFO`) rather than by `bind`, for the same
    /// reason as in [`VrrpSocket::open_v4`]: a bound raw socket would no longer receive
    /// unicast adverts sent to the interface's other addresses. The link-local address must
    /// have finished duplicate address detection: the kernel refuses a tentative source.
    pub fn open_v6(ifname: &str, src_ll: Option<Ipv6Addr>) -> Result<Self, NetError> {
        let ifindex = ifindex_by_name(ifname)?;
        let src = match src_ll {
            Some(a) => a,
            None => link_local_of(ifname)?,
        };
        let sock = setup::open_v6(ifname, ifindex)?;
        Self::wrap(sock, Family::V6, ifname, ifindex, Some(IpAddr::V6(src)))
    }

    fn wrap(
        sock: Socket,
        family: Family,
        ifname: &str,
        ifindex: u32,
        src: Option<IpAddr>,
    ) -> Result<Self, NetError> {
        // Readable only: sends never wait for room (`try_send_to`), and a socket polled for
        // writability wakes the thread after every advert sent, when the kernel frees it.
        // SAFETY: `Socket` owns its descriptor, keeps it open until it is dropped together
        // with the `AsyncFd`, and always returns that same descriptor from `as_raw_fd`.
        let fd =
            unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }.map_err(|e| {
                NetError::io(
                    format!("registering the VRRP socket of {ifname}"),
                    e.into_parts().1,
                )
            })?;
        Ok(VrrpSocket {
            fd,
            family,
            ifname: ifname.to_owned(),
            ifindex,
            src,
        })
    }

    /// The address family of this socket.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The source address set on sent packets, if one was chosen.
    pub fn src(&self) -> Option<IpAddr> {
        self.src
    }

    /// The VRRP multicast group of this socket's family.
    pub fn group(&self) -> IpAddr {
        match self.family {
            Family::V4 => IpAddr::V4(VRRP_GROUP_V4),
            Family::V6 => IpAddr::V6(VRRP_GROUP_V6),
        }
    }

    /// The addresses of this socket's family currently on its interface, read afresh.
    /// A received advert from one of these is our own (or a sibling instance's) and is
    /// to be dropped before it reaches the state machine.
    pub fn local_addrs(&self) -> io::Result<Vec<IpAddr>> {
        interface_addrs(&self.ifname, self.family)
    }

    fn bound(&self) -> recv::Bound {
        recv::Bound {
            family: self.family,
            ifindex: self.ifindex,
        }
    }

    /// Waits for the next packet.
    pub async fn recv(&self) -> io::Result<RecvPacket> {
        self.fd
            .async_io(Interest::READABLE, |s| {
                recv::recv_now(s.as_raw_fd(), self.bound())
            })
            .await
    }

    /// Waits until packets are queued, reads up to [`BATCH_SLOTS`] of them with one system
    /// call and hands them to `each`, in the order they arrived. Returns how many it read.
    /// `floor`: when the socket was last found empty (see [`RecvPacket::arrived`]).
    pub async fn recv_each(
        &self,
        floor: Instant,
        mut each: impl FnMut(&[io::Result<RecvPacket>]),
    ) -> io::Result<usize> {
        loop {
            if let Some(read) = self.ready().await?.read_each(floor, &mut each)? {
                return Ok(read);
            }
        }
    }

    /// Waits until the poller reports packets queued.
    pub async fn ready(&self) -> io::Result<Ready<'_>> {
        Ok(Ready {
            guard: self.fd.readable().await?,
            bound: self.bound(),
        })
    }

    /// A socket beside this one for the routine adverts of the Masters its Backups follow
    /// (see `filter`): none until [`RoutineSocket::follow`] names them, and this socket
    /// receives everything until then. Both stamp what they receive.
    pub fn split_off_routine(&self) -> Result<RoutineSocket, NetError> {
        let routine = RoutineSocket::open(&self.ifname, self.ifindex, self.family)?;
        routine::stamp_arrivals(self.fd.get_ref(), &self.ifname)?;
        Ok(routine)
    }

    /// Has this socket keep everything but the routine adverts of `sources`.
    fn leave_routine(&self, sources: &[IpAddr]) -> io::Result<()> {
        self.fd
            .get_ref()
            .attach_filter(&filter::others(self.family, sources))
    }

    /// Sends `payload` to `dst` now, without waiting: the router task calls this on the
    /// protocol path, where waiting for writability would delay its timers. A full socket
    /// buffer is an error (`WouldBlock`) for the caller to count.
    pub fn try_send_to(&self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        let sent = send::send_one(self.as_raw_fd(), payload, self.addressing(dst)?)?;
        send::whole(sent, payload.len())
    }

    /// Where a datagram to `dst` goes, and the source it leaves from.
    fn addressing(&self, dst: IpAddr) -> io::Result<send::Addressing> {
        match (dst, self.src) {
            (IpAddr::V4(dst), src) if self.family == Family::V4 => {
                // IP_PKTINFO picks the source per packet; an unspecified source lets the
                // kernel choose the interface's primary address.
                let src = match src {
                    Some(IpAddr::V4(s)) => s,
                    _ => Ipv4Addr::UNSPECIFIED,
                };
                Ok(send::Addressing::v4(dst, src, self.ifindex))
            }
            (IpAddr::V6(dst), Some(IpAddr::V6(src))) if self.family == Family::V6 => {
                let scope = if setup::needs_scope(&dst) {
                    self.ifindex
                } else {
                    0
                };
                Ok(send::Addressing::v6(dst, scope, src, self.ifindex))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot send to {dst} on the {} VRRP socket of {}",
                    self.family, self.ifname
                ),
            )),
        }
    }
}

/// Packets the poller reported queued on a socket.
pub struct Ready<'a> {
    guard: AsyncFdReadyGuard<'a, Socket>,
    bound: recv::Bound,
}

impl Ready<'_> {
    /// Reads up to [`BATCH_SLOTS`] queued datagrams with one system call and hands them to
    /// `each`, in the order they arrived; `None` if none was queued after all.
    ///
    /// The buffers are the thread's, lent for the call (see `RecvBatch::lend`): every
    /// receive loop of the daemon runs on its one runtime thread and reads between two
    /// waits, never during one, so one set of buffers serves them all.
    pub fn read_each(
        mut self,
        floor: Instant,
        each: &mut (impl FnMut(&[io::Result<RecvPacket>]) + ?Sized),
    ) -> io::Result<Option<usize>> {
        let bound = self.bound;
        RecvBatch::lend(|batch| {
            let n = match self
                .guard
                .try_io(|s| batch.fill(s.as_raw_fd(), bound, floor))
            {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
                // WouldBlock: `try_io` cleared the readiness; wait for the next packet.
                Err(_) => return Ok(None),
            };
            // `recvmmsg` with MSG_DONTWAIT stops early only when the queue ran dry, or on
            // an error, which the kernel keeps for the next call (no packet is lost). So a
            // short batch proves the socket drained: clear its readiness now rather than
            // pay one more call that ends in EAGAIN. A packet that arrived since is a new
            // edge of the edge-triggered poller, and tokio does not clear a readiness
            // newer than the one this guard saw.
            if n < BATCH_SLOTS {
                self.guard.clear_ready();
            }
            each(batch.packets());
            Ok(Some(n))
        })
    }
}

impl AsRawFd for VrrpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.get_ref().as_raw_fd()
    }
}

/// The addresses of `family` on interface `ifname`.
fn interface_addrs(ifname: &str, family: Family) -> io::Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs()? {
        if ifa.interface_name != ifname {
            continue;
        }
        let Some(addr) = ifa.address else { continue };
        match family {
            Family::V4 => out.extend(addr.as_sockaddr_in().map(|s| IpAddr::V4(s.ip()))),
            Family::V6 => out.extend(addr.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip()))),
        }
    }
    Ok(out)
}

fn link_local_of(ifname: &str) -> Result<Ipv6Addr, NetError> {
    let what = || format!("finding the IPv6 link-local address of {ifname}");
    interface_addrs(ifname, Family::V6)
        .map_err(|e| NetError::io(what(), e))?
        .into_iter()
        .find_map(|a| match a {
            IpAddr::V6(a) if a.is_unicast_link_local() => Some(a),
            _ => None,
        })
        .ok_or_else(|| NetError::Invalid {
            what: what(),
            reason: "the interface has none (is IPv6 disabled on it?)".into(),
        })
}
