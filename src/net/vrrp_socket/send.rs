//! Sending one datagram with its source chosen per packet (IP_PKTINFO / IPV6_PKTINFO).
//!
//! libc's `sendmsg` with the control message on the stack: nix's `sendmsg` allocates a
//! zeroed buffer for the control messages of every call, one per advert a Master sends.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;
use std::ptr;

use super::recv::Control;

/// Sends `payload` to `dst` from `src` (unspecified: the kernel picks the interface's
/// primary address) out of interface `ifindex`.
pub(super) fn send_v4(
    fd: RawFd,
    payload: &[u8],
    dst: Ipv4Addr,
    src: Ipv4Addr,
    ifindex: u32,
) -> io::Result<usize> {
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
    send_with(
        fd,
        payload,
        &to,
        (libc::IPPROTO_IP, libc::IP_PKTINFO),
        &info,
    )
}

/// Sends `payload` to `dst` (with `scope` for a link-local or multicast destination) from
/// `src` out of interface `ifindex`.
pub(super) fn send_v6(
    fd: RawFd,
    payload: &[u8],
    dst: Ipv6Addr,
    scope: u32,
    src: Ipv6Addr,
    ifindex: u32,
) -> io::Result<usize> {
    // SAFETY: as in `send_v4`.
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
    let level = (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO);
    send_with(fd, payload, &to, level, &info)
}

/// One `sendmsg` of `payload` to `to`, carrying `info` as the one control message of
/// `(level, kind)`.
fn send_with<A, I>(
    fd: RawFd,
    payload: &[u8],
    to: &A,
    (level, kind): (libc::c_int, libc::c_int),
    info: &I,
) -> io::Result<usize> {
    // SAFETY: CMSG_SPACE and CMSG_LEN are arithmetic on their argument.
    let (space, len) = unsafe {
        (
            libc::CMSG_SPACE(size_of::<I>() as u32) as usize,
            libc::CMSG_LEN(size_of::<I>() as u32) as usize,
        )
    };
    let mut control = Control::default();
    assert!(space <= control.0.len(), "a pktinfo fits the control room");
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr().cast_mut().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: all zeroes is a valid `msghdr`; the fields that matter are set below.
    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
    h.msg_name = ptr::from_ref(to).cast_mut().cast();
    h.msg_namelen = size_of::<A>() as libc::socklen_t;
    h.msg_iov = &mut iov;
    h.msg_iovlen = 1;
    h.msg_control = control.0.as_mut_ptr().cast();
    h.msg_controllen = space as _;
    // SAFETY: the control buffer is aligned for `cmsghdr` and holds `space` bytes, room for
    // one header and `info`, so CMSG_FIRSTHDR is not null and the writes stay inside it.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&h);
        (*c).cmsg_level = level;
        (*c).cmsg_type = kind;
        (*c).cmsg_len = len as _;
        let data = libc::CMSG_DATA(c);
        ptr::copy_nonoverlapping(ptr::from_ref(info).cast::<u8>(), data, size_of::<I>());
    }
    // SAFETY: the header points at `to`, `iov` (and through it `payload`) and `control`,
    // all alive for the call; the kernel only reads them.
    let sent = unsafe { libc::sendmsg(fd, &h, 0) };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}
