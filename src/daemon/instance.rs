//! Getting one configured instance ready to run: its interface, source address, virtual
//! MAC, and a clean slate (no VIPs left behind by a crashed run).

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use tracing::{info, warn};

use crate::config::{Channel, Instance, Vip};
use crate::net::netlink::{Link, Netlink};
use crate::net::sysctl::{self, SavedParentConf};
use crate::net::{IpNet, MacAddr, NetError, macvlan};
use crate::vrrp::Family;

/// An instance resolved against the running system.
#[derive(Debug)]
pub struct Prepared {
    /// The instance name: the one copy its router's configuration, routes, I/O and view
    /// share, and the supervisor's maps key on.
    pub name: Arc<str>,
    /// Its configuration.
    pub instance: Instance,
    /// The configured interface.
    pub parent: Link,
    /// Index of [`Prepared::iface`].
    pub ifindex: u32,
    /// Source MAC of gratuitous ARPs / NAs.
    pub mac: MacAddr,
    /// Source address of adverts, and the tie-breaker between equal priorities.
    pub primary: IpAddr,
    /// The virtual-MAC interface we created, to remove on stop. Boxed: few instances have
    /// one, and the daemon keeps every instance's `Prepared` while it runs.
    pub vmac: Option<Box<Vmac>>,
    /// The extra heartbeat channels, with our address on each.
    pub channels: Box<[ResolvedChannel]>,
    /// For an IPv4 instance holding unadvertised IPv6 addresses: the interface's link-local
    /// address, the source of their NAs.
    /// Boxed: few instances have one, and inline it put this record, kept while the
    /// instance runs, a size class higher.
    pub extra_ll: Option<Box<Ipv6Addr>>,
}

/// An extra heartbeat channel resolved against the system.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedChannel {
    /// Its configuration.
    pub channel: Channel,
    /// Our address on it: the advert source (VRRP), the connection's source (UDP, TCP);
    /// our identity (the primary address) on a serial line.
    pub src: IpAddr,
}

/// A virtual-MAC interface vipd created, and the parent settings to put back.
#[derive(Debug)]
pub struct Vmac {
    /// Its index.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// The parent's ARP sysctls as they were.
    pub saved: SavedParentConf,
}

/// Why an instance cannot start. One clear line each.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A network operation failed.
    #[error("instance {instance}: {source}")]
    Net {
        /// The instance.
        instance: String,
        /// What failed.
        source: NetError,
    },
    /// No address to send adverts from.
    #[error("instance {instance}: interface {iface} has no {what} to send adverts from{hint}")]
    NoSource {
        /// The instance.
        instance: String,
        /// The interface.
        iface: String,
        /// "IPv4 address" or "IPv6 link-local address".
        what: &'static str,
        /// How to fix it.
        hint: &'static str,
    },
}

impl Prepared {
    /// Where VIPs go and adverts are sent: the virtual-MAC interface, or the parent.
    pub fn iface(&self) -> &str {
        self.vmac.as_ref().map_or(&self.parent.name, |v| &v.name)
    }

    /// Every VIP address, advertised or not: what gratuitous ARPs and NAs announce.
    pub fn vip_addrs(&self) -> Vec<IpAddr> {
        self.instance.vips.iter().map(|v| v.addr.addr()).collect()
    }

    /// The IPv6 link-local source of NAs: the primary address of an IPv6 instance, or the
    /// interface's for an IPv4 one holding unadvertised IPv6 addresses.
    pub fn src_ll(&self) -> Option<Ipv6Addr> {
        match self.primary {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => self.extra_ll.as_deref().copied(),
        }
    }
}

/// Resolves `instance` and prepares its interfaces. Removes configured VIPs that a previous
/// run left on the interface, so the router can start as Backup without holding them.
pub async fn prepare(
    nl: &Netlink,
    name: &str,
    instance: &Instance,
) -> Result<Prepared, PrepareError> {
    let net = |source| PrepareError::Net {
        instance: name.to_owned(),
        source,
    };
    let parent = nl.link_by_name(&instance.interface).await.map_err(net)?;
    let family = instance.family();
    let primary = primary_addr(nl, name, instance, &parent, family).await?;
    let (iface, ifindex, mac, vmac) = if instance.use_vmac {
        let vmac = create_vmac(nl, instance, &parent, family, primary)
            .await
            .map_err(net)?;
        let mac = macvlan::vmac(family, instance.vrid);
        (vmac.name.clone(), vmac.index, mac, Some(Box::new(vmac)))
    } else {
        let mac = parent.mac.unwrap_or_default();
        (parent.name.clone(), parent.index, mac, None)
    };
    let channels = resolve_channels(nl, name, instance, primary).await?;
    remove_stale_vips(nl, name, ifindex, &iface, &instance.vips)
        .await
        .map_err(net)?;
    let extra_ll = extra_link_local(nl, name, instance, ifindex, &iface).await?;
    Ok(Prepared {
        name: name.into(),
        instance: instance.clone(),
        parent,
        ifindex,
        mac,
        primary,
        vmac,
        channels,
        extra_ll: extra_ll.map(Box::new),
    })
}

/// The source of the NAs of an IPv4 instance's IPv6 VIPs: the link-local address of
/// interface `iface` (index `ifindex`). `None` when the instance needs none (an IPv6
/// instance sends them from its primary address; an instance without IPv6 VIPs sends none).
pub async fn extra_link_local(
    nl: &Netlink,
    name: &str,
    instance: &Instance,
    ifindex: u32,
    iface: &str,
) -> Result<Option<Ipv6Addr>, PrepareError> {
    if instance.family() != Family::V4 || !instance.vips.iter().any(|v| v.addr.addr().is_ipv6()) {
        return Ok(None);
    }
    let ll = nl
        .addrs(ifindex)
        .await
        .map_err(|source| PrepareError::Net {
            instance: name.to_owned(),
            source,
        })?
        .iter()
        .find_map(|a| match a.net.addr() {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(v6),
            _ => None,
        });
    ll.map(Some).ok_or_else(|| PrepareError::NoSource {
        instance: name.to_owned(),
        iface: iface.to_owned(),
        what: "IPv6 link-local address",
        hint: " (needed for the neighbour advertisements of its IPv6 addresses)",
    })
}

/// Finds each extra channel's interface and our address on it: `source` when set, else the
/// interface's first address of the instance's family (for IPv6: the link-local one for VRRP,
/// which is what VRRP over IPv6 sends from, and a routable one for UDP). A serial line has
/// no address: ours there is our identity, `primary`, which its frames carry.
pub async fn resolve_channels(
    nl: &Netlink,
    name: &str,
    instance: &Instance,
    primary: IpAddr,
) -> Result<Box<[ResolvedChannel]>, PrepareError> {
    let family = instance.family();
    let mut out = Vec::new();
    for (k, channel) in instance.channels.iter().enumerate() {
        let Some(ch) = channel.net() else {
            out.push(ResolvedChannel {
                channel: channel.clone(),
                src: primary,
            });
            continue;
        };
        let net = |source| PrepareError::Net {
            instance: format!("{name} channels[{k}]"),
            source,
        };
        let link = nl.link_by_name(&ch.interface).await.map_err(net)?;
        let src = match ch.source {
            Some(s) => s,
            None => {
                // Sealed frames go through the routing table: a link-local source would
                // not do.
                let udp = channel.sealed();
                let addrs = nl.addrs(link.index).await.map_err(net)?;
                addrs
                    .iter()
                    .map(|a| a.net.addr())
                    .find(|ip| match (family, ip) {
                        (Family::V4, IpAddr::V4(_)) => true,
                        (Family::V6, IpAddr::V6(v6)) => v6.is_unicast_link_local() != udp,
                        _ => false,
                    })
                    .ok_or_else(|| PrepareError::NoSource {
                        instance: format!("{name} channels[{k}]"),
                        iface: ch.interface.clone(),
                        what: if family == Family::V4 {
                            "IPv4 address"
                        } else if udp {
                            "routable IPv6 address"
                        } else {
                            "IPv6 link-local address"
                        },
                        hint: "; add one or set the channel's source",
                    })?
            }
        };
        out.push(ResolvedChannel {
            channel: channel.clone(),
            src,
        });
    }
    Ok(out.into_boxed_slice())
}

async fn primary_addr(
    nl: &Netlink,
    name: &str,
    instance: &Instance,
    parent: &Link,
    family: Family,
) -> Result<IpAddr, PrepareError> {
    if let Some(src) = instance.unicast.as_ref().and_then(|u| u.source) {
        return Ok(src);
    }
    let addrs = nl
        .addrs(parent.index)
        .await
        .map_err(|source| PrepareError::Net {
            instance: name.to_owned(),
            source,
        })?;
    let vips: Vec<IpAddr> = instance.vips.iter().map(|v| v.addr.addr()).collect();
    let found = addrs
        .iter()
        .map(|a| a.net.addr())
        .find(|ip| match (family, ip) {
            (Family::V4, IpAddr::V4(_)) => !vips.contains(ip),
            (Family::V6, IpAddr::V6(v6)) => v6.is_unicast_link_local(),
            _ => false,
        });
    found.ok_or_else(|| PrepareError::NoSource {
        instance: name.to_owned(),
        iface: parent.name.clone(),
        what: if family == Family::V4 {
            "IPv4 address"
        } else {
            "IPv6 link-local address"
        },
        hint: if family == Family::V4 {
            "; add one or set unicast.source"
        } else {
            ""
        },
    })
}

/// The VRRP virtual-MAC interface name, as keepalived names it.
pub fn vmac_name(family: Family, vrid: u8) -> String {
    match family {
        Family::V4 => format!("vrrp.{vrid}"),
        Family::V6 => format!("vrrp6.{vrid}"),
    }
}

async fn create_vmac(
    nl: &Netlink,
    instance: &Instance,
    parent: &Link,
    family: Family,
    primary: IpAddr,
) -> Result<Vmac, NetError> {
    let name = vmac_name(family, instance.vrid);
    if let Ok(stale) = nl.link_by_name(&name).await {
        warn!(interface = %name, "removing a virtual-MAC interface left by a previous run");
        nl.delete_link(stale.index).await?;
    }
    let saved = sysctl::prepare_vmac_parent(&parent.name)?;
    let mac = macvlan::vmac(family, instance.vrid);
    // An IPv4 router's macvlan must stay silent in IPv6: otherwise every node's macvlan,
    // a Backup's too, sends MLD reports, DAD and router solicitations from the virtual MAC
    // when it comes up, and the switch then forwards the Master's traffic to that Backup.
    let index = nl
        .create_macvlan_with(parent.index, &name, mac, |ifname| match family {
            Family::V4 => sysctl::write_conf("ipv6", ifname, "disable_ipv6", 1),
            Family::V6 => Ok(()),
        })
        .await?;
    sysctl::prepare_vmac(&name)?;
    if let IpAddr::V6(ll) = primary {
        // The kernel only sends from a link-local address that is on the outgoing interface,
        // and the macvlan's own (derived from the shared virtual MAC) would be the same on
        // every node. Give it this node's own link-local instead.
        for addr in nl.addrs(index).await? {
            if let IpNet::V6(n) = addr.net
                && n.addr().is_unicast_link_local()
            {
                nl.del_addr(index, addr.net).await?;
            }
        }
        let net = IpNet::new(IpAddr::V6(ll), 64).expect("64 is a valid IPv6 prefix");
        nl.add_addr(index, net, None).await?;
    }
    info!(interface = %name, %mac, parent = %parent.name, "created virtual-MAC interface");
    Ok(Vmac { index, name, saved })
}

async fn remove_stale_vips(
    nl: &Netlink,
    name: &str,
    ifindex: u32,
    iface: &str,
    vips: &[Vip],
) -> Result<(), NetError> {
    for addr in nl.addrs(ifindex).await? {
        if vips.iter().any(|v| v.addr.addr() == addr.net.addr()) {
            warn!(instance = name, vip = %addr.net, interface = iface,
                "removing a VIP left on the interface by a previous run before starting as Backup");
            nl.del_addr(ifindex, addr.net).await?;
        }
    }
    Ok(())
}

/// Removes what [`prepare`] created. Errors are logged: at shutdown there is nothing better
/// to do with them.
pub async fn teardown(nl: &Netlink, prepared: &Prepared) {
    if let Some(vmac) = &prepared.vmac {
        if let Err(e) = nl.delete_link(vmac.index).await {
            warn!(interface = %vmac.name, error = %e, "could not remove the virtual-MAC interface");
        }
        if let Err(e) = vmac.saved.restore() {
            warn!(interface = %prepared.parent.name, error = %e, "could not restore ARP sysctls");
        }
    }
}
