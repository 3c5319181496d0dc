//! The socket that carries a VRRP interface's routine adverts (all but resignations), read
//! either as they come (polled) or only when its reader chooses (not polled: the poller
//! never wakes the thread for it).
//!
//! A Backup learns nothing from its Master's routine adverts until its Master_Down deadline
//! would come, so it may read them then, all at once, each dated by its kernel stamp
//! ([`RecvPacket::arrived`]). Unpolled, the socket costs no wake-up per advert; it is read
//! when a deadline asks for it, and before its queue could fill ([`QueueFill`]).

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use nix::sys::socket::{setsockopt, sockopt};
use socket2::Socket;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::recv::{Bound, RecvBatch};
use super::{Ready, RecvPacket, VrrpSocket, filter, setup};
use crate::net::NetError;
use crate::vrrp::Family;

/// The receive buffer asked for: unpolled, the socket holds what arrives between two reads.
/// At 1,000 instances at 100 ms on four sockets, about 2,500 adverts a second each; the
/// kernel doubles the figure for its own overhead.
const RECEIVE_BUFFER: usize = 1 << 20;

/// `SO_MEMINFO` (Linux 3.18): the socket's memory counters.
const SO_MEMINFO: libc::c_int = 55;

/// A raw VRRP socket for routine adverts; see the module.
pub struct RoutineSocket {
    polled: Polled,
    bound: Bound,
    /// The Masters whose routine adverts it keeps.
    sources: Vec<IpAddr>,
}

enum Polled {
    Yes(AsyncFd<Socket>),
    No(Socket),
    /// Only while moving from one to the other, or after registering failed.
    Lost,
}

/// How full a socket's receive queue is, and what it dropped for want of room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueFill {
    /// Bytes queued, as the kernel counts them (with its overhead per datagram).
    pub queued: u32,
    /// Bytes it may hold.
    pub room: u32,
    /// Datagrams dropped since the socket opened, the queue full among other reasons.
    pub drops: u32,
}

impl RoutineSocket {
    /// Opens the routine socket of `family` on `ifname`, unpolled.
    pub(super) fn open(ifname: &str, ifindex: u32, family: Family) -> Result<Self, NetError> {
        let sock = match family {
            Family::V4 => setup::open_v4(ifname, ifindex)?,
            Family::V6 => setup::open_v6(ifname, ifindex)?,
        };
        let what = |step: &str| format!("{step} on the {family} routine VRRP socket of {ifname}");
        sock.attach_filter(&filter::routine(family, &[]))
            .map_err(|e| NetError::io(what("SO_ATTACH_FILTER"), e))?;
        stamp_arrivals(&sock, ifname)?;
        // Past the system's limit where allowed (CAP_NET_ADMIN), else up to it.
        if setsockopt(&sock, sockopt::RcvBufForce, &RECEIVE_BUFFER).is_err() {
            sock.set_recv_buffer_size(RECEIVE_BUFFER)
                .map_err(|e| NetError::io(what("SO_RCVBUF"), e))?;
        }
        Ok(RoutineSocket {
            polled: Polled::No(sock),
            bound: Bound { family, ifindex },
            sources: Vec::new(),
        })
    }

    /// The Masters whose routine adverts it keeps.
    pub fn sources(&self) -> &[IpAddr] {
        &self.sources
    }

    /// Keeps the routine adverts of `sources` from now on, and has `beside`, the socket
    /// it was split from, keep everything else.
    ///
    /// Each datagram must reach one socket at least at every instant: `beside` never leaves
    /// to this socket a source this socket does not keep. So `beside` first takes back what
    /// this socket will drop, then this socket changes, then `beside` lets go of what this
    /// socket now keeps. A datagram arriving meanwhile may be read from both: a duplicate
    /// advert only restarts a wait its original restarted.
    pub fn follow(&mut self, beside: &VrrpSocket, sources: &[IpAddr]) -> io::Result<()> {
        if self.sources == sources {
            return Ok(());
        }
        let both: Vec<IpAddr> = sources
            .iter()
            .copied()
            .filter(|s| self.sources.contains(s))
            .collect();
        beside.leave_routine(&both)?;
        self.socket()?
            .attach_filter(&filter::routine(self.bound.family, sources))?;
        self.sources = sources.to_vec();
        beside.leave_routine(sources)
    }

    /// Whether the poller watches the socket.
    pub fn polled(&self) -> bool {
        matches!(self.polled, Polled::Yes(_))
    }

    /// Has the poller watch the socket, or stop watching it. Datagrams already queued stay
    /// queued either way.
    pub fn set_polled(&mut self, on: bool) -> io::Result<()> {
        if self.polled() == on {
            return Ok(());
        }
        let sock = match std::mem::replace(&mut self.polled, Polled::Lost) {
            Polled::Yes(fd) => fd.into_inner(),
            Polled::No(sock) => sock,
            Polled::Lost => return Err(io::Error::other("the routine socket was lost")),
        };
        self.polled = if on {
            // SAFETY: as for `VrrpSocket`: the socket owns its descriptor and returns it.
            Polled::Yes(
                unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }
                    .map_err(|e| e.into_parts().1)?,
            )
        } else {
            Polled::No(sock)
        };
        Ok(())
    }

    /// Waits until the poller reports packets queued; never, while it does not watch.
    pub async fn readable(&self) -> io::Result<()> {
        match &self.polled {
            Polled::Yes(fd) => fd.readable().await.map(drop),
            _ => std::future::pending().await,
        }
    }

    /// The packets the poller reported queued, if it did (see [`RoutineSocket::readable`]).
    pub fn ready_now(&self) -> Option<io::Result<Ready<'_>>> {
        let Polled::Yes(fd) = &self.polled else {
            return None;
        };
        let mut cx = Context::from_waker(Waker::noop());
        match fd.poll_read_ready(&mut cx) {
            Poll::Ready(guard) => Some(guard.map(|guard| Ready {
                guard,
                bound: self.bound,
            })),
            Poll::Pending => None,
        }
    }

    /// Reads up to [`super::BATCH_SLOTS`] queued datagrams now, without the poller, and
    /// hands them to `each` in the order they arrived. Returns how many it read: none when
    /// none was queued. `floor`: when the socket was last found empty.
    pub fn read_now(
        &self,
        floor: Instant,
        mut each: impl FnMut(&[io::Result<RecvPacket>]),
    ) -> io::Result<usize> {
        let fd = self.raw()?;
        RecvBatch::lend(|batch| match batch.fill(fd, self.bound, floor) {
            Ok(n) => {
                each(batch.packets());
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        })
    }

    /// How full the receive queue is now.
    pub fn fill(&self) -> io::Result<QueueFill> {
        let mut info = [0u32; 9];
        let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
        // SAFETY: `info` has room for the nine counters the kernel writes, `len` says so.
        let rc = unsafe {
            libc::getsockopt(
                self.raw()?,
                libc::SOL_SOCKET,
                SO_MEMINFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(QueueFill {
            queued: info[libc::SK_MEMINFO_RMEM_ALLOC as usize],
            room: info[libc::SK_MEMINFO_RCVBUF as usize],
            drops: info[libc::SK_MEMINFO_DROPS as usize],
        })
    }

    fn socket(&self) -> io::Result<&Socket> {
        match &self.polled {
            Polled::Yes(fd) => Ok(fd.get_ref()),
            Polled::No(sock) => Ok(sock),
            Polled::Lost => Err(io::Error::other("the routine socket was lost")),
        }
    }

    fn raw(&self) -> io::Result<std::os::fd::RawFd> {
        self.socket().map(AsRawFd::as_raw_fd)
    }
}

/// Has the kernel stamp each datagram `sock` receives (`SO_TIMESTAMPNS`).
pub(super) fn stamp_arrivals(sock: &Socket, ifname: &str) -> Result<(), NetError> {
    setsockopt(sock, sockopt::ReceiveTimestampns, &true).map_err(|e| {
        NetError::io(
            format!("SO_TIMESTAMPNS on a VRRP socket of {ifname}"),
            e.into(),
        )
    })
}
