//! Effective priority and tracker faults, derived in one place from the current
//! configuration's trackers and the latest health each has reported.
//!
//! Trackers report health, never differences: a reload that fixes a check, removes a failing
//! weighted tracker or adds a `+weight` one that fails at once is the same computation as any
//! other report, so the router cannot keep a stale priority or a fault nobody will clear.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::{Action, FaultSource, Reason, Router};
use crate::vrrp::State;
use crate::vrrp::health::{Health, Tracker, evaluate};

/// What can hold a router in FAULT or lower its priority, kept apart from the router's
/// hot state: most routers have no tracker and never a fault.
#[derive(Debug, Default)]
pub(super) struct FaultState {
    /// Fault sources fed in (links, sync group) or found by the router (isolation).
    pub external: BTreeSet<FaultSource>,
    /// Tracker faults, derived from `health` and the configured trackers.
    pub tracker_faults: BTreeSet<String>,
    /// The latest health of each tracker. A tracker with no entry (added by a reload while
    /// the router ran) counts for nothing until it first reports.
    pub health: BTreeMap<String, Health>,
}

/// The state of a router that never had a tracker or a fault.
static NO_FAULTS: FaultState = FaultState {
    external: BTreeSet::new(),
    tracker_faults: BTreeSet::new(),
    health: BTreeMap::new(),
};

impl Router {
    /// Its fault sources and trackers' health (empty ones if it never had any).
    pub(super) fn fault_state(&self) -> &FaultState {
        self.fault_state.as_deref().unwrap_or(&NO_FAULTS)
    }

    /// Its fault sources and trackers' health, made at first use.
    pub(super) fn fault_state_mut(&mut self) -> &mut FaultState {
        self.fault_state.get_or_insert_with(Default::default)
    }

    /// Raises or clears a fault source fed in or found by the router (not a tracker's);
    /// returns whether the set changed. Clearing one never makes the state.
    pub(super) fn set_external(&mut self, source: FaultSource, active: bool) -> bool {
        if active {
            self.fault_state_mut().external.insert(source)
        } else {
            self.fault_state
                .as_deref_mut()
                .is_some_and(|state| state.external.remove(&source))
        }
    }

    /// The priority and tracker faults the current configuration and health imply.
    pub(super) fn verdict(&self) -> (u8, BTreeSet<String>) {
        let trackers: Vec<Tracker> = self
            .config
            .trackers
            .iter()
            .filter_map(|t| {
                let health = *self.fault_state().health.get(&t.source)?;
                Some(Tracker {
                    source: t.source.clone(),
                    weight: t.weight,
                    file: t.file,
                    health,
                })
            })
            .collect();
        let v = evaluate(self.config.priority, &trackers);
        (v.priority, v.faults)
    }

    /// A tracker reported. Reports for a source the configuration does not track (a check
    /// task of the configuration before a reload) are ignored.
    pub(super) fn health(
        &mut self,
        now: Instant,
        source: String,
        health: Health,
        out: &mut Vec<Action>,
    ) {
        if !self.config.trackers.iter().any(|t| t.source == source) {
            return;
        }
        self.fault_state_mut().health.insert(source, health);
        self.reevaluate(now, out);
    }

    /// Applies the verdict: fault changes first (so a router entering FAULT never advertises
    /// the new priority first), then the priority.
    pub(super) fn reevaluate(&mut self, now: Instant, out: &mut Vec<Action>) {
        let (priority, faults) = self.verdict();
        let current = &self.fault_state().tracker_faults;
        let raised = faults
            .difference(current)
            .next()
            .cloned()
            .map(FaultSource::Tracker);
        if faults != *current {
            self.fault_state_mut().tracker_faults = faults;
            self.faults_changed(now, raised, out);
        }
        self.set_priority(now, priority);
    }

    /// The fault set changed; `raised` names a source that became active, if one did.
    pub(super) fn faults_changed(
        &mut self,
        now: Instant,
        raised: Option<FaultSource>,
        out: &mut Vec<Action>,
    ) {
        if self.faulted() {
            if let Some(source) = raised {
                self.enter_fault(Reason::Fault { source }, out);
            }
        } else if self.state == State::Fault {
            self.enter_backup(now, Reason::FaultCleared, None, out);
        }
    }
}
