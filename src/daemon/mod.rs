//! The daemon: one task per virtual router, wired to sockets, netlink and signals.

pub mod driver;
