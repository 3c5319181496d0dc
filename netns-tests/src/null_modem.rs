//! A null-modem cable between two nodes, made of two pseudo-terminal pairs and a relay: node
//! 0 opens the slave of pair 0, node 1 the slave of pair 1, and the relay copies what each
//! node writes to the other's line. Tty devices are files, so every namespace sees them.
//!
//! Like a real line it never blocks its writer: bytes for a node that is not reading (its
//! buffer full) are dropped, as a UART overruns. A direction can be paused (the relay stops
//! reading it, so the bytes wait in the pty), and bytes can be written into a node's line
//! between whole chunks of the relay, as a forger on the cable would.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::pty::openpty;

use crate::error::{HarnessError, Result};

/// One end of the cable: the master the relay reads and writes, and the slave path the node
/// opens.
struct End {
    master: File,
    /// Held so the pty stays usable while the node's vipd is not running (a master whose
    /// slave nobody holds reads EIO).
    _slave: OwnedFd,
    path: PathBuf,
    /// Serialises writes into this end: the relay's chunks and injected bytes.
    write: Mutex<()>,
    /// The relay stops carrying this end's output to the other end.
    paused: AtomicBool,
}

/// The cable; dropping it stops the relay.
pub struct NullModem {
    ends: Arc<[End; 2]>,
    stop: Arc<AtomicBool>,
    /// Bytes dropped because the receiving node did not read them.
    pub dropped: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

fn end() -> Result<End> {
    let io = |what: &str, e: nix::Error| HarnessError::io(what, e.into());
    let pair = openpty(None, None).map_err(|e| io("openpty", e))?;
    // Raw from the start: a cooked pty echoes what the relay writes, back into the relay.
    vipd::net::serial_port::make_raw(&pair.slave, None)
        .map_err(|e| HarnessError::io("raw pty", e))?;
    let flags = fcntl(pair.master.as_fd(), FcntlArg::F_GETFL).map_err(|e| io("F_GETFL", e))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(pair.master.as_fd(), FcntlArg::F_SETFL(flags)).map_err(|e| io("F_SETFL", e))?;
    let link = format!("/proc/self/fd/{}", pair.slave.as_raw_fd());
    let path = std::fs::read_link(&link).map_err(|e| HarnessError::io(link, e))?;
    Ok(End {
        master: File::from(pair.master),
        _slave: pair.slave,
        path,
        write: Mutex::new(()),
        paused: AtomicBool::new(false),
    })
}

impl NullModem {
    /// Two pty pairs joined by a relay.
    pub fn new() -> Result<NullModem> {
        let ends = Arc::new([end()?, end()?]);
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let threads = (0..2)
            .map(|from| {
                let (ends, stop, dropped) = (ends.clone(), stop.clone(), dropped.clone());
                std::thread::spawn(move || relay(&ends, from, &stop, &dropped))
            })
            .collect();
        Ok(NullModem {
            ends,
            stop,
            dropped,
            threads,
        })
    }

    /// The device node `i` opens (a `/dev/pts/N`).
    pub fn device(&self, i: usize) -> &std::path::Path {
        &self.ends[i].path
    }

    /// Stops (or resumes) carrying what node `from` writes.
    pub fn pause(&self, from: usize, paused: bool) {
        self.ends[from].paused.store(paused, Ordering::SeqCst);
    }

    /// Writes `bytes` into node `to`'s line, between the relay's chunks.
    pub fn inject(&self, to: usize, bytes: &[u8]) -> Result<()> {
        let end = &self.ends[to];
        let _w = end.write.lock().unwrap_or_else(|e| e.into_inner());
        write_all(&end.master, bytes, Duration::from_secs(2))
            .map_err(|e| HarnessError::io(format!("writing into line {to}"), e))
    }
}

impl Drop for NullModem {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Writes all of `bytes` to a non-blocking master, retrying for up to `patience`.
fn write_all(mut master: &File, mut bytes: &[u8], patience: Duration) -> std::io::Result<()> {
    let until = Instant::now() + patience;
    while !bytes.is_empty() {
        match master.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Carries what node `from` writes to the other node's line until `stop`.
fn relay(ends: &[End; 2], from: usize, stop: &AtomicBool, dropped: &AtomicU64) {
    let (src, dst) = (&ends[from], &ends[1 - from]);
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        if src.paused.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let mut fds = [PollFd::new(src.master.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0) == 0 {
            continue;
        }
        let n = match (&src.master).read(&mut buf) {
            Ok(n) if n > 0 => n,
            // EIO while no slave is open, EAGAIN on a spurious wake-up: try again shortly.
            _ => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let _w = dst.write.lock().unwrap_or_else(|e| e.into_inner());
        // A node that does not read loses the bytes, as on a real line; the relay goes on.
        if write_all(&dst.master, &buf[..n], Duration::from_millis(50)).is_err() {
            dropped.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}
