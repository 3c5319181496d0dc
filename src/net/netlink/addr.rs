//! Listing, adding and removing interface addresses (the VIPs).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::AddressMessageBuilder;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};

use super::Netlink;
use crate::net::NetError;

/// The longest interface name (and IPv4 address label) the kernel accepts: IFNAMSIZ - 1.
pub(crate) const MAX_IFNAME: usize = 15;

/// One address of an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    /// The address with its prefix length.
    pub net: IpNet,
    /// The IPv4 label (`eth0:vip`), when it differs from nothing; IPv6 has none.
    pub label: Option<String>,
    /// The `IFA_F_*` flags.
    pub flags: u32,
}

impl Addr {
    /// IPv6 duplicate address detection is still running; the address cannot be used yet.
    pub fn tentative(&self) -> bool {
        self.flags & AddressFlags::Tentative.bits() != 0
    }

    /// IPv6 duplicate address detection found another node using the address.
    pub fn dad_failed(&self) -> bool {
        self.flags & AddressFlags::Dadfailed.bits() != 0
    }

    fn from_message(msg: &AddressMessage) -> Option<Self> {
        let mut local = None;
        let mut address = None;
        let mut label = None;
        let mut flags = u32::from(msg.header.flags.bits());
        for attr in &msg.attributes {
            match attr {
                AddressAttribute::Local(a) => local = Some(*a),
                AddressAttribute::Address(a) => address = Some(*a),
                AddressAttribute::Label(l) => label = Some(l.clone()),
                AddressAttribute::Flags(f) => flags = f.bits(),
                _ => {}
            }
        }
        // For IPv4, IFA_ADDRESS is the peer on point-to-point links; IFA_LOCAL is ours.
        let ip = local.or(address)?;
        let net = IpNet::new(ip, msg.header.prefix_len).ok()?;
        Some(Addr { net, label, flags })
    }
}

impl Netlink {
    /// The addresses on interface `index`.
    pub async fn addrs(&self, index: u32) -> Result<Vec<Addr>, NetError> {
        let msgs: Vec<AddressMessage> = self
            .handle()
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetError::netlink(format!("listing addresses of interface {index}"), e))?;
        Ok(msgs.iter().filter_map(Addr::from_message).collect())
    }

    /// Is `ip` (any prefix length) on interface `index`?
    pub async fn has_addr(&self, index: u32, ip: IpAddr) -> Result<bool, NetError> {
        Ok(self.addrs(index).await?.iter().any(|a| a.net.addr() == ip))
    }

    /// Adds `net` to interface `index`.
    ///
    /// IPv6 addresses are added with `IFA_F_NODAD`: a VIP must be usable the moment we
    /// become Master, and VRRP itself guarantees that only one node holds it. An IPv4
    /// `label` must be the interface name or start with it followed by `:` (the rule of
    /// `ip addr add ... label`, which keeps `ifconfig`-era tools working), at most 15
    /// characters; IPv6 addresses have no labels.
    pub async fn add_addr(
        &self,
        index: u32,
        net: IpNet,
        label: Option<&str>,
    ) -> Result<(), NetError> {
        let name = self.describe(index).await;
        let what = format!("adding {net} to {name}");
        let mut req = self
            .handle()
            .address()
            .add(index, net.addr(), net.prefix_len());
        let msg = req.message_mut();
        match net {
            IpNet::V4(_) => {
                if let Some(label) = label {
                    check_label(&name, label).map_err(|reason| NetError::Invalid {
                        what: what.clone(),
                        reason,
                    })?;
                    msg.attributes
                        .push(AddressAttribute::Label(label.to_owned()));
                }
            }
            IpNet::V6(_) => {
                if label.is_some() {
                    return Err(NetError::Invalid {
                        what,
                        reason: "address labels exist only for IPv4".into(),
                    });
                }
                msg.header.flags |= AddressHeaderFlags::Nodad;
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        req.execute().await.map_err(|e| NetError::netlink(what, e))
    }

    /// Removes `net` from interface `index`. Removing an absent address is an error with
    /// errno `EADDRNOTAVAIL`.
    pub async fn del_addr(&self, index: u32, net: IpNet) -> Result<(), NetError> {
        let msg = match net {
            IpNet::V4(n) => AddressMessageBuilder::<Ipv4Addr>::new()
                .index(index)
                .address(n.addr(), n.prefix_len())
                .build(),
            IpNet::V6(n) => AddressMessageBuilder::<Ipv6Addr>::new()
                .index(index)
                .address(n.addr(), n.prefix_len())
                .build(),
        };
        match self.handle().address().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e) => {
                let name = self.describe(index).await;
                Err(NetError::netlink(format!("removing {net} from {name}"), e))
            }
        }
    }
}

/// The kernel shows a label in place of the interface name, so iproute2 insists it be the
/// name itself or `name:suffix`; we apply the same rule before asking the kernel.
fn check_label(ifname: &str, label: &str) -> Result<(), String> {
    if label.len() > MAX_IFNAME {
        return Err(format!(
            "label {label:?} is longer than {MAX_IFNAME} characters"
        ));
    }
    let ok = label == ifname
        || label
            .strip_prefix(ifname)
            .is_some_and(|rest| rest.starts_with(':'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "label {label:?} must be the interface name or start with \"{ifname}:\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_label;

    #[test]
    fn labels_must_start_with_the_interface_name_and_a_colon() {
        assert!(check_label("eth0", "eth0").is_ok());
        assert!(check_label("eth0", "eth0:vip").is_ok());
        assert!(check_label("eth0", "eth0vip").is_err());
        assert!(check_label("eth0", "eth1:vip").is_err());
        let err = check_label("eth0", "vip").unwrap_err();
        assert!(err.contains("start with \"eth0:\""), "{err}");
        assert!(check_label("eth0", "eth0:0123456789a").is_err());
    }
}
