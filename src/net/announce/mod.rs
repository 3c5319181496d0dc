//! Gratuitous ARP and unsolicited neighbour advertisements, sent as whole Ethernet frames
//! on an AF_PACKET socket so that the source MAC can be the virtual MAC when one is used.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex, Weak};

use nix::sys::socket::sockopt;

use pnet_packet::MutablePacket;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherType, EtherTypes, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{
    MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes, NeighborAdvertFlags,
};
use pnet_packet::icmpv6::{self, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;
use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};

use crate::net::{MacAddr, NetError};

mod pace;
pub use pace::{Kind, Pacer, Pacing};

const ETH_HDR: usize = 14;
const ARP_LEN: usize = 28;
const IPV6_HDR: usize = 40;
/// NA header (type, code, checksum, flags, reserved, target) plus one 8-byte option.
const NA_LEN: usize = 24 + 8;

/// Length of a gratuitous ARP frame (no padding; drivers pad to the Ethernet minimum).
pub const GARP_FRAME_LEN: usize = ETH_HDR + ARP_LEN;
/// Length of an unsolicited neighbour advertisement frame.
pub const NA_FRAME_LEN: usize = ETH_HDR + IPV6_HDR + NA_LEN;

/// The all-nodes group ff02::1, destination of unsolicited NAs (RFC 4861 §7.2.6).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet address that ff02::1 maps to (RFC 2464 §7).
const ALL_NODES_MAC: MacAddr = MacAddr(0x33, 0x33, 0, 0, 0, 1);

/// Builds a gratuitous ARP: an ARP *request* from `src_mac` to the broadcast address with
/// sender and target protocol address both `ip` and an all-zero target hardware address.
/// A request rather than a reply, as keepalived and FRR send, because every host
/// processes broadcast requests while some ignore unrequested replies.
pub fn garp_frame(src_mac: MacAddr, ip: Ipv4Addr) -> [u8; GARP_FRAME_LEN] {
    let mut frame = [0u8; GARP_FRAME_LEN];
    let mut eth = MutableEthernetPacket::new(&mut frame).expect("buffer fits an Ethernet header");
    eth.set_destination(MacAddr::broadcast());
    eth.set_source(src_mac);
    eth.set_ethertype(EtherTypes::Arp);
    let mut arp = MutableArpPacket::new(eth.payload_mut()).expect("buffer fits an ARP packet");
    arp.set_hardware_type(ArpHardwareTypes::Ethernet);
    arp.set_protocol_type(EtherTypes::Ipv4);
    arp.set_hw_addr_len(6);
    arp.set_proto_addr_len(4);
    arp.set_operation(ArpOperations::Request);
    arp.set_sender_hw_addr(src_mac);
    arp.set_sender_proto_addr(ip);
    arp.set_target_hw_addr(MacAddr::zero());
    arp.set_target_proto_addr(ip);
    frame
}

/// Builds an unsolicited neighbour advertisement for `target` to all nodes, from `src_ll`
/// (a link-local address of the sending interface, as RFC 4861 §7.2.4 requires) with hop
/// limit 255, Override set so that neighbours replace a cached MAC, Solicited clear, the
/// target link-layer address option set to `src_mac`, and the ICMPv6 checksum filled in.
///
/// `router` sets the R flag. RFC 9568 asks for it because a VRRP address is normally a
/// gateway; keepalived sets it only when IPv6 forwarding is on, since R on a plain host's
/// address makes neighbours treat the host as a router.
pub fn unsolicited_na_frame(
    src_mac: MacAddr,
    src_ll: Ipv6Addr,
    target: Ipv6Addr,
    router: bool,
) -> [u8; NA_FRAME_LEN] {
    let mut frame = [0u8; NA_FRAME_LEN];
    let mut eth = MutableEthernetPacket::new(&mut frame).expect("buffer fits an Ethernet header");
    eth.set_destination(ALL_NODES_MAC);
    eth.set_source(src_mac);
    eth.set_ethertype(EtherTypes::Ipv6);
    let mut ip = MutableIpv6Packet::new(eth.payload_mut()).expect("buffer fits an IPv6 header");
    ip.set_version(6);
    ip.set_payload_length(NA_LEN as u16);
    ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
    ip.set_hop_limit(255);
    ip.set_source(src_ll);
    ip.set_destination(ALL_NODES);
    let mut na = MutableNeighborAdvertPacket::new(ip.payload_mut()).expect("buffer fits an NA");
    na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
    let mut flags = NeighborAdvertFlags::Override;
    if router {
        flags |= NeighborAdvertFlags::Router;
    }
    na.set_flags(flags);
    na.set_target_addr(target);
    let [a, b, c, d, e, f] = src_mac.octets();
    na.set_options(&[NdpOption {
        option_type: NdpOptionTypes::TargetLLAddr,
        length: 1,
        data: vec![a, b, c, d, e, f],
    }]);
    let sum = icmpv6::checksum(
        &Icmpv6Packet::new(na.packet_mut())
            .expect("an NA is an ICMPv6 packet")
            .to_immutable(),
        &src_ll,
        &ALL_NODES,
    );
    na.set_checksum(sum);
    frame
}

/// Sends gratuitous ARPs and unsolicited NAs on one interface.
///
/// A frame is built on the stack when it is sent, from the address it announces: an
/// instance announces at a state change and for moments after, and frames kept for every
/// instance between bursts took about 190 bytes of each. Every announcer of a network
/// namespace sends on one AF_PACKET socket (the interface is in each frame's destination): closing a packet
/// socket waits for an RCU grace period, and with a socket per instance a stop of 1,000
/// instances spent 16 s closing them, past its budget, and left most VIPs behind. The socket
/// is non-blocking: a full transmit queue drops an announcement (reported as an error)
/// rather than stalling the router task.
#[derive(Debug)]
pub struct Announcer {
    sock: Arc<Socket>,
    /// The destination address (a `sockaddr_ll`) is made from this per frame: kept, it
    /// took 128 bytes of every instance for the few moments an instance announces.
    ifindex: u32,
}

impl Announcer {
    /// Opens the packet socket on interface `ifindex`.
    pub fn new(ifindex: u32) -> Result<Self, NetError> {
        let sock = shared_socket().map_err(|e| {
            NetError::socket(
                format!("opening a packet socket for interface {ifindex}"),
                e,
            )
        })?;
        Ok(Announcer { sock, ifindex })
    }

    /// The interface this announcer sends on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one announcement of `vip` from `src_mac`: a gratuitous ARP for an IPv4
    /// address, an unsolicited NA (from `src_ll`, R flag per `router`) for an IPv6 one.
    pub fn send(
        &self,
        src_mac: MacAddr,
        vip: IpAddr,
        src_ll: Option<Ipv6Addr>,
        router: bool,
    ) -> Result<(), NetError> {
        let sent = match (vip, src_ll) {
            (IpAddr::V4(v4), _) => self.send_frame(&garp_frame(src_mac, v4)),
            (IpAddr::V6(v6), Some(ll)) => {
                self.send_frame(&unsolicited_na_frame(src_mac, ll, v6, router))
            }
            (IpAddr::V6(v6), None) => return Err(no_source(v6)),
        };
        sent.map_err(|e| NetError::io(format!("announcing {vip}"), e))
    }

    /// Sends one unsolicited NA for `target` from `src_mac` / `src_ll` (R flag clear).
    pub fn send_unsolicited_na(
        &self,
        src_mac: MacAddr,
        src_ll: Ipv6Addr,
        target: Ipv6Addr,
    ) -> io::Result<()> {
        self.send_frame(&unsolicited_na_frame(src_mac, src_ll, target, false))
    }

    fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
        let dest = link_addr(self.ifindex, EtherTypes::Arp);
        let n = self.sock.send_to(frame, &dest)?;
        if n == frame.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "short send: {n} of {} bytes",
                frame.len()
            )))
        }
    }
}

/// Whether every one of `vips` can be announced: an IPv6 VIP needs a link-local source.
pub fn check_sources(vips: &[IpAddr], src_ll: Option<Ipv6Addr>) -> Result<(), NetError> {
    match vips.iter().find(|v| v.is_ipv6()) {
        Some(IpAddr::V6(v6)) if src_ll.is_none() => Err(no_source(*v6)),
        _ => Ok(()),
    }
}

/// The kind of announcement `vip` gets.
pub fn kind_of(vip: IpAddr) -> Kind {
    match vip {
        IpAddr::V4(_) => Kind::Arp,
        IpAddr::V6(_) => Kind::Na,
    }
}

fn no_source(v6: Ipv6Addr) -> NetError {
    NetError::Invalid {
        what: format!("preparing the neighbour advertisement for {v6}"),
        reason: "no IPv6 link-local source address on the interface".into(),
    }
}

impl AsRawFd for Announcer {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

/// Room in the shared socket's transmit queue: every instance of the host may announce at
/// once (a thousand becoming Master together, each with its initial burst), and a frame
/// waits there until the driver has sent it. Forced past `net.core.wmem_max` when the
/// process may (CAP_NET_ADMIN); the kernel's default otherwise.
const SEND_BUFFER: usize = 4 << 20;

/// The packet socket for announcements of the network namespace this thread is in, opened
/// when the first announcer there needs it and closed with the last. A packet socket sends
/// in the namespace it was opened in, and an interface index means nothing in another, so
/// there is one per namespace (the daemon has one; a test process may enter several).
fn shared_socket() -> io::Result<Arc<Socket>> {
    static SHARED: Mutex<BTreeMap<u64, Weak<Socket>>> = Mutex::new(BTreeMap::new());
    let netns = std::fs::metadata("/proc/thread-self/ns/net")?.ino();
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sock) = shared.get(&netns).and_then(Weak::upgrade) {
        return Ok(sock);
    }
    // Protocol 0: the socket sends only and never queues received frames.
    let sock = Socket::new(Domain::PACKET, Type::RAW, None)?;
    sock.set_nonblocking(true)?;
    if nix::sys::socket::setsockopt(&sock, sockopt::SndBufForce, &SEND_BUFFER).is_err() {
        let _ = sock.set_send_buffer_size(SEND_BUFFER);
    }
    let sock = Arc::new(sock);
    shared.retain(|_, s| s.strong_count() > 0);
    shared.insert(netns, Arc::downgrade(&sock));
    Ok(sock)
}

/// A `sockaddr_ll` naming the interface; with SOCK_RAW the kernel sends the frame as
/// given, so only the index (and a protocol for taps) matter.
fn link_addr(ifindex: u32, proto: EtherType) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `sockaddr_ll` is a socket address type of this platform and fits the storage.
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_protocol = proto.0.to_be();
    ll.sll_ifindex = ifindex as i32;
    ll.sll_halen = 6;
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised `sockaddr_ll` of `len` bytes.
    unsafe { SockAddr::new(storage, len) }
}

/// Sends one unsolicited NA on `ifindex` with a throwaway socket; see
/// [`unsolicited_na_frame`]. Prefer a long-lived [`Announcer`].
pub fn send_unsolicited_na(
    ifindex: u32,
    src_mac: MacAddr,
    src_ll: Ipv6Addr,
    target: Ipv6Addr,
) -> Result<(), NetError> {
    Announcer::new(ifindex)?
        .send_unsolicited_na(src_mac, src_ll, target)
        .map_err(|e| NetError::io(format!("sending a neighbour advertisement for {target}"), e))
}

#[cfg(test)]
mod tests;
