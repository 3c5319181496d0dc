//! Tracker health to effective priority and faults: the weight arithmetic, pure.
//!
//! Trackers only report health; the router adds the weights of its current configuration to
//! the current health, so a reload that adds, fixes or removes a tracker is never a special
//! case (see `Router`'s `Input::Health` and `Input::Configure`).

use std::collections::BTreeSet;

/// The priority that marks the address owner, which trackers never adjust.
const OWNER: u8 = 255;

/// keepalived's track_file rule: a weighted result below this puts the instance in FAULT.
const FILE_FAULT_BELOW: i64 = -253;

/// What a tracker currently says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// No result yet.
    Init,
    /// Healthy.
    Ok,
    /// Failed (for a file tracker: the file could not be read or parsed).
    Failed,
    /// A file tracker's value (a missing file reads as 0).
    Value(i64),
}

/// One tracker of an instance, as the arithmetic sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracker {
    /// The fault source name the router sees ("check haproxy", "interface eth2").
    pub source: String,
    /// The configured weight.
    pub weight: i16,
    /// Follows a file (keepalived's track_file semantics for values and read errors).
    pub file: bool,
    /// The current verdict.
    pub health: Health,
}

/// What the trackers of one instance add up to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Effective priority: 1..=254, or 255 for the address owner.
    pub priority: u8,
    /// Fault sources currently active.
    pub faults: BTreeSet<String>,
}

/// Whether one tracker puts the instance in FAULT, and what it adds to the priority.
///
/// - weight 0: FAULT while failed (and until the first result, as keepalived holds an
///   instance until its unweighted scripts have reported); a file value other than 0 is a
///   failure.
/// - weight > 0: added while healthy; weight < 0: added while failed; nothing before the
///   first result.
/// - file value v with weight w != 0: v * w is added; below -253 it is a FAULT instead.
/// - a file tracker that cannot be read or parsed is a FAULT whatever its weight: the file
///   is how an operator forces a failover, so a garbled one must not be ignored.
fn contribution(t: &Tracker) -> (bool, i64) {
    let w = i64::from(t.weight);
    match (t.health, w) {
        (Health::Init, 0) => (true, 0),
        (Health::Init, _) => (false, 0),
        (Health::Failed, _) if t.file => (true, 0),
        (Health::Value(v), 0) => (v != 0, 0),
        (Health::Value(v), w) => {
            let r = v.saturating_mul(w);
            if r < FILE_FAULT_BELOW {
                (true, 0)
            } else {
                (false, r)
            }
        }
        (Health::Ok, 0) => (false, 0),
        (Health::Failed, 0) => (true, 0),
        (Health::Ok, w) if w > 0 => (false, w),
        (Health::Failed, w) if w < 0 => (false, w),
        _ => (false, 0),
    }
}

/// Adds up the trackers of an instance with base priority `base`.
///
/// The result is clamped to 1..=254; the address owner (255) is never adjusted but can still be in FAULT.
pub fn evaluate(base: u8, trackers: &[Tracker]) -> Verdict {
    let mut faults = BTreeSet::new();
    let mut sum: i64 = 0;
    for t in trackers {
        let (fault, add) = contribution(t);
        if fault {
            faults.insert(t.source.clone());
        }
        sum = sum.saturating_add(add);
    }
    let priority = if base == OWNER {
        OWNER
    } else {
        // Clamped into 1..=254, so the cast cannot truncate.
        i64::from(base).saturating_add(sum).clamp(1, 254) as u8
    };
    Verdict { priority, faults }
}
