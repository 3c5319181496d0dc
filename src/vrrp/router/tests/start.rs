use super::*;

#[test]
fn address_owner_starts_as_master_at_once() {
    let t0 = Instant::now();
    let mut r = Router::new(v2(255));
    assert_eq!(
        r.handle(t0, Input::Start),
        takeover(State::Initialize, Reason::AddressOwner, 255)
    );
    assert_eq!(r.master(), Some(ip(US)));
    assert_eq!(
        r.deadlines(),
        Deadlines {
            master_down: None,
            advert: Some(t0 + ms(1000)),
            announce_repeat: Some(t0 + ms(5000)),
            announce_refresh: None,
            isolation_recheck: None,
            gate: None,
            lease: None,
        }
    );
    assert_eq!(r.next_deadline(), Some(t0 + ms(1000)));
}

#[test]
fn other_priorities_start_as_backup_with_master_down_armed() {
    let t0 = Instant::now();
    let mut r = Router::new(v2(100));
    assert_eq!(
        r.handle(t0, Input::Start),
        vec![notify(
            State::Initialize,
            State::Backup,
            Reason::Startup,
            100,
            None
        )]
    );
    // v2, 1 s, priority 100: 3 s + 156/256 s.
    assert_eq!(r.next_deadline(), Some(t0 + us(3_609_375)));
    assert_eq!(r.master_adver_interval(), Centis::ONE_SECOND);
}

#[test]
fn v3_master_down_interval_scales_with_the_interval() {
    let t0 = Instant::now();
    let r = backup(v3(100, 10), t0);
    // 3 * 100 ms + 156 * 100 ms / 256.
    assert_eq!(
        r.next_deadline(),
        Some(t0 + Duration::from_nanos(360_937_500))
    );
}

#[test]
fn start_with_an_active_fault_goes_to_fault() {
    let t0 = Instant::now();
    let mut r = Router::new(v2(255));
    assert_eq!(r.handle(t0, fault("link eth0", true)), vec![]);
    assert_eq!(r.state(), State::Initialize);
    assert_eq!(
        r.handle(t0, Input::Start),
        vec![notify(
            State::Initialize,
            State::Fault,
            Reason::Fault {
                source: FaultSource::Link("eth0".into())
            },
            255,
            None
        )]
    );
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn start_while_running_is_ignored() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    assert_eq!(r.handle(t0 + ms(500), Input::Start), vec![]);
    assert_eq!(r.next_deadline(), Some(t0 + us(3_609_375)));
}

#[test]
fn startup_delay_rearms_master_down_to_its_end() {
    let t0 = Instant::now();
    let mut r = backup(
        RouterConfig {
            startup_delay: ms(10_000),
            ..v2(100)
        },
        t0,
    );
    let first = t0 + us(3_609_375);
    assert_eq!(r.next_deadline(), Some(first));
    assert_eq!(r.handle(first, Input::Timer), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.next_deadline(), Some(t0 + ms(10_000)));
    assert_eq!(
        r.handle(t0 + ms(10_000), Input::Timer),
        takeover(
            State::Backup,
            Reason::MasterDown {
                last_master: None,
                silent_for: ms(10_000)
            },
            100
        )
    );
}

#[test]
fn startup_delay_holds_the_address_owner_in_backup_too() {
    let t0 = Instant::now();
    let mut r = Router::new(RouterConfig {
        startup_delay: ms(5_000),
        ..v2(255)
    });
    assert_eq!(
        r.handle(t0, Input::Start),
        vec![notify(
            State::Initialize,
            State::Backup,
            Reason::Startup,
            255,
            None
        )]
    );
    // 3 s + 1/256 s, still inside the delay.
    let first = t0 + Duration::from_nanos(3_003_906_250);
    assert_eq!(r.next_deadline(), Some(first));
    assert_eq!(r.handle(first, Input::Timer), vec![]);
    assert_eq!(r.next_deadline(), Some(t0 + ms(5_000)));
    assert_eq!(
        r.handle(t0 + ms(5_000), Input::Timer),
        takeover(
            State::Backup,
            Reason::MasterDown {
                last_master: None,
                silent_for: ms(5_000)
            },
            255
        )
    );
}

#[test]
fn startup_delay_ignores_sync_master_orders() {
    let t0 = Instant::now();
    let mut r = backup(
        RouterConfig {
            startup_delay: ms(10_000),
            ..v2(100)
        },
        t0,
    );
    assert_eq!(r.handle(t0 + ms(9_999), sync_master()), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(
        r.handle(t0 + ms(10_000), sync_master()),
        takeover(State::Backup, sync_reason(), 100)
    );
}

/// An arbiter's answer to the first attempt.
fn arbiter(granted: bool) -> Input {
    Input::Gate(GateAnswer {
        gate: GateKind::Arbiter,
        attempt: 1,
        granted,
        detail: "lease".into(),
        fenced: false,
    })
}

#[test]
fn under_an_arbiter_the_address_owner_listens_until_granted() {
    let t0 = Instant::now();
    let config = RouterConfig {
        arbiter: Some(crate::arbiter::StoreLoss::Release),
        ..v2(255)
    };
    let mut r = Router::new(config.clone());
    let out = r.handle(t0, Input::Start);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(
        out.last(),
        Some(&Action::AskGate {
            gate: GateKind::Arbiter,
            attempt: 1,
            takeover: Takeover::Owner,
            peer: None,
            after_fence: false,
        })
    );
    let until = t0 + ms(1800);
    r.handle(
        t0 + ms(5),
        Input::Lease(crate::arbiter::LeaseView::Held { until }),
    );
    assert_eq!(
        r.handle(t0 + ms(5), arbiter(true)),
        takeover(State::Backup, Reason::AddressOwner, 255)
    );
    assert_eq!(r.deadlines().lease, Some(until));
    // Refused: a Backup that still listens, and tries again when its timer fires.
    let mut r = Router::new(config);
    r.handle(t0, Input::Start);
    assert_eq!(r.handle(t0 + ms(5), arbiter(false)), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert!(
        r.next_deadline().is_some(),
        "a refused owner keeps a down timer"
    );
}
