//! Sending datagrams with their source chosen per packet (IP_PKTINFO / IPV6_PKTINFO): one at
//! a time (`sendmsg`), or all that a batch holds for one socket with one `sendmmsg`.
//!
//! libc's calls with the control messages in our own memory: nix's `sendmsg` allocates a
//! zeroed buffer for the control messages of every call, one per advert a Master sends.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;
use std::ptr;

use super::recv::Control;

/// Where one datagram goes and where it leaves from: the destination address and the one
/// pktinfo control message, as `sendmsg` and `sendmmsg` read them.
#[derive(Clone, Copy)]
pub(super) struct Addressing {
    to: To,
    to_len: libc::socklen_t,
    control: Control,
    control_len: usize,
}

/// An IPv4 or IPv6 destination, in the room of the larger.
#[repr(C)]
#[derive(Clone, Copy)]
union To {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

impl Addressing {
    /// To `dst` from `src` (unspecified: the kernel picks the interface's primary address),
    /// out of interface `ifindex`.
    pub(super) fn v4(dst: Ipv4Addr, src: Ipv4Addr, ifindex: u32) -> Self {
        // SAFETY: all zeroes is a valid `sockaddr_in`; the fields that matter are set below.
        let mut to: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        to.sin_family = libc::AF_INET as libc::sa_family_t;
        to.sin_addr.s_addr = u32::from(dst).to_be();
        let info = libc::in_pktinfo {
            ipi_ifindex: ifindex as libc::c_int,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(src).to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        Self::with(
            To { v4: to },
            size_of::<libc::sockaddr_in>(),
            libc::IPPROTO_IP,
            libc::IP_PKTINFO,
            &info,
        )
    }

    /// To `dst` (with `scope` for a link-local or multicast destination) from `src`, out of
    /// interface `ifindex`.
    pub(super) fn v6(dst: Ipv6Addr, scope: u32, src: Ipv6Addr, ifindex: u32) -> Self {
        // SAFETY: as in `v4`.
        let mut to: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        to.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        to.sin6_addr.s6_addr = dst.octets();
        to.sin6_scope_id = scope;
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: src.octets(),
            },
            ipi6_ifindex: ifindex,
        };
        Self::with(
            To { v6: to },
            size_of::<libc::sockaddr_in6>(),
            libc::IPPROTO_IPV6,
            libc::IPV6_PKTINFO,
            &info,
        )
    }

    /// `to` (of `to_len` bytes), carrying `info` as the one control message of
    /// `(level, kind)`.
    fn with<I>(to: To, to_len: usize, level: libc::c_int, kind: libc::c_int, info: &I) -> Self {
        // SAFETY: CMSG_SPACE and CMSG_LEN are arithmetic on their argument.
        let (space, len) = unsafe {
            (
                libc::CMSG_SPACE(size_of::<I>() as u32) as usize,
                libc::CMSG_LEN(size_of::<I>() as u32) as usize,
            )
        };
        let mut a = Addressing {
            to,
            to_len: to_len as libc::socklen_t,
            control: Control::default(),
            control_len: space,
        };
        assert!(
            space <= a.control.0.len(),
            "a pktinfo fits the control room"
        );
        // A header only to find where the control message goes: CMSG_FIRSTHDR reads the
        // control pointer and length from it.
        // SAFETY: all zeroes is a valid `msghdr`.
        let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
        h.msg_control = a.control.0.as_mut_ptr().cast();
        h.msg_controllen = space as _;
        // SAFETY: the control buffer is aligned for `cmsghdr` and holds `space` bytes, room
        // for one header and `info`, so CMSG_FIRSTHDR is not null and the writes stay in it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&h);
            (*c).cmsg_level = level;
            (*c).cmsg_type = kind;
            (*c).cmsg_len = len as _;
            let data = libc::CMSG_DATA(c);
            ptr::copy_nonoverlapping(ptr::from_ref(info).cast::<u8>(), data, size_of::<I>());
        }
        a
    }

    /// A header for the datagram `iov` points at, to this destination. The header points
    /// into `self` and `iov`: both must stay put until the call that reads it.
    pub(super) fn header(&mut self, iov: &mut libc::iovec) -> libc::msghdr {
        // SAFETY: all zeroes is a valid `msghdr`; the fields that matter are set below.
        let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
        h.msg_name = ptr::from_mut(&mut self.to).cast();
        h.msg_namelen = self.to_len;
        h.msg_iov = iov;
        h.msg_iovlen = 1;
        h.msg_control = self.control.0.as_mut_ptr().cast();
        h.msg_controllen = self.control_len as _;
        h
    }
}

#[cfg(test)]
impl Addressing {
    /// The same IPv4 destination at `port`: UDP sockets stand in for raw ones in tests.
    pub(super) fn with_port(mut self, port: u16) -> Self {
        // Writing a union's field is safe; the tests make IPv4 destinations only, with `v4`.
        self.to.v4.sin_port = port.to_be();
        self
    }
}

/// One `sendmsg` of `payload` to `a`.
pub(super) fn send_one(fd: RawFd, payload: &[u8], mut a: Addressing) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr().cast_mut().cast(),
        iov_len: payload.len(),
    };
    let h = a.header(&mut iov);
    // SAFETY: the header points at `a`, `iov` (and through it `payload`), all alive for the
    // call; the kernel only reads them.
    let sent = unsafe { libc::sendmsg(fd, &h, 0) };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

/// A datagram is sent whole or not at all; a short count of `len` bytes would be a kernel
/// surprise.
pub(super) fn whole(sent: usize, len: usize) -> io::Result<()> {
    if sent == len {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "short send: {sent} of {len} bytes"
    )))
}

/// One `sendmmsg` of `headers`, without waiting: how many of them left, from the first
/// (each one's `msg_len` then holds the bytes sent). An error only if the first did not
/// leave; a later one's error is the next call's, which starts with it.
///
/// # Safety
///
/// Every header must point at memory alive and unmoved for the call, as `header` makes them.
pub(super) unsafe fn send_many(fd: RawFd, headers: &mut [libc::mmsghdr]) -> io::Result<usize> {
    let count = libc::c_uint::try_from(headers.len()).unwrap_or(libc::c_uint::MAX);
    // SAFETY: the caller's promise; `count` does not exceed the slice.
    let sent = unsafe { libc::sendmmsg(fd, headers.as_mut_ptr(), count, libc::MSG_DONTWAIT) };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}
