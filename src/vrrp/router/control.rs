//! The control inputs: priority, reload, faults, maintenance drain and sync-group orders.

use std::time::Instant;

use super::timers::{DownCause, DownTimer};
use super::{Action, Reason, Router, RouterConfig, SyncOrder};
use crate::vrrp::{State, Version};

impl Router {
    pub(super) fn set_priority(&mut self, now: Instant, priority: u8) {
        // The address owner is never adjusted; 0 and 255 are not effective priorities.
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

    /// New settings for a running router (configuration reload). The state does not change:
    /// a Master stays Master. The caller restarts the router instead when the VRID, the
    /// version or address ownership changes; those are kept as they were here.
    pub(super) fn configure(&mut self, now: Instant, mut config: RouterConfig) {
        config.vrid = self.config.vrid;
        config.version = self.config.version;
        if (config.priority == 255) != self.is_owner() {
            config.priority = self.config.priority;
        }
        // Keep the trackers' adjustment on the new base, so a reload cannot make a lowered
        // Master preempt for the moment before its trackers report again.
        let delta = i16::from(self.priority) - i16::from(self.config.priority);
        let base = (i16::from(config.priority) + delta).clamp(1, 254) as u8;
        self.config = config;
        if self.config.version == Version::V2 {
            // A v2 Backup times the Master with its own interval (they must be equal).
            self.master_adver_interval = self.config.advert_interval;
        }
        if self.is_owner() {
            self.rebase_down(now);
        } else {
            self.set_priority(now, base);
            self.rebase_down(now);
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
            };
            self.timers.down = Some(DownTimer {
                deadline: (down.reset_at + wait).max(now),
                ..down
            });
        }
    }

    pub(super) fn fault(
        &mut self,
        now: Instant,
        source: String,
        active: bool,
        out: &mut Vec<Action>,
    ) {
        if active {
            let first = self.faults.is_empty();
            if !self.faults.insert(source.clone()) || !first {
                return;
            }
            self.enter_fault(Reason::Fault { source }, out);
        } else if self.faults.remove(&source)
            && self.faults.is_empty()
            && self.state == State::Fault
        {
            self.enter_backup(now, Reason::FaultCleared, None, out);
        }
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
        self.state = State::Fault;
        self.timers = Default::default();
        self.pending = None;
        self.heard = None;
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
                self.pending = None;
            }
            State::Backup => {
                let deadline = now + self.master_down_interval();
                self.arm_down(now, deadline, DownCause::Silence);
            }
            _ => {}
        }
    }

    pub(super) fn sync(&mut self, now: Instant, order: SyncOrder, out: &mut Vec<Action>) {
        match (order, self.state) {
            (SyncOrder::Master { group, member }, State::Backup) => {
                let in_startup = self.startup_until.is_some_and(|until| now < until);
                if !self.draining && !in_startup {
                    self.become_master(now, Reason::Sync { group, member }, out);
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
