//! Heartbeat channels end to end: two nodes joined by the client LAN and by a
//! dedicated heartbeat link, with parts of either cut by nftables in the switch (links stay
//! up, like a broken switch or a firewall rule), and what the client and each node see.
//!
//! They need root and a built vipd; without root they say SKIPPED loudly (and fail under
//! CI=true).

#[path = "failover/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "channels/setup.rs"]
mod setup;

#[path = "channels/forged.rs"]
mod forged;
#[path = "channels/guard.rs"]
mod guard;
#[path = "channels/keepalived.rs"]
mod keepalived;
#[path = "channels/migrate.rs"]
mod migrate;
#[path = "channels/partition.rs"]
mod partition;
#[path = "channels/serial.rs"]
mod serial;
#[path = "channels/tcp.rs"]
mod tcp;
#[path = "channels/tcp_stall.rs"]
mod tcp_stall;
#[path = "channels/udp.rs"]
mod udp;
