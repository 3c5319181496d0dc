//! Typed errors of the Linux layer, each naming what was being attempted.

use std::io;

use nix::errno::Errno;
use thiserror::Error;

/// An error from the network layer. The `what` fields say what vipd was doing
/// ("adding 10.0.0.100/24 to eth0"), so the message stands on its own in a log.
#[derive(Debug, Error)]
pub enum NetError {
    /// No interface with this name exists in the current network namespace.
    #[error("interface {0} not found")]
    InterfaceNotFound(String),
    /// No interface with this index exists in the current network namespace.
    #[error("interface with index {0} not found")]
    IfIndexNotFound(u32),
    /// Raw and packet sockets were refused: the process lacks `CAP_NET_RAW`.
    #[error("{what}: raw sockets need CAP_NET_RAW (run as root)")]
    NeedCapNetRaw {
        /// The operation that was refused.
        what: String,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation that failed.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The kernel answered a netlink request with an error code.
    #[error("{what}: {}", errno.desc())]
    Netlink {
        /// The operation that failed.
        what: String,
        /// The errno the kernel returned (e.g. `EEXIST` for an address already present).
        errno: Errno,
    },
    /// The netlink conversation itself failed (socket, decoding, unexpected reply).
    #[error("{what}: {message}")]
    NetlinkProtocol {
        /// The operation that failed.
        what: String,
        /// What went wrong, from rtnetlink.
        message: String,
    },
    /// An input was rejected before anything was sent to the kernel.
    #[error("{what}: {reason}")]
    Invalid {
        /// The operation that was refused.
        what: String,
        /// Why the input is unacceptable.
        reason: String,
    },
}

impl NetError {
    /// The errno behind this error, if the kernel returned one: lets a caller treat
    /// `EEXIST` on add or `EADDRNOTAVAIL` on delete as "already done".
    pub fn errno(&self) -> Option<Errno> {
        match self {
            NetError::Netlink { errno, .. } => Some(*errno),
            NetError::Io { source, .. } => source.raw_os_error().map(Errno::from_raw),
            _ => None,
        }
    }

    /// Wraps a failed socket call, turning `EPERM`/`EACCES` into the advice to run as root,
    /// because that is nearly always the cause for raw and packet sockets.
    pub(crate) fn socket(what: impl Into<String>, source: io::Error) -> Self {
        let what = what.into();
        match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => NetError::NeedCapNetRaw { what },
            _ => NetError::Io { what, source },
        }
    }

    /// Wraps a failed system call other than opening a raw socket.
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        NetError::Io {
            what: what.into(),
            source,
        }
    }

    /// Converts an rtnetlink error, keeping the kernel's errno when there is one.
    pub(crate) fn netlink(what: impl Into<String>, err: rtnetlink::Error) -> Self {
        let what = what.into();
        if let rtnetlink::Error::NetlinkError(msg) = &err
            && let Some(code) = msg.code
        {
            return NetError::Netlink {
                what,
                errno: Errno::from_raw(-code.get()),
            };
        }
        NetError::NetlinkProtocol {
            what,
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eperm_on_a_socket_says_to_run_as_root() {
        let e = NetError::socket(
            "opening VRRP socket on eth0",
            io::Error::from_raw_os_error(libc::EPERM),
        );
        assert_eq!(
            e.to_string(),
            "opening VRRP socket on eth0: raw sockets need CAP_NET_RAW (run as root)"
        );
    }

    #[test]
    fn netlink_errno_reads_like_strerror() {
        let e = NetError::Netlink {
            what: "adding 10.0.0.100/24 to eth0".into(),
            errno: Errno::EEXIST,
        };
        assert_eq!(e.to_string(), "adding 10.0.0.100/24 to eth0: File exists");
        assert_eq!(e.errno(), Some(Errno::EEXIST));
    }

    #[test]
    fn missing_interface_is_named() {
        assert_eq!(
            NetError::InterfaceNotFound("eth9".into()).to_string(),
            "interface eth9 not found"
        );
    }
}
