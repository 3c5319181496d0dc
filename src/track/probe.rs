//! One-shot probes: ICMP echo, TCP connect, HTTP GET and reading a track file. Each returns
//! whether it passed and a line of detail for the logs.
//!
//! HTTP is a hand-written HTTP/1.0 GET over a tokio `TcpStream`. A client crate (hyper,
//! reqwest) would bring a large dependency tree for one status line and a substring; asking
//! for HTTP/1.0 keeps the answer simple to read correctly, because a server may not use
//! chunked transfer coding for a 1.0 request, so the body needs no decoding. `Host` is sent,
//! so name-based virtual hosts work.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use surge_ping::{Client, ICMP, PingIdentifier, PingSequence, SurgeError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::config::HttpCheck;

pub use super::track_file::{FileValue, TRACK_FILE_LIMIT, parse_file_value, read_file};

/// The most of an HTTP response that is read; a body substring must appear within it.
pub const HTTP_READ_LIMIT: usize = 64 * 1024;

/// A probe's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probed {
    /// Passed.
    pub ok: bool,
    /// Failed before anything was sent, for want of a local resource (see
    /// [`local_resource_error`]): the failure says nothing about the target.
    pub local: bool,
    /// What was seen, for the logs.
    pub detail: String,
}

impl Probed {
    fn pass(detail: impl Into<String>) -> Self {
        Probed {
            ok: true,
            local: false,
            detail: detail.into(),
        }
    }
    fn fail(detail: impl Into<String>) -> Self {
        Probed {
            ok: false,
            local: false,
            detail: detail.into(),
        }
    }
    /// A failure caused by `e`, marked local if it is a local resource error.
    fn failed_on(e: &std::io::Error, detail: impl Into<String>) -> Self {
        Probed {
            local: local_resource_error(e),
            ..Probed::fail(detail)
        }
    }
}

/// Whether `e` is this host running out of something (descriptors, socket buffers, memory)
/// rather than an answer from the network.
pub fn local_resource_error(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Connects to `host:port` within `limit`.
pub async fn tcp(host: &str, port: u16, limit: Duration) -> Probed {
    match timeout(limit, TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Probed::pass(format!("connected to {host}:{port}")),
        Ok(Err(e)) => Probed::failed_on(&e, format!("connect to {host}:{port}: {e}")),
        Err(_) => Probed::fail(format!(
            "connect to {host}:{port}: no answer within {limit:?}"
        )),
    }
}

/// Sends one ICMP echo request to `target` (out of `iface` if given) and waits up to
/// `limit` for the reply: the isolation guard's "can I still reach the gateway?".
///
/// Uses a raw ICMP socket, which needs CAP_NET_RAW (vipd runs as root); a refusal says so
/// in the detail rather than reading as "target unreachable".
pub async fn ping(target: IpAddr, iface: Option<&str>, limit: Duration) -> Probed {
    let via = iface.map_or(String::new(), |i| format!(" via {i}"));
    let kind = match target {
        IpAddr::V4(_) => ICMP::V4,
        IpAddr::V6(_) => ICMP::V6,
    };
    let mut config = surge_ping::Config::builder()
        .kind(kind)
        .sock_type_hint(socket2::Type::RAW);
    if let Some(name) = iface {
        config = config.interface(name);
    }
    let client = match Client::new(&config.build()) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Probed::fail(format!(
                "ping {target}{via}: ICMP sockets need CAP_NET_RAW (run as root): {e}"
            ));
        }
        Err(e) => {
            return Probed::failed_on(&e, format!("ping {target}{via}: opening the socket: {e}"));
        }
    };
    let mut pinger = client.pinger(target, next_identifier()).await;
    pinger.timeout(limit);
    // A link-local IPv6 target means nothing without the interface it is on.
    if let (IpAddr::V6(a), Some(name)) = (target, iface)
        && a.is_unicast_link_local()
    {
        match crate::net::ifindex_by_name(name) {
            Ok(index) => {
                pinger.scope_id(index);
            }
            Err(e) => return Probed::fail(format!("ping {target}{via}: {e}")),
        }
    }
    match pinger.ping(PingSequence(0), PING_PAYLOAD).await {
        Ok((_, rtt)) => Probed::pass(format!("ping {target}{via}: reply in {rtt:?}")),
        Err(SurgeError::Timeout { .. }) => {
            Probed::fail(format!("ping {target}{via}: no reply within {limit:?}"))
        }
        Err(e) => Probed::fail(format!("ping {target}{via}: {e}")),
    }
}

/// The echo payload: recognisable in a capture.
const PING_PAYLOAD: &[u8] = b"vipd isolation check";

/// An echo identifier for one probe. A raw ICMP socket sees every echo reply the host
/// receives, and replies are matched by (target, identifier, sequence); distinct values per
/// probe, offset by the PID, keep concurrent probes and other vipd processes apart.
fn next_identifier() -> PingIdentifier {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Truncating the PID is fine: it only spreads the starting points.
    let base = std::process::id() as u16;
    PingIdentifier(base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// The parts of an `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTarget {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (80 by default).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    /// The `Host` header value.
    pub authority: String,
}

/// Splits an `http://` URL; `None` for anything else (https, userinfo, garbage).
pub fn parse_url(url: &str) -> Option<HttpTarget> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        match after {
            "" => (h, 80),
            p => (h, p.strip_prefix(':')?.parse().ok()?),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (authority, 80),
        }
    };
    if host.is_empty() || port == 0 {
        return None;
    }
    Some(HttpTarget {
        host: host.to_owned(),
        port,
        path: path.split('#').next().unwrap_or("/").to_owned(),
        authority: authority.to_owned(),
    })
}

/// GETs the check's URL and compares the status (and body substring) within `limit`.
pub async fn http(check: &HttpCheck, limit: Duration) -> Probed {
    let Some(target) = parse_url(&check.url) else {
        return Probed::fail(format!("not a plain http:// URL: {}", check.url));
    };
    match timeout(limit, fetch(&target)).await {
        Err(_) => Probed::fail(format!("GET {}: no answer within {limit:?}", check.url)),
        Ok(Err(e)) => Probed::fail(format!("GET {}: {e}", check.url)),
        Ok(Ok(resp)) => judge(check, &resp),
    }
}

async fn fetch(t: &HttpTarget) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect((t.host.as_str(), t.port)).await?;
    let req = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: vipd-check\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        t.path, t.authority
    );
    s.write_all(req.as_bytes()).await?;
    let mut resp = Vec::new();
    (&mut s)
        .take(HTTP_READ_LIMIT as u64)
        .read_to_end(&mut resp)
        .await?;
    Ok(resp)
}

/// Compares a raw HTTP response with what the check expects.
pub fn judge(check: &HttpCheck, resp: &[u8]) -> Probed {
    let text = String::from_utf8_lossy(resp);
    let status_line = text.lines().next().unwrap_or("");
    let mut words = status_line.split_whitespace();
    let status = match (
        words.next(),
        words.next().and_then(|c| c.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code,
        _ => return Probed::fail(format!("GET {}: not an HTTP response", check.url)),
    };
    if status != check.expect_status {
        return Probed::fail(format!(
            "GET {}: status {status}, expected {}",
            check.url, check.expect_status
        ));
    }
    if let Some(want) = &check.expect_body {
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        if !body.contains(want.as_str()) {
            return Probed::fail(format!(
                "GET {}: status {status} but the body lacks {want:?}",
                check.url
            ));
        }
    }
    Probed::pass(format!("GET {}: status {status}", check.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expect_body: Option<&str>) -> HttpCheck {
        HttpCheck {
            url: "http://x/".into(),
            expect_status: 200,
            expect_body: expect_body.map(str::to_owned),
        }
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        let t = parse_url("http://127.0.0.1:8080/health?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8080, "/health?x=1")
        );
        let t = parse_url("http://example.org").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        let t = parse_url("http://[::1]:81/a#frag").unwrap();
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.path.as_str(),
                t.authority.as_str()
            ),
            ("::1", 81, "/a", "[::1]:81")
        );
        let t = parse_url("http://h?q").unwrap();
        assert_eq!(t.path, "/?q");
    }

    #[test]
    fn non_plain_http_urls_are_refused() {
        for u in [
            "https://x/",
            "http://",
            "http://u:p@x/",
            "http://x:0/",
            "http://x:99999/",
            "ftp://x",
        ] {
            assert_eq!(parse_url(u), None, "{u}");
        }
    }

    #[test]
    fn status_and_body_are_compared() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhealthy";
        assert!(judge(&check(None), ok).ok);
        assert!(judge(&check(Some("health")), ok).ok);
        assert!(!judge(&check(Some("sick")), ok).ok);
        let bad = b"HTTP/1.0 503 Service Unavailable\r\n\r\nhealthy";
        let p = judge(&check(None), bad);
        assert!(!p.ok);
        assert!(p.detail.contains("503"), "{}", p.detail);
        assert!(!judge(&check(None), b"garbage").ok);
        assert!(!judge(&check(None), b"").ok);
    }

    #[test]
    fn the_body_substring_is_not_matched_in_headers() {
        let resp = b"HTTP/1.1 200 OK\r\nX-Status: healthy\r\n\r\nnope";
        assert!(!judge(&check(Some("healthy")), resp).ok);
    }

    #[test]
    fn running_out_of_descriptors_or_memory_is_a_local_error_and_a_refusal_is_not() {
        use std::io::Error;
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            let e = Error::from_raw_os_error(errno);
            assert!(local_resource_error(&e), "{e}");
            assert!(Probed::failed_on(&e, "x").local);
        }
        for errno in [
            libc::ECONNREFUSED,
            libc::ENETUNREACH,
            libc::EHOSTUNREACH,
            libc::ETIMEDOUT,
        ] {
            let e = Error::from_raw_os_error(errno);
            assert!(!local_resource_error(&e), "{e}");
        }
        assert!(!local_resource_error(&Error::other("x")));
    }

    /// Whether this process may open unprivileged ICMP (datagram) sockets, which surge-ping
    /// falls back to when a raw socket is refused.
    fn unprivileged_icmp_allowed() -> bool {
        let range =
            std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
        let mut bounds = range.split_whitespace().map(|w| w.parse::<u32>().ok());
        let gid = nix::unistd::Gid::effective().as_raw();
        matches!(
            (bounds.next().flatten(), bounds.next().flatten()),
            (Some(lo), Some(hi)) if lo <= gid && gid <= hi
        )
    }

    #[tokio::test]
    async fn ping_reaches_loopback_as_root_and_names_the_permission_problem_otherwise() {
        let p = ping("127.0.0.1".parse().unwrap(), None, Duration::from_secs(2)).await;
        if nix::unistd::Uid::effective().is_root() || unprivileged_icmp_allowed() {
            assert!(p.ok, "{}", p.detail);
            assert!(
                p.detail.starts_with("ping 127.0.0.1: reply in "),
                "{}",
                p.detail
            );
        } else {
            assert!(!p.ok, "{}", p.detail);
            assert!(p.detail.contains("need CAP_NET_RAW"), "{}", p.detail);
        }
    }

    #[tokio::test]
    async fn ping_through_an_interface_as_root() {
        let lo = ping("::1".parse().unwrap(), Some("lo"), Duration::from_secs(2)).await;
        let missing = ping(
            "127.0.0.1".parse().unwrap(),
            Some("vtnosuch0"),
            Duration::from_secs(2),
        )
        .await;
        assert!(!missing.ok, "{}", missing.detail);
        assert!(
            missing.detail.starts_with("ping 127.0.0.1 via vtnosuch0: "),
            "{}",
            missing.detail
        );
        if nix::unistd::Uid::effective().is_root() {
            assert!(lo.ok, "{}", lo.detail);
            assert!(
                lo.detail.starts_with("ping ::1 via lo: reply in "),
                "{}",
                lo.detail
            );
            assert!(
                missing.detail.contains("No such device"),
                "{}",
                missing.detail
            );
        } else {
            assert!(!lo.ok, "{}", lo.detail);
            assert!(lo.detail.contains("ping ::1 via lo: "), "{}", lo.detail);
        }
    }
}
