//! keepalived's gratuitous ARP / NA settings to vipd's `garp:` block.
//!
//! keepalived has them at three levels: global_defs (`vrrp_garp_*`, `vrrp_gna_interval`,
//! `vrrp_min_garp`), a `garp_group` per interface (the pacing), and the instance
//! (`garp_master_*`); an instance's own setting wins over the global one, as in keepalived,
//! where the instance copies the global values when it is created.

use super::Ctx;
use super::model::OutGarp;
use super::values::{bool_arg, int, secs};
use crate::convert::tree::Node;

/// vipd's caps (see `vipd check`), in microseconds.
const MAX_REFRESH_US: u64 = crate::config::MAX_GARP_REFRESH.as_micros() as u64;
const MAX_GAP_US: u64 = crate::config::MAX_GARP_GAP.as_micros() as u64;

/// keepalived's defaults: 5 at once, 5 more 5 s later, no refresh, 1 per refresh.
const KA_REPEAT: u32 = 5;
const KA_DELAY_US: u64 = 5_000_000;
const KA_REFRESH_REPEAT: u32 = 1;

/// The settings one level (global_defs or an instance) wrote; `None` is not written there.
#[derive(Debug, Default, Clone)]
pub(super) struct Level {
    /// `garp_master_delay`, µs.
    pub(super) delay: Option<u64>,
    /// `garp_master_repeat`.
    pub(super) repeat: Option<u32>,
    /// `garp_master_refresh`, µs; 0 is off.
    pub(super) refresh: Option<u64>,
    /// `garp_master_refresh_repeat`.
    pub(super) refresh_repeat: Option<u32>,
}

/// The global settings, with the pacing.
#[derive(Debug, Default)]
pub(super) struct Global {
    pub(super) level: Level,
    /// `vrrp_min_garp`: the defaults become one announcement and no second burst.
    pub(super) min_garp: bool,
    /// `vrrp_garp_interval` / `vrrp_gna_interval`, µs.
    pub(super) arp_interval: Option<u64>,
    pub(super) na_interval: Option<u64>,
    /// `garp_group` blocks: `(interfaces, garp_interval, gna_interval)`.
    pub(super) groups: Vec<(Vec<String>, Option<u64>, Option<u64>)>,
}

/// Reads a garp keyword valid both in global_defs (with its `vrrp_` prefix) and in an
/// instance into `level`; false if `name` is not one.
fn level_keyword(cx: &mut Ctx<'_>, level: &mut Level, name: &str, n: &Node) -> bool {
    let arg = n.arg();
    match name {
        "garp_master_delay" => match int(arg, 0, 1000) {
            Some(v) => level.delay = Some(v as u64 * 1_000_000),
            None => cx.bad_value(n, "whole seconds"),
        },
        "garp_master_repeat" => match int(arg, 1, 100) {
            Some(v) => level.repeat = Some(v as u32),
            None => cx.bad_value(n, "a count 1..=100"),
        },
        "garp_master_refresh" => match int(arg, 0, i64::from(u32::MAX)) {
            Some(v) => level.refresh = Some(refresh_us(cx, n, v as u64 * 1_000_000)),
            None => cx.bad_value(n, "whole seconds"),
        },
        "garp_master_refresh_repeat" => match int(arg, 1, 100) {
            Some(v) => level.refresh_repeat = Some(v as u32),
            None => cx.bad_value(n, "a count 1..=100"),
        },
        _ => return false,
    }
    true
}

/// A refresh within vipd's cap; a longer one is written as the cap, with a note.
fn refresh_us(cx: &mut Ctx<'_>, n: &Node, us: u64) -> u64 {
    if us <= MAX_REFRESH_US {
        return us;
    }
    cx.out.global_notes.push((
        "",
        format!(
            "keepalived's {} ({}) is longer than vipd's cap; written as {} s",
            n.name,
            n.loc,
            MAX_REFRESH_US / 1_000_000
        ),
    ));
    MAX_REFRESH_US
}

/// A pacing gap: keepalived's decimal seconds, up to vipd's cap of a second. A longer one
/// cannot be kept and is reported.
fn gap(cx: &mut Ctx<'_>, n: &Node) -> Option<u64> {
    match n.arg().and_then(secs) {
        Some(us) if us <= MAX_GAP_US => Some(us),
        Some(_) => {
            cx.skip_node(
                n,
                "vipd paces announcements by at most 1s; a longer gap is not supported",
            );
            None
        }
        None => {
            cx.bad_value(n, "seconds, such as 0.001");
            None
        }
    }
}

/// A global_defs keyword about announcements; false if `n` is not one.
pub(super) fn global_keyword(cx: &mut Ctx<'_>, n: &Node) -> bool {
    let name = n.name.as_str();
    match name {
        "vrrp_garp_interval" => {
            if let Some(us) = gap(cx, n) {
                cx.globals.garp.arp_interval = Some(us);
            }
        }
        "vrrp_gna_interval" => {
            if let Some(us) = gap(cx, n) {
                cx.globals.garp.na_interval = Some(us);
            }
        }
        "vrrp_min_garp" => match bool_arg(n.arg()) {
            Some(b) => cx.globals.garp.min_garp = b,
            None => cx.bad_value(n, "a boolean"),
        },
        _ => {
            let Some(short) = name.strip_prefix("vrrp_") else {
                return false;
            };
            let mut level = std::mem::take(&mut cx.globals.garp.level);
            let known = level_keyword(cx, &mut level, short, n);
            cx.globals.garp.level = level;
            return known;
        }
    }
    true
}

/// An instance keyword about announcements; false if `n` is not one.
pub(super) fn instance_keyword(cx: &mut Ctx<'_>, level: &mut Level, n: &Node) -> bool {
    level_keyword(cx, level, n.name.as_str(), n)
}

/// A top-level `garp_group`: the pacing of the interfaces it names.
pub(super) fn group(cx: &mut Ctx<'_>, block: &Node) {
    let (mut ifaces, mut arp, mut na) = (Vec::new(), None, None);
    for n in block.children() {
        match n.name.as_str() {
            "garp_interval" => arp = gap(cx, n).or(arp),
            "gna_interval" => na = gap(cx, n).or(na),
            "interface" => match n.arg() {
                Some(i) => ifaces.push(i.to_owned()),
                None => cx.bad_value(n, "an interface name"),
            },
            "interfaces" => ifaces.extend(n.children().iter().map(|i| i.name.clone())),
            _ => cx.skip_node(n, "no vipd equivalent in a garp_group"),
        }
    }
    if ifaces.is_empty() {
        cx.skip_node(block, "garp_group names no interface, so it paces nothing");
    }
    cx.globals.garp.groups.push((ifaces, arp, na));
}

/// The `garp:` of an instance on `interface` with `own` settings.
pub(super) fn resolve(cx: &Ctx<'_>, own: &Level, interface: &str) -> OutGarp {
    let g = &cx.globals.garp;
    let min = g.min_garp;
    let delay = own.delay.or(g.level.delay);
    let repeat = own.repeat.or(g.level.repeat);
    let bursts = (delay.is_some() || repeat.is_some() || min).then(|| {
        let count = repeat.unwrap_or(if min { 1 } else { KA_REPEAT });
        match delay.unwrap_or(if min { 0 } else { KA_DELAY_US }) {
            0 => (count, 0, KA_DELAY_US),
            d => (count, count, d),
        }
    });
    // vrrp_min_garp makes keepalived's default per refresh 0: a refresh then sends nothing.
    let per_refresh = own
        .refresh_repeat
        .or(g.level.refresh_repeat)
        .unwrap_or(if min { 0 } else { KA_REFRESH_REPEAT });
    let refresh = own
        .refresh
        .or(g.level.refresh)
        .filter(|us| *us > 0 && per_refresh > 0)
        .map(|us| (us, per_refresh));
    // A garp_group naming the interface overrides the global pacing for it.
    let group = g
        .groups
        .iter()
        .find(|(i, _, _)| i.iter().any(|i| i == interface));
    let (arp, na) = match group {
        Some((_, arp, na)) => (arp.or(g.arp_interval), na.or(g.na_interval)),
        None => (g.arp_interval, g.na_interval),
    };
    OutGarp {
        bursts,
        refresh,
        arp_interval: arp.filter(|us| *us > 0),
        na_interval: na.filter(|us| *us > 0),
    }
}
