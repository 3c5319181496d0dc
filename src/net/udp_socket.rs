//! The UDP heartbeat channel's socket: plain UDP on a configured port, for paths where
//! protocol 112 is blocked. The frames it carries are `vrrp::udp_frame`'s; this only moves
//! bytes.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::UdpSocket;

use crate::net::NetError;
use crate::vrrp::Family;

/// DSCP CS6 (network control), the class routing protocols and VRRP adverts use, so a
/// congested QoS queue does not delay a heartbeat behind data and cause a false failover.
const TOS_CS6: u32 = 0xc0;

/// A bound UDP socket for one channel port and family.
#[derive(Debug)]
pub struct UdpChannelSocket {
    sock: UdpSocket,
    port: u16,
}

impl UdpChannelSocket {
    /// Binds `[::]:port` or `0.0.0.0:port`; with `iface`, SO_BINDTODEVICE so it only uses that
    /// interface. Port 0 picks an ephemeral port (see [`local_port`](Self::local_port)).
    ///
    /// Must be called inside a tokio runtime, which the socket registers with.
    pub fn bind(family: Family, port: u16, iface: Option<&str>) -> Result<Self, NetError> {
        let on = iface.map_or(String::new(), |i| format!(" on {i}"));
        let what = |step: &str| format!("{step} for the UDP channel socket (port {port}{on})");
        let (domain, addr): (_, SocketAddr) = match family {
            Family::V4 => (Domain::IPV4, (Ipv4Addr::UNSPECIFIED, port).into()),
            Family::V6 => (Domain::IPV6, (Ipv6Addr::UNSPECIFIED, port).into()),
        };
        let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| NetError::io(what("opening"), e))?;
        // No SO_REUSEADDR: on UDP it lets any local user bind the same port (with the option
        // set on their socket too) and take a share of the heartbeat frames. A reload keeps,
        // or takes back while it lingers, the open socket of an unchanged (family, port,
        // interface) (`daemon::sockets`), and sockets bound to different interfaces do not
        // conflict, so nothing of ours needs to share the port.
        match family {
            Family::V4 => sock
                .set_tos_v4(TOS_CS6)
                .map_err(|e| NetError::io(what("IP_TOS"), e))?,
            Family::V6 => {
                // Without this, [::] would also claim the IPv4 port, and the IPv4 socket of
                // the same channel could not bind.
                sock.set_only_v6(true)
                    .map_err(|e| NetError::io(what("IPV6_V6ONLY"), e))?;
                sock.set_tclass_v6(TOS_CS6)
                    .map_err(|e| NetError::io(what("IPV6_TCLASS"), e))?;
            }
        }
        if let Some(name) = iface {
            sock.bind_device(Some(name.as_bytes()))
                .map_err(|e| NetError::io(what("SO_BINDTODEVICE"), e))?;
        }
        sock.set_nonblocking(true)
            .map_err(|e| NetError::io(what("O_NONBLOCK"), e))?;
        sock.bind(&addr.into())
            .map_err(|e| NetError::io(what(&format!("binding {addr}")), e))?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NetError::Invalid {
                what: what("registering"),
                reason: "called outside a tokio runtime".into(),
            });
        }
        let sock = UdpSocket::from_std(sock.into())
            .map_err(|e| NetError::io(what("registering with the runtime"), e))?;
        let port = sock
            .local_addr()
            .map_err(|e| NetError::io(what("reading the bound address"), e))?
            .port();
        Ok(UdpChannelSocket { sock, port })
    }

    /// The port the socket is bound to (the one the kernel chose if `bind` got 0).
    pub fn local_port(&self) -> u16 {
        self.port
    }

    /// Waits for one datagram; returns its length and sender. A datagram longer than `buf`
    /// is cut to it (the frame's tag then fails, so it is counted, not misread).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.recv_from(buf).await
    }

    /// Sends one frame without waiting. A full send buffer comes back as `WouldBlock`:
    /// the caller counts it as a lost advert rather than stall the router task.
    pub fn try_send_to(&self, frame: &[u8], to: SocketAddr) -> io::Result<()> {
        // Straight to sendto(2) on the non-blocking descriptor, not through tokio's
        // `try_send_to`: that one answers WouldBlock until the reactor has first seen the
        // socket writable, which would drop the first advert after every (re)bind.
        SockRef::from(&self.sock)
            .send_to(frame, &to.into())
            .map(drop)
    }
}

/// Every address on this host's interfaces, of both families, read afresh. A heartbeat
/// frame sent from one of these, or sealed with one as its origin, is this host's own: a
/// peer list that names us, or a host on the path that reflects frames, must not make an
/// instance hear itself.
pub fn host_addrs() -> io::Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs()? {
        let Some(addr) = ifa.address else { continue };
        if let Some(a) = addr.as_sockaddr_in() {
            out.push(IpAddr::V4(a.ip()));
        } else if let Some(a) = addr.as_sockaddr_in6() {
            out.push(IpAddr::V6(a.ip()));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::vrrp::udp_frame::{FrameKey, Stamp, open, seal};

    /// The IP_TOS or IPV6_TCLASS value the socket sends with.
    fn traffic_class(s: &UdpChannelSocket) -> io::Result<u32> {
        let sock = SockRef::from(&s.sock);
        match s.sock.local_addr()? {
            SocketAddr::V4(_) => sock.tos_v4(),
            SocketAddr::V6(_) => sock.tclass_v6(),
        }
    }

    async fn exchange(family: Family, loopback: std::net::IpAddr, iface: Option<&str>) {
        let key = FrameKey::new(b"a key of some twenty bytes".to_vec()).unwrap();
        let a = UdpChannelSocket::bind(family, 0, iface).unwrap();
        let b = UdpChannelSocket::bind(family, 0, iface).unwrap();
        assert_ne!(a.local_port(), 0);
        assert_eq!(traffic_class(&a).unwrap(), TOS_CS6);
        // The codec does not look inside the payload; any bytes stand for the advert here.
        let stamp = Stamp {
            epoch: 1,
            seq: 9,
            time_us: 0,
        };
        let frame = seal(&key, stamp, loopback, b"not parsed by the socket");
        a.try_send_to(&frame, SocketAddr::new(loopback, b.local_port()))
            .unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), b.recv(&mut buf))
            .await
            .expect("the frame arrives")
            .unwrap();
        assert_eq!(from, SocketAddr::new(loopback, a.local_port()));
        let opened = open(&key, &buf[..n]).unwrap();
        assert_eq!((opened.stamp, opened.origin), (stamp, loopback));
        assert_eq!(opened.vrrp, b"not parsed by the socket");
    }

    #[tokio::test]
    async fn a_sealed_frame_crosses_ipv4_loopback() {
        exchange(Family::V4, Ipv4Addr::LOCALHOST.into(), None).await;
    }

    #[tokio::test]
    async fn a_sealed_frame_crosses_ipv6_loopback() {
        exchange(Family::V6, Ipv6Addr::LOCALHOST.into(), None).await;
    }

    #[tokio::test]
    async fn the_port_is_not_shared_with_another_socket_and_families_do_not_collide() {
        let ours = UdpChannelSocket::bind(Family::V4, 0, None).unwrap();
        let port = ours.local_port();
        // What another local user would try: the same port with SO_REUSEADDR on their side,
        // on the wildcard and on a specific address.
        for ip in [Ipv4Addr::UNSPECIFIED, Ipv4Addr::LOCALHOST] {
            let other = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
            other.set_reuse_address(true).unwrap();
            let err = other
                .bind(&SocketAddr::from((ip, port)).into())
                .expect_err("the heartbeat port must not be shared");
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{ip}: {err}");
        }
        let err = UdpChannelSocket::bind(Family::V4, port, None).unwrap_err();
        assert!(err.to_string().contains("binding 0.0.0.0:"), "{err}");
        let v6 = UdpChannelSocket::bind(Family::V6, port, None).unwrap();
        assert_eq!(v6.local_port(), port);
    }

    /// Linux 5.7 and later allow SO_BINDTODEVICE without CAP_NET_RAW on a socket not yet
    /// bound to a device, so this holds as root and as any user.
    #[tokio::test]
    async fn a_pair_bound_to_an_interface_talks_over_it() {
        exchange(Family::V4, Ipv4Addr::LOCALHOST.into(), Some("lo")).await;
    }

    #[tokio::test]
    async fn a_missing_interface_is_named_with_the_port() {
        let err = UdpChannelSocket::bind(Family::V4, 0, Some("vtnosuch0")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("port 0 on vtnosuch0"), "{text}");
        assert!(text.contains("SO_BINDTODEVICE"), "{text}");
    }

    #[test]
    fn host_addresses_include_what_a_bound_socket_can_send_from() {
        // Whatever this host has, a UDP socket connected through an address of its own
        // sends from one of them: the loopback interface always has 127.0.0.1 when up.
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = probe.local_addr().unwrap().ip();
        let addrs = host_addrs().unwrap();
        assert!(addrs.contains(&local), "{local} not in {addrs:?}");
        assert!(addrs.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
    }

    #[test]
    fn binding_outside_a_runtime_is_an_error_not_a_panic() {
        let err = UdpChannelSocket::bind(Family::V4, 0, None).unwrap_err();
        assert!(err.to_string().contains("outside a tokio runtime"), "{err}");
    }
}
