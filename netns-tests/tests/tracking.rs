//! Health tracking and notify: checks (script, tcp, http), tracked interfaces and
//! files move the VIP; notify commands and the event log report every transition in order;
//! insecure scripts are refused. Real vipd processes in network namespaces.
//!
//! They need root and a built vipd (`cargo build -p vipd`, or `VIPD_BIN`); without root they
//! say SKIPPED loudly (and fail under CI=true).

#[path = "tracking/common.rs"]
mod common;
#[path = "tracking/notify.rs"]
mod notify;
#[path = "tracking/notify_reload.rs"]
mod notify_reload;
#[path = "tracking/probes.rs"]
mod probes;
#[path = "tracking/process_events.rs"]
mod process_events;
#[path = "tracking/realtime.rs"]
mod realtime;
#[path = "tracking/reload_checks.rs"]
mod reload_checks;
#[path = "tracking/scripts.rs"]
mod scripts;
#[path = "tracking/security.rs"]
mod security;
#[path = "tracking/server.rs"]
mod server;
#[path = "tracking/track_files.rs"]
mod track_files;
