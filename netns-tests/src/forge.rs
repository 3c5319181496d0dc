//! Forged VRRP adverts, as a host on the LAN can send them: any source address, any TTL,
//! any priority and interval, at a chosen rate, out of `eth0`. Run it inside a namespace
//! with [`crate::in_netns`]; the raw socket (`IP_HDRINCL`) needs root there.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use vipd::vrrp::packet::{self, Advert, Auth};
use vipd::vrrp::timing::Centis;
use vipd::vrrp::{V3Checksum, Version};

use crate::{HarnessError, Result};

/// Where the forged adverts claim to come from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// One address (a node's, to impersonate it).
    Fixed(Ipv4Addr),
    /// A different address of 10.0.0.0/8 for each packet, as a spoofer defeating a
    /// per-source limit would.
    Random,
}

/// One forged advert, repeated.
#[derive(Clone, Debug)]
pub struct Forgery {
    /// VRRP version.
    pub version: Version,
    /// Virtual router ID.
    pub vrid: u8,
    /// Advertised priority.
    pub priority: u8,
    /// Advertised interval.
    pub interval: Centis,
    /// Listed addresses (the VIPs, for a well-formed advert).
    pub addresses: Vec<Ipv4Addr>,
    /// Claimed source.
    pub src: Source,
    /// Destination: the VRRP group, or a node's address for unicast.
    pub dst: Ipv4Addr,
    /// IP TTL.
    pub ttl: u8,
}

impl Forgery {
    /// A well-formed advert to the VRRP group from `src` with TTL 255.
    pub fn multicast(version: Version, vrid: u8, priority: u8, vips: &[Ipv4Addr]) -> Forgery {
        Forgery {
            version,
            vrid,
            priority,
            interval: if version == Version::V2 {
                Centis::ONE_SECOND
            } else {
                Centis::new(10)
            },
            addresses: vips.to_vec(),
            src: Source::Random,
            dst: packet::MULTICAST_V4,
            ttl: 255,
        }
    }

    fn packet(&self, src: Ipv4Addr) -> Vec<u8> {
        let advert = Advert {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            interval: self.interval,
            addresses: self.addresses.iter().map(|a| (*a).into()).collect(),
            auth: Auth::None,
        };
        let mut p = packet::emit_ipv4(&advert, src, self.dst, V3Checksum::PseudoHeader)
            .expect("a forgery the codec can encode");
        // Linux fills in the header checksum of an IP_HDRINCL packet itself.
        p[8] = self.ttl;
        p
    }
}

/// Sends `per_second` × `duration` copies of `forgery` (at least one), paced at `per_second`;
/// returns how many were sent. A sender slower than the rate stretches the flood rather than
/// cutting it short, so callers measure over the time it really took.
pub fn flood(forgery: &Forgery, per_second: u32, duration: Duration) -> Result<u64> {
    let sock = Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(libc::IPPROTO_RAW)),
    )
    .map_err(|e| HarnessError::io("raw socket", e))?;
    sock.set_header_included_v4(true)
        .map_err(|e| HarnessError::io("IP_HDRINCL", e))?;
    // The client's LAN: multicast has no route to pick it by.
    sock.bind_device(Some(b"eth0"))
        .map_err(|e| HarnessError::io("SO_BINDTODEVICE eth0", e))?;
    let to: SocketAddr = SocketAddrV4::new(forgery.dst, 0).into();
    let fixed = match forgery.src {
        Source::Fixed(a) => Some(forgery.packet(a)),
        Source::Random => None,
    };
    let mut rng = crate::bench::rng::Rng::new(0x9E37_79B9);
    let total = ((duration.as_secs_f64() * f64::from(per_second)) as u64).max(1);
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        if sent >= total {
            return Ok(sent);
        }
        // Keep to the rate in 1 ms steps.
        let due = ((start.elapsed().as_secs_f64() * f64::from(per_second)) as u64 + 1).min(total);
        while sent < due {
            let bytes = match &fixed {
                Some(p) => p.clone(),
                None => {
                    let host = ((rng.next_u64() & 0x00ff_ffff) as u32).max(1);
                    forgery.packet(Ipv4Addr::from(0x0a00_0000 | host))
                }
            };
            sock.send_to(&bytes, &to.into())
                .map_err(|e| HarnessError::io("send forged advert", e))?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
