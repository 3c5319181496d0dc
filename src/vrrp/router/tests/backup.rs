use super::*;

/// Master_Down_Interval, v2 at 1 s, priority 100.
const MDI_100: Duration = Duration::from_micros(3_609_375);
/// Master_Down_Interval, v2 at 1 s, priority 200: 3 s + 56/256 s.
const MDI_200: Duration = Duration::from_micros(3_218_750);

#[test]
fn master_down_expiry_takes_over() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let t = t0 + MDI_100;
    assert_eq!(
        r.handle(t, Input::Timer),
        takeover(
            State::Backup,
            Reason::MasterDown {
                last_master: None,
                silent_for: MDI_100
            },
            100
        )
    );
    assert_eq!(
        r.deadlines(),
        Deadlines {
            master_down: None,
            advert: Some(t + ms(1000)),
            announce_repeat: Some(t + ms(5000)),
            announce_refresh: None,
            isolation_recheck: None,
            gate: None,
            lease: None,
        }
    );
}

#[test]
fn timer_before_the_deadline_does_nothing() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    assert_eq!(r.handle(t0 + MDI_100 - us(1), Input::Timer), vec![]);
    assert_eq!(r.next_deadline(), Some(t0 + MDI_100));
}

#[test]
fn higher_priority_advert_resets_master_down() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    assert_eq!(r.handle(t0 + ms(1000), advert(PEER, 200, 100)), vec![]);
    assert_eq!(r.next_deadline(), Some(t0 + ms(1000) + MDI_100));
    assert_eq!(r.master(), Some(ip(PEER)));
}

#[test]
fn equal_priority_advert_resets_master_down() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    r.handle(t0 + ms(1000), advert(PEER, 100, 100));
    assert_eq!(r.next_deadline(), Some(t0 + ms(1000) + MDI_100));
}

#[test]
fn master_down_reason_names_the_silent_master() {
    let t0 = Instant::now();
    let mut r = backup(
        RouterConfig {
            primary_addr: ip(PEER),
            ..v2(100)
        },
        t0,
    );
    r.handle(t0 + ms(1000), advert(US, 200, 100));
    let actions = r.handle(t0 + ms(1000) + MDI_100, Input::Timer);
    let reason = Reason::MasterDown {
        last_master: Some(ip(US)),
        silent_for: MDI_100,
    };
    assert_eq!(
        actions.last(),
        Some(&notify(
            State::Backup,
            State::Master,
            reason.clone(),
            100,
            Some(PEER)
        ))
    );
    assert_eq!(
        reason.to_string(),
        "master down timer expired: no advert from 10.0.0.1 for 3.61s"
    );
}

#[test]
fn priority_zero_advert_takes_over_after_skew_time() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let t = t0 + ms(1000);
    r.handle(t, advert(PEER, 200, 100));
    assert_eq!(r.handle(t + ms(500), advert(PEER, 0, 100)), vec![]);
    // Skew_Time alone: 156/256 s.
    let deadline = t + ms(500) + us(609_375);
    assert_eq!(r.next_deadline(), Some(deadline));
    let reason = Reason::MasterResigned { from: ip(PEER) };
    assert_eq!(
        r.handle(deadline, Input::Timer),
        takeover(State::Backup, reason.clone(), 100)
    );
    assert_eq!(reason.to_string(), "master 10.0.0.2 resigned (priority 0)");
}

#[test]
fn v3_backup_adopts_the_masters_interval() {
    let t0 = Instant::now();
    let mut r = backup(v3(100, 100), t0);
    assert_eq!(r.next_deadline(), Some(t0 + MDI_100));
    let t = t0 + ms(500);
    r.handle(t, advert(PEER, 200, 10));
    assert_eq!(r.master_adver_interval(), Centis::new(10));
    assert_eq!(
        r.next_deadline(),
        Some(t + Duration::from_nanos(360_937_500))
    );
}

#[test]
fn v2_backup_keeps_its_own_interval() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let t = t0 + ms(500);
    r.handle(t, advert(PEER, 200, 200));
    assert_eq!(r.master_adver_interval(), Centis::ONE_SECOND);
    assert_eq!(r.next_deadline(), Some(t + MDI_100));
}

#[test]
fn preempt_ignores_a_lower_master_until_master_down_fires() {
    let t0 = Instant::now();
    let mut r = backup(v2(200), t0);
    assert_eq!(r.handle(t0 + ms(1000), advert(PEER, 100, 100)), vec![]);
    assert_eq!(r.handle(t0 + ms(2000), advert(PEER, 100, 100)), vec![]);
    assert_eq!(r.next_deadline(), Some(t0 + MDI_200));
    let reason = Reason::Preempting {
        master: ip(PEER),
        priority: 100,
    };
    assert_eq!(
        r.handle(t0 + MDI_200, Input::Timer),
        takeover(State::Backup, reason.clone(), 200)
    );
    assert_eq!(
        reason.to_string(),
        "preempting lower-priority master 10.0.0.2 (priority 100)"
    );
}

#[test]
fn nopreempt_accepts_a_lower_master() {
    let t0 = Instant::now();
    let mut r = backup(
        RouterConfig {
            preempt: false,
            ..v2(200)
        },
        t0,
    );
    r.handle(t0 + ms(1000), advert(PEER, 100, 100));
    assert_eq!(r.next_deadline(), Some(t0 + ms(1000) + MDI_200));
}

#[test]
fn address_owner_preempts_even_with_preempt_off() {
    let t0 = Instant::now();
    let mut r = Router::new(RouterConfig {
        preempt: false,
        ..v2(255)
    });
    r.handle(t0, Input::Start);
    r.handle(t0, fault("link eth0", true));
    r.handle(t0, fault("link eth0", false));
    assert_eq!(r.state(), State::Backup);
    let deadline = t0 + Duration::from_nanos(3_003_906_250);
    r.handle(t0 + ms(1000), advert(PEER, 100, 100));
    assert_eq!(r.next_deadline(), Some(deadline));
}

#[test]
fn preempt_delay_accepts_a_lower_master_until_it_elapses() {
    let t0 = Instant::now();
    let mut r = backup(
        RouterConfig {
            preempt_delay: ms(5000),
            ..v2(200)
        },
        t0,
    );
    r.handle(t0 + ms(1000), advert(PEER, 100, 100));
    r.handle(t0 + ms(4000), advert(PEER, 100, 100));
    let deadline = t0 + ms(4000) + MDI_200;
    assert_eq!(r.next_deadline(), Some(deadline));
    // Delay over: ignored from now on.
    r.handle(t0 + ms(5000), advert(PEER, 100, 100));
    r.handle(t0 + ms(6000), advert(PEER, 100, 100));
    assert_eq!(r.next_deadline(), Some(deadline));
    assert_eq!(
        r.handle(deadline, Input::Timer),
        takeover(
            State::Backup,
            Reason::Preempting {
                master: ip(PEER),
                priority: 100
            },
            200
        )
    );
}

#[test]
fn adverts_before_start_are_ignored() {
    let t0 = Instant::now();
    let mut r = Router::new(v2(100));
    assert_eq!(r.handle(t0, advert(PEER, 200, 100)), vec![]);
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.master(), None);
}

fn delayed(priority: u8, delay_ms: u64) -> RouterConfig {
    RouterConfig {
        preempt_delay: ms(delay_ms),
        ..v2(priority)
    }
}

#[test]
fn preempt_delay_counts_from_the_first_lower_advert_of_an_episode() {
    let t0 = Instant::now();
    let mut r = backup(delayed(200, 5000), t0);
    // Long after start, the Master is higher: no episode.
    r.handle(t0 + ms(9000), advert(PEER, 250, 100));
    // Its priority dips below ours: the episode starts here, not at start.
    r.handle(t0 + ms(10_000), advert(PEER, 100, 100));
    r.handle(t0 + ms(14_000), advert(PEER, 100, 100));
    assert_eq!(r.next_deadline(), Some(t0 + ms(14_000) + MDI_200));
    // Five seconds into the episode: no longer reset.
    r.handle(t0 + ms(15_000), advert(PEER, 100, 100));
    assert_eq!(r.next_deadline(), Some(t0 + ms(14_000) + MDI_200));
}

#[test]
fn a_short_dip_of_the_masters_priority_moves_nothing() {
    let t0 = Instant::now();
    let mut r = backup(delayed(200, 5000), t0);
    r.handle(t0 + ms(9000), advert(PEER, 250, 100));
    // Three seconds below us, then back above: the episode ends.
    for s in 10..13 {
        r.handle(t0 + ms(s * 1000), advert(PEER, 100, 100));
    }
    r.handle(t0 + ms(13_000), advert(PEER, 250, 100));
    // A new dip starts a new episode: still five seconds to wait.
    for s in 14..19 {
        let at = t0 + ms(s * 1000);
        r.handle(at, advert(PEER, 100, 100));
        assert_eq!(r.next_deadline(), Some(at + MDI_200), "at {s} s");
    }
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn huge_delays_never_overflow_a_deadline() {
    let t0 = Instant::now();
    let forever = Duration::from_secs(u64::MAX / 4);
    let config = RouterConfig {
        preempt_delay: forever,
        startup_delay: forever,
        announce: Some(Box::new(AnnounceSchedule {
            repeat_after: forever,
            ..AnnounceSchedule::default()
        })),
        ..v2(200)
    };
    let mut r = Router::new(config.clone());
    r.handle(t0, Input::Start);
    r.handle(t0 + ms(10), advert(PEER, 100, 100));
    assert_eq!(r.state(), State::Backup);
    // The owner becomes Master at once and arms the repeat burst "forever" away.
    let mut owner = Router::new(RouterConfig {
        priority: 255,
        startup_delay: Duration::ZERO,
        ..config
    });
    owner.handle(t0, Input::Start);
    assert_eq!(owner.state(), State::Master);
    assert!(owner.deadlines().announce_repeat.unwrap() > t0 + Duration::from_secs(1 << 30));
}

/// The Master heard on two channels, under its address on each.
fn on_channel(channel: usize, from: &str, priority: u8) -> Input {
    Input::Advert(Advert {
        from: ip(from),
        channel,
        priority,
        interval: Centis::ONE_SECOND,
    })
}

#[test]
fn a_resignation_on_the_heartbeat_channel_alone_takes_over_after_skew_time() {
    let t0 = Instant::now();
    let config = RouterConfig {
        channel_addrs: vec![ip(US), ip("192.168.7.2")].into(),
        channel_names: vec!["eth0".into(), "eth1".into()].into(),
        ..v2(100)
    };
    let mut r = backup(config, t0);
    // The Master, 10.0.0.2 on the LAN and 192.168.7.1 on the heartbeat link.
    r.handle(t0 + ms(100), on_channel(0, PEER, 200));
    r.handle(t0 + ms(101), on_channel(1, "192.168.7.1", 200));
    // Its LAN link fails: its priority 0 comes over the heartbeat link only. Its LAN address,
    // heard a moment ago, is not another Master to wait for.
    let at = t0 + ms(150);
    r.handle(at, on_channel(1, "192.168.7.1", 0));
    let skew = r.deadlines().master_down.unwrap() - at;
    assert_eq!(skew, ms(609) + us(375), "Skew_Time at priority 100");
}

#[test]
fn only_a_backup_of_one_channel_reads_late() {
    let t0 = Instant::now();
    let mut r = Router::new(v2(100));
    assert!(!r.reads_late(), "not started");
    r.handle(t0, Input::Start);
    assert!(r.reads_late(), "a Backup of one channel");
    r.handle(t0 + MDI_100, Input::Timer);
    assert_eq!(r.state(), State::Master);
    assert!(!r.reads_late(), "a Master answers what it hears");
    let two = RouterConfig {
        channel_addrs: Box::new([ip("10.0.0.2"), ip("10.1.0.2")]),
        channel_names: Box::new(["eth0".into(), "eth1".into()]),
        ..v2(100)
    };
    let r = backup(two, t0);
    assert_eq!(r.state(), State::Backup);
    assert!(
        !r.reads_late(),
        "another channel's adverts come as they arrive"
    );
}
