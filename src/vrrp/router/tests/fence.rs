//! The fence gate: a silent Master is fenced before its addresses are taken; a Master that
//! was heard resigning or being preempted is not.

use super::*;

/// Master_Down_Interval, v2 at 1 s, priority 100.
const MDI_100: Duration = Duration::from_micros(3_609_375);
/// Master_Down_Interval, v2 at 1 s, priority 200.
const MDI_200: Duration = Duration::from_micros(3_218_750);

fn fenced(priority: u8) -> RouterConfig {
    RouterConfig {
        fence: true,
        ..v2(priority)
    }
}

fn ask(gate: GateKind, attempt: u64, peer: Option<&str>, after_fence: bool) -> Action {
    Action::AskGate {
        gate,
        attempt,
        takeover: Takeover::Silence,
        peer: peer.map(ip),
        after_fence,
    }
}

fn answer(gate: GateKind, attempt: u64, granted: bool, fenced: bool) -> Input {
    Input::Gate(GateAnswer {
        gate,
        attempt,
        granted,
        detail: "fence of 10.0.0.2 by fence-peer: exit status 0".into(),
        fenced,
    })
}

fn silence_of(peer: Option<&str>, silent_for: Duration) -> Reason {
    Reason::MasterDown {
        last_master: peer.map(ip),
        silent_for,
    }
}

/// A Backup with `config` that heard PEER (priority 200) at `t0 + 10ms` and then nothing:
/// its master-down timer fires; returns the router, the actions and when it fired.
fn silent_peer(config: RouterConfig, t0: Instant) -> (Router, Vec<Action>, Instant) {
    let mut r = backup(config, t0);
    let heard = t0 + ms(10);
    r.handle(heard, advert(PEER, 200, 100));
    let t = r.next_deadline().unwrap();
    assert_eq!(t, heard + MDI_100);
    let out = r.handle(t, Input::Timer);
    (r, out, t)
}

#[test]
fn a_silent_master_is_fenced_by_its_address_before_the_takeover() {
    let t0 = Instant::now();
    let (mut r, out, t) = silent_peer(fenced(100), t0);
    assert_eq!(out, vec![ask(GateKind::Fence, 1, Some(PEER), false)]);
    assert_eq!(r.state(), State::Backup);
    assert!(r.waiting_for_gate());
    assert_eq!(
        r.handle(t + ms(300), answer(GateKind::Fence, 1, true, true)),
        takeover(State::Backup, silence_of(Some(PEER), MDI_100), 100)
    );
}

#[test]
fn a_startup_silence_names_no_peer() {
    let t0 = Instant::now();
    let mut r = backup(fenced(100), t0);
    let t = r.next_deadline().unwrap();
    assert_eq!(
        r.handle(t, Input::Timer),
        vec![ask(GateKind::Fence, 1, None, false)]
    );
}

#[test]
fn a_resigning_master_is_not_fenced() {
    let t0 = Instant::now();
    let mut r = backup(fenced(100), t0);
    r.handle(t0 + ms(10), advert(PEER, 200, 100));
    r.handle(t0 + ms(20), advert(PEER, 0, 100));
    let t = r.next_deadline().unwrap();
    assert_eq!(
        r.handle(t, Input::Timer),
        takeover(
            State::Backup,
            Reason::MasterResigned { from: ip(PEER) },
            100
        )
    );
}

#[test]
fn a_preempted_master_is_not_fenced() {
    let t0 = Instant::now();
    let mut r = backup(fenced(200), t0);
    r.handle(t0 + ms(10), advert(PEER, 100, 100));
    let t = r.next_deadline().unwrap();
    assert_eq!(t, t0 + MDI_200);
    let preempting = Reason::Preempting {
        master: ip(PEER),
        priority: 100,
    };
    assert_eq!(
        r.handle(t, Input::Timer),
        takeover(State::Backup, preempting, 200)
    );
}

#[test]
fn a_failed_fence_stays_backup_and_fences_again_at_the_next_master_down() {
    let t0 = Instant::now();
    let (mut r, _, t) = silent_peer(fenced(100), t0);
    let refused = t + ms(500);
    assert_eq!(
        r.handle(refused, answer(GateKind::Fence, 1, false, false)),
        vec![]
    );
    assert_eq!(r.state(), State::Backup);
    assert!(!r.waiting_for_gate());
    assert_eq!(r.next_deadline(), Some(refused + MDI_100));
    assert_eq!(
        r.handle(refused + MDI_100, Input::Timer),
        vec![ask(GateKind::Fence, 2, Some(PEER), false)]
    );
}

#[test]
fn the_isolation_guard_is_asked_first_and_an_isolated_node_fences_nobody() {
    let t0 = Instant::now();
    let both = RouterConfig {
        isolation_guard: true,
        ..fenced(100)
    };
    let (mut r, out, t) = silent_peer(both.clone(), t0);
    assert_eq!(out, vec![ask(GateKind::Isolation, 1, Some(PEER), false)]);
    assert_eq!(
        r.handle(t + ms(50), answer(GateKind::Isolation, 1, true, false)),
        vec![ask(GateKind::Fence, 1, Some(PEER), false)]
    );

    let (mut cut_off, _, t) = silent_peer(both, t0);
    let out = cut_off.handle(t + ms(50), answer(GateKind::Isolation, 1, false, false));
    assert_eq!(cut_off.state(), State::Fault);
    assert!(
        !out.iter().any(|a| matches!(
            a,
            Action::AskGate {
                gate: GateKind::Fence,
                ..
            }
        )),
        "{out:?}"
    );
}

#[test]
fn an_answer_to_an_abandoned_fence_is_ignored() {
    let t0 = Instant::now();
    let (mut r, _, t) = silent_peer(fenced(100), t0);
    // Nobody answered within the gate's patience: asked again as attempt 2.
    let late = t + ms(2000);
    assert_eq!(
        r.handle(late, Input::Timer),
        vec![
            ask(GateKind::Fence, 2, Some(PEER), false),
            Action::WithdrawGate {
                gate: GateKind::Fence,
                attempt: 1
            },
        ]
    );
    assert_eq!(
        r.handle(late + ms(10), answer(GateKind::Fence, 1, true, true)),
        vec![]
    );
    assert_eq!(r.state(), State::Backup);
    // The Master speaks again while a fence runs: its late answer takes nobody over.
    r.handle(late + ms(20), advert(PEER, 200, 100));
    assert_eq!(
        r.handle(late + ms(30), answer(GateKind::Fence, 2, true, true)),
        vec![]
    );
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn the_arbiter_after_a_fence_is_told_the_peer_was_fenced() {
    let t0 = Instant::now();
    let with_arbiter = RouterConfig {
        arbiter: Some(crate::arbiter::StoreLoss::Release),
        ..fenced(100)
    };
    let (mut r, _, t) = silent_peer(with_arbiter.clone(), t0);
    assert_eq!(
        r.handle(t + ms(50), answer(GateKind::Fence, 1, true, true)),
        vec![ask(GateKind::Arbiter, 1, Some(PEER), true)]
    );
    // A yes that fenced nothing (no peer, or `on_failure: proceed` after a failure) does
    // not let the arbiter take the peer's lease early.
    let (mut r, _, t) = silent_peer(with_arbiter, t0);
    assert_eq!(
        r.handle(t + ms(50), answer(GateKind::Fence, 1, true, false)),
        vec![ask(GateKind::Arbiter, 1, Some(PEER), false)]
    );
}

/// A takeover deferred because the router ran late, then refused by the fence, waits a whole
/// Master_Down_Interval again: a priority change re-bases it on that, not on the interval.
#[test]
fn a_refused_takeover_after_running_late_waits_a_whole_master_down_interval() {
    let t0 = Instant::now();
    let mut r = backup(weighted(fenced(200), -100), t0);
    r.handle(t0, check(false));
    let late = t0 + ms(10_000);
    assert_eq!(
        r.handle(late, Input::Timer),
        vec![Action::Suppressed(Suppressed::Takeover)]
    );
    let asked = late + ms(1000);
    assert_eq!(
        r.handle(asked, Input::Timer),
        vec![ask(GateKind::Fence, 1, None, false)]
    );
    let refused = asked + ms(50);
    r.handle(refused, answer(GateKind::Fence, 1, false, false));
    assert_eq!(r.next_deadline(), Some(refused + MDI_100));
    r.handle(refused + ms(100), check(true));
    assert_eq!(r.next_deadline(), Some(refused + MDI_200));
}
