//! Where the instances of a scale run go, and the same configuration for both agents.
//!
//! VRIDs are per interface and family (RFC 9568 §7.3: the virtual MAC holds the VRID and the
//! family), so one interface holds at most 255 IPv4 and 255 IPv6 routers. Instances fill
//! `eth0` IPv4, then `eth0` IPv6, then `eth1` IPv4 and IPv6: 1 or 50 instances are all IPv4 on
//! the LAN (as in the lab), 1,000 are mixed over both interfaces.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use vipd::vrrp::timing::Centis;

/// The most instances the two interfaces hold: 255 VRIDs per family on each.
pub const MAX_INSTANCES: usize = 4 * 255;

/// One virtual router of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// `eth0` (the LAN) or `eth1` (the heartbeat link).
    pub iface: &'static str,
    /// Its VRID, unique per interface and family.
    pub vrid: u8,
    /// Its one VIP (a /32 or /128 outside the lab's subnets); the family follows it.
    pub vip: IpAddr,
}

impl Slot {
    /// The instance name, the same in both agents' configurations.
    pub fn name(&self) -> String {
        let fam = if self.vip.is_ipv6() { 6 } else { 4 };
        format!("{}v{fam}r{}", self.iface, self.vrid)
    }

    fn prefix(&self) -> u8 {
        if self.vip.is_ipv6() { 128 } else { 32 }
    }
}

/// The first `n` slots, in fill order; `None` if `n` is over [`MAX_INSTANCES`].
pub fn layout(n: usize) -> Option<Vec<Slot>> {
    if n > MAX_INSTANCES {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (group, k) = (i / 255, i % 255);
        let vrid = u8::try_from(k + 1).expect("k < 255");
        let iface = if group < 2 { "eth0" } else { "eth1" };
        let vip = if group % 2 == 0 {
            // 10.251.0.0/16, one /32 per instance, never a lab subnet.
            let [_, _, hi, lo] = u32::try_from(i + 1).expect("small").to_be_bytes();
            IpAddr::V4(Ipv4Addr::new(10, 251, hi, lo))
        } else {
            IpAddr::V6(Ipv6Addr::new(0xfd99, 0, 0, 0, 0, 0, 0, (i + 1) as u16))
        };
        out.push(Slot { iface, vrid, vip });
    }
    Some(out)
}

/// Whether any slot is on the heartbeat link (the lab then needs it).
pub fn uses_eth1(slots: &[Slot]) -> bool {
    slots.iter().any(|s| s.iface == "eth1")
}

/// vipd's configuration: every slot at `priority`, VRRPv3 every `interval`.
pub fn vipd_config(
    slots: &[Slot],
    priority: u8,
    interval: Centis,
    router_id: &str,
    socket: &Path,
) -> String {
    let mut s = format!(
        "global:\n  router_id: {router_id}\n  control_socket: {}\ninstances:\n",
        socket.display()
    );
    for slot in slots {
        s += &format!(
            "  {name}:\n    interface: {iface}\n    vrid: {vrid}\n    version: 3\n    \
             priority: {priority}\n    advert_interval: {interval}\n    vips: [{vip}/{len}]\n",
            name = slot.name(),
            iface = slot.iface,
            vrid = slot.vrid,
            vip = slot.vip,
            len = slot.prefix(),
        );
    }
    s
}

/// keepalived's: the same instances, `state BACKUP` with an explicit priority, so both agents
/// start the same way (Backup, then Master after Master_Down_Interval).
pub fn keepalived_config(
    slots: &[Slot],
    priority: u8,
    interval: Centis,
    router_id: &str,
) -> String {
    let secs = f64::from(interval.get()) / 100.0;
    let mut s = format!("global_defs {{\n  router_id {router_id}\n}}\n");
    for slot in slots {
        s += &format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface {iface}\n  \
             virtual_router_id {vrid}\n  version 3\n  priority {priority}\n  advert_int {secs}\n  \
             virtual_ipaddress {{\n    {vip}/{len} dev {iface}\n  }}\n}}\n",
            name = slot.name(),
            iface = slot.iface,
            vrid = slot.vrid,
            vip = slot.vip,
            len = slot.prefix(),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_instances_fill_both_families_on_both_interfaces() {
        let slots = layout(1000).unwrap();
        let count = |iface: &str, v6: bool| {
            slots
                .iter()
                .filter(|s| s.iface == iface && s.vip.is_ipv6() == v6)
                .count()
        };
        assert_eq!(
            [
                count("eth0", false),
                count("eth0", true),
                count("eth1", false),
                count("eth1", true)
            ],
            [255, 255, 255, 235]
        );
        let mut keys: Vec<_> = slots
            .iter()
            .map(|s| (s.iface, s.vip.is_ipv6(), s.vrid))
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(
            keys.len(),
            1000,
            "a VRID used twice on one interface and family"
        );
        let mut vips: Vec<_> = slots.iter().map(|s| s.vip).collect();
        vips.sort();
        vips.dedup();
        assert_eq!(vips.len(), 1000);
        assert!(layout(MAX_INSTANCES + 1).is_none());
        assert!(!uses_eth1(&layout(50).unwrap()));
        assert!(uses_eth1(&slots));
    }

    #[test]
    fn both_configurations_name_every_instance_the_same_way() {
        let slots = layout(300).unwrap();
        let yaml = vipd_config(&slots, 200, Centis::new(1), "n0", Path::new("/tmp/s.sock"));
        let conf = keepalived_config(&slots, 200, Centis::new(1), "n0");
        for slot in [slots[0], slots[299]] {
            assert!(yaml.contains(&format!("  {}:\n", slot.name())), "{yaml}");
            assert!(conf.contains(&format!("vrrp_instance {} {{", slot.name())));
        }
        assert!(conf.contains("advert_int 0.01\n"), "{conf}");
        assert!(yaml.contains("vips: [fd99::100/128]"), "{yaml}");
        let dir = std::env::temp_dir().join(format!("scale-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("scale.yaml");
        std::fs::write(&path, &yaml).unwrap();
        let loaded = vipd::config::Config::load(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        let config = loaded.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(config.instances.len(), 300);
    }
}
