//! A minimal AF_PACKET capture for the tests, so frame checks need no external tool and
//! no start-up race with one.

use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, Socket, Type};

/// Receives every frame arriving on one interface of the current namespace.
pub struct Sniffer {
    sock: Socket,
}

impl Sniffer {
    /// Opens the capture on `ifname`; frames are queued from this moment on.
    pub fn open(ifname: &str) -> Sniffer {
        let all = (libc::ETH_P_ALL as u16).to_be();
        let sock = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(all))),
        )
        .expect("packet socket");
        let index = nix::net::if_::if_nametoindex(ifname).expect("capture interface exists");
        let mut storage = SockAddrStorage::zeroed();
        // SAFETY: `sockaddr_ll` is a socket address type of this platform.
        let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
        ll.sll_family = libc::AF_PACKET as u16;
        ll.sll_protocol = all;
        ll.sll_ifindex = index as i32;
        let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: the storage holds an initialised `sockaddr_ll` of `len` bytes.
        let addr = unsafe { SockAddr::new(storage, len) };
        sock.bind(&addr).expect("binding the capture");
        Sniffer { sock }
    }

    /// Collects up to `want` frames matching `keep`, waiting at most `wait` in total.
    pub fn frames_where(
        &self,
        want: usize,
        wait: Duration,
        keep: impl Fn(&[u8]) -> bool,
    ) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        while out.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.sock.set_read_timeout(Some(left)).unwrap();
            let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
            let Ok(n) = self.sock.recv(&mut buf) else {
                break;
            };
            // SAFETY: `recv` initialised the first `n` bytes.
            let frame: Vec<u8> = buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            if keep(&frame) {
                out.push(frame);
            }
        }
        out
    }
}
