//! The pure VRRP protocol core: wire format, timing and the per-router state machine.
//!
//! Nothing in here reads a clock, opens a socket or talks to the kernel. Time comes in as
//! an [`std::time::Instant`] argument; everything the core wants done comes back as
//! [`router::Action`] values.

pub mod channels;
pub mod group;
pub mod health;
pub mod packet;
pub mod router;
pub mod stamp;
pub mod timing;
pub mod udp_frame;

use std::fmt;

/// The VRRP protocol version an instance speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: IPv4 only, intervals in whole seconds, optional simple-text auth.
    V2,
    /// RFC 9568: IPv4 and IPv6, intervals in centiseconds, no auth.
    V3,
}

/// The address family of an instance's virtual addresses and adverts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: adverts to 224.0.0.18, gratuitous ARP.
    V4,
    /// IPv6: adverts to ff02::12, unsolicited neighbour advertisements.
    V6,
}

/// How the VRRPv3-over-IPv4 checksum is computed on send.
///
/// keepalived and FRR include an IPv4 pseudo-header by default; RFC 9568 (and Cisco,
/// Juniper, Arista) do not. On receive both are accepted and the one that matched is
/// reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum V3Checksum {
    /// Include the IPv4 pseudo-header (keepalived and FRR default).
    #[default]
    PseudoHeader,
    /// The RFC 9568 form: the VRRP message alone.
    Rfc9568,
}

/// The states of one virtual router (RFC 9568 §6 plus keepalived's FAULT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not running: before start and after stop.
    Initialize,
    /// Listening for the Master; takes over when it goes silent.
    Backup,
    /// Holding the virtual addresses and advertising.
    Master,
    /// A tracked failure: holds nothing, sends nothing, never becomes Master.
    Fault,
}

impl State {
    /// The state's word, as logs, status and metrics show it.
    pub fn name(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V2 => "2",
            Version::V3 => "3",
        })
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}
