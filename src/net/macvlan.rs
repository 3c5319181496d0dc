//! Virtual-MAC interfaces: a macvlan per virtual router carrying the VRRP MAC
//! (RFC 9568 §7.3), so that a takeover moves the MAC and clients need no ARP update.

use rtnetlink::packet_route::link::MacVlanMode;
use rtnetlink::{LinkMacVlan, LinkUnspec};

use crate::net::netlink::Netlink;
use crate::net::{MacAddr, NetError};
use crate::vrrp::Family;

/// The longest interface name the kernel accepts (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

/// The VRRP virtual MAC of router `vrid`: 00-00-5E-00-01-{VRID} for IPv4 and
/// 00-00-5E-00-02-{VRID} for IPv6 (RFC 9568 §7.3).
pub fn vmac(family: Family, vrid: u8) -> MacAddr {
    let kind = match family {
        Family::V4 => 1,
        Family::V6 => 2,
    };
    MacAddr::new(0x00, 0x00, 0x5e, 0x00, kind, vrid)
}

impl Netlink {
    /// Creates macvlan `name` on `parent_index` with hardware address `mac`, in bridge mode
    /// (so the parent and other macvlans on it can reach it, which VEPA mode would hairpin
    /// through the switch), and sets it up. Returns its index.
    ///
    /// Call [`crate::net::sysctl::prepare_vmac`] on it afterwards (after IPv4 is
    /// configured on it, which the kernel does when the interface is created).
    pub async fn create_macvlan(
        &self,
        parent_index: u32,
        name: &str,
        mac: MacAddr,
    ) -> Result<u32, NetError> {
        self.create_macvlan_with(parent_index, name, mac, |_| Ok(()))
            .await
    }

    /// Like [`Netlink::create_macvlan`], calling `before_up` with the new interface's name
    /// while it is still down: sysctls written then (`disable_ipv6`) govern what the
    /// interface sends the moment it comes up.
    pub async fn create_macvlan_with(
        &self,
        parent_index: u32,
        name: &str,
        mac: MacAddr,
        before_up: impl FnOnce(&str) -> Result<(), NetError>,
    ) -> Result<u32, NetError> {
        let what = format!("creating macvlan {name} with MAC {mac}");
        if name.is_empty() || name.len() > MAX_IFNAME || name.contains(['/', ' ', ':']) {
            return Err(NetError::Invalid {
                what,
                reason: format!(
                    "{name:?} is not a valid interface name (1 to {MAX_IFNAME} characters, no '/', ':' or spaces)"
                ),
            });
        }
        let msg = LinkMacVlan::new(name, parent_index, MacVlanMode::Bridge)
            .address(mac.octets().to_vec())
            .build();
        self.handle()
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| NetError::netlink(what, e))?;
        let index = self.link_by_name(name).await?.index;
        let up = async {
            before_up(name)?;
            self.handle()
                .link()
                .set(LinkUnspec::new_with_index(index).up().build())
                .execute()
                .await
                .map_err(|e| NetError::netlink(format!("setting macvlan {name} up"), e))
        };
        if let Err(e) = up.await {
            // Do not leave a half-configured interface behind for the next start to trip on.
            let _ = self.delete_link(index).await;
            return Err(e);
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmac_follows_rfc_9568() {
        assert_eq!(vmac(Family::V4, 51).octets(), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(vmac(Family::V6, 255).octets(), [0, 0, 0x5e, 0, 2, 255]);
    }
}
