use super::*;

/// Master_Down_Interval, v2 at 1 s, priority 100.
const MDI: Duration = Duration::from_micros(3_609_375);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn two(t0: Instant) -> ChannelHealth {
    ChannelHealth::new(2, t0)
}

/// The names of [`two`]'s channels.
fn names() -> Vec<String> {
    vec!["eth0".into(), "eth1".into()]
}

#[test]
fn both_channels_carrying_reports_nothing() {
    let t0 = Instant::now();
    let mut h = two(t0);
    for k in 1..10 {
        let t = t0 + ms(1000 * k);
        assert_eq!(h.advert(0, t, MDI), vec![]);
        assert_eq!(h.advert(1, t + ms(1), MDI), vec![]);
    }
    assert_eq!(h.carrying(), 2);
    assert_eq!(h.channels()[1].last_seen(), Some(t0 + ms(9001)));
}

#[test]
fn a_silent_channel_is_lost_once_after_the_silence() {
    let t0 = Instant::now();
    let mut h = two(t0);
    h.advert(0, t0 + ms(500), MDI);
    h.advert(1, t0 + ms(500), MDI);
    // Exactly the silence is not more than it.
    assert_eq!(h.advert(0, t0 + ms(500) + MDI, MDI), vec![]);
    let t = t0 + ms(4200);
    let lost = HealthChange::Lost {
        channel: 1,
        silent_for: ms(3700),
    };
    assert_eq!(h.advert(0, t, MDI), vec![lost]);
    assert_eq!(h.carrying(), 1);
    assert!(h.channels()[1].lost);
    assert_eq!(h.advert(0, t + ms(1000), MDI), vec![]);
    assert_eq!(
        h.describe(&lost, &names()),
        "heartbeat over eth1 lost (silent for 3.70s); running on 1 of 2 channels"
    );
}

#[test]
fn a_channel_never_seen_counts_from_the_watch_start() {
    let t0 = Instant::now();
    let mut h = two(t0);
    let t = t0 + MDI + ms(1);
    let lost = HealthChange::Lost {
        channel: 1,
        silent_for: MDI + ms(1),
    };
    assert_eq!(h.advert(0, t, MDI), vec![lost]);
    assert_eq!(
        h.describe(&lost, &names()),
        "heartbeat over eth1 lost (silent for 3.61s); running on 1 of 2 channels"
    );
}

#[test]
fn an_advert_on_a_lost_channel_recovers_it() {
    let t0 = Instant::now();
    let mut h = two(t0);
    h.advert(0, t0 + ms(4000), MDI);
    let back = HealthChange::Recovered { channel: 1 };
    assert_eq!(h.advert(1, t0 + ms(5000), MDI), vec![back]);
    assert_eq!(h.carrying(), 2);
    assert_eq!(
        h.describe(&back, &names()),
        "heartbeat over eth1 recovered; running on 2 of 2 channels"
    );
}

#[test]
fn the_primary_can_be_the_lost_one() {
    let t0 = Instant::now();
    let mut h = two(t0);
    h.advert(0, t0 + ms(100), MDI);
    assert_eq!(
        h.advert(1, t0 + ms(5000), MDI),
        vec![HealthChange::Lost {
            channel: 0,
            silent_for: ms(4900)
        }]
    );
}

#[test]
fn recovery_comes_before_losses_in_one_advert() {
    let t0 = Instant::now();
    let names = ["eth0", "eth1", "hb0"].map(String::from).to_vec();
    let mut h = ChannelHealth::new(names.len(), t0);
    // Only eth1 carries: eth0 and hb0 go lost together.
    assert_eq!(
        h.advert(1, t0 + ms(4000), MDI),
        vec![
            HealthChange::Lost {
                channel: 0,
                silent_for: ms(4000)
            },
            HealthChange::Lost {
                channel: 2,
                silent_for: ms(4000)
            },
        ]
    );
    assert_eq!(h.carrying(), 1);
    // eth0 comes back; eth1 has been silent since 4 s, not yet too long.
    assert_eq!(
        h.advert(0, t0 + ms(6000), MDI),
        vec![HealthChange::Recovered { channel: 0 }]
    );
    assert_eq!(h.carrying(), 2);
    assert_eq!(
        h.describe(&HealthChange::Recovered { channel: 0 }, &names),
        "heartbeat over eth0 recovered; running on 2 of 3 channels"
    );
}

#[test]
fn stop_clears_losses_and_ignores_adverts() {
    let t0 = Instant::now();
    let mut h = two(t0);
    h.advert(0, t0 + ms(4000), MDI);
    assert_eq!(h.carrying(), 1);
    h.stop();
    assert_eq!(h.carrying(), 2);
    assert_eq!(h.advert(0, t0 + ms(20_000), MDI), vec![]);
    assert_eq!(h.channels()[0].last_seen(), Some(t0 + ms(4000)));
}

#[test]
fn watch_gives_every_channel_a_fresh_grace_period() {
    let t0 = Instant::now();
    let mut h = two(t0);
    h.advert(0, t0 + ms(100), MDI);
    h.advert(1, t0 + ms(100), MDI);
    h.stop();
    // Master for a minute, Backup again: eth1's old sighting does not count against it.
    let back = t0 + ms(60_000);
    h.watch(back);
    assert_eq!(h.advert(0, back + ms(1000), MDI), vec![]);
    assert_eq!(
        h.advert(0, back + ms(4000), MDI),
        vec![HealthChange::Lost {
            channel: 1,
            silent_for: ms(4000)
        }]
    );
}

#[test]
fn an_unknown_channel_changes_nothing() {
    let t0 = Instant::now();
    let mut h = two(t0);
    assert_eq!(h.advert(7, t0 + ms(9000), MDI), vec![]);
    assert_eq!(h.carrying(), 2);
    assert_eq!(
        h.describe(&HealthChange::Recovered { channel: 7 }, &names()),
        "heartbeat over channel 7 recovered; running on 2 of 2 channels"
    );
}
