use super::*;

fn owner(t0: Instant) -> Router {
    let mut r = Router::new(v2(255));
    r.handle(t0, Input::Start);
    r
}

#[test]
fn advert_timer_rearms_from_the_deadline_when_slightly_late() {
    let t0 = Instant::now();
    let mut r = owner(t0);
    assert_eq!(
        r.handle(t0 + ms(1100), Input::Timer),
        vec![Action::SendAdvert { priority: 255 }]
    );
    assert_eq!(r.deadlines().advert, Some(t0 + ms(2000)));
}

#[test]
fn advert_timer_more_than_an_interval_late_rearms_from_now() {
    let t0 = Instant::now();
    let mut r = owner(t0);
    // One advert, not a burst for the missed ones.
    assert_eq!(
        r.handle(t0 + ms(2500), Input::Timer),
        vec![Action::SendAdvert { priority: 255 }]
    );
    assert_eq!(r.deadlines().advert, Some(t0 + ms(3500)));
}

/// Two Backups of one host that take over at different times advertise together from
/// their second advert on: each next advert is at the last point of the origin's grid at
/// most one interval away, never later.
#[test]
fn masters_with_an_advert_origin_share_their_advert_deadlines() {
    let origin = Instant::now();
    let config = |vrid| RouterConfig {
        vrid,
        advert_origin: Some(origin),
        ..v2(100)
    };
    let mut deadlines = Vec::new();
    for (vrid, start) in [(51, ms(120)), (52, ms(1730))] {
        let mut r = Router::new(config(vrid));
        r.handle(origin + start, Input::Start);
        let down = r.next_deadline().unwrap();
        r.handle(down, Input::Timer);
        assert_eq!(r.state(), State::Master);
        let next = r.deadlines().advert.unwrap();
        assert!(next > down && next - down <= ms(1000), "{:?}", next - down);
        // Whole seconds from the origin: the grid of a one-second interval.
        assert_eq!((next - origin).subsec_nanos(), 0, "{:?}", next - origin);
        // Then a full interval apart, as RFC 9568 §6.4.3 says.
        r.handle(next, Input::Timer);
        assert_eq!(r.deadlines().advert, Some(next + ms(1000)));
        deadlines.push(next + ms(1000));
    }
    assert_ne!(deadlines[0], deadlines[1]);
    let apart = deadlines[1] - deadlines[0];
    assert_eq!(apart.subsec_nanos(), 0, "in phase: {apart:?}");
}

#[test]
fn late_timer_handles_every_due_timer_in_deadline_order() {
    let t0 = Instant::now();
    let mut r = owner(t0);
    assert_eq!(
        r.handle(t0 + ms(5500), Input::Timer),
        vec![
            Action::SendAdvert { priority: 255 },
            Action::Announce { count: 5 },
        ]
    );
    assert_eq!(r.next_deadline(), Some(t0 + ms(6500)));
    assert_eq!(r.deadlines().announce_repeat, None);
}

#[test]
fn announce_repeat_fires_once() {
    let t0 = Instant::now();
    let mut r = Router::new(RouterConfig {
        announce: Some(Box::new(AnnounceSchedule {
            initial: 3,
            repeat: 2,
            repeat_after: ms(2500),
            ..AnnounceSchedule::default()
        })),
        ..v2(255)
    });
    assert_eq!(r.handle(t0, Input::Start)[2], Action::Announce { count: 3 });
    r.handle(t0 + ms(1000), Input::Timer);
    r.handle(t0 + ms(2000), Input::Timer);
    assert_eq!(r.next_deadline(), Some(t0 + ms(2500)));
    assert_eq!(
        r.handle(t0 + ms(2500), Input::Timer),
        vec![Action::Announce { count: 2 }]
    );
    assert_eq!(r.next_deadline(), Some(t0 + ms(3000)));
    assert_eq!(r.deadlines().announce_repeat, None);
}

#[test]
fn no_announce_repeat_when_repeat_is_zero() {
    let t0 = Instant::now();
    let mut r = Router::new(RouterConfig {
        announce: Some(Box::new(AnnounceSchedule {
            repeat: 0,
            ..AnnounceSchedule::default()
        })),
        ..v2(255)
    });
    r.handle(t0, Input::Start);
    assert_eq!(r.deadlines().announce_repeat, None);
}

#[test]
fn higher_priority_preempts_master_after_a_last_advert() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(100), t0);
    let reason = Reason::PreemptedBy {
        from: ip(PEER),
        priority: 200,
    };
    assert_eq!(
        r.handle(t + ms(300), advert(PEER, 200, 100)),
        vec![
            Action::SendAdvert { priority: 100 },
            Action::RemoveVips,
            notify(
                State::Master,
                State::Backup,
                reason.clone(),
                100,
                Some(PEER)
            ),
        ]
    );
    assert_eq!(
        r.deadlines(),
        Deadlines {
            master_down: Some(t + ms(300) + us(3_609_375)),
            advert: None,
            announce_repeat: None,
            announce_refresh: None,
            isolation_recheck: None,
            gate: None,
            lease: None,
        }
    );
    assert_eq!(r.master(), Some(ip(PEER)));
    assert_eq!(reason.to_string(), "preempted by 10.0.0.2 priority 200");
}

#[test]
fn yielding_without_yield_advert_only_releases() {
    let t0 = Instant::now();
    let (mut r, t) = master(
        RouterConfig {
            yield_advert: false,
            ..v2(100)
        },
        t0,
    );
    let reason = Reason::PreemptedBy {
        from: ip(PEER),
        priority: 200,
    };
    assert_eq!(
        r.handle(t, advert(PEER, 200, 100)),
        vec![
            Action::RemoveVips,
            notify(State::Master, State::Backup, reason, 100, Some(PEER)),
        ]
    );
}

#[test]
fn v3_master_yielding_adopts_the_winners_interval() {
    let t0 = Instant::now();
    let (mut r, t) = master(v3(100, 100), t0);
    r.handle(t, advert(PEER, 200, 10));
    assert_eq!(r.master_adver_interval(), Centis::new(10));
    assert_eq!(
        r.next_deadline(),
        Some(t + Duration::from_nanos(360_937_500))
    );
}

#[test]
fn equal_priority_ipv4_tie_break_compares_addresses_as_integers() {
    let t0 = Instant::now();
    let config = RouterConfig {
        primary_addr: ip("10.0.0.10"),
        channel_addrs: vec![ip("10.0.0.10")].into(),
        ..v2(100)
    };
    let (mut r, t) = master(config, t0);
    // "10.0.0.9" sorts above "10.0.0.10" as text, but not as a number.
    let kept = r.handle(t, advert("10.0.0.9", 100, 100));
    assert_eq!(kept[0], Action::SendAdvert { priority: 100 });
    assert_eq!(r.state(), State::Master);
    r.handle(t, advert("10.0.0.11", 100, 100));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn equal_priority_ipv6_tie_break_compares_addresses_as_integers() {
    let t0 = Instant::now();
    let config = RouterConfig {
        primary_addr: ip("fe80::a"),
        channel_addrs: vec![ip("fe80::a")].into(),
        ..v3(100, 100)
    };
    let (mut r, t) = master(config, t0);
    r.handle(t, advert("fe80::9", 100, 100));
    assert_eq!(r.state(), State::Master);
    r.handle(t, advert("fe80::1:0", 100, 100));
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.master(), Some(ip("fe80::1:0")));
}

/// Our own Master_Down_Interval at v2 priority 200: 3 s + (256 - 200)/256 s.
const QUIET_V2_200: Duration = Duration::from_micros(3_218_750);

#[test]
fn a_lower_master_just_after_becoming_master_gets_an_advert_only() {
    // The old Master's yield advert after our takeover or preemption: we announced a moment
    // ago, and this is no split brain.
    let t0 = Instant::now();
    let (mut r, t) = master(v2(200), t0);
    assert_eq!(
        r.handle(t + ms(400), advert(PEER, 100, 100)),
        vec![Action::SendAdvert { priority: 200 }]
    );
    assert_eq!(r.state(), State::Master);
}

#[test]
fn lower_priority_gets_an_advert_and_a_reannounce_at_once() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(200), t0);
    let heard = t + QUIET_V2_200 + ms(400);
    assert_eq!(
        r.handle(heard, advert(PEER, 100, 100)),
        vec![
            Action::SendAdvert { priority: 200 },
            Action::Announce { count: 5 },
            reasserted(100),
        ]
    );
    assert_eq!(r.deadlines().advert, Some(heard + ms(1000)));
    // Again once a client's ARP locktime (1 s) has passed since the loser's announcement.
    assert_eq!(r.deadlines().announce_repeat, Some(heard + ms(1100)));
    assert_eq!(r.state(), State::Master);
}

#[test]
fn a_second_lower_advert_within_an_interval_is_not_answered() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(200), t0);
    let first = t + QUIET_V2_200;
    assert_eq!(r.handle(first, advert(PEER, 100, 100)).len(), 3);
    assert_eq!(
        r.handle(first + ms(999), advert(PEER, 100, 100)),
        vec![Action::Suppressed(Suppressed::Answer)]
    );
    assert_eq!(
        r.handle(first + ms(1000), advert(PEER, 100, 100)),
        vec![Action::SendAdvert { priority: 200 }]
    );
}

/// Feeds `count` lower-priority adverts `gap` apart from `start`, with timers served as the
/// driver serves them; returns every action.
fn flood(r: &mut Router, start: Instant, gap: Duration, count: u32, priority: u8) -> Vec<Action> {
    let mut out = Vec::new();
    for k in 0..count {
        let now = start + gap * k;
        while let Some(due) = r.next_deadline().filter(|d| *d <= now) {
            out.extend(r.handle(due, Input::Timer));
        }
        out.extend(r.handle(now, advert(PEER, priority, 100)));
    }
    out
}

fn count(actions: &[Action], pick: impl Fn(&Action) -> bool) -> usize {
    actions.iter().filter(|a| pick(a)).count()
}

#[test]
fn a_flood_of_lower_adverts_costs_an_answer_per_interval_and_one_reassertion() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(200), t0);
    // 10,000 adverts a second for 10 s, as a LAN host can forge them.
    let out = flood(&mut r, t + QUIET_V2_200, us(100), 100_000, 100);
    // At most our periodic advert and one answer per interval.
    let sent = count(&out, |a| matches!(a, Action::SendAdvert { .. }));
    assert!(sent <= 2 * (10 + 1), "{sent} adverts in 10 s at 1 s");
    assert_eq!(count(&out, |a| matches!(a, Action::Notify(_))), 1);
    let held = count(&out, |a| *a == Action::Suppressed(Suppressed::Answer));
    assert!(held >= 100_000 - 11, "{held} answers held back");
    assert_eq!(r.state(), State::Master);
}

#[test]
fn a_flood_of_resignations_costs_an_answer_per_interval() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(200), t0);
    let out = flood(&mut r, t + ms(10), ms(1), 5_000, 0);
    let sent = count(&out, |a| matches!(a, Action::SendAdvert { .. }));
    assert!(sent <= 2 * (5 + 1), "{sent} adverts in 5 s at 1 s");
    assert_eq!(count(&out, |a| matches!(a, Action::Notify(_))), 0);
}

#[test]
fn reassertion_comes_once_per_episode_of_lower_adverts() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(200), t0);
    let quiet = QUIET_V2_200;
    let first = t + quiet;
    assert_eq!(r.handle(first, advert(PEER, 100, 100)).len(), 3);
    // The lower Master keeps advertising (it never hears us): one episode, one re-assertion
    // event; the clients' ARP caches are won back once per Master_Down_Interval.
    let out = flood(&mut r, first + ms(1000), ms(1000), 30, 100);
    assert_eq!(count(&out, |a| matches!(a, Action::Notify(_))), 0);
    let bursts = count(&out, |a| matches!(a, Action::Announce { .. }));
    // Each with its repeat past the clients' ARP locktime.
    assert!((14..=20).contains(&bursts), "{bursts} bursts in 30 s");
    let last = first + ms(1000) * 30;
    // Quiet for one Master_Down_Interval, less a moment: still the same episode.
    let still = r.handle(last + quiet - us(1), advert(PEER, 100, 100));
    assert_eq!(count(&still, |a| matches!(a, Action::Notify(_))), 0);
    // Quiet for a whole Master_Down_Interval: a new split brain, re-asserted.
    let again = last + quiet - us(1) + quiet;
    assert_eq!(
        r.handle(again, advert(PEER, 100, 100)),
        vec![
            Action::SendAdvert { priority: 200 },
            Action::Announce { count: 5 },
            reasserted(100),
        ]
    );
}

#[test]
fn an_episode_begun_just_after_takeover_is_reasserted_once_the_quiet_is_over() {
    // The lower Master heard right after we took over is not re-asserted at once (our
    // announcement is a moment old); if it goes on, the episode gets its one re-assertion.
    let t0 = Instant::now();
    let (mut r, t) = master(v2(200), t0);
    let out = flood(&mut r, t + ms(500), ms(1000), 8, 100);
    assert_eq!(count(&out, |a| matches!(a, Action::Notify(_))), 1);
}

/// The Master-to-Master notification of a re-assertion over PEER at `priority`, by US at 200.
fn reasserted(priority: u8) -> Action {
    let reason = Reason::Reasserted {
        over: ip(PEER),
        priority,
    };
    notify(State::Master, State::Master, reason, 200, Some(US))
}

#[test]
fn reasserted_reason_reads_as_a_split_brain() {
    let reason = Reason::Reasserted {
        over: ip(PEER),
        priority: 100,
    };
    assert_eq!(reason.kind(), "reasserted");
    assert_eq!(
        reason.to_string(),
        "mastership re-asserted after a split brain: lower-priority master 10.0.0.2 \
         (priority 100) heard"
    );
}

#[test]
fn reassertion_with_no_announce_still_notifies() {
    let t0 = Instant::now();
    let config = RouterConfig {
        announce: Some(Box::new(AnnounceSchedule {
            initial: 0,
            ..AnnounceSchedule::default()
        })),
        ..v2(200)
    };
    let (mut r, t) = master(config, t0);
    assert_eq!(
        r.handle(t + QUIET_V2_200, advert(PEER, 100, 100)),
        vec![Action::SendAdvert { priority: 200 }, reasserted(100)]
    );
}

/// Our address on channel 1 sorts above the peer's there, although our primary address
/// sorts below it.
fn two_channels() -> RouterConfig {
    RouterConfig {
        channel_addrs: vec![ip(US), ip("192.168.7.9")].into(),
        ..v2(100)
    }
}

fn advert_on(channel: usize, from: &str, priority: u8) -> Input {
    Input::Advert(Advert {
        from: ip(from),
        channel,
        priority,
        interval: Centis::ONE_SECOND,
    })
}

#[test]
fn equal_priority_tie_break_uses_our_address_on_the_advert_channel() {
    let t0 = Instant::now();
    let (mut r, t) = master(two_channels(), t0);
    // 192.168.7.5 is above 10.0.0.1 but below 192.168.7.9: we keep mastership.
    let actions = r.handle(t + ms(10), advert_on(1, "192.168.7.5", 100));
    assert_eq!(actions[0], Action::SendAdvert { priority: 100 });
    assert_eq!(r.state(), State::Master);
    // A higher address on channel 1 wins, as on the primary.
    r.handle(t + ms(20), advert_on(1, "192.168.7.10", 100));
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.master(), Some(ip("192.168.7.10")));
}

#[test]
fn tie_break_on_an_unknown_channel_falls_back_to_the_primary_address() {
    let t0 = Instant::now();
    let (mut r, t) = master(two_channels(), t0);
    // Channel 2 has no address of ours: compared with 10.0.0.1, 192.168.7.5 wins.
    r.handle(t + ms(10), advert_on(2, "192.168.7.5", 100));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn priority_zero_advert_gets_an_immediate_advert() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(200), t0);
    let heard = t + ms(700);
    assert_eq!(
        r.handle(heard, advert(PEER, 0, 100)),
        vec![Action::SendAdvert { priority: 200 }]
    );
    assert_eq!(r.deadlines().advert, Some(heard + ms(1000)));
}

#[test]
fn zero_advert_interval_cannot_spin_the_timer_loop() {
    let t0 = Instant::now();
    let mut r = Router::new(RouterConfig {
        advert_interval: Centis::new(0),
        ..v3(255, 0)
    });
    r.handle(t0, Input::Start);
    assert_eq!(r.next_deadline(), Some(t0 + ms(10)));
    assert_eq!(
        r.handle(t0 + ms(10), Input::Timer),
        vec![Action::SendAdvert { priority: 255 }]
    );
}

#[test]
fn a_tie_on_another_channel_is_decided_by_the_peers_identity() {
    let t0 = Instant::now();
    // On channel 1 our address is the higher one, on channel 0 the peer's is.
    let config = RouterConfig {
        channel_addrs: vec![ip(US), ip("10.9.0.9")].into(),
        ..v2(100)
    };
    let on_channel_1 = Input::Advert(Advert {
        from: ip("10.9.0.1"),
        channel: 1,
        priority: 100,
        interval: Centis::ONE_SECOND,
    });
    let (mut r, t) = master(config.clone(), t0);
    r.handle(t + ms(10), on_channel_1.clone());
    assert_eq!(r.state(), State::Master, "unknown peer: channel 1's order");
    let known = RouterConfig {
        peer_identities: vec![(ip("10.9.0.1"), ip(PEER))].into(),
        ..config
    };
    let (mut r, t) = master(known, t0);
    r.handle(t + ms(10), on_channel_1);
    assert_eq!(r.state(), State::Backup, "the peer is {PEER}, above us");
}
