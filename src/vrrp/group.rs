//! Sync groups: members that change state together (keepalived's `vrrp_sync_group`).
