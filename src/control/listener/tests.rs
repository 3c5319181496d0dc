use super::*;

#[test]
fn connections_beyond_the_cap_take_the_oldest_idle_slot() {
    let mut s = Slots::new(2);
    assert_eq!(s.admit(), Admit::Open(0));
    assert_eq!(s.admit(), Admit::Open(1));
    assert_eq!(s.admit(), Admit::Evict { id: 2, victim: 0 });
    assert_eq!(s.admit(), Admit::Evict { id: 3, victim: 1 });
    assert_eq!(s.open_count(), 2);
}

#[test]
fn connections_that_sent_a_request_are_never_evicted() {
    let mut s = Slots::new(2);
    let (a, b) = (s.admit(), s.admit());
    assert_eq!((a, b), (Admit::Open(0), Admit::Open(1)));
    s.answered(0);
    assert_eq!(s.admit(), Admit::Evict { id: 2, victim: 1 });
    s.answered(2);
    assert_eq!(s.admit(), Admit::Refuse);
    s.closed(0);
    assert_eq!(s.admit(), Admit::Open(3));
}

#[test]
fn an_evicted_connection_closing_late_frees_nothing() {
    let mut s = Slots::new(1);
    s.admit();
    assert_eq!(s.admit(), Admit::Evict { id: 1, victim: 0 });
    s.answered(1);
    s.closed(0);
    assert_eq!(s.open_count(), 1);
    assert_eq!(s.admit(), Admit::Refuse);
}

#[test]
fn a_thousand_idle_connections_hold_no_more_than_the_cap() {
    let mut s = Slots::new(CAP);
    for _ in 0..1000 {
        assert_ne!(s.admit(), Admit::Refuse);
    }
    assert_eq!(s.open_count(), CAP);
}

#[test]
fn failed_accepts_pause_longer_each_time_up_to_a_second() {
    let mut b = Backoff::default();
    let pauses: Vec<Duration> = (0..10).map(|_| b.failed()).collect();
    assert_eq!(pauses[0], Backoff::MIN);
    assert!(pauses.windows(2).all(|w| w[0] <= w[1]), "{pauses:?}");
    assert!(
        pauses
            .iter()
            .all(|p| *p > Duration::ZERO && *p <= Backoff::MAX)
    );
    assert_eq!(pauses[9], Backoff::MAX);
    b.succeeded();
    assert_eq!(b.failed(), Backoff::MIN);
}

#[test]
fn the_log_budget_allows_one_line_per_period_and_counts_the_rest() {
    let mut l = LogBudget::new(Duration::from_secs(10));
    let t = Instant::now();
    assert_eq!(l.allow(t), Some(0));
    for i in 1..=1000 {
        assert_eq!(l.allow(t + Duration::from_millis(i)), None);
    }
    assert_eq!(l.allow(t + Duration::from_secs(10)), Some(1000));
    assert_eq!(l.allow(t + Duration::from_secs(11)), None);
}

#[tokio::test]
async fn an_evicted_ticket_hears_it_and_its_slot_is_reused() {
    let board = Board::new("test", 1, Arc::default());
    let mut first = board.admit().unwrap();
    let eviction = first.eviction();
    let second = board.admit().unwrap();
    tokio::time::timeout(Duration::from_secs(5), eviction.wait())
        .await
        .expect("the idle connection is told to go");
    drop(first);
    assert_eq!(board.open_count(), 1);
    second.answered();
    assert!(board.admit().is_none());
    drop(second);
    assert!(board.admit().is_some());
    let c = board.counters.snapshot();
    assert_eq!(c[..3], [("accepted", 3), ("refused", 1), ("evicted", 1)]);
}

/// A listener whose every accept fails as when the process is out of descriptors. After a
/// thousand attempts it stops answering, so that a loop without a pause ends the test (with a
/// count far above the bound) instead of spinning for ever.
#[derive(Default)]
struct OutOfDescriptors(std::sync::atomic::AtomicUsize);

impl Accept for Arc<OutOfDescriptors> {
    type Stream = ();
    async fn next(&self) -> io::Result<()> {
        if self.0.fetch_add(1, Relaxed) >= 1000 {
            std::future::pending::<()>().await;
        }
        Err(io::Error::from_raw_os_error(libc::EMFILE))
    }
}

#[tokio::test(start_paused = true)]
async fn an_accept_loop_out_of_descriptors_pauses_instead_of_spinning() {
    let listener = Arc::new(OutOfDescriptors::default());
    let counters = Arc::new(Counters::default());
    let board = Board::new("test", 4, counters.clone());
    let looping = tokio::spawn(run(listener.clone(), board, |(), _| async {}));
    // Ten seconds of (virtual) time: one attempt per pause, pauses of up to 1 s.
    tokio::time::sleep(Duration::from_secs(10)).await;
    looping.abort();
    let attempts = listener.0.load(Relaxed);
    assert!((5..=25).contains(&attempts), "{attempts} accepts in 10 s");
    assert_eq!(counters.accept_errors.load(Relaxed), attempts as u64);
}
