//! The arbiter: a lease in etcd decides which node may be VRRP Master.

pub mod etcd;
