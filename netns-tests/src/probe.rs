//! Active neighbour probes from a lab host: who answers ARP / Neighbour Solicitation for an
//! address. Unlike `arping` or `ndisc6`, these keep listening after the first answer and list
//! every distinct answerer, which is what detecting a split brain needs.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, Socket, Type};

use crate::decode::{self, ETH_P_ARP, ETH_P_IPV6};
use crate::error::{HarnessError, Result};
use crate::mac::Mac;
use crate::netns::in_netns;

/// Requests sent per probe, spread over the timeout, so that one lost frame does not hide an
/// answerer.
const ATTEMPTS: u32 = 3;

/// Sends ARP requests for `target` from (`mac`, `src`) on `iface` in namespace `ns` and
/// collects the sender MAC of every reply.
pub fn arp(
    ns: &str,
    iface: &str,
    mac: Mac,
    src: Ipv4Addr,
    target: Ipv4Addr,
    timeout: Duration,
) -> Result<Vec<Mac>> {
    let request = arp_request(mac, src, target);
    in_netns(ns, || {
        probe(iface, ETH_P_ARP, &request, timeout, |frame| {
            decode::arp(frame)
                .filter(|a| a.op == 2 && a.spa == target)
                .map(|a| a.sha)
        })
    })?
}

/// Sends Neighbour Solicitations for `target` from (`mac`, `src`) on `iface` in namespace `ns`
/// and collects the link-layer address of every Neighbour Advertisement for it.
pub fn ndisc(
    ns: &str,
    iface: &str,
    mac: Mac,
    src: Ipv6Addr,
    target: Ipv6Addr,
    timeout: Duration,
) -> Result<Vec<Mac>> {
    let request = neighbor_solicit(mac, src, target);
    in_netns(ns, || {
        probe(iface, ETH_P_IPV6, &request, timeout, |frame| {
            decode::neighbor_advert(frame)
                .filter(|na| na.target == target)
                .map(|na| na.mac())
        })
    })?
}

/// Sends `request` [`ATTEMPTS`] times over `timeout` and collects the distinct answers that
/// `answer` extracts from the received frames. Runs inside the namespace.
fn probe(
    iface: &str,
    ethertype: u16,
    request: &[u8],
    timeout: Duration,
    answer: impl Fn(&[u8]) -> Option<Mac>,
) -> Result<Vec<Mac>> {
    let sock = packet_socket(iface, ethertype)?;
    let start = Instant::now();
    let mut found: Vec<Mac> = Vec::new();
    let mut buf = [0u8; 2048];
    for attempt in 0..ATTEMPTS {
        sock.send(request)
            .map_err(|e| HarnessError::io("send probe", e))?;
        let until = start + timeout * (attempt + 1) / ATTEMPTS;
        while let Some(n) = recv_until(&sock, &mut buf, until)? {
            if let Some(mac) = answer(&buf[..n]).filter(|m| !found.contains(m)) {
                found.push(mac);
            }
        }
    }
    Ok(found)
}

/// An AF_PACKET socket bound to `iface` that sees frames of `ethertype` only.
fn packet_socket(iface: &str, ethertype: u16) -> Result<Socket> {
    let io = |what: &str, e| HarnessError::io(format!("{what} ({iface})"), e);
    let proto = i32::from(ethertype.to_be());
    let sock = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(proto)))
        .map_err(|e| io("AF_PACKET socket", e))?;
    let ifindex =
        nix::net::if_::if_nametoindex(iface).map_err(|e| io("if_nametoindex", e.into()))?;
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: SockAddrStorage is sockaddr_storage, large and aligned enough for sockaddr_ll.
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_protocol = ethertype.to_be();
    ll.sll_ifindex = ifindex as i32;
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised sockaddr_ll of `len` bytes.
    let addr = unsafe { SockAddr::new(storage, len) };
    sock.bind(&addr).map_err(|e| io("bind", e))?;
    sock.set_nonblocking(true)
        .map_err(|e| io("nonblocking", e))?;
    Ok(sock)
}

/// Receives one frame, waiting at most until `until`; `None` once the time is up.
fn recv_until(sock: &Socket, buf: &mut [u8], until: Instant) -> Result<Option<usize>> {
    use std::io::Read;
    loop {
        match (&*sock).read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(HarnessError::io("recv", e)),
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        // Round up so that a sub-millisecond remainder does not spin.
        let ms = u16::try_from(left.as_millis() + 1).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(HarnessError::io("poll", e.into())),
        }
    }
}

/// A broadcast ARP request for `target` (padded to the Ethernet minimum).
pub fn arp_request(mac: Mac, src: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&Mac::BROADCAST.0);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f.resize(60, 0);
    f
}

/// A Neighbour Solicitation for `target`, sent to its solicited-node multicast group with
/// our link-layer address as option, so the answer comes back unicast to us.
pub fn neighbor_solicit(mac: Mac, src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&t);
    icmp.extend_from_slice(&[1, 1]);
    icmp.extend_from_slice(&mac.0);
    let sum = icmpv6_checksum(src, group, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let mut f = vec![0x33, 0x33, 0xff, t[13], t[14], t[15]];
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&group.octets());
    f.extend_from_slice(&icmp);
    f
}

/// The ICMPv6 checksum: ones' complement sum over the pseudo-header and the message.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40 + msg.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(msg);
    internet_checksum(&pseudo)
}

/// RFC 1071 checksum.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
