//! A tiny classic-pcap reader and writer, and just enough Ethernet/IPv6 framing for the
//! packet tests. Test support only: it trusts its input far more than the daemon may.

// Each test crate that includes this file uses a different subset of it.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv6Addr};

/// Ethernet link type (LINKTYPE_ETHERNET).
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// One captured frame.
pub struct Record {
    pub ts_sec: u32,
    pub data: Vec<u8>,
}

/// A whole capture file.
pub struct Capture {
    pub linktype: u32,
    pub records: Vec<Record>,
}

/// Reads a classic pcap file in either byte order, micro- or nanosecond resolution.
pub fn read(bytes: &[u8]) -> Result<Capture, String> {
    if bytes.len() < 24 {
        return Err("shorter than a pcap header".into());
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let big_endian = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        _ => return Err(format!("not a classic pcap file (magic {magic:02x?})")),
    };
    let u32_at = |at: usize| {
        let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let linktype = u32_at(20);
    let mut records = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        if at + 16 > bytes.len() {
            return Err(format!("truncated record header at offset {at}"));
        }
        let ts_sec = u32_at(at);
        let caplen = u32_at(at + 8) as usize;
        let origlen = u32_at(at + 12) as usize;
        if caplen != origlen {
            return Err(format!("record at {at} was truncated by the snaplen"));
        }
        let data = bytes
            .get(at + 16..at + 16 + caplen)
            .ok_or_else(|| format!("truncated record data at offset {at}"))?
            .to_vec();
        records.push(Record { ts_sec, data });
        at += 16 + caplen;
    }
    Ok(Capture { linktype, records })
}

/// Writes frames as a little-endian, microsecond pcap file, one second apart.
pub fn write(linktype: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&linktype.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        let len = u32::try_from(frame.len()).expect("frame fits a pcap record");
        out.extend_from_slice(&(1_700_000_000 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

/// Splits an Ethernet II frame (no VLAN tag) into its source MAC, EtherType and payload.
pub fn ethernet(frame: &[u8]) -> Option<([u8; 6], u16, &[u8])> {
    let src: [u8; 6] = frame.get(6..12)?.try_into().ok()?;
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    Some((src, ethertype, &frame[14..]))
}

/// Builds an Ethernet II frame.
pub fn ethernet_frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The parts of an IPv6 packet without extension headers.
pub struct Ipv6 {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub hop_limit: u8,
    pub next_header: u8,
    pub payload: Vec<u8>,
}

/// Splits an IPv6 packet, honouring the payload length (Ethernet may pad).
pub fn ipv6(packet: &[u8]) -> Option<Ipv6> {
    if packet.len() < 40 || packet[0] >> 4 != 6 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    let src: [u8; 16] = packet[8..24].try_into().ok()?;
    let dst: [u8; 16] = packet[24..40].try_into().ok()?;
    Some(Ipv6 {
        src: Ipv6Addr::from(src).into(),
        dst: Ipv6Addr::from(dst).into(),
        hop_limit: packet[7],
        next_header: packet[6],
        payload: packet.get(40..40 + len)?.to_vec(),
    })
}

/// Builds an IPv6 header (traffic class 0xc0, as VRRP senders use) around a payload.
pub fn ipv6_packet(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    next_header: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&[0x6c, 0x00, 0x00, 0x00]);
    p.extend_from_slice(
        &u16::try_from(payload.len())
            .expect("small payload")
            .to_be_bytes(),
    );
    p.extend_from_slice(&[next_header, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}
