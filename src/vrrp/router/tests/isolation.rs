use super::*;

/// Master_Down_Interval, v2 at 1 s, priority 100 (also the re-check period).
const MDI_100: Duration = Duration::from_micros(3_609_375);
/// Master_Down_Interval, v2 at 1 s, priority 200.
const MDI_200: Duration = Duration::from_micros(3_218_750);

fn guarded(priority: u8) -> RouterConfig {
    RouterConfig {
        isolation_guard: true,
        ..v2(priority)
    }
}

/// The isolation gate's answer to the first attempt (the takeover that fired).
fn isolation(reachable: bool) -> Input {
    answer(1, reachable)
}

/// The isolation gate's answer to `attempt`.
fn answer(attempt: u64, reachable: bool) -> Input {
    Input::Gate(GateAnswer {
        gate: GateKind::Isolation,
        attempt,
        granted: reachable,
        detail: "ping 192.0.2.1: timeout".into(),
        fenced: false,
    })
}

fn ask(attempt: u64) -> Action {
    Action::AskGate {
        gate: GateKind::Isolation,
        attempt,
        takeover: Takeover::Silence,
        peer: None,
        after_fence: false,
    }
}

fn withdraw(attempt: u64) -> Action {
    Action::WithdrawGate {
        gate: GateKind::Isolation,
        attempt,
    }
}

fn isolated() -> Reason {
    Reason::Isolated {
        detail: "ping 192.0.2.1: timeout".into(),
    }
}

fn silence(silent_for: Duration) -> Reason {
    Reason::MasterDown {
        last_master: None,
        silent_for,
    }
}

const NOTHING: Deadlines = Deadlines {
    master_down: None,
    advert: None,
    announce_repeat: None,
    announce_refresh: None,
    isolation_recheck: None,
    gate: None,
    lease: None,
};

/// A guarded Backup at priority `p` started at `t0`, whose master-down timer fired for
/// silence and which now waits for the isolation check; returns when it fired.
fn waiting(p: u8, t0: Instant) -> (Router, Instant) {
    let mut r = backup(guarded(p), t0);
    let t = r.next_deadline().unwrap();
    assert_eq!(r.handle(t, Input::Timer), vec![ask(1)]);
    (r, t)
}

/// A guarded Backup that found itself isolated at the returned instant.
fn isolated_fault(t0: Instant) -> (Router, Instant) {
    let (mut r, t) = waiting(100, t0);
    let at = t + ms(50);
    r.handle(at, isolation(false));
    assert_eq!(r.state(), State::Fault);
    (r, at)
}

#[test]
fn silence_with_the_guard_asks_before_taking_over() {
    let t0 = Instant::now();
    let (r, t) = waiting(100, t0);
    assert_eq!(t, t0 + MDI_100);
    assert_eq!(r.state(), State::Backup);
    assert!(r.waiting_for_gate());
    // Only the gate's patience: asked again if nobody answers.
    assert_eq!(
        r.deadlines(),
        Deadlines {
            gate: Some(t + ms(2000)),
            ..NOTHING
        }
    );
}

#[test]
fn an_unanswered_check_is_asked_again_as_a_new_attempt() {
    let t0 = Instant::now();
    let (mut r, t) = waiting(100, t0);
    let late = t + ms(2000);
    assert_eq!(r.handle(late, Input::Timer), vec![ask(2), withdraw(1)]);
    // The answer to the abandoned attempt is ignored; the new one is heard.
    assert_eq!(r.handle(late + ms(10), isolation(true)), vec![]);
    assert_eq!(
        r.handle(late + ms(20), answer(2, true)),
        takeover(State::Backup, silence(MDI_100), 100)
    );
}

#[test]
fn reachable_takes_over_with_the_remembered_reason() {
    let t0 = Instant::now();
    let (mut r, t) = waiting(100, t0);
    let answered = t + ms(50);
    assert_eq!(
        r.handle(answered, isolation(true)),
        takeover(State::Backup, silence(MDI_100), 100)
    );
    assert!(!r.waiting_for_gate());
    assert_eq!(
        r.deadlines(),
        Deadlines {
            advert: Some(answered + ms(1000)),
            announce_repeat: Some(answered + ms(5000)),
            announce_refresh: None,
            ..NOTHING
        }
    );
}

#[test]
fn unreachable_goes_to_fault_and_rechecks_every_master_down_interval() {
    let t0 = Instant::now();
    let (mut r, t) = waiting(100, t0);
    let at = t + ms(50);
    assert_eq!(
        r.handle(at, isolation(false)),
        vec![notify(State::Backup, State::Fault, isolated(), 100, None)]
    );
    assert_eq!(fault_names(&r), ["isolation"]);
    assert_eq!(
        r.deadlines(),
        Deadlines {
            isolation_recheck: Some(at + MDI_100),
            ..NOTHING
        }
    );
    assert_eq!(r.handle(at + MDI_100, Input::Timer), vec![ask(2)]);
    assert_eq!(r.next_deadline(), Some(at + MDI_100 * 2));
    assert_eq!(isolated().kind(), "isolated");
    assert_eq!(
        isolated().to_string(),
        "isolated: ping 192.0.2.1: timeout; not taking over"
    );
}

#[test]
fn still_unreachable_changes_nothing() {
    let t0 = Instant::now();
    let (mut r, at) = isolated_fault(t0);
    r.handle(at + MDI_100, Input::Timer);
    assert_eq!(r.handle(at + MDI_100 + ms(50), answer(2, false)), vec![]);
    assert_eq!(r.state(), State::Fault);
    assert_eq!(r.next_deadline(), Some(at + MDI_100 * 2));
}

#[test]
fn reachable_again_clears_the_fault_to_backup_with_a_fresh_timer() {
    let t0 = Instant::now();
    let (mut r, at) = isolated_fault(t0);
    r.handle(at + MDI_100, Input::Timer);
    let back = at + MDI_100 + ms(50);
    assert_eq!(
        r.handle(back, answer(2, true)),
        vec![notify(
            State::Fault,
            State::Backup,
            Reason::FaultCleared,
            100,
            None
        )]
    );
    assert!(!r.faulted());
    assert_eq!(
        r.deadlines(),
        Deadlines {
            master_down: Some(back + MDI_100),
            ..NOTHING
        }
    );
}

#[test]
fn a_late_recheck_keeps_its_grid() {
    let t0 = Instant::now();
    let (mut r, at) = isolated_fault(t0);
    r.handle(at + MDI_100 + ms(100), Input::Timer);
    assert_eq!(r.next_deadline(), Some(at + MDI_100 * 2));
}

#[test]
fn another_fault_outlives_the_isolation() {
    let t0 = Instant::now();
    let (mut r, at) = isolated_fault(t0);
    assert_eq!(r.handle(at, fault("link eth0", true)), vec![]);
    r.handle(at + MDI_100, Input::Timer);
    assert_eq!(r.handle(at + MDI_100 + ms(100), answer(2, true)), vec![]);
    assert_eq!(fault_names(&r), ["link eth0 down"]);
    // Reachable again: nothing left to re-check.
    assert_eq!(r.deadlines(), NOTHING);
    let cleared = at + MDI_100 + ms(200);
    assert_eq!(
        r.handle(cleared, fault("link eth0", false)),
        vec![notify(
            State::Fault,
            State::Backup,
            Reason::FaultCleared,
            100,
            None
        )]
    );
    assert_eq!(r.next_deadline(), Some(cleared + MDI_100));
}

#[test]
fn an_advert_during_the_wait_cancels_it() {
    let t0 = Instant::now();
    let (mut r, t) = waiting(100, t0);
    let heard = t + ms(20);
    assert_eq!(r.handle(heard, advert(PEER, 200, 100)), vec![withdraw(1)]);
    assert!(!r.waiting_for_gate());
    assert_eq!(
        r.deadlines(),
        Deadlines {
            master_down: Some(heard + MDI_100),
            ..NOTHING
        }
    );
    // The answer comes after all: ignored.
    assert_eq!(r.handle(heard + ms(10), isolation(false)), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.master(), Some(ip(PEER)));
}

#[test]
fn a_lower_master_heard_during_the_wait_is_preempted_at_once() {
    let t0 = Instant::now();
    let (mut r, t) = waiting(200, t0);
    assert_eq!(t, t0 + MDI_200);
    let heard = t + ms(20);
    assert_eq!(r.handle(heard, advert(PEER, 100, 100)), vec![withdraw(1)]);
    assert_eq!(r.next_deadline(), Some(heard));
    let reason = Reason::Preempting {
        master: ip(PEER),
        priority: 100,
    };
    assert_eq!(
        r.handle(heard, Input::Timer),
        takeover(State::Backup, reason, 200)
    );
}

#[test]
fn a_resignation_during_the_wait_takes_over_after_skew_time() {
    let t0 = Instant::now();
    let (mut r, t) = waiting(100, t0);
    let heard = t + ms(20);
    assert_eq!(r.handle(heard, advert(PEER, 0, 100)), vec![withdraw(1)]);
    let deadline = heard + us(609_375);
    assert_eq!(r.next_deadline(), Some(deadline));
    let reason = Reason::MasterResigned { from: ip(PEER) };
    assert_eq!(
        r.handle(deadline, Input::Timer),
        takeover(State::Backup, reason, 100)
    );
}

#[test]
fn a_heard_master_is_not_questioned() {
    let t0 = Instant::now();
    // Resigned: straight to Master after Skew_Time.
    let mut r = backup(guarded(100), t0);
    r.handle(t0 + ms(100), advert(PEER, 0, 100));
    let deadline = t0 + ms(100) + us(609_375);
    let resigned = Reason::MasterResigned { from: ip(PEER) };
    assert_eq!(
        r.handle(deadline, Input::Timer),
        takeover(State::Backup, resigned, 100)
    );
    // Preempting a lower Master: straight to Master too.
    let mut r = backup(guarded(200), t0);
    r.handle(t0 + ms(1000), advert(PEER, 100, 100));
    let preempting = Reason::Preempting {
        master: ip(PEER),
        priority: 100,
    };
    assert_eq!(
        r.handle(t0 + MDI_200, Input::Timer),
        takeover(State::Backup, preempting, 200)
    );
}

#[test]
fn the_address_owner_still_starts_as_master() {
    let t0 = Instant::now();
    let mut r = Router::new(guarded(255));
    assert_eq!(
        r.handle(t0, Input::Start),
        takeover(State::Initialize, Reason::AddressOwner, 255)
    );
}

#[test]
fn stop_cancels_the_wait() {
    let t0 = Instant::now();
    let (mut r, t) = waiting(100, t0);
    assert_eq!(
        r.handle(t, Input::Stop),
        vec![
            withdraw(1),
            notify(State::Backup, State::Initialize, Reason::Stop, 100, None)
        ]
    );
    assert!(!r.waiting_for_gate());
    assert_eq!(r.handle(t + ms(10), isolation(true)), vec![]);
    assert_eq!(r.state(), State::Initialize);
}

#[test]
fn a_fault_cancels_the_wait() {
    let t0 = Instant::now();
    let (mut r, t) = waiting(100, t0);
    r.handle(t, fault("link eth0", true));
    assert_eq!(r.handle(t + ms(10), isolation(true)), vec![]);
    assert_eq!(fault_names(&r), ["link eth0 down"]);
    // Leaving FAULT starts a fresh wait for the Master, not the old takeover.
    let cleared = t + ms(20);
    r.handle(cleared, fault("link eth0", false));
    assert_eq!(r.next_deadline(), Some(cleared + MDI_100));
}

#[test]
fn a_drain_cancels_the_wait() {
    let t0 = Instant::now();
    let (mut r, t) = waiting(100, t0);
    assert_eq!(r.handle(t, Input::Drain(true)), vec![withdraw(1)]);
    assert_eq!(r.handle(t + ms(10), isolation(true)), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.deadlines(), NOTHING);
    r.handle(t + ms(20), Input::Drain(false));
    assert_eq!(r.next_deadline(), Some(t + ms(20) + MDI_100));
}

#[test]
fn stop_while_isolated_forgets_the_isolation() {
    let t0 = Instant::now();
    let (mut r, at) = isolated_fault(t0);
    r.handle(at, Input::Stop);
    assert!(!r.faulted());
    assert_eq!(r.deadlines(), NOTHING);
    assert_eq!(
        r.handle(at + ms(10), Input::Start),
        vec![notify(
            State::Initialize,
            State::Backup,
            Reason::Startup,
            100,
            None
        )]
    );
}

#[test]
fn an_isolation_answer_nobody_asked_for_is_ignored() {
    let t0 = Instant::now();
    let mut r = Router::new(guarded(100));
    assert_eq!(r.handle(t0, isolation(false)), vec![]);
    r.handle(t0, Input::Start);
    assert_eq!(r.handle(t0 + ms(10), isolation(false)), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.next_deadline(), Some(t0 + MDI_100));
    r.handle(t0 + ms(20), fault("link eth0", true));
    assert_eq!(r.handle(t0 + ms(30), isolation(true)), vec![]);
    assert_eq!(r.state(), State::Fault);
    let (mut m, t) = master(v2(100), t0);
    assert_eq!(m.handle(t, isolation(false)), vec![]);
    assert_eq!(m.state(), State::Master);
}
