//! Reading packets off a raw VRRP socket: one at a time (`recvmsg`) or a batch at a time
//! (`recvmmsg`), both turned into [`RecvPacket`]s by the same function.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

use nix::cmsg_space;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, MultiHeaders, RecvMsg, SockaddrStorage, recvmmsg, recvmsg,
};

use super::RecvPacket;
use crate::vrrp::Family;

/// Large enough for the biggest VRRP message (v3 with 255 IPv6 addresses: 4088 bytes, about
/// 4 KB) behind any IPv4 header, and for a whole jumbo frame (9000-byte MTU); anything longer
/// is flagged as truncated.
pub(super) const RECV_BUFFER: usize = 9216;

/// Datagrams one `recvmmsg` reads at most. A Master's adverts leave on a shared timer grid,
/// so a Backup of many instances finds them queued in bursts (50 instances: about 50 per
/// wake-up); 16 reads such a burst in a few calls while the buffers stay at 16 × 9 KB.
pub const BATCH_SLOTS: usize = 16;

/// Room for the control messages every packet carries: IP_PKTINFO or IPV6_PKTINFO (the
/// IPv6 one is the larger) and the TTL or hop limit.
fn cmsg_buffer() -> Vec<u8> {
    cmsg_space!(libc::in6_pktinfo, libc::c_int)
}

/// The buffers of [`super::VrrpSocket::recv_batch`] and the packets of its last call.
///
/// Made once per receive loop and reused: the 16 × 9 KB of buffers are one zeroed
/// allocation, whose pages the kernel maps only once a datagram has been written into them.
/// Adverts shorter than a page leave the first page of each slot resident: 64 KB of the
/// 144 KB per socket.
pub struct RecvBatch {
    buffers: Box<[u8]>,
    /// The packets of the last call are the first `len`; the rest are kept from earlier
    /// calls so that their `data` allocations are reused, not made anew for every advert.
    packets: Vec<io::Result<RecvPacket>>,
    len: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            buffers: vec![0; BATCH_SLOTS * RECV_BUFFER].into_boxed_slice(),
            packets: Vec::with_capacity(BATCH_SLOTS),
            len: 0,
        }
    }
}

impl RecvBatch {
    /// The datagrams of the last call, in the order they arrived. A datagram the kernel
    /// delivered without the ancillary data every packet must carry is an error item; its
    /// neighbours are unaffected.
    pub fn packets(&self) -> &[io::Result<RecvPacket>] {
        &self.packets[..self.len]
    }

    /// Reads up to [`BATCH_SLOTS`] queued datagrams with one `recvmmsg`, without waiting;
    /// `WouldBlock` when none is queued. Returns how many it read.
    pub(super) fn fill(&mut self, fd: RawFd, family: Family) -> io::Result<usize> {
        self.len = 0;
        let mut slots = self.buffers.chunks_exact_mut(RECV_BUFFER);
        let mut iovs: [[IoSliceMut<'_>; 1]; BATCH_SLOTS] = std::array::from_fn(|_| {
            let slot = slots.next().expect("the buffers hold BATCH_SLOTS slots");
            [IoSliceMut::new(slot)]
        });
        // The headers are made afresh for every call (about 4 KB, unlike the 144 KB of
        // buffers): the kernel overwrites each header's address and control lengths with
        // what it used, and nix's `recvmmsg` does not restore them, so reused headers would
        // offer later datagrams less room than `cmsg_buffer` and lose their control messages.
        let mut headers =
            MultiHeaders::<SockaddrStorage>::preallocate(BATCH_SLOTS, Some(cmsg_buffer()));
        let received = recvmmsg(
            fd,
            &mut headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        for msg in received {
            match self.packets.get_mut(self.len) {
                Some(slot) => {
                    let data = slot.as_mut().map(|p| std::mem::take(&mut p.data));
                    *slot = packet_of(&msg, family, data.unwrap_or_default());
                }
                None => self.packets.push(packet_of(&msg, family, Vec::new())),
            }
            self.len += 1;
        }
        Ok(self.len)
    }
}

/// Reads one queued datagram with `recvmsg`; `WouldBlock` when none is queued.
pub(super) fn recv_now(fd: RawFd, family: Family) -> io::Result<RecvPacket> {
    let mut buf = [0u8; RECV_BUFFER];
    let mut cmsg = cmsg_buffer();
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())?;
    packet_of(&msg, family, Vec::new())
}

/// One received datagram (its bytes, source address, control messages and flags) as a
/// [`RecvPacket`] whose bytes go into `data`; an error if the kernel left out the source,
/// the destination (pktinfo) or the TTL / hop limit.
fn packet_of(
    msg: &RecvMsg<'_, '_, SockaddrStorage>,
    family: Family,
    mut data: Vec<u8>,
) -> io::Result<RecvPacket> {
    data.clear();
    for part in msg.iovs() {
        data.extend_from_slice(part);
    }
    let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
    let src = msg
        .address
        .as_ref()
        .and_then(|a| match family {
            Family::V4 => a.as_sockaddr_in().map(|s| IpAddr::V4(s.ip())),
            Family::V6 => a.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())),
        })
        .ok_or_else(|| io::Error::other("received a packet without a source address"))?;
    let mut dst = None;
    let mut ifindex = 0;
    let mut hop_limit = None;
    for c in msg.cmsgs()? {
        match c {
            ControlMessageOwned::Ipv4PacketInfo(i) => {
                dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(i.ipi_addr.s_addr))));
                ifindex = i.ipi_ifindex as u32;
            }
            ControlMessageOwned::Ipv6PacketInfo(i) => {
                dst = Some(IpAddr::V6(Ipv6Addr::from(i.ipi6_addr.s6_addr)));
                ifindex = i.ipi6_ifindex;
            }
            ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                hop_limit = u8::try_from(t).ok();
            }
            _ => {}
        }
    }
    let (Some(dst), Some(hop_limit)) = (dst, hop_limit) else {
        return Err(io::Error::other(
            "received a packet without pktinfo or hop limit",
        ));
    };
    Ok(RecvPacket {
        data,
        src,
        dst,
        ifindex,
        hop_limit,
        truncated,
    })
}
