//! Operating vipd: `vipd status`, maintenance drains, reloads without a flap,
//! the metrics endpoint and the control socket's permissions, with real vipd processes in
//! network namespaces (a switch, two nodes and a client).
//!
//! They need root and a built vipd (`cargo build -p vipd`, or `VIPD_BIN`); without root they
//! say SKIPPED loudly (and fail under CI=true).

#[path = "operate/alerts.rs"]
mod alerts;
#[path = "operate/common.rs"]
mod common;
#[path = "operate/floods.rs"]
mod floods;
#[path = "operate/group_reload.rs"]
mod group_reload;
#[path = "operate/maintenance.rs"]
mod maintenance;
#[path = "operate/many_instances.rs"]
mod many_instances;
#[path = "operate/metrics.rs"]
mod metrics;
#[path = "operate/reload.rs"]
mod reload;
#[path = "operate/shared_vrid.rs"]
mod shared_vrid;
#[path = "operate/socket.rs"]
mod socket;
#[path = "operate/status.rs"]
mod status;
#[path = "operate/sync_groups.rs"]
mod sync_groups;
