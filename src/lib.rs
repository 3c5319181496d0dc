//! vipd: a VRRP failover agent.
//!
//! The crate is a pure protocol core ([`vrrp`]) inside a thin Linux shell ([`net`] and the
//! daemon). The core never reads a clock or touches the kernel; the README's "How it is built"
//! says how the parts talk.

pub mod arbiter;
pub mod config;
pub mod control;
pub mod convert;
pub mod daemon;
pub mod net;
pub mod notify;
pub mod regular_file;
pub mod track;
pub mod vrrp;
