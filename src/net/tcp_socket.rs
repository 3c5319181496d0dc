//! The TCP heartbeat channel's sockets: a listener on the channel's port and interface, and
//! outgoing connections from the channel's source address. The frames they carry are
//! `vrrp::udp_frame`'s in their stream form; this only opens sockets.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};

use crate::net::NetError;
use crate::vrrp::Family;

/// DSCP CS6 (network control), as the UDP channel and VRRP adverts use.
const TOS_CS6: u32 = 0xc0;

/// Pending connections the kernel holds before vipd accepts them. Each peer keeps one
/// connection open, so a few are plenty; a flood overflows the backlog, not vipd.
const BACKLOG: i32 = 16;

/// Listens on `[::]:port` or `0.0.0.0:port`; with `iface`, SO_BINDTODEVICE so only connections
/// arriving over that interface are accepted. Port 0 picks an ephemeral port.
///
/// Must be called inside a tokio runtime, which the socket registers with.
pub fn listen(family: Family, port: u16, iface: Option<&str>) -> Result<TcpListener, NetError> {
    let on = iface.map_or(String::new(), |i| format!(" on {i}"));
    let what = |step: &str| format!("{step} for the TCP channel listener (port {port}{on})");
    let (domain, addr): (_, SocketAddr) = match family {
        Family::V4 => (Domain::IPV4, (Ipv4Addr::UNSPECIFIED, port).into()),
        Family::V6 => (Domain::IPV6, (Ipv6Addr::UNSPECIFIED, port).into()),
    };
    let sock = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| NetError::io(what("opening"), e))?;
    // On Linux this only lets a restarted vipd bind while its old connections sit in
    // TIME_WAIT; a second listener on the port is still refused.
    sock.set_reuse_address(true)
        .map_err(|e| NetError::io(what("SO_REUSEADDR"), e))?;
    if family == Family::V6 {
        sock.set_only_v6(true)
            .map_err(|e| NetError::io(what("IPV6_V6ONLY"), e))?;
    }
    if let Some(name) = iface {
        sock.bind_device(Some(name.as_bytes()))
            .map_err(|e| NetError::io(what("SO_BINDTODEVICE"), e))?;
    }
    sock.set_nonblocking(true)
        .map_err(|e| NetError::io(what("O_NONBLOCK"), e))?;
    sock.bind(&addr.into())
        .map_err(|e| NetError::io(what(&format!("binding {addr}")), e))?;
    sock.listen(BACKLOG)
        .map_err(|e| NetError::io(what("listening"), e))?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(NetError::Invalid {
            what: what("registering"),
            reason: "called outside a tokio runtime".into(),
        });
    }
    TcpListener::from_std(sock.into())
        .map_err(|e| NetError::io(what("registering with the runtime"), e))
}

/// Connects to `to` from `src` (any port), over `iface` when given. The caller bounds the
/// wait. Data the peer has not acknowledged within `unacked` aborts the connection
/// (TCP_USER_TIMEOUT): without it a connection across a partition stays "open" for many
/// minutes of retransmissions, writes keep filling its buffer, and a healed path would wait
/// for the next retransmission, seconds away after exponential backoff.
pub async fn connect(
    src: IpAddr,
    iface: Option<&str>,
    to: SocketAddr,
    unacked: std::time::Duration,
) -> io::Result<TcpStream> {
    let sock = match src {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    if let Some(name) = iface {
        sock.bind_device(Some(name.as_bytes()))?;
    }
    match src {
        IpAddr::V4(_) => socket2::SockRef::from(&sock).set_tos_v4(TOS_CS6)?,
        IpAddr::V6(_) => socket2::SockRef::from(&sock).set_tclass_v6(TOS_CS6)?,
    }
    socket2::SockRef::from(&sock).set_tcp_user_timeout(Some(unacked))?;
    sock.bind(SocketAddr::new(src, 0))?;
    let stream = sock.connect(to).await?;
    // An advert is one small write: send it now, not after the previous one is acked.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Applies DSCP CS6 to an accepted connection, as to every heartbeat socket.
pub fn set_tos(stream: &TcpStream) -> io::Result<()> {
    let sock = socket2::SockRef::from(stream);
    match stream.local_addr()?.ip() {
        IpAddr::V4(_) => sock.set_tos_v4(TOS_CS6),
        IpAddr::V6(_) => sock.set_tclass_v6(TOS_CS6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_connection_from_a_source_address_reaches_the_listener() {
        let listener = listen(Family::V4, 0, None).unwrap();
        let port = listener.local_addr().unwrap().port();
        let to = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
        let unacked = std::time::Duration::from_secs(2);
        let mut out = connect(Ipv4Addr::LOCALHOST.into(), None, to, unacked)
            .await
            .unwrap();
        let (mut inbound, from) = listener.accept().await.unwrap();
        assert_eq!(from, out.local_addr().unwrap());
        set_tos(&inbound).unwrap();
        out.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        inbound.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
    }

    #[tokio::test]
    async fn an_ipv6_listener_takes_ipv6_connections() {
        let listener = listen(Family::V6, 0, None).unwrap();
        let port = listener.local_addr().unwrap().port();
        let to = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port);
        let unacked = std::time::Duration::from_secs(2);
        let out = connect(Ipv6Addr::LOCALHOST.into(), None, to, unacked)
            .await
            .unwrap();
        let (inbound, from) = listener.accept().await.unwrap();
        assert_eq!(from, out.local_addr().unwrap());
        set_tos(&inbound).unwrap();
    }
}
