//! Per-interface sysctls, written through /proc/sys of the current network namespace.
//!
//! The settings are those keepalived applies for `use_vmac` (its `vrrp_if_config.c`),
//! for the same reasons, documented on each function.

use std::fs;
use std::io;
use std::path::PathBuf;

use crate::net::NetError;

/// The path of `net.<proto>.conf.<ifname>.<key>`. Interface names may contain dots
/// (VLANs, `eth0.100`), which is why the path is built directly rather than from a
/// dotted sysctl name.
fn conf_path(proto: &str, ifname: &str, key: &str) -> Result<PathBuf, NetError> {
    if ifname.is_empty() || ifname.contains('/') || ifname == "." || ifname == ".." {
        return Err(NetError::Invalid {
            what: format!("setting {key} on {ifname:?}"),
            reason: "not an interface name".into(),
        });
    }
    Ok(PathBuf::from(format!(
        "/proc/sys/net/{proto}/conf/{ifname}/{key}"
    )))
}

/// Reads an integer `net.<proto>.conf.<ifname>.<key>`.
pub fn read_conf(proto: &str, ifname: &str, key: &str) -> Result<i64, NetError> {
    let path = conf_path(proto, ifname, key)?;
    let what = || format!("reading {}", path.display());
    let text = fs::read_to_string(&path).map_err(|e| not_found_or(ifname, &path, e, what()))?;
    text.trim().parse().map_err(|_| NetError::Invalid {
        what: what(),
        reason: format!("{:?} is not an integer", text.trim()),
    })
}

/// Writes an integer `net.<proto>.conf.<ifname>.<key>`.
pub fn write_conf(proto: &str, ifname: &str, key: &str, value: i64) -> Result<(), NetError> {
    let path = conf_path(proto, ifname, key)?;
    let what = format!("writing {value} to {}", path.display());
    fs::write(&path, value.to_string()).map_err(|e| not_found_or(ifname, &path, e, what))
}

fn not_found_or(ifname: &str, path: &std::path::Path, e: io::Error, what: String) -> NetError {
    let dir_missing = path.parent().is_some_and(|d| !d.exists());
    if e.kind() == io::ErrorKind::NotFound && dir_missing {
        NetError::InterfaceNotFound(ifname.to_owned())
    } else {
        NetError::io(what, e)
    }
}

/// The IPv4 settings of a virtual-MAC (macvlan) interface vipd created:
///
/// - `arp_ignore=1`: answer ARP only for addresses configured on this interface. The
///   macvlan shares the parent's IP stack; without this it would answer for the parent's
///   addresses with the virtual MAC, and a Backup's macvlan would answer for the VIP.
/// - `accept_local=1`: accept packets whose source is one of our own addresses. The
///   Master's advert carries the source address that is also on the parent; without this
///   the kernel drops adverts heard on the macvlan as martians.
/// - `rp_filter=0`: the macvlan usually has no address of its own besides the VIPs, so
///   reverse-path filtering would drop everything arriving on it.
/// - `promote_secondaries=1`: removing the first VIP of a subnet must not remove the others.
pub fn prepare_vmac(ifname: &str) -> Result<(), NetError> {
    write_conf("ipv4", ifname, "arp_ignore", 1)?;
    write_conf("ipv4", ifname, "accept_local", 1)?;
    write_conf("ipv4", ifname, "rp_filter", 0)?;
    write_conf("ipv4", ifname, "promote_secondaries", 1)?;
    Ok(())
}

/// The parent's ARP settings before [`prepare_vmac_parent`] changed them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedParentConf {
    ifname: String,
    arp_ignore: i64,
    arp_filter: i64,
    arp_announce: i64,
}

/// Sets the parent of virtual-MAC interfaces so it does not answer ARP for the VIPs with
/// its own MAC (the whole point of the virtual MAC), returning the old values:
///
/// - `arp_ignore=1`: answer only for addresses configured on the parent itself; the VIPs
///   live on the macvlan.
/// - `arp_filter=1`: answer only when the route back to the asker leaves through the
///   parent, so the parent never answers for the macvlan's addresses.
/// - `arp_announce=2`: ask with one of the parent's own addresses. A reply from a VIP (a
///   ping's echo reply) is routed out of the parent, and with the default the parent's ARP
///   request for the client would carry the VIP as sender with the parent's MAC: the client
///   then repoints the VIP at the node's own MAC, and keeps it there after a failover.
pub fn prepare_vmac_parent(ifname: &str) -> Result<SavedParentConf, NetError> {
    let saved = SavedParentConf {
        ifname: ifname.to_owned(),
        arp_ignore: read_conf("ipv4", ifname, "arp_ignore")?,
        arp_filter: read_conf("ipv4", ifname, "arp_filter")?,
        arp_announce: read_conf("ipv4", ifname, "arp_announce")?,
    };
    write_conf("ipv4", ifname, "arp_ignore", 1)?;
    write_conf("ipv4", ifname, "arp_filter", 1)?;
    write_conf("ipv4", ifname, "arp_announce", 2)?;
    Ok(saved)
}

impl SavedParentConf {
    /// Puts the parent's settings back, when its last virtual-MAC interface is gone.
    pub fn restore(&self) -> Result<(), NetError> {
        write_conf("ipv4", &self.ifname, "arp_ignore", self.arp_ignore)?;
        write_conf("ipv4", &self.ifname, "arp_filter", self.arp_filter)?;
        write_conf("ipv4", &self.ifname, "arp_announce", self.arp_announce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_cannot_escape_the_conf_directory() {
        assert!(conf_path("ipv4", "../all", "arp_ignore").is_err());
        assert!(conf_path("ipv4", "..", "arp_ignore").is_err());
        assert_eq!(
            conf_path("ipv4", "eth0.100", "rp_filter").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
        );
    }

    #[test]
    fn a_missing_interface_is_named() {
        let err = read_conf("ipv4", "vtnosuchif0", "arp_ignore").unwrap_err();
        assert_eq!(err.to_string(), "interface vtnosuchif0 not found");
    }
}
