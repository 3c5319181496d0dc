//! The control inputs: reload, faults, maintenance drain and sync-group orders.

use crate::vrrp::stamp::Stamp;
use std::sync::Arc;
use std::time::Instant;

use super::timers::{DownCause, DownTimer, later, refresh_deadline};
use super::{Action, FaultSource, Reason, Router, RouterConfig, SyncOrder};
use crate::vrrp::channels::ChannelHealth;
use crate::vrrp::health::Health;
use crate::vrrp::{State, Version};

impl Router {
    /// Takes a newly derived effective priority. The address owner is never adjusted; 0
    /// and 255 are not effective priorities.
    pub(super) fn set_priority(&mut self, now: Instant, priority: u8) {
        if self.is_owner() {
            return;
        }
        let priority = priority.clamp(1, 254);
        if priority == self.priority {
            return;
        }
        self.priority = priority;
        // A Master's next advert carries it. A Backup's skew changed.
        self.rebase_down(now);
    }

    /// New settings for a running router (configuration reload). The state does not change
    /// by itself: a Master stays Master, unless the new trackers or group put it in FAULT.
    /// The caller restarts the router instead when the VRID, the version or address
    /// ownership changes; those are kept as they were here.
    pub(super) fn configure(
        &mut self,
        now: Instant,
        mut config: Arc<RouterConfig>,
        out: &mut Vec<Action>,
    ) {
        // Copied only when something is kept: otherwise the router shares what the daemon
        // holds.
        if config.vrid != self.config.vrid {
            Arc::make_mut(&mut config).vrid = self.config.vrid;
        }
        if config.version != self.config.version {
            Arc::make_mut(&mut config).version = self.config.version;
        }
        if (config.priority == 255) != self.is_owner() {
            Arc::make_mut(&mut config).priority = self.config.priority;
        }
        // Health of trackers that are gone is forgotten. A tracker added while running
        // counts for nothing until it first reports, so a reload does not fault a healthy
        // Master for the moment before a new check's first result; before start it holds
        // the router like any other unreported tracker.
        if let Some(state) = self.fault_state.as_deref_mut() {
            state
                .health
                .retain(|source, _| config.trackers.iter().any(|t| t.source == *source));
            // A member's fault is the group's only while both are in it.
            state.external.retain(|f| from_our_group(&config, f));
        }
        if self.state == State::Initialize && !config.trackers.is_empty() {
            let health = &mut self.fault_state_mut().health;
            for t in &config.trackers {
                health.entry(t.source.clone()).or_insert(Health::Init);
            }
        }
        if config.channel_names != self.config.channel_names {
            self.channels = ChannelHealth::idle(config.channel_names.len());
            if self.state == State::Backup {
                self.channels.watch(now);
            }
        }
        // A Master's refresh follows a changed period at once, counted from now; an unchanged
        // one keeps its grid.
        if self.state == State::Master
            && config.announce().refresh != self.config.announce().refresh
        {
            self.timers.refresh = refresh_deadline(&config.announce(), now).map(Stamp::new);
        }
        self.config = config;
        if self.config.version == Version::V2 {
            // A v2 Backup times the Master with its own interval (they must be equal).
            self.master_adver_interval = self.config.advert_interval;
        }
        self.reevaluate(now, out);
        if !self.faulted() && self.state == State::Fault {
            self.enter_backup(now, Reason::FaultCleared, None, out);
        }
        self.rebase_down(now);
        // The gates may have changed: ask the new ones afresh.
        if let Some(pending) = self.cancel_takeover(out) {
            self.take_over(now, pending.reason, pending.down, out);
        }
    }

    /// Re-bases a running master-down timer on its last reset, as if it had been armed with
    /// the current priority and intervals. A shorter interval can move the deadline before
    /// `now`: it is then due at once.
    fn rebase_down(&mut self, now: Instant) {
        if let Some(down) = self.timers.down {
            let wait = match down.cause {
                DownCause::Silence => self.master_down_interval(),
                DownCause::Resigned(_) => self.skew_time(),
                DownCause::Relistening { .. } => self.master_adver_interval.as_duration(),
            };
            self.timers.down = Some(DownTimer {
                deadline: Stamp::new(later(down.reset_at.get(), wait).max(now)),
                ..down
            });
        }
    }

    pub(super) fn fault(
        &mut self,
        now: Instant,
        source: FaultSource,
        active: bool,
        out: &mut Vec<Action>,
    ) {
        if matches!(source, FaultSource::Tracker(_)) {
            // Tracker faults are derived from health, never fed.
            return;
        }
        if active && !from_our_group(&self.config, &source) {
            // An order a group sent before a reload took us or that member out of it.
            return;
        }
        let name = source.clone();
        let changed = self.set_external(source, active);
        if changed {
            self.faults_changed(now, active.then_some(name), out);
        }
    }

    /// Clears one fault source.
    pub(super) fn clear_fault(&mut self, now: Instant, source: FaultSource, out: &mut Vec<Action>) {
        self.fault(now, source, false, out);
    }

    /// Moves a running router (Backup or Master) to FAULT: a Master sends priority 0 and
    /// releases its addresses first. Not started or already in FAULT: nothing to do (Start
    /// goes to FAULT by itself while a fault is active).
    pub(super) fn enter_fault(&mut self, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        let master = match from {
            State::Initialize | State::Fault => return,
            State::Master => {
                self.release(0, out);
                None
            }
            State::Backup => self.heard.map(|h| h.addr),
        };
        self.cancel_takeover(out);
        self.state = State::Fault;
        self.timers = Default::default();
        self.heard = None;
        self.followed.clear();
        self.preempt_since = None;
        // Leaving FAULT is a fresh start: the group's old hold no longer applies.
        self.held = false;
        self.notify(from, reason, master, out);
    }

    pub(super) fn drain(&mut self, now: Instant, on: bool, out: &mut Vec<Action>) {
        if on == self.draining {
            return;
        }
        self.draining = on;
        match self.state {
            State::Master if on => {
                self.release(0, out);
                self.enter_backup(now, Reason::Drain, None, out);
            }
            // A draining Backup keeps no master-down timer rather than re-arming one that
            // could only wake us to do nothing; Drain(false) arms it afresh.
            State::Backup if on => {
                self.timers.down = None;
                self.cancel_takeover(out);
            }
            State::Backup => {
                let at = Stamp::new(now);
                self.arm_down(
                    at,
                    at.later(self.master_down_interval()),
                    DownCause::Silence,
                );
            }
            _ => {}
        }
    }

    pub(super) fn sync(&mut self, now: Instant, order: SyncOrder, out: &mut Vec<Action>) {
        match (order, self.state) {
            (SyncOrder::Master { group, member }, State::Backup) => {
                let in_startup = self.startup_until.is_some_and(|until| now < until.get());
                // A member that hears a live Master it would not preempt stays Backup: the
                // group does not get to make two Masters on this member's LAN.
                if self.draining || in_startup {
                    return;
                }
                if self.hears_a_winner(now) {
                    out.push(Action::RefuseSyncOrder { group });
                } else {
                    let down = self.cancel_takeover(out).and_then(|p| p.down);
                    self.take_over(now, Reason::Sync { group, member }, down, out);
                }
            }
            (SyncOrder::Backup { group, member }, State::Master) => {
                self.release(0, out);
                self.held = true;
                self.enter_backup(now, Reason::Sync { group, member }, None, out);
            }
            // Already following the group's lead Master: stay put, and do not preempt it
            // on our own either.
            (SyncOrder::Backup { .. }, State::Backup) => self.held = true,
            _ => {}
        }
    }
}

/// Whether `fault` may hold a router configured with `config`: any fault but a sync group's,
/// and a group's only while both the router and the faulted member are in that group.
fn from_our_group(config: &RouterConfig, fault: &FaultSource) -> bool {
    match fault {
        FaultSource::Group { group, member } => config.sync_group.as_ref().is_some_and(|g| {
            g.group == *group && member.as_str() != &*config.name && g.members.contains(member)
        }),
        _ => true,
    }
}
