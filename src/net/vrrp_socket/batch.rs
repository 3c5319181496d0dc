//! Datagrams queued for one `sendmmsg` per socket.
//!
//! A Master of many instances sends their adverts in bursts: their timers sit on one grid,
//! and the shared timer serves every deadline that came in one pass. One `sendmmsg` per
//! socket for the burst saves what each `sendmsg` pays again: the system call's entry and
//! exit and the socket's lookup, which on a virtual machine cost more than the rest of the
//! send (1,000 instances at 100 ms: a third of the Master's CPU). Every datagram is still
//! judged on its own: each one's outcome goes back to whoever queued it.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use super::VrrpSocket;
use super::send::{self, Addressing};

/// What keeps a batch's socket open until its datagrams have left.
type Held = Arc<dyn AsRawFd + Send + Sync>;

/// Datagrams waiting to leave one socket, each with a token that comes back with its outcome.
struct SendBatch<T> {
    socket: Option<Held>,
    /// Every payload, one after the other; `ends` says where each one ends.
    bytes: Vec<u8>,
    ends: Vec<usize>,
    addressing: Vec<Addressing>,
    tokens: Vec<T>,
    /// The call's vectors and headers, made anew at each flush in room kept from the last:
    /// a lone Master flushes for every advert, and allocates nothing for it.
    iovs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl<T> SendBatch<T> {
    /// Datagrams one batch holds before it sends them: a pass over a thousand instances'
    /// deadlines sends its first datagrams after 64 of them, not after all.
    const MAX: usize = 64;

    /// An empty batch.
    const fn new() -> Self {
        SendBatch {
            socket: None,
            bytes: Vec::new(),
            ends: Vec::new(),
            addressing: Vec::new(),
            tokens: Vec::new(),
            iovs: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// How many datagrams wait.
    fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether none waits.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether what waits is for the socket of `fd`, or nothing waits. While the batch holds
    /// its socket, no other open socket has the same number.
    fn takes(&self, fd: RawFd) -> bool {
        self.socket.as_ref().is_none_or(|s| s.as_raw_fd() == fd)
    }

    /// Queues one addressed datagram on the socket of `fd`, which `hold` keeps open.
    fn queue(
        &mut self,
        hold: impl FnOnce() -> Held,
        fd: RawFd,
        a: Addressing,
        payload: &[u8],
        token: T,
        settle: &mut impl FnMut(T, io::Result<()>),
    ) {
        if !self.takes(fd) || self.len() == Self::MAX {
            self.flush(settle);
        }
        if self.socket.is_none() {
            self.socket = Some(hold());
        }
        self.bytes.extend_from_slice(payload);
        self.ends.push(self.bytes.len());
        self.addressing.push(a);
        self.tokens.push(token);
    }

    /// Sends what waits, with as few `sendmmsg` as the kernel takes, and settles each.
    fn flush(&mut self, settle: &mut impl FnMut(T, io::Result<()>)) {
        let Some(socket) = self.socket.take() else {
            return;
        };
        let n = self.tokens.len();
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        self.iovs.clear();
        self.iovs
            .extend(starts.zip(&self.ends).map(|(start, &end)| libc::iovec {
                iov_base: self.bytes[start..end].as_ptr().cast_mut().cast(),
                iov_len: end - start,
            }));
        self.headers.clear();
        self.headers
            .extend(
                self.addressing
                    .iter_mut()
                    .zip(self.iovs.iter_mut())
                    .map(|(a, iov)| libc::mmsghdr {
                        msg_hdr: a.header(iov),
                        msg_len: 0,
                    }),
            );
        let headers = &mut self.headers;
        let mut tokens = self.tokens.drain(..);
        let mut at = 0;
        while at < n {
            // SAFETY: every header points into `self.addressing`, `self.iovs` and
            // `self.bytes`, none of which moves or changes until the loop ends.
            let sent = unsafe { send::send_many(socket.as_raw_fd(), &mut headers[at..]) };
            match sent {
                Ok(k) if k > 0 => {
                    for h in &headers[at..at + k] {
                        let token = tokens.next().expect("a token per datagram");
                        settle(token, whole(h));
                    }
                    at += k;
                }
                // The first datagram did not leave: its error is this call's. The rest are
                // tried again, from the next one.
                Ok(_) | Err(_) => {
                    let error = sent
                        .err()
                        .unwrap_or_else(|| io::Error::from(io::ErrorKind::WouldBlock));
                    let token = tokens.next().expect("a token per datagram");
                    settle(token, Err(error));
                    at += 1;
                }
            }
        }
        drop(tokens);
        self.bytes.clear();
        self.ends.clear();
        self.addressing.clear();
    }
}

/// A batch per socket, for passes that send on several (both families, several interfaces,
/// in whatever order their deadlines come): datagrams for sockets taken in turn still leave
/// a batch at a time, not one at each change of socket.
pub struct SendBatches<T> {
    batches: Vec<SendBatch<T>>,
}

impl<T> Default for SendBatches<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> SendBatches<T> {
    /// Sockets with a batch of their own at once; the datagrams of any more share the last
    /// batch, which sends what waits whenever its socket changes.
    const SOCKETS: usize = 8;

    /// No batch yet.
    pub const fn new() -> Self {
        SendBatches {
            batches: Vec::new(),
        }
    }

    /// Queues `payload` to `dst` on `socket`, in that socket's batch; `settle` gets `token`
    /// back with the outcome, at once if `dst` cannot be sent to from this socket. A full
    /// batch sends what waits first.
    pub fn push(
        &mut self,
        socket: &Arc<VrrpSocket>,
        dst: IpAddr,
        payload: &[u8],
        token: T,
        settle: &mut impl FnMut(T, io::Result<()>),
    ) {
        let fd = socket.as_raw_fd();
        match socket.addressing(dst) {
            Ok(a) => self
                .batch_for(fd)
                .queue(|| socket.clone(), fd, a, payload, token, settle),
            Err(error) => settle(token, Err(error)),
        }
    }

    /// The batch of the socket of `fd`: its own, a free one, a new one, or the last.
    fn batch_for(&mut self, fd: RawFd) -> &mut SendBatch<T> {
        let free = self.batches.iter().position(|b| b.takes(fd));
        let at = match free {
            Some(at) => at,
            None if self.batches.len() < Self::SOCKETS => {
                self.batches.push(SendBatch::new());
                self.batches.len() - 1
            }
            None => self.batches.len() - 1,
        };
        &mut self.batches[at]
    }

    /// Sends what waits in every batch.
    pub fn flush(&mut self, settle: &mut impl FnMut(T, io::Result<()>)) {
        for batch in &mut self.batches {
            batch.flush(settle);
        }
    }

    /// Datagrams waiting, in all batches.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.batches.iter().map(SendBatch::len).sum()
    }

    /// Whether none waits.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.batches.iter().all(SendBatch::is_empty)
    }
}

/// Whether the datagram of `h` left whole.
fn whole(h: &libc::mmsghdr) -> io::Result<()> {
    // SAFETY: every header of a batch points at exactly one iovec, alive while it is read.
    let len = unsafe { (*h.msg_hdr.msg_iov).iov_len };
    send::whole(h.msg_len as usize, len)
}

#[cfg(test)]
mod tests;
