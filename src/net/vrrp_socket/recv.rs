//! Reading packets off a raw VRRP socket: one at a time (`recvmsg`) or a batch at a time
//! (`recvmmsg`), both turned into [`RecvPacket`]s by the same function.
//!
//! The message headers are libc's own, kept with the buffers, and their lengths reset before
//! every call: the kernel overwrites each header's address and control lengths with what it
//! used, so a header must be given its full room again, and nix's `recvmmsg` offers no way to
//! do that short of allocating its headers (three allocations and 3 KB zeroed) for every
//! wake-up.

use std::cell::Cell;
use std::io;
use std::mem::{MaybeUninit, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;
use std::ptr;
use std::time::Instant;

use super::RecvPacket;
use super::arrival::{ArrivalClock, timespec_ns};
use crate::vrrp::Family;
use crate::vrrp::packet;

/// Large enough for the biggest VRRP message (v3 with 255 IPv6 addresses: 4088 bytes, about
/// 4 KB) behind any IPv4 header, and for a whole jumbo frame (9000-byte MTU); anything longer
/// is flagged as truncated.
pub(super) const RECV_BUFFER: usize = 9216;

/// Datagrams one `recvmmsg` reads at most. A Master's adverts leave on a shared timer grid,
/// so a Backup of many instances finds them queued in bursts (50 instances: about 50 per
/// wake-up); 16 reads such a burst in a few calls while the buffers stay at 16 × 9 KB.
pub const BATCH_SLOTS: usize = 16;

/// Room for the control messages every IPv6 packet carries: IPV6_PKTINFO (40 bytes with its
/// header) and the hop limit (24 bytes); and the receive stamp (32 bytes), which sockets
/// that ask for it get in either family. IPv4 packets carry no other (see [`ipv4_header`]).
pub(super) const CONTROL_ROOM: usize = 96;

/// Where the kernel writes one datagram's source address (IPv6 only, see [`Meta::name_room`])
/// and control messages.
#[repr(C)]
#[derive(Clone, Copy)]
struct Meta {
    name: libc::sockaddr_storage,
    /// `cmsghdr` alignment: the control messages are read in place.
    control: Control,
}

/// Room for control messages, aligned as their headers must be.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub(super) struct Control(pub(super) [u8; CONTROL_ROOM]);

impl Default for Control {
    fn default() -> Self {
        Control([0; CONTROL_ROOM])
    }
}

impl Meta {
    fn zeroed() -> Self {
        // SAFETY: both fields are plain bytes for which all zeroes is a valid value.
        unsafe { std::mem::zeroed() }
    }

    /// A header that gives the kernel this slot's full room for a datagram of `family`, and
    /// `iov` for its bytes.
    fn header(&mut self, iov: &mut libc::iovec, family: Family) -> libc::msghdr {
        // SAFETY: all zeroes is a valid `msghdr` (null pointers, zero lengths); the fields
        // that matter are set below, and some libcs add padding fields.
        let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
        (h.msg_name, h.msg_namelen) = self.name_room(family);
        h.msg_iov = iov;
        h.msg_iovlen = 1;
        h.msg_control = self.control.0.as_mut_ptr().cast();
        h.msg_controllen = CONTROL_ROOM as _;
        h
    }

    /// Where the kernel is to write the source address of a datagram of `family`: nowhere
    /// for IPv4, whose source the IP header holds (copying it out again was about 3 % of a
    /// Backup's time at 5,000 adverts a second); this slot's name for IPv6, whose raw
    /// sockets never see their IP header.
    fn name_room(&mut self, family: Family) -> (*mut libc::c_void, libc::socklen_t) {
        match family {
            Family::V4 => (ptr::null_mut(), 0),
            Family::V6 => (
                ptr::from_mut(&mut self.name).cast(),
                size_of::<libc::sockaddr_storage>() as libc::socklen_t,
            ),
        }
    }
}

/// The buffers of every batched read ([`super::Ready::read_each`],
/// [`super::RoutineSocket::read_now`]) and the packets of the last.
///
/// One per thread, lent to each read in turn ([`RecvBatch::lend`]): the 16 × 9 KB of
/// buffers are one zeroed allocation, whose pages the kernel maps only once a datagram has
/// been written into them. Adverts shorter than a page leave the first page of each slot
/// resident, 64 KB, which a batch per socket paid for every interface and family (four
/// sockets at 1,000 instances: 256 KB).
///
/// The message headers are made once with the batch, pointing into its buffers and metas
/// (heap blocks that stay put when the batch moves): a lone instance's Backup makes one call
/// per advert, and writing sixteen headers and their iovecs anew for each was about 400 of
/// the 6,100 instructions an advert took in user space (callgrind, 3,000 adverts).
pub(super) struct RecvBatch {
    buffers: Box<[u8]>,
    /// Where the headers' addresses and control messages are written, and their iovecs:
    /// only the kernel reads and writes them, through the headers.
    metas: Box<[Meta; BATCH_SLOTS]>,
    _iovs: Box<[libc::iovec; BATCH_SLOTS]>,
    headers: Box<[libc::mmsghdr; BATCH_SLOTS]>,
    /// The packets of the last call are the first `len`; the rest are kept from earlier
    /// calls so that their `data` allocations are reused, not made anew for every advert.
    packets: Vec<io::Result<RecvPacket>>,
    len: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        let mut buffers = vec![0; BATCH_SLOTS * RECV_BUFFER].into_boxed_slice();
        let mut metas = Box::new([Meta::zeroed(); BATCH_SLOTS]);
        let mut slots = buffers.chunks_exact_mut(RECV_BUFFER);
        let mut iovs: Box<[libc::iovec; BATCH_SLOTS]> = Box::new(std::array::from_fn(|_| {
            let slot = slots.next().expect("the buffers hold BATCH_SLOTS slots");
            libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot.len(),
            }
        }));
        let mut headers: Box<[libc::mmsghdr; BATCH_SLOTS]> = Box::new(std::array::from_fn(|_| {
            libc::mmsghdr {
                // SAFETY: as in `Meta::header`; replaced below.
                msg_hdr: unsafe { std::mem::zeroed() },
                msg_len: 0,
            }
        }));
        for ((h, meta), iov) in headers
            .iter_mut()
            .zip(metas.iter_mut())
            .zip(iovs.iter_mut())
        {
            h.msg_hdr = meta.header(iov, Family::V6);
        }
        RecvBatch {
            buffers,
            metas,
            _iovs: iovs,
            headers,
            packets: Vec::with_capacity(BATCH_SLOTS),
            len: 0,
        }
    }
}

thread_local! {
    /// The thread's batch between two reads.
    static LENT: Cell<Option<Box<RecvBatch>>> = const { Cell::new(None) };
}

impl RecvBatch {
    /// Runs `read` with the thread's batch, made on first use. A read that lends again
    /// while it holds the batch (none does: reads do not nest) gets a new one.
    pub(super) fn lend<R>(read: impl FnOnce(&mut RecvBatch) -> R) -> R {
        let mut batch = LENT.take().unwrap_or_default();
        let out = read(&mut batch);
        LENT.set(Some(batch));
        out
    }

    /// The datagrams of the last call, in the order they arrived. A datagram the kernel
    /// delivered without the ancillary data every packet must carry is an error item; its
    /// neighbours are unaffected.
    pub(super) fn packets(&self) -> &[io::Result<RecvPacket>] {
        &self.packets[..self.len]
    }

    /// Reads up to [`BATCH_SLOTS`] queued datagrams with one `recvmmsg`, without waiting;
    /// `WouldBlock` when none is queued. Returns how many it read. `floor`: when the socket
    /// was last found empty, before which nothing read now can have arrived.
    pub(super) fn fill(&mut self, fd: RawFd, on: Bound, floor: Instant) -> io::Result<usize> {
        self.len = 0;
        // The kernel overwrites the address and control lengths of the headers it used with
        // what it wrote: give every header its full room back, for this socket's family (a
        // few stores each, where making the headers anew was a few hundred instructions).
        for (h, meta) in self.headers.iter_mut().zip(self.metas.iter_mut()) {
            (h.msg_hdr.msg_name, h.msg_hdr.msg_namelen) = meta.name_room(on.family);
            h.msg_hdr.msg_controllen = CONTROL_ROOM as _;
        }
        // SAFETY: every header points into `self.metas` and `self._iovs`, and every iovec
        // into `self.buffers`, all heap blocks owned by the batch, alive and not borrowed
        // for the call; the kernel writes within the lengths given.
        let read = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                BATCH_SLOTS as _,
                libc::MSG_DONTWAIT as _,
                ptr::null_mut(),
            )
        };
        let read = usize::try_from(read).map_err(|_| io::Error::last_os_error())?;
        let clock = ArrivalClock::read(floor);
        for (i, h) in self.headers.iter().take(read).enumerate() {
            let bytes = &self.buffers[i * RECV_BUFFER..][..(h.msg_len as usize).min(RECV_BUFFER)];
            let data = match self.packets.get_mut(i) {
                Some(Ok(p)) => std::mem::take(&mut p.data),
                _ => Vec::new(),
            };
            let packet = packet_of(&h.msg_hdr, bytes, on, &clock, data);
            match self.packets.get_mut(i) {
                Some(slot) => *slot = packet,
                None => self.packets.push(packet),
            }
        }
        self.len = read;
        Ok(read)
    }
}

/// Reads one queued datagram with `recvmsg`; `WouldBlock` when none is queued.
pub(super) fn recv_now(fd: RawFd, on: Bound) -> io::Result<RecvPacket> {
    let mut buf = [0u8; RECV_BUFFER];
    let mut meta = Meta::zeroed();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut h = meta.header(&mut iov, on.family);
    // SAFETY: the header points into `meta`, `iov` and `buf`, alive for the call.
    let len = unsafe { libc::recvmsg(fd, &mut h, 0) };
    let len = usize::try_from(len).map_err(|_| io::Error::last_os_error())?;
    let clock = ArrivalClock::read(Instant::now());
    packet_of(&h, &buf[..len.min(RECV_BUFFER)], on, &clock, Vec::new())
}

/// What a socket is bound to: its family, and the interface every packet arrives on
/// (`SO_BINDTODEVICE`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Bound {
    pub(super) family: Family,
    pub(super) ifindex: u32,
}

/// One received datagram (its bytes, and the IPv6 source address, control messages and
/// flags in `h`) as a [`RecvPacket`] whose bytes go into `data`, dated by `clock`; for
/// IPv6, an error if the kernel left out the source, destination (pktinfo) or hop limit.
fn packet_of(
    h: &libc::msghdr,
    bytes: &[u8],
    on: Bound,
    clock: &ArrivalClock,
    mut data: Vec<u8>,
) -> io::Result<RecvPacket> {
    data.clear();
    data.extend_from_slice(bytes);
    let truncated = h.msg_flags & libc::MSG_TRUNC != 0;
    let control = control_of(h);
    let (src, dst, ifindex, hop_limit) = match on.family {
        Family::V4 => {
            let ip = ipv4_header(bytes);
            (ip.src.into(), ip.dst.into(), on.ifindex, ip.ttl)
        }
        Family::V6 => {
            let src = ipv6_source(h)
                .ok_or_else(|| io::Error::other("received a packet without a source address"))?;
            let (Some(dst), Some(hop_limit)) = (control.dst, control.hop_limit) else {
                return Err(io::Error::other(
                    "received a packet without pktinfo or hop limit",
                ));
            };
            (IpAddr::V6(src), IpAddr::V6(dst), control.ifindex, hop_limit)
        }
    };
    Ok(RecvPacket {
        data,
        src,
        dst,
        ifindex,
        hop_limit,
        truncated,
        arrived: clock.arrival(control.stamp),
    })
}

/// The source, destination and TTL of an IPv4 datagram, from its header (the codec's
/// [`packet::ipv4_addressing`]): a raw IPv4 socket receives the header, so it asks for no
/// source address and no control messages but the receive stamp (IP_PKTINFO and IP_TTL
/// cost the kernel two per packet, a few per cent of a Backup's time at 5,000 adverts a
/// second), and the socket is bound to its interface. A datagram too short to hold a
/// header (the kernel delivers none) has none of them: 0.0.0.0 and 0, and the codec rejects
/// it as too short.
fn ipv4_header(bytes: &[u8]) -> packet::Ipv4Addressing {
    packet::ipv4_addressing(bytes).unwrap_or(packet::Ipv4Addressing {
        ttl: 0,
        src: Ipv4Addr::UNSPECIFIED,
        dst: Ipv4Addr::UNSPECIFIED,
    })
}

/// What the control messages of one datagram say.
#[derive(Default)]
struct Controls {
    /// IPv6: the destination and arrival interface (pktinfo), and the hop limit; a raw
    /// IPv6 socket never sees the IPv6 header.
    dst: Option<Ipv6Addr>,
    ifindex: u32,
    hop_limit: Option<u8>,
    /// The kernel's receive stamp, by the wall clock, in nanoseconds.
    stamp: Option<i128>,
}

fn control_of(h: &libc::msghdr) -> Controls {
    let mut out = Controls::default();
    if h.msg_controllen == 0 {
        return out;
    }
    // SAFETY: `h` is a header the kernel filled: its control pointer and length describe
    // the messages it wrote, which the CMSG macros walk within those bounds.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(h) };
    while !c.is_null() {
        // SAFETY: `c` is a complete control message header inside the buffer (see above).
        let (level, kind, data) = unsafe { ((*c).cmsg_level, (*c).cmsg_type, libc::CMSG_DATA(c)) };
        match (level, kind) {
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                // SAFETY: the kernel writes an `in6_pktinfo` after an IPV6_PKTINFO header.
                let i: libc::in6_pktinfo = unsafe { read_at(data) };
                out.dst = Some(Ipv6Addr::from(i.ipi6_addr.s6_addr));
                out.ifindex = i.ipi6_ifindex;
            }
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                // SAFETY: the kernel writes an `int` after an IPV6_HOPLIMIT header.
                let t: libc::c_int = unsafe { read_at(data) };
                out.hop_limit = u8::try_from(t).ok();
            }
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                // SAFETY: the kernel writes a `timespec` after an SCM_TIMESTAMPNS header.
                let t: libc::timespec = unsafe { read_at(data) };
                out.stamp = Some(timespec_ns(&t));
            }
            _ => {}
        }
        // SAFETY: as for CMSG_FIRSTHDR; null after the last message.
        c = unsafe { libc::CMSG_NXTHDR(h, c) };
    }
    out
}

/// The sender's address the kernel wrote into `h`'s name, if it is an IPv6 one.
fn ipv6_source(h: &libc::msghdr) -> Option<Ipv6Addr> {
    if h.msg_name.is_null() || (h.msg_namelen as usize) < size_of::<libc::sockaddr_in6>() {
        return None;
    }
    // SAFETY: `msg_name` points at a `sockaddr_storage` the kernel filled `msg_namelen`
    // bytes of.
    let s: libc::sockaddr_in6 = unsafe { read_at(h.msg_name.cast::<u8>().cast_const()) };
    (s.sin6_family == libc::AF_INET6 as libc::sa_family_t)
        .then(|| Ipv6Addr::from(s.sin6_addr.s6_addr))
}

/// Reads a `T` from bytes the kernel wrote, whatever their alignment.
///
/// # Safety
/// `p` must point at `size_of::<T>()` readable bytes that hold a valid `T`.
unsafe fn read_at<T>(p: *const u8) -> T {
    let mut out = MaybeUninit::<T>::uninit();
    // SAFETY: the caller's promise; the copy is bytewise, so alignment does not matter.
    unsafe { ptr::copy_nonoverlapping(p, out.as_mut_ptr().cast::<u8>(), size_of::<T>()) };
    // SAFETY: the bytes are a valid `T` (the caller's promise).
    unsafe { out.assume_init() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The control room fits both messages of an IPv6 packet, as the kernel lays them out.
    #[test]
    fn control_room_fits_pktinfo_hop_limit_and_stamp() {
        let space = |len: usize| {
            // SAFETY: CMSG_SPACE is arithmetic on its argument.
            unsafe { libc::CMSG_SPACE(len as u32) as usize }
        };
        let v6 = space(size_of::<libc::in6_pktinfo>())
            + space(size_of::<libc::c_int>())
            + space(size_of::<libc::timespec>());
        assert!(v6 <= CONTROL_ROOM, "v6 {v6}");
    }

    #[test]
    fn an_ipv4_header_gives_source_destination_and_ttl_and_a_short_datagram_none() {
        let mut header = [0u8; 20];
        header[0] = 0x45;
        header[8] = 255;
        header[16..20].copy_from_slice(&[224, 0, 0, 18]);
        header[12..16].copy_from_slice(&[10, 77, 0, 11]);
        let ip = ipv4_header(&header);
        assert_eq!(ip.dst, Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(ip.src, Ipv4Addr::new(10, 77, 0, 11));
        assert_eq!(ip.ttl, 255);
        for short in [&header[..19], &[][..]] {
            let ip = ipv4_header(short);
            assert_eq!(
                (ip.src, ip.dst, ip.ttl),
                (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0)
            );
        }
    }
}
