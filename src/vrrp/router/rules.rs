//! The rules: one method per input, plus the shared moves between states.

use crate::vrrp::stamp::Stamp;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::timers::{DownCause, DownTimer, Due, later, next_periodic};
use super::{
    Action, Advert, FOLLOWED_MAX, FaultSource, Heard, Reason, Router, Stall, Suppressed, Transition,
};
use crate::vrrp::timing::Centis;
use crate::vrrp::{State, Version};

impl Router {
    pub(super) fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        self.startup_until = (!self.config.startup_delay.is_zero())
            .then(|| Stamp::new(later(now, self.config.startup_delay)));
        if let Some(source) = self.faults().into_iter().next() {
            self.state = State::Fault;
            self.notify(State::Initialize, Reason::Fault { source }, None, out);
        } else if self.is_owner() && !self.draining && self.startup_until.is_none() {
            self.take_over(now, Reason::AddressOwner, None, out);
        } else {
            self.enter_backup(now, Reason::Startup, None, out);
        }
        // keepalived counts preempt_delay from startup, and from each first lower-priority
        // advert after that.
        self.preempt_since = Some(Stamp::new(now));
    }

    pub(super) fn stop(&mut self, out: &mut Vec<Action>) {
        let from = self.state;
        let master = match from {
            State::Initialize => return,
            State::Master => {
                self.release(0, out);
                None
            }
            State::Backup | State::Fault => self.heard.map(|h| h.addr),
        };
        self.cancel_takeover(out);
        self.state = State::Initialize;
        self.timers = Default::default();
        // Isolation is our own finding, not a tracker's: a restart checks afresh, and a
        // stopped router has no re-check timer that could ever clear it.
        self.set_external(FaultSource::Isolation, false);
        if let Some(episodes) = self.episodes.as_deref_mut() {
            episodes.recheck = None;
        }
        self.heard = None;
        self.followed.clear();
        self.held = false;
        self.startup_until = None;
        self.backup_since = None;
        self.preempt_since = None;
        self.notify(from, Reason::Stop, master, out);
    }

    pub(super) fn advert(&mut self, now: Instant, advert: Advert, out: &mut Vec<Action>) {
        match self.state {
            State::Backup => self.backup_advert(now, advert, out),
            State::Master => self.master_advert(now, advert, out),
            // Not running, or faulted: adverts mean nothing until we listen again.
            State::Initialize | State::Fault => {}
        }
    }

    fn backup_advert(&mut self, now: Instant, advert: Advert, out: &mut Vec<Action>) {
        // The times this advert sets are all worked out from one stamp of `now`.
        let at = Stamp::new(now);
        if advert.priority == 0 && self.doubts(advert.from, now) {
            // Still noted: the sender's next advert renews the doubt, so a forger that
            // keeps at it never gets past it.
            self.heard_resignation(advert.from, now);
            out.push(Action::Suppressed(Suppressed::Resignation));
            return;
        }
        if advert.priority == 0 {
            self.heard_resignation(advert.from, now);
        } else {
            self.heard_alive(advert.from, now);
        }
        if advert.priority != 0 {
            self.channel_heard(at, advert.channel, out);
        }
        let lower = advert.priority != 0 && advert.priority < self.priority;
        // The preempt delay runs from the first lower-priority advert of an episode; an
        // advert we would not preempt ends the episode.
        if !lower {
            self.preempt_since = None;
        } else if self.preempt_since.is_none() {
            self.preempt_since = Some(at);
        }
        let heard = Heard {
            addr: advert.from,
            channel: advert.channel,
            priority: advert.priority,
            at,
        };
        self.heard = Some(heard);
        if lower && self.may_preempt(now) {
            // Leave the timer running; when it fires, `heard` (newer than the last reset)
            // makes the reason Preempting. A takeover already waiting for a gate goes on
            // waiting, unless it waits to know whether we are isolated: we just heard
            // somebody, so it becomes the preemption it would have been a moment later.
            let asks_isolation = self
                .pending
                .as_ref()
                .is_some_and(|p| p.gates[0] == super::GateKind::Isolation);
            if asks_isolation && let Some(down) = self.cancel_takeover(out).and_then(|p| p.down) {
                self.timers.down = Some(DownTimer {
                    deadline: at,
                    ..down
                });
            }
            return;
        }
        // Anything else ends a wait for a gate: somebody is out there after all.
        self.cancel_takeover(out);
        if advert.priority == 0 {
            self.followed.retain(|f| f.addr != advert.from);
            let mdi = self.master_down_interval();
            self.followed.retain(|f| at < f.at.later(mdi));
            // Another Master is judged on the channel the resignation came in on: every
            // Master advertises on every channel, and the resigning one has other addresses
            // on the others (its adverts there, heard a moment ago, are not another Master).
            let other = self
                .followed
                .iter()
                .filter(|f| f.channel == advert.channel)
                .max_by_key(|f| f.at)
                .copied();
            if let Some(other) = other {
                // Another Master we follow is still alive: wait for it as usual.
                self.heard = Some(other);
                self.arm_down(other.at, other.at.later(mdi), DownCause::Silence);
            } else {
                let deadline = at.later(self.skew_time());
                self.arm_down(at, deadline, DownCause::Resigned(advert.from));
            }
        } else {
            self.adopt_interval(advert.interval);
            self.followed.retain(|f| f.addr != advert.from);
            if self.followed.len() >= FOLLOWED_MAX {
                self.followed.remove(0);
            }
            if self.followed.capacity() == 0 {
                // One Master is the rule: room for one (a first push reserves four).
                self.followed.reserve_exact(1);
            }
            self.followed.push(heard);
            let deadline = at.later(self.master_down_interval());
            self.arm_down(at, deadline, DownCause::Silence);
        }
    }

    /// v3: a Backup adopts the Master's advertised interval (RFC 9568 §6.4.2), up to ten
    /// times its own and at least a second. VRRP adverts are unauthenticated: one forged
    /// advert claiming 40.95 s would otherwise stretch the next failover past two minutes.
    fn adopt_interval(&mut self, advertised: Centis) {
        if self.config.version != Version::V3 || advertised.get() == 0 {
            return;
        }
        let own = self.config.advert_interval.get();
        let cap = own
            .saturating_mul(ADOPTED_INTERVAL_FACTOR)
            .max(Centis::ONE_SECOND.get());
        self.master_adver_interval = Centis::new(advertised.get().min(cap));
    }

    /// A Backup heard the Master on `channel`: the channel carries it (for status and logs
    /// only; no decision depends on it).
    pub(super) fn channel_heard(&mut self, now: Stamp, channel: usize, out: &mut Vec<Action>) {
        let silence = self.master_down_interval();
        let changes = self.channels.advert(channel, now, silence);
        out.extend(changes.into_iter().map(Action::Channel));
    }

    /// Whether a Backup hears a live Master it would not preempt.
    pub(super) fn hears_a_winner(&self, now: Instant) -> bool {
        let mdi = self.master_down_interval();
        self.followed
            .iter()
            .any(|f| f.priority != 0 && now < later(f.at.get(), mdi))
    }

    fn master_advert(&mut self, now: Instant, advert: Advert, out: &mut Vec<Action>) {
        if advert.priority == 0 {
            // Whoever resigned, the Backups must hear us before their skew runs out.
            self.answer(now, out);
        } else if self.yields_to(now, &advert) {
            self.heard_alive(advert.from, now);
            if self.config.yield_advert {
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
            }
            self.drop_addresses(out);
            self.timers = Default::default();
            self.adopt_interval(advert.interval);
            let reason = Reason::PreemptedBy {
                from: advert.from,
                priority: advert.priority,
            };
            let winner = Heard {
                addr: advert.from,
                channel: advert.channel,
                priority: advert.priority,
                at: Stamp::new(now),
            };
            self.heard = Some(winner);
            self.followed = vec![winner];
            self.enter_backup_keeping_interval(now, reason, Some(advert.from), out);
        } else {
            // A lower Master is out there (a healed split brain): make it hear us now, and
            // win the clients' ARP caches back, at most once per our own
            // Master_Down_Interval: a lower Master that keeps coming back keeps taking them.
            // The re-assertion event (and its notify run) comes once per episode, which ends
            // when no lower Master has been heard for that long, so a peer that never
            // yields, or a flood of forged lower adverts, runs the command once.
            self.answer(now, out);
            self.heard_alive(advert.from, now);
            let quiet = self.own_master_down_interval();
            let ongoing = self
                .episodes()
                .and_then(|e| e.lower_heard)
                .filter(|(last, _)| now < later(*last, quiet));
            let served = ongoing.is_some_and(|(_, served)| served);
            let announce = self
                .last_reannounce
                .is_none_or(|t| now >= later(t.get(), quiet));
            let reassert = announce && !served;
            self.episodes_mut().lower_heard = Some((now, served || reassert));
            if announce {
                self.last_reannounce = Some(Stamp::new(now));
                self.announce(self.config.announce().initial, out);
                // The lower Master announced itself moments ago, and Linux ignores a second
                // ARP update of a neighbour entry within its locktime (1 s by default): the
                // burst above may be dropped by every client. Repeat it once that has passed.
                if self.config.announce().repeat > 0 {
                    self.timers.announce = Some(Stamp::new(later(now, LOCKTIME_PASSED)));
                }
            }
            if reassert {
                let over = Reason::Reasserted {
                    over: advert.from,
                    priority: advert.priority,
                };
                self.notify(State::Master, over, Some(self.config.primary_addr), out);
            }
        }
    }

    pub(super) fn fire_due(&mut self, now: Instant, stall: Option<Stall>, out: &mut Vec<Action>) {
        // Every handler moves its timer past `now` or disarms it, so this ends.
        while let Some(due) = self.timers.next_due(now) {
            match due {
                Due::MasterDown => self.master_down_expired(now, stall, out),
                Due::Advert(deadline) => {
                    out.push(Action::SendAdvert {
                        priority: self.priority,
                    });
                    let period = self.advert_period();
                    self.timers.advert = Some(Stamp::new(next_periodic(deadline, period, now)));
                }
                Due::AnnounceRepeat => {
                    self.timers.announce = None;
                    self.announce(self.config.announce().repeat, out);
                }
                Due::AnnounceRefresh(deadline) => {
                    let schedule = self.config.announce();
                    self.announce(schedule.refresh_count, out);
                    self.timers.refresh =
                        Some(Stamp::new(next_periodic(deadline, schedule.refresh, now)));
                }
                Due::IsolationRecheck(deadline) => self.recheck_isolation(deadline, now, out),
                Due::Gate => self.gate_expired(now, out),
                Due::Lease => self.lease_expired(now, out),
            }
        }
    }

    fn master_down_expired(&mut self, now: Instant, stall: Option<Stall>, out: &mut Vec<Action>) {
        let Some(down) = self.timers.down else { return };
        if self.draining {
            self.timers.down = None;
            return;
        }
        if let Some(until) = self
            .startup_until
            .map(Stamp::get)
            .filter(|until| now < *until)
        {
            // Still silent (or still preemptable) but too early: try again when the delay
            // ends. Any advert accepted meanwhile resets the timer as usual.
            self.timers.down = Some(DownTimer {
                deadline: Stamp::new(until),
                ..down
            });
            return;
        }
        let listen = (down.cause == DownCause::Silence)
            .then(|| self.listen_more(down.deadline.get(), now, stall))
            .flatten();
        if let Some(more) = listen {
            // This router ran well past its deadline, or its deadline came while its thread
            // stood still or just after (a paused virtual machine, a starved thread). The
            // Master may have been stalled with it, its advert due at this same instant, or
            // its adverts may have been lost while this host was paused: silence this router
            // could not hear is no evidence. It listens longer before declaring the Master
            // down, so a stall costs a takeover at most one Master_Adver_Interval, and a
            // healthy Master no flap.
            let at = Stamp::new(now);
            let cause = DownCause::Relistening {
                silence_from: down.silence_from(),
            };
            self.arm_down(at, at.later(more), cause);
            out.push(Action::Suppressed(Suppressed::Takeover));
            return;
        }
        let reason = match (down.cause, self.heard) {
            (DownCause::Resigned(from), _) => Reason::MasterResigned { from },
            // Heard since the silence began yet not reset: a lower priority we chose to
            // ignore.
            (DownCause::Silence | DownCause::Relistening { .. }, Some(h))
                if h.at > down.silence_from() =>
            {
                Reason::Preempting {
                    master: h.addr,
                    priority: h.priority,
                }
            }
            (DownCause::Silence | DownCause::Relistening { .. }, heard) => {
                let since = heard
                    .map(|h| h.at.get())
                    .or(self.backup_since.map(Stamp::get))
                    .unwrap_or(down.reset_at.get());
                Reason::MasterDown {
                    last_master: heard.map(|h| h.addr),
                    silent_for: now.saturating_duration_since(since),
                }
            }
        };
        self.take_over(now, reason, Some(down), out);
    }

    /// How much longer a Backup whose Master_Down `deadline` came at `now` listens before
    /// declaring its Master down, if its host or thread was stalled around the deadline.
    ///
    /// - One Master_Adver_Interval if it ran more than a quarter interval past the deadline
    ///   (2.5 ms at 10 ms adverts, 250 ms at 1 s): a router that keeps time runs within a
    ///   millisecond or so, and a quarter interval is far past that and short of an
    ///   advert's worth of listening. Or if the thread that runs it stood still that long
    ///   with the deadline inside the stall (`stall`): routers whose deadlines lie a few
    ///   milliseconds apart, served by one thread, were all stalled alike, though the
    ///   stall may end just past some of their deadlines.
    /// - As long as the thread stood still, up to a quarter interval, if the deadline came
    ///   while it stood still or that soon after: a whole machine that stopped and resumed
    ///   just past the deadline resumed the Master with it, whose overdue advert comes
    ///   within moments. (In the lab, one stop of 32 ms ended 2.3 ms past the first of 50
    ///   deadlines; 32 Backups took over and the Master preempted them within 0.1 ms.)
    fn listen_more(
        &self,
        deadline: Instant,
        now: Instant,
        stall: Option<Stall>,
    ) -> Option<Duration> {
        let interval = self.master_adver_interval.as_duration();
        let quarter = interval / 4;
        if now.saturating_duration_since(deadline) > quarter {
            return Some(interval);
        }
        let Stall { from, to } = stall?;
        let length = to.saturating_duration_since(from);
        if (from..=to).contains(&deadline) && length > quarter {
            return Some(interval);
        }
        let short = length.min(quarter);
        (!short.is_zero() && (from..=to + short).contains(&deadline)).then_some(short)
    }

    /// Enters Backup with our own interval as Master_Adver_Interval and forgets any Master.
    pub(super) fn enter_backup(
        &mut self,
        now: Instant,
        reason: Reason,
        master: Option<IpAddr>,
        out: &mut Vec<Action>,
    ) {
        self.master_adver_interval = self.config.advert_interval;
        self.heard = None;
        self.followed.clear();
        self.enter_backup_keeping_interval(now, reason, master, out);
    }

    fn enter_backup_keeping_interval(
        &mut self,
        now: Instant,
        reason: Reason,
        master: Option<IpAddr>,
        out: &mut Vec<Action>,
    ) {
        let from = self.state;
        self.cancel_takeover(out);
        if from != State::Backup {
            // A silence that began while we were not listening is not a lost channel.
            self.channels.watch(now);
        }
        self.state = State::Backup;
        let at = Stamp::new(now);
        self.backup_since = Some(at);
        self.preempt_since = None;
        self.timers = Default::default();
        self.arm_down(
            at,
            at.later(self.master_down_interval()),
            DownCause::Silence,
        );
        self.notify(from, reason, master, out);
    }

    /// Arms (or resets) the master-down timer, unless draining keeps us from ever firing it.
    pub(super) fn arm_down(&mut self, now: Stamp, deadline: Stamp, cause: DownCause) {
        self.timers.down = (!self.draining).then_some(DownTimer {
            deadline,
            reset_at: now,
            cause,
        });
    }

    /// Leaves Master: the last advert, then the addresses, then no more Master timers.
    pub(super) fn release(&mut self, priority: u8, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert { priority });
        self.drop_addresses(out);
        self.timers.advert = None;
        self.timers.announce = None;
        self.timers.refresh = None;
        self.timers.lease = None;
    }

    /// The addresses go, and under an arbiter the lease with them: every way out of Master
    /// passes here.
    fn drop_addresses(&self, out: &mut Vec<Action>) {
        out.push(Action::RemoveVips);
        if self.config.arbiter.is_some() {
            out.push(Action::ReleaseLease);
        }
    }

    /// Master: answers an advert that needs one (a lower Master, a resignation) with an
    /// advert now, at most once per advert interval: one multicast advert answers every
    /// sender, and a flood of forged adverts must not become a flood of ours.
    fn answer(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self
            .episodes()
            .and_then(|e| e.last_answer)
            .is_some_and(|t| now < later(t, self.advert_period()))
        {
            out.push(Action::Suppressed(Suppressed::Answer));
            return;
        }
        self.episodes_mut().last_answer = Some(now);
        self.advertise_now(now, out);
    }

    /// Master: an advert now, and the next one a full interval later.
    fn advertise_now(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        self.timers.advert = Some(Stamp::new(self.next_advert_after(now)));
    }

    /// When a Master that advertised at `now` advertises next: a full interval later, or a
    /// little earlier on the grid of [`RouterConfig::advert_origin`].
    pub(super) fn next_advert_after(&self, now: Instant) -> Instant {
        let period = self.advert_period();
        let full = later(now, period);
        let Some(since) = self
            .config
            .advert_origin
            .and_then(|origin| full.checked_duration_since(origin))
        else {
            return full;
        };
        // Below one period, so the result is after `now`.
        let past_grid = since.as_nanos() % period.as_nanos();
        full - Duration::from_nanos(past_grid as u64)
    }

    pub(super) fn announce(&self, count: u32, out: &mut Vec<Action>) {
        if count > 0 {
            out.push(Action::Announce { count });
        }
    }

    pub(super) fn notify(
        &mut self,
        from: State,
        reason: Reason,
        master: Option<IpAddr>,
        out: &mut Vec<Action>,
    ) {
        if self.state != State::Backup {
            // Nothing is expected on any channel: nothing is lost either.
            self.channels.stop();
        }
        out.push(Action::Notify(Transition {
            from,
            to: self.state,
            reason,
            priority: self.priority,
            master,
        }));
    }

    /// Our advert interval as a timer period. Config validation rejects a zero interval;
    /// the floor of one centisecond only keeps a bad config from spinning `fire_due`.
    pub(super) fn advert_period(&self) -> Duration {
        self.config
            .advert_interval
            .as_duration()
            .max(Duration::from_millis(10))
    }

    pub(super) fn is_owner(&self) -> bool {
        self.config.priority == 255
    }

    /// Whether a Backup may ignore a lower-priority Master now. The address owner always
    /// preempts (RFC 9568 §6.1, Preempt_Mode). The preempt delay counts as keepalived's
    /// does: from start, and from the first lower-priority advert after a Master we would
    /// not preempt, so a short dip of the Master's priority moves nothing.
    fn may_preempt(&self, now: Instant) -> bool {
        let delay_over = self.is_owner()
            || self.config.preempt_delay.is_zero()
            || self
                .preempt_since
                .is_some_and(|since| now >= later(since.get(), self.config.preempt_delay));
        // Under an arbiter the lease decides: a held lease is kept until its holder leaves
        // Master, as with vip-manager and kube-vip.
        let arbitrated = self.config.arbiter.is_some();
        (self.config.preempt || self.is_owner()) && delay_over && !self.held && !arbitrated
    }

    /// Whether a Master yields to an advert: a higher priority, or an equal one from a
    /// higher address (RFC 9568 §6.4.3). One identity per node decides ties on every
    /// channel: a peer known by its address on the channel is compared by its primary
    /// address with ours; otherwise the advert's source is compared with our address on the
    /// channel it came in on. Two nodes numbered in opposite orders on two channels would
    /// otherwise both yield when a partition heals.
    pub(super) fn loses_to(&self, advert: &Advert) -> bool {
        let identity = self
            .config
            .peer_identities
            .iter()
            .find(|(on_channel, _)| *on_channel == advert.from);
        let (theirs, ours) = match identity {
            Some((_, theirs)) => (*theirs, self.config.primary_addr),
            None => {
                let ours = self.config.channel_addrs.get(advert.channel).copied();
                (advert.from, ours.unwrap_or(self.config.primary_addr))
            }
        };
        advert.priority > self.priority
            || (advert.priority == self.priority && address_above(theirs, ours))
    }
}

/// Past Linux's default neighbour `locktime` (1 s), within which a client ignores a second
/// ARP update of the same entry.
const LOCKTIME_PASSED: Duration = Duration::from_millis(1100);

/// How many times its own interval a v3 Backup lets the Master's be (see `adopt_interval`).
const ADOPTED_INTERVAL_FACTOR: u16 = 10;

/// `a > b` as unsigned integers of the same family. Addresses of different families never
/// compare above: a router only hears adverts of its own family.
fn address_above(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.to_bits() > b.to_bits(),
        (IpAddr::V6(a), IpAddr::V6(b)) => a.to_bits() > b.to_bits(),
        _ => false,
    }
}
