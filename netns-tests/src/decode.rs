//! Small decoders for the Ethernet frames tests look at: VRRP adverts, gratuitous ARP,
//! unsolicited neighbour adverts, ICMP echoes. Written independently of vipd's own packet
//! code on purpose: the tests must not share a misreading with the code they check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::mac::Mac;

/// EtherType of IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;
const PROTO_ICMP: u8 = 1;
const PROTO_VRRP: u8 = 112;
const PROTO_ICMPV6: u8 = 58;

/// An Ethernet II header and its payload.
#[derive(Debug, Clone, Copy)]
pub struct Eth<'a> {
    /// Destination.
    pub dst: Mac,
    /// Source.
    pub src: Mac,
    /// EtherType.
    pub ethertype: u16,
    /// Everything after the header.
    pub payload: &'a [u8],
}

/// Splits an Ethernet II frame.
pub fn eth(frame: &[u8]) -> Option<Eth<'_>> {
    Some(Eth {
        dst: Mac::from_slice(frame.get(0..6)?)?,
        src: Mac::from_slice(frame.get(6..12)?)?,
        ethertype: be16(frame, 12)?,
        payload: frame.get(14..)?,
    })
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// 1 = request, 2 = reply.
    pub op: u16,
    /// Sender hardware address (what a neighbour table learns).
    pub sha: Mac,
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: Mac,
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

/// Decodes an ARP frame (Ethernet/IPv4 only).
pub fn arp(frame: &[u8]) -> Option<Arp> {
    let e = eth(frame)?;
    let p = e.payload;
    if e.ethertype != ETH_P_ARP
        || be16(p, 0)? != 1
        || be16(p, 2)? != ETH_P_IP
        || p.get(4..6)? != [6, 4]
    {
        return None;
    }
    Some(Arp {
        op: be16(p, 6)?,
        sha: Mac::from_slice(p.get(8..14)?)?,
        spa: ip4(p, 14)?,
        tha: Mac::from_slice(p.get(18..24)?)?,
        tpa: ip4(p, 24)?,
    })
}

/// The IP layer of a frame: IPv4 (options skipped) or IPv6 (no extension headers).
#[derive(Debug, Clone, Copy)]
pub struct Ip<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Protocol / next header.
    pub proto: u8,
    /// TTL / hop limit (VRRP requires 255).
    pub ttl: u8,
    /// The transport payload.
    pub payload: &'a [u8],
}

/// Decodes the IP header of an Ethernet frame.
pub fn ip(frame: &[u8]) -> Option<Ip<'_>> {
    let e = eth(frame)?;
    let p = e.payload;
    match e.ethertype {
        ETH_P_IP if p.first()? >> 4 == 4 => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let total = usize::from(be16(p, 2)?);
            Some(Ip {
                src: ip4(p, 12)?.into(),
                dst: ip4(p, 16)?.into(),
                proto: *p.get(9)?,
                ttl: *p.get(8)?,
                payload: p.get(ihl..total.max(ihl))?,
            })
        }
        ETH_P_IPV6 if p.first()? >> 4 == 6 => {
            let len = usize::from(be16(p, 4)?);
            Some(Ip {
                src: ip6(p, 8)?.into(),
                dst: ip6(p, 24)?.into(),
                proto: *p.get(6)?,
                ttl: *p.get(7)?,
                payload: p.get(40..40 + len)?,
            })
        }
        _ => None,
    }
}

/// The fields of a VRRP advertisement that tests assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpAdvert {
    /// IP source (the sender's primary address).
    pub src: IpAddr,
    /// Source MAC (the virtual MAC 00:00:5e:00:01:VRID or 00:00:5e:00:02:VRID per RFC).
    pub src_mac: Mac,
    /// 2 or 3.
    pub version: u8,
    /// Virtual router ID.
    pub vrid: u8,
    /// Priority (0 = the Master is leaving).
    pub priority: u8,
    /// Advert interval as sent: seconds for v2, centiseconds for v3.
    pub interval: u16,
    /// The virtual addresses listed.
    pub addrs: Vec<IpAddr>,
    /// IP TTL / hop limit.
    pub ttl: u8,
}

/// Decodes a VRRP advertisement (v2 or v3, IPv4 or IPv6).
pub fn is_vrrp_advert(frame: &[u8]) -> Option<VrrpAdvert> {
    let e = eth(frame)?;
    let ip = ip(frame)?;
    let p = ip.payload;
    if ip.proto != PROTO_VRRP || p.first()? & 0x0f != 1 {
        return None;
    }
    let version = p[0] >> 4;
    let count = usize::from(*p.get(3)?);
    let interval = match version {
        2 => u16::from(*p.get(5)?),
        3 => be16(p, 4)? & 0x0fff,
        _ => return None,
    };
    let addrs = (0..count)
        .map(|i| match ip.src {
            IpAddr::V4(_) => ip4(p, 8 + 4 * i).map(IpAddr::from),
            IpAddr::V6(_) => ip6(p, 8 + 16 * i).map(IpAddr::from),
        })
        .collect::<Option<Vec<_>>>()?;
    Some(VrrpAdvert {
        src: ip.src,
        src_mac: e.src,
        version,
        vrid: *p.get(1)?,
        priority: *p.get(2)?,
        interval,
        addrs,
        ttl: ip.ttl,
    })
}

/// A gratuitous ARP (request or reply whose sender and target address are equal): the
/// announced address and the MAC it is announced at.
pub fn is_garp(frame: &[u8]) -> Option<(Ipv4Addr, Mac)> {
    let a = arp(frame)?;
    (a.spa == a.tpa).then_some((a.spa, a.sha))
}

/// An ICMPv6 Neighbour Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborAdvert {
    /// The address advertised.
    pub target: Ipv6Addr,
    /// Target link-layer address option, if present.
    pub tlla: Option<Mac>,
    /// Source MAC of the frame.
    pub src_mac: Mac,
    /// S flag: an answer to a solicitation.
    pub solicited: bool,
    /// O flag: overrides an existing cache entry.
    pub override_flag: bool,
}

impl NeighborAdvert {
    /// The MAC a neighbour cache would learn: the option if present, else the frame source.
    pub fn mac(&self) -> Mac {
        self.tlla.unwrap_or(self.src_mac)
    }
}

/// Decodes a Neighbour Advertisement.
pub fn neighbor_advert(frame: &[u8]) -> Option<NeighborAdvert> {
    let e = eth(frame)?;
    let ip = ip(frame)?;
    let p = ip.payload;
    if ip.proto != PROTO_ICMPV6 || *p.first()? != 136 {
        return None;
    }
    let flags = *p.get(4)?;
    Some(NeighborAdvert {
        target: ip6(p, 8)?,
        tlla: option_mac(p.get(24..)?, 2),
        src_mac: e.src,
        solicited: flags & 0x40 != 0,
        override_flag: flags & 0x20 != 0,
    })
}

/// An unsolicited Neighbour Advertisement (the IPv6 gratuitous ARP): target and MAC.
pub fn is_unsolicited_na(frame: &[u8]) -> Option<(Ipv6Addr, Mac)> {
    let na = neighbor_advert(frame)?;
    (!na.solicited).then(|| (na.target, na.mac()))
}

/// An ICMP or ICMPv6 echo request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// Source MAC: tells which host answered.
    pub src_mac: Mac,
    /// Reply (true) or request.
    pub reply: bool,
    /// Identifier.
    pub id: u16,
    /// Sequence number.
    pub seq: u16,
}

/// Decodes an ICMP(v6) echo request or reply.
pub fn icmp_echo(frame: &[u8]) -> Option<Echo> {
    let e = eth(frame)?;
    let ip = ip(frame)?;
    let p = ip.payload;
    let reply = match (ip.proto, *p.first()?) {
        (PROTO_ICMP, 8) | (PROTO_ICMPV6, 128) => false,
        (PROTO_ICMP, 0) | (PROTO_ICMPV6, 129) => true,
        _ => return None,
    };
    Some(Echo {
        src: ip.src,
        dst: ip.dst,
        src_mac: e.src,
        reply,
        id: be16(p, 4)?,
        seq: be16(p, 6)?,
    })
}

/// The MAC in the first NDP option of type `kind` (1 = source, 2 = target link-layer).
fn option_mac(mut opts: &[u8], kind: u8) -> Option<Mac> {
    while opts.len() >= 8 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 || len > opts.len() {
            return None;
        }
        if opts[0] == kind {
            return Mac::from_slice(&opts[2..len]);
        }
        opts = &opts[len..];
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn ip4(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::from(
        <[u8; 4]>::try_from(b.get(at..at + 4)?).ok()?,
    ))
}

fn ip6(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    Some(Ipv6Addr::from(
        <[u8; 16]>::try_from(b.get(at..at + 16)?).ok()?,
    ))
}

#[cfg(test)]
mod tests;
