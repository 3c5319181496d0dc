use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::*;

/// A control server on a fresh socket path, with no instances.
struct Served {
    path: PathBuf,
    events: broadcast::Sender<Event>,
    counters: Arc<listener::Counters>,
}

impl Drop for Served {
    fn drop(&mut self) {
        unlink(&self.path);
    }
}

fn served(name: &str) -> Served {
    let path = std::env::temp_dir().join(format!("vipd-test-{}-{name}.sock", std::process::id()));
    let bound = bind(&path, None).unwrap();
    let (events, _) = broadcast::channel(16);
    let (_, instances) = watch::channel(Vec::new());
    let (reload, _) = mpsc::channel(1);
    let daemon = Daemon {
        router_id: None,
        instances,
        events: events.clone(),
        reload,
    };
    let counters = Arc::new(listener::Counters::default());
    tokio::spawn(serve(bound, daemon, counters.clone()));
    Served {
        path,
        events,
        counters,
    }
}

async fn ask(path: &Path, request: &str) -> (String, BufReader<UnixStream>) {
    let mut s = UnixStream::connect(path).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    (line, reader)
}

fn request(command: &str) -> String {
    format!("{{\"version\":{VERSION},\"command\":\"{command}\"}}\n")
}

#[tokio::test]
async fn status_is_answered_while_hundreds_of_idle_clients_are_connected() {
    let s = served("idle");
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(UnixStream::connect(&s.path).await.unwrap());
    }
    let (answer, _) = ask(&s.path, &request("status")).await;
    assert!(answer.contains("\"ok\":true"), "{answer}");
    assert!(s.counters.evicted.load(Relaxed) >= 300 - listener::CAP as u64);
}

#[tokio::test]
async fn an_events_session_ends_when_its_client_hangs_up_without_waiting_for_an_event() {
    let s = served("events");
    let (answer, reader) = ask(&s.path, &request("events")).await;
    assert!(answer.contains("following events"), "{answer}");
    assert_eq!(s.events.receiver_count(), 1);
    drop(reader);
    let start = tokio::time::Instant::now();
    while s.events.receiver_count() != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the session still follows events after its client hung up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_that_sends_nothing_is_closed_after_the_request_timeout() {
    let s = served("silent");
    let mut silent = UnixStream::connect(&s.path).await.unwrap();
    let start = tokio::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(60), silent.read(&mut buf))
        .await
        .expect("closed by the server")
        .unwrap();
    assert_eq!(n, 0);
    assert!(start.elapsed() >= listener::REQUEST_TIMEOUT);
    assert_eq!(s.counters.timed_out.load(Relaxed), 1);
}

#[tokio::test]
async fn event_sessions_take_at_most_half_the_slots_and_status_still_answers() {
    let s = served("followers");
    let mut followers = Vec::new();
    for _ in 0..MAX_EVENT_SESSIONS {
        let (answer, reader) = ask(&s.path, &request("events")).await;
        assert!(answer.contains("following events"), "{answer}");
        followers.push(reader);
    }
    let (refused, _) = ask(&s.path, &request("events")).await;
    assert!(refused.contains("sessions are open already"), "{refused}");
    // Idle connections fill the rest, and are evicted for status.
    let mut idle = Vec::new();
    for _ in 0..listener::CAP {
        idle.push(UnixStream::connect(&s.path).await.unwrap());
    }
    let (answer, _) = ask(&s.path, &request("status")).await;
    assert!(answer.contains("\"ok\":true"), "{answer}");
}
