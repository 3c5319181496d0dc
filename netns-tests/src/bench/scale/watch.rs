//! What the nodes send, seen from captures: adverts from the Backup (a takeover), and the
//! takeover times of a sample of instances after the Master is killed.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use vipd::vrrp::Version;
use vipd::vrrp::timing::{DEFAULT_DOWN_ADVERTS, master_down_interval};

use crate::capture::Capture;
use crate::error::Result;
use crate::lab::Lab;
use crate::node::Node;
use crate::proc::Proc;

use super::layout::Slot;
use super::{Case, ScaleOptions, TakeoverSample};

/// Priority of the Backup, whose Master_Down_Interval is the floor of a takeover.
pub const BACKUP: u8 = 100;

/// `node`'s advert source addresses of one family on `ifaces` (IPv6: link-local).
pub fn addrs_of(node: &Node, ifaces: &[&str], v6: bool) -> Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for iface in ifaces {
        if v6 {
            out.push(IpAddr::V6(node.link_local(iface)?));
        } else {
            out.extend(node.addrs(iface)?.into_iter().filter(IpAddr::is_ipv4));
        }
    }
    Ok(out)
}

/// Captures on `node`'s `ifaces` of VRRP sent from any of `v4` / `v6` (the other node).
pub fn sent_by(
    lab: &Lab,
    node: &Node,
    ifaces: &[&str],
    v4: &[IpAddr],
    v6: &[IpAddr],
    what: &str,
) -> Result<Vec<Capture>> {
    let hosts = |a: &[IpAddr]| {
        a.iter()
            .map(|a| format!("src host {a}"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let filter = format!(
        "(ip proto 112 and ({})) or (ip6 proto 112 and ({}))",
        hosts(v4),
        hosts(v6)
    );
    ifaces
        .iter()
        .map(|iface| {
            Capture::start_incoming(
                node,
                iface,
                &filter,
                lab.log_path(&format!("{what}-{iface}.pcap")),
            )
        })
        .collect()
}

/// Instances (family and VRID, per interface) that the captured node advertised for with a
/// priority above zero.
pub fn takeovers_seen(captures: Vec<Capture>) -> Result<usize> {
    let mut seen = std::collections::BTreeSet::new();
    for (k, capture) in captures.into_iter().enumerate() {
        for frame in capture.stop()? {
            if let Some(a) = crate::decode::is_vrrp_advert(&frame.data).filter(|a| a.priority > 0) {
                seen.insert((k, a.src.is_ipv6(), a.vrid));
            }
        }
    }
    Ok(seen.len())
}

/// Captures on `node` the adverts of `slot`'s instance: those it receives (from either node),
/// or with `sent`, those it sends, as they leave its interface.
pub fn first_adverts(lab: &Lab, node: &Node, slot: Slot, sent: bool) -> Result<Capture> {
    let filter = if slot.vip.is_ipv6() {
        format!("ip6 proto 112 and ip6[41] = {}", slot.vrid)
    } else {
        format!("ip proto 112 and ip[21] = {}", slot.vrid)
    };
    // Batched: the capture runs through the measured window.
    if sent {
        let file = lab.log_path("first-instance-sent.pcap");
        Capture::start_batched_outgoing(node, slot.iface, &filter, file)
    } else {
        let file = lab.log_path("first-instance.pcap");
        Capture::start_batched(node, slot.iface, &filter, file)
    }
}

/// The longest time between two captured adverts with a priority above zero.
pub fn longest_gap(capture: Capture) -> Result<Option<Gap>> {
    let times: Vec<f64> = capture
        .stop()?
        .iter()
        .filter(|f| crate::decode::is_vrrp_advert(&f.data).is_some_and(|a| a.priority > 0))
        .map(|f| f.ts)
        .collect();
    Ok(times
        .windows(2)
        .max_by(|a, b| (a[1] - a[0]).total_cmp(&(b[1] - b[0])))
        .map(|w| Gap {
            length: Duration::from_secs_f64((w[1] - w[0]).max(0.0)),
            ended: UNIX_EPOCH + Duration::from_secs_f64(w[1].max(0.0)),
        }))
}

/// A gap between two adverts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// From one advert to the next.
    pub length: Duration,
    /// When the later one was captured (the capture's clock: the system's).
    pub ended: SystemTime,
}

/// Kills the Master's processes and times, from the Backup's capture, the takeover of a
/// sample of instances spread over the layout: the Backup's first advert after the Master's
/// last one.
pub fn sample_takeovers(
    lab: &Lab,
    n1: &Node,
    ifaces: &[&str],
    master: &mut Proc,
    slots: &[Slot],
    opts: &ScaleOptions,
    case: Case,
) -> Result<Vec<TakeoverSample>> {
    let k = opts.takeover_sample.min(slots.len());
    let sample: Vec<Slot> = (0..k).map(|i| slots[i * slots.len() / k]).collect();
    let mut captures = Vec::new();
    for iface in ifaces {
        let pick = |v6: bool| {
            let byte = if v6 { "ip6[41]" } else { "ip[21]" };
            let ids: Vec<String> = sample
                .iter()
                .filter(|s| s.iface == *iface && s.vip.is_ipv6() == v6)
                .map(|s| format!("{byte} = {}", s.vrid))
                .collect();
            (!ids.is_empty()).then(|| {
                format!(
                    "({} proto 112 and ({}))",
                    if v6 { "ip6" } else { "ip" },
                    ids.join(" or ")
                )
            })
        };
        let filter: Vec<String> = [pick(false), pick(true)].into_iter().flatten().collect();
        if !filter.is_empty() {
            let path = lab.log_path(&format!("takeover-{iface}.pcap"));
            captures.push((
                *iface,
                Capture::start(n1, iface, &filter.join(" or "), path)?,
            ));
        }
    }
    // Let the capture see a few of the Master's adverts first.
    std::thread::sleep(case.interval.as_duration() * 5 + Duration::from_millis(200));
    master.signal_group(Signal::SIGKILL)?;
    let down = master_down_interval(Version::V3, BACKUP, case.interval, DEFAULT_DOWN_ADVERTS);
    std::thread::sleep(down * 3 + Duration::from_secs(2));
    let mut out = Vec::new();
    let ours: Vec<IpAddr> = addrs_of(n1, ifaces, false)?
        .into_iter()
        .chain(addrs_of(n1, ifaces, true)?)
        .collect();
    for (iface, capture) in captures {
        let frames = capture.stop()?;
        let adverts: Vec<_> = frames
            .iter()
            .filter_map(|f| Some((f.ts, crate::decode::is_vrrp_advert(&f.data)?)))
            .filter(|(_, a)| a.priority > 0)
            .collect();
        for slot in sample.iter().filter(|s| s.iface == iface) {
            let mine = adverts
                .iter()
                .filter(|(_, a)| a.vrid == slot.vrid && a.src.is_ipv6() == slot.vip.is_ipv6());
            let first_own = mine
                .clone()
                .find(|(_, a)| ours.contains(&a.src))
                .map(|(t, _)| *t);
            let last_master = mine
                .filter(|(t, a)| !ours.contains(&a.src) && first_own.is_none_or(|f| *t < f))
                .map(|(t, _)| *t)
                .next_back();
            out.push(TakeoverSample {
                name: slot.name(),
                floor: down,
                took: match (last_master, first_own) {
                    (Some(l), Some(f)) => Some(Duration::from_secs_f64(f - l)),
                    _ => None,
                },
            });
        }
    }
    Ok(out)
}
