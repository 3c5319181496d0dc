//! The kernel's process events connector (`NETLINK_CONNECTOR`, `CN_IDX_PROC`): a message
//! for every fork, exec, name change and exit, so a process check needs no polling.
//!
//! Subscribing needs CAP_NET_ADMIN, and the kernel only sends these events to listeners in
//! the initial user and PID namespaces; elsewhere [`ProcEvents::subscribe`] fails and the
//! caller falls back to scanning /proc.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

const NETLINK_CONNECTOR: libc::c_int = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const NLMSG_HDR: usize = 16;
const CN_MSG_HDR: usize = 20;
/// `what`, `cpu`, `timestamp_ns` before the event's data.
const EVENT_HDR: usize = 16;
const PROC_EVENT_FORK: u32 = 0x1;
const PROC_EVENT_EXEC: u32 = 0x2;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// One process event, for whole processes (thread group leaders) only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcEvent {
    /// A new process (it still carries its parent's name and command line).
    Fork(u32),
    /// A process ran a new program.
    Exec(u32),
    /// A process changed its name.
    Comm(u32),
    /// A process ended.
    Exit(u32),
    /// The kernel dropped events (receive buffer full): what is known may be stale.
    Lost,
}

/// A subscription to process events.
#[derive(Debug)]
pub struct ProcEvents {
    fd: AsyncFd<OwnedFd>,
    buf: Vec<u8>,
    pending: Vec<ProcEvent>,
}

impl ProcEvents {
    /// Opens the connector socket and asks for process events.
    pub fn subscribe() -> io::Result<ProcEvents> {
        // The kernel ignores a subscription from another PID or user namespace without an
        // error, and would then send nothing: refuse it here so the caller scans instead.
        if !in_initial_namespaces() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "not in the host's PID and user namespaces, where the kernel sends process events",
            ));
        }
        // SAFETY: plain socket(2); the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                NETLINK_CONNECTOR,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = CN_IDX_PROC;
        // SAFETY: `addr` is a valid sockaddr_nl of the given length.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let msg = listen_message();
        // SAFETY: `msg` is a valid buffer of its length.
        let sent = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ProcEvents {
            // SAFETY: the OwnedFd keeps its descriptor open until it is dropped with the
            // AsyncFd, and always returns that same descriptor from `as_raw_fd`.
            fd: unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
                .map_err(|e| e.into_parts().1)?,
            buf: vec![0; 64 * 1024],
            pending: Vec::new(),
        })
    }

    /// The next event.
    pub async fn next(&mut self) -> io::Result<ProcEvent> {
        loop {
            if let Some(ev) = self.pending.pop() {
                return Ok(ev);
            }
            let mut guard = self.fd.readable().await?;
            let buf = &mut self.buf;
            let got = guard.try_io(|fd| {
                // SAFETY: `buf` is a valid writable buffer of its length.
                let n =
                    unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match got {
                Err(_would_block) => continue,
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Ok(ProcEvent::Lost);
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(n)) => {
                    let mut evs = parse(&self.buf[..n]);
                    evs.reverse();
                    self.pending = evs;
                }
            }
        }
    }
}

/// Whether this process is in the initial PID and user namespaces: their inode numbers
/// are fixed by the kernel (PROC_PID_INIT_INO, PROC_USER_INIT_INO).
fn in_initial_namespaces() -> bool {
    use std::os::unix::fs::MetadataExt;
    let ino = |ns: &str| std::fs::metadata(format!("/proc/self/ns/{ns}")).map(|m| m.ino());
    matches!(
        (ino("pid"), ino("user")),
        (Ok(0xEFFF_FFFC), Ok(0xEFFF_FFFD))
    )
}

fn listen_message() -> Vec<u8> {
    let len = NLMSG_HDR + CN_MSG_HDR + 4;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&std::process::id().to_ne_bytes());
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // ack
    m.extend_from_slice(&4u16.to_ne_bytes()); // payload length
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    m
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The events of one datagram (one or more netlink messages). Short or unknown messages
/// are skipped: the kernel adds event kinds over time.
pub fn parse(mut b: &[u8]) -> Vec<ProcEvent> {
    let mut out = Vec::new();
    while let Some(len) = u32_at(b, 0).map(|l| l as usize) {
        if len < NLMSG_HDR || len > b.len() {
            break;
        }
        let ev = &b[NLMSG_HDR..len];
        let data = NLMSG_HDR + CN_MSG_HDR;
        if len >= data + EVENT_HDR {
            let ev = &ev[CN_MSG_HDR..];
            let what = u32_at(ev, 0).unwrap_or(0);
            let d = EVENT_HDR;
            // Each kind's data starts with (pid, tgid) of the process, or for a fork the
            // parent's pair then the child's; a thread has pid != tgid.
            let leader = |at: usize| match (u32_at(ev, d + at), u32_at(ev, d + at + 4)) {
                (Some(pid), Some(tgid)) if pid == tgid => Some(pid),
                _ => None,
            };
            let e = match what {
                PROC_EVENT_FORK => leader(8).map(ProcEvent::Fork),
                PROC_EVENT_EXEC => leader(0).map(ProcEvent::Exec),
                PROC_EVENT_COMM => leader(0).map(ProcEvent::Comm),
                PROC_EVENT_EXIT => leader(0).map(ProcEvent::Exit),
                _ => None,
            };
            out.extend(e);
        }
        // Netlink messages are 4-byte aligned.
        let next = (len + 3) & !3;
        b = b.get(next..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(what: u32, words: &[u32]) -> Vec<u8> {
        let mut payload = Vec::new();
        payload.extend_from_slice(&what.to_ne_bytes());
        payload.extend_from_slice(&0u32.to_ne_bytes());
        payload.extend_from_slice(&0u64.to_ne_bytes());
        for w in words {
            payload.extend_from_slice(&w.to_ne_bytes());
        }
        let len = NLMSG_HDR + CN_MSG_HDR + payload.len();
        let mut m = vec![0u8; NLMSG_HDR + CN_MSG_HDR];
        m[..4].copy_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&payload);
        m
    }

    #[test]
    fn events_of_whole_processes_are_read_and_threads_skipped() {
        let mut dgram = message(PROC_EVENT_FORK, &[10, 10, 42, 42]);
        dgram.extend(message(PROC_EVENT_EXEC, &[42, 42]));
        dgram.extend(message(PROC_EVENT_FORK, &[42, 42, 43, 42])); // a thread
        dgram.extend(message(PROC_EVENT_COMM, &[42, 42, 0x6161, 0, 0, 0]));
        dgram.extend(message(PROC_EVENT_EXIT, &[42, 42, 0, 17]));
        dgram.extend(message(0x4, &[42, 42, 0, 0])); // uid change: not wanted
        assert_eq!(
            parse(&dgram),
            [
                ProcEvent::Fork(42),
                ProcEvent::Exec(42),
                ProcEvent::Comm(42),
                ProcEvent::Exit(42)
            ]
        );
    }

    #[test]
    fn a_truncated_message_ends_parsing_without_panic() {
        let m = message(PROC_EVENT_EXEC, &[42, 42]);
        for cut in 0..m.len() {
            assert!(parse(&m[..cut]).is_empty());
        }
    }
}
