//! The control socket: a small versioned JSON protocol over a Unix socket, for `vipd status`,
//! `vipd maintenance` and `vipd events`. See [`protocol`] for the wire format.

pub mod client;
pub mod listener;
pub mod metrics;
pub mod protocol;
pub mod server;
pub mod table;
pub mod view;
