use super::*;

fn fault_reason(name: &str) -> Reason {
    Reason::Fault {
        source: source(name),
    }
}

// --- priority ---

#[test]
fn priority_change_rebases_the_backup_master_down_timer() {
    let t0 = Instant::now();
    let mut r = backup(weighted(v2(200), -100), t0);
    r.handle(t0, check(false));
    assert_eq!(r.priority(), 100);
    assert_eq!(r.handle(t0 + ms(1000), check(true)), vec![]);
    // Armed at t0: now as if armed at t0 with priority 200's skew.
    assert_eq!(r.next_deadline(), Some(t0 + us(3_218_750)));
    assert_eq!(r.priority(), 200);
}

#[test]
fn priority_change_rebases_a_resign_skew() {
    let t0 = Instant::now();
    let mut r = backup(weighted(v2(200), -100), t0);
    r.handle(t0, check(false));
    r.handle(t0 + ms(1000), advert(PEER, 0, 100));
    r.handle(t0 + ms(1100), check(true));
    assert_eq!(r.next_deadline(), Some(t0 + ms(1000) + us(218_750)));
}

#[test]
fn priority_change_in_master_goes_out_with_the_next_advert() {
    let t0 = Instant::now();
    let (mut r, t) = master(weighted(v2(100), -50), t0);
    assert_eq!(r.handle(t, check(false)), vec![]);
    assert_eq!(
        r.handle(t + ms(1000), Input::Timer),
        vec![Action::SendAdvert { priority: 50 }]
    );
}

#[test]
fn address_owner_priority_is_never_adjusted() {
    let t0 = Instant::now();
    let mut r = Router::new(weighted(v2(255), -155));
    r.handle(t0, check(true));
    r.handle(t0, Input::Start);
    assert_eq!(r.handle(t0, check(false)), vec![]);
    assert_eq!(r.priority(), 255);
}

#[test]
fn priority_is_clamped_to_the_effective_range() {
    let t0 = Instant::now();
    let mut r = backup(weighted(v2(100), -200), t0);
    r.handle(t0, check(false));
    assert_eq!(r.priority(), 1);
    let mut r = backup(weighted(v2(100), 200), t0);
    r.handle(t0, check(true));
    assert_eq!(r.priority(), 254);
}

// --- faults ---

#[test]
fn first_fault_makes_a_master_resign() {
    let t0 = Instant::now();
    let (mut r, t) = master(tracking(v2(100), &["check haproxy"]), t0);
    assert_eq!(
        r.handle(t, fault("check haproxy", true)),
        vec![
            Action::SendAdvert { priority: 0 },
            Action::RemoveVips,
            notify(
                State::Master,
                State::Fault,
                fault_reason("check haproxy"),
                100,
                None
            ),
        ]
    );
    assert_eq!(r.next_deadline(), None);
    assert_eq!(
        fault_reason("check haproxy").to_string(),
        "fault: check haproxy"
    );
}

#[test]
fn fault_in_backup_cancels_timers_and_ignores_adverts() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    r.handle(t0, advert(PEER, 200, 100));
    assert_eq!(
        r.handle(t0 + ms(10), fault("link eth0", true)),
        vec![notify(
            State::Backup,
            State::Fault,
            fault_reason("link eth0"),
            100,
            Some(PEER)
        )]
    );
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.handle(t0 + ms(20), advert(PEER, 0, 100)), vec![]);
    assert_eq!(r.handle(t0 + ms(30), sync_master()), vec![]);
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn fault_stays_until_the_last_source_clears() {
    let t0 = Instant::now();
    let mut r = backup(tracking(v2(100), &["check web"]), t0);
    r.handle(t0, fault("link eth0", true));
    assert_eq!(r.handle(t0, fault("check web", true)), vec![]);
    assert_eq!(r.handle(t0, fault("link eth0", true)), vec![]);
    assert_eq!(r.handle(t0, fault("link eth0", false)), vec![]);
    assert_eq!(fault_names(&r), ["check web"]);
    assert_eq!(r.state(), State::Fault);
    let t = t0 + ms(2000);
    assert_eq!(
        r.handle(t, fault("check web", false)),
        vec![notify(
            State::Fault,
            State::Backup,
            Reason::FaultCleared,
            100,
            None
        )]
    );
    assert_eq!(r.next_deadline(), Some(t + us(3_609_375)));
}

#[test]
fn address_owner_leaves_fault_as_backup_and_wins_on_its_skew() {
    let t0 = Instant::now();
    let mut r = Router::new(v2(255));
    r.handle(t0, Input::Start);
    r.handle(t0, fault("link eth0", true));
    let t = t0 + ms(1000);
    assert_eq!(
        r.handle(t, fault("link eth0", false)),
        vec![notify(
            State::Fault,
            State::Backup,
            Reason::FaultCleared,
            255,
            None
        )]
    );
    let deadline = t + Duration::from_nanos(3_003_906_250);
    assert_eq!(r.next_deadline(), Some(deadline));
    r.handle(deadline, Input::Timer);
    assert_eq!(r.state(), State::Master);
}

// --- drain ---

#[test]
fn drain_makes_a_master_resign_and_stay_backup() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(100), t0);
    assert_eq!(
        r.handle(t, Input::Drain(true)),
        vec![
            Action::SendAdvert { priority: 0 },
            Action::RemoveVips,
            notify(State::Master, State::Backup, Reason::Drain, 100, None),
        ]
    );
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.handle(t + ms(100), sync_master()), vec![]);
    assert_eq!(r.handle(t + ms(200), advert(PEER, 0, 100)), vec![]);
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.handle(t + ms(300), Input::Drain(false)), vec![]);
    assert_eq!(r.next_deadline(), Some(t + ms(300) + us(3_609_375)));
}

#[test]
fn drain_in_backup_never_takes_over() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    assert_eq!(r.handle(t0 + ms(100), Input::Drain(true)), vec![]);
    assert!(r.draining());
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.handle(t0 + ms(10_000), Input::Timer), vec![]);
    assert_eq!(r.state(), State::Backup);
}

// --- stop ---

#[test]
fn stop_makes_a_master_resign_and_is_harmless_twice() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(100), t0);
    assert_eq!(
        r.handle(t, Input::Stop),
        vec![
            Action::SendAdvert { priority: 0 },
            Action::RemoveVips,
            notify(State::Master, State::Initialize, Reason::Stop, 100, None),
        ]
    );
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.handle(t, Input::Stop), vec![]);
}

#[test]
fn stop_in_backup_only_notifies() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    assert_eq!(
        r.handle(t0, Input::Stop),
        vec![notify(
            State::Backup,
            State::Initialize,
            Reason::Stop,
            100,
            None
        )]
    );
    assert_eq!(r.next_deadline(), None);
}

// --- sync orders ---

#[test]
fn sync_master_promotes_a_backup() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let t = t0 + ms(500);
    assert_eq!(
        r.handle(t, sync_master()),
        takeover(State::Backup, sync_reason(), 100)
    );
    assert_eq!(r.next_deadline(), Some(t + ms(1000)));
    assert_eq!(sync_reason().to_string(), "sync group lb: member api");
}

#[test]
fn sync_master_is_refused_while_draining() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    r.handle(t0, Input::Drain(true));
    assert_eq!(r.handle(t0, sync_master()), vec![]);
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn sync_backup_demotes_a_master_and_holds_it_until_next_master() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(200), t0);
    assert_eq!(
        r.handle(t, sync_backup()),
        vec![
            Action::SendAdvert { priority: 0 },
            Action::RemoveVips,
            notify(State::Master, State::Backup, sync_reason(), 200, None),
        ]
    );
    assert!(r.held_by_group());
    // Held: a lower Master resets the timer as with nopreempt.
    let heard = t + ms(1000);
    r.handle(heard, advert(PEER, 100, 100));
    assert_eq!(r.next_deadline(), Some(heard + us(3_218_750)));
    r.handle(heard + us(3_218_750), Input::Timer);
    assert_eq!(r.state(), State::Master);
    assert!(!r.held_by_group());
}

#[test]
fn sync_backup_holds_a_backup_too() {
    let t0 = Instant::now();
    let mut r = backup(v2(200), t0);
    assert_eq!(r.handle(t0, sync_backup()), vec![]);
    assert!(r.held_by_group());
    r.handle(t0 + ms(1000), advert(PEER, 100, 100));
    assert_eq!(r.next_deadline(), Some(t0 + ms(1000) + us(3_218_750)));
}

#[test]
fn a_fault_ends_the_group_hold() {
    let t0 = Instant::now();
    let mut r = backup(v2(200), t0);
    r.handle(t0, sync_backup());
    r.handle(t0, fault("link eth0", true));
    r.handle(t0, fault("link eth0", false));
    assert!(!r.held_by_group());
    // Preempting again: a lower Master no longer resets the timer.
    r.handle(t0 + ms(1000), advert(PEER, 100, 100));
    assert_eq!(r.next_deadline(), Some(t0 + us(3_218_750)));
}

// --- configure (reload) ---

fn configure(config: RouterConfig) -> Input {
    Input::Configure(config.into())
}

#[test]
fn configure_keeps_a_master_master_and_releases_nothing() {
    let t0 = Instant::now();
    let (mut r, t) = master(v3(150, 10), t0);
    let mut new = v3(120, 20);
    new.preempt = false;
    assert_eq!(r.handle(t + ms(30), configure(new.clone())), vec![]);
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.priority(), 120);
    assert_eq!(r.config(), &new);
    // The advert already armed keeps its time; the ones after use the new interval.
    assert_eq!(r.next_deadline(), Some(t + ms(100)));
    assert_eq!(
        r.handle(t + ms(100), Input::Timer),
        vec![Action::SendAdvert { priority: 120 }]
    );
    assert_eq!(r.next_deadline(), Some(t + ms(300)));
}

#[test]
fn configure_rebases_a_v2_backup_on_its_new_interval() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let mut new = v2(100);
    new.advert_interval = Centis::from_secs(2);
    r.handle(t0 + ms(500), configure(new));
    // 3 x 2 s + 609.375 ms, from the last reset at t0.
    assert_eq!(r.next_deadline(), Some(t0 + us(6_609_375)));
}

#[test]
fn configure_cannot_change_vrid_version_or_ownership() {
    let t0 = Instant::now();
    let mut r = backup(v2(100), t0);
    let mut new = v3(255, 10);
    new.vrid = 99;
    r.handle(t0, configure(new));
    assert_eq!(r.config().vrid, 51);
    assert_eq!(r.config().version, Version::V2);
    assert_eq!(r.priority(), 100);
}

#[test]
fn configure_keeps_the_trackers_adjustment_on_the_new_base() {
    let t0 = Instant::now();
    let mut r = backup(weighted(v2(150), -60), t0);
    r.handle(t0, check(false));
    assert_eq!(r.priority(), 90);
    r.handle(t0 + ms(10), configure(weighted(v2(160), -60)));
    assert_eq!(r.priority(), 100);
}

#[test]
fn a_sync_order_does_not_make_a_backup_that_hears_its_master_take_over() {
    let t0 = Instant::now();
    let (mut r, t) = master(v3(2, 1), t0);
    // Preempted by an equal priority from a higher address.
    r.handle(t + ms(1), advert("10.0.0.9", 2, 1));
    assert_eq!(r.state(), State::Backup);
    assert_eq!(
        r.handle(t + ms(5), sync_master()),
        vec![Action::RefuseSyncOrder { group: "lb".into() }]
    );
    assert_eq!(r.state(), State::Backup);
}

fn in_group(config: RouterConfig, members: &[&str]) -> RouterConfig {
    RouterConfig {
        sync_group: Some(Box::new(SyncMembership {
            group: "lb".into(),
            members: members.iter().map(|m| m.to_string()).collect(),
        })),
        ..config
    }
}

fn group_fault(member: &str, active: bool) -> Input {
    Input::Fault {
        source: FaultSource::Group {
            group: "lb".into(),
            member: member.into(),
        },
        active,
    }
}

#[test]
fn a_reload_that_takes_the_faulted_member_out_of_the_group_clears_its_fault() {
    let t0 = Instant::now();
    let mut r = backup(in_group(v2(100), &["web", "api"]), t0);
    r.handle(t0, group_fault("api", true));
    assert_eq!(r.state(), State::Fault);
    let t = t0 + ms(500);
    assert_eq!(
        r.handle(t, configure(v2(100))),
        vec![notify(
            State::Fault,
            State::Backup,
            Reason::FaultCleared,
            100,
            None
        )]
    );
    assert!(!r.faulted());
    // The same when the group stays but loses that member.
    let mut r = backup(in_group(v2(100), &["web", "api", "db"]), t0);
    r.handle(t0, group_fault("api", true));
    r.handle(t0, group_fault("db", true));
    r.handle(t, configure(in_group(v2(100), &["web", "db"])));
    assert_eq!(fault_names(&r), ["sync group lb: db"]);
}

#[test]
fn a_reload_that_fixes_a_check_ends_its_fault_when_it_reports() {
    let t0 = Instant::now();
    let mut r = backup(tracking(v2(100), &["check web"]), t0);
    r.handle(t0, fault("check web", true));
    assert_eq!(r.state(), State::Fault);
    // The reload itself changes nothing until the restarted check reports...
    r.handle(t0 + ms(100), configure(tracking(v2(100), &["check web"])));
    assert_eq!(r.state(), State::Fault);
    // ...and its first report, healthy, is enough: no baseline to differ from.
    r.handle(t0 + ms(200), fault("check web", false));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn a_reload_that_removes_a_failing_tracker_removes_its_weight_and_fault() {
    let t0 = Instant::now();
    let mut r = backup(weighted(v2(150), -60), t0);
    r.handle(t0, check(false));
    assert_eq!(r.priority(), 90);
    r.handle(t0 + ms(100), configure(v2(150)));
    assert_eq!(r.priority(), 150);
    let mut r = backup(tracking(v2(150), &["check web"]), t0);
    r.handle(t0, fault("check web", true));
    r.handle(t0 + ms(100), configure(v2(150)));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn a_tracker_added_by_reload_counts_only_once_it_reports() {
    let t0 = Instant::now();
    let (mut r, t) = master(v2(150), t0);
    // A new unweighted check: a running Master is not faulted before its first result.
    assert_eq!(
        r.handle(t, configure(tracking(v2(150), &["check new"]))),
        vec![]
    );
    assert_eq!(r.state(), State::Master);
    // A bonus check that fails from its first probe gives no bonus.
    r.handle(t, configure(weighted(v2(150), 60)));
    r.handle(t + ms(10), check(false));
    assert_eq!(r.priority(), 150);
}
