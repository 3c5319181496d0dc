//! A serial line (tty) for a heartbeat channel: opened non-blocking, without becoming
//! anyone's controlling terminal, set raw (no echo, no line editing, no translation of
//! bytes, no flow control, modem lines ignored) at the configured speed, and read and
//! written through tokio's `AsyncFd` so nothing waits on it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::sys::termios::{self, BaudRate, ControlFlags, FlushArg, SetArg, SpecialCharacterIndices};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// An open, raw serial line.
pub struct SerialPort {
    fd: AsyncFd<OwnedFd>,
}

/// The termios speed for `baud` bits per second, if it is a standard one.
pub fn baud_rate(baud: u32) -> Option<BaudRate> {
    use BaudRate::*;
    Some(match baud {
        1200 => B1200,
        2400 => B2400,
        4800 => B4800,
        9600 => B9600,
        19200 => B19200,
        38400 => B38400,
        57600 => B57600,
        115200 => B115200,
        230400 => B230400,
        460800 => B460800,
        500000 => B500000,
        576000 => B576000,
        921600 => B921600,
        1000000 => B1000000,
        1152000 => B1152000,
        1500000 => B1500000,
        2000000 => B2000000,
        2500000 => B2500000,
        3000000 => B3000000,
        3500000 => B3500000,
        4000000 => B4000000,
        _ => return None,
    })
}

/// Puts `fd` (a tty) in raw mode at `speed`, and drops whatever was waiting in it.
pub fn make_raw(fd: impl AsFd, speed: Option<BaudRate>) -> io::Result<()> {
    let mut t = termios::tcgetattr(&fd)?;
    termios::cfmakeraw(&mut t);
    if let Some(speed) = speed {
        termios::cfsetspeed(&mut t, speed)?;
    }
    // CLOCAL: a line without modem control lines (a null-modem cable) is usable; CREAD:
    // receive at all; no RTS/CTS, which would stall writes on a cable without them.
    t.control_flags |= ControlFlags::CLOCAL | ControlFlags::CREAD;
    t.control_flags &= !ControlFlags::CRTSCTS;
    // A read returns what is there, at least a byte; with O_NONBLOCK an empty line is
    // EAGAIN. (VMIN 0 would make it return 0, which reads as a hang-up.)
    t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    t.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    termios::tcsetattr(&fd, SetArg::TCSANOW, &t)?;
    termios::tcflush(&fd, FlushArg::TCIOFLUSH)?;
    Ok(())
}

impl SerialPort {
    /// Opens `device` at `baud` (a standard rate, see [`baud_rate`]).
    pub fn open(device: &Path, baud: u32) -> io::Result<SerialPort> {
        let speed = baud_rate(baud).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{baud} is not a standard baud rate"),
            )
        })?;
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = open(device, flags, Mode::empty())?;
        make_raw(&fd, Some(speed))?;
        // Other (unprivileged) opens of the line are refused while we hold it: a second
        // reader would take half of the peer's bytes.
        // SAFETY: TIOCEXCL takes no argument; the descriptor is an open tty.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCEXCL) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the descriptor is owned here, valid, and stays open while registered:
        // `SerialPort` closes it only when dropped, after deregistering.
        let fd = unsafe {
            AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::WRITABLE)?
        };
        Ok(SerialPort { fd })
    }

    /// Reads what is waiting, at most `buf.len()` bytes, waiting until something is. `Ok(0)`
    /// means the line hung up.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            match ready.try_io(|fd| Ok(nix::unistd::read(fd.get_ref(), buf)?)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `bytes`, waiting for room as the line drains.
    pub async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let mut ready = self.fd.writable().await?;
            match ready.try_io(|fd| Ok(nix::unistd::write(fd.get_ref(), bytes)?)) {
                Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}
