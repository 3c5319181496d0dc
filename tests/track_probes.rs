//! TCP and HTTP probes against tiny servers on 127.0.0.1, and track files.

#[path = "track_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::Scratch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vipd::config::HttpCheck;
use vipd::track::probe::{self, FileValue};

const LIMIT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn tcp_passes_while_listening_and_fails_after() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let p = probe::tcp("127.0.0.1", port, LIMIT).await;
    assert!(p.ok, "{}", p.detail);
    drop(l);
    let p = probe::tcp("127.0.0.1", port, LIMIT).await;
    assert!(!p.ok);
    assert!(p.detail.contains(&port.to_string()), "{}", p.detail);
}

/// Serves one canned response per connection; returns the port and the requests seen.
async fn serve(response: &'static str) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 2048];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&got).into_owned());
            let _ = s.write_all(response.as_bytes()).await;
        }
    });
    (port, rx)
}

fn check(port: u16, status: u16, body: Option<&str>) -> HttpCheck {
    HttpCheck {
        url: format!("http://127.0.0.1:{port}/health?full=1"),
        expect_status: status,
        expect_body: body.map(str::to_owned),
    }
}

#[tokio::test]
async fn http_checks_status_and_body_and_sends_a_proper_request() {
    let (port, mut reqs) = serve("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nstatus:up").await;
    let p = probe::http(&check(port, 200, Some("status:up")), LIMIT).await;
    assert!(p.ok, "{}", p.detail);
    let req = reqs.recv().await.unwrap();
    assert!(req.starts_with("GET /health?full=1 HTTP/1.0\r\n"), "{req}");
    assert!(
        req.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
        "{req}"
    );
    let p = probe::http(&check(port, 200, Some("status:down")), LIMIT).await;
    assert!(!p.ok);
    let p = probe::http(&check(port, 204, None), LIMIT).await;
    assert!(!p.ok);
    assert!(
        p.detail.contains("status 200, expected 204"),
        "{}",
        p.detail
    );
}

#[tokio::test]
async fn http_fails_on_an_error_status() {
    let (port, _reqs) = serve("HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
    let p = probe::http(&check(port, 200, None), LIMIT).await;
    assert!(!p.ok);
    assert!(p.detail.contains("503"), "{}", p.detail);
}

#[tokio::test]
async fn http_fails_within_the_timeout_when_the_server_is_silent() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let start = Instant::now();
    let p = probe::http(&check(port, 200, None), Duration::from_millis(300)).await;
    assert!(!p.ok);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(p.detail.contains("no answer"), "{}", p.detail);
    hold.abort();
}

#[tokio::test]
async fn http_fails_when_nothing_listens() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    assert!(!probe::http(&check(port, 200, None), LIMIT).await.ok);
}

#[tokio::test]
async fn track_files_read_as_integers_and_missing_reads_zero() {
    let dir = Scratch::new("file");
    let f = dir.path("force");
    assert_eq!(probe::read_file(&f).await, FileValue::Value(0));
    std::fs::write(&f, "7\n").unwrap();
    assert_eq!(probe::read_file(&f).await, FileValue::Value(7));
    std::fs::write(&f, "-3").unwrap();
    assert_eq!(probe::read_file(&f).await, FileValue::Value(-3));
    std::fs::write(&f, "lots").unwrap();
    // Not an integer: refused, but the content is never echoed (it may be a root-only file).
    assert!(matches!(probe::read_file(&f).await, FileValue::Unreadable(e) if !e.contains("lots")));
    // A directory where the file should be cannot be read: not silently zero.
    assert!(matches!(
        probe::read_file(&dir.0).await,
        FileValue::Unreadable(_)
    ));
}

/// The reason a track file was refused, or a panic naming what was read instead.
async fn refused(path: &std::path::Path) -> String {
    match probe::read_file(path).await {
        FileValue::Unreadable(e) => e,
        v => panic!("{} read as {v:?}", path.display()),
    }
}

#[tokio::test]
async fn track_files_that_are_not_small_regular_files_are_refused_at_once() {
    let dir = Scratch::new("file-bad");
    let start = Instant::now();
    // A FIFO would block the tracker until a writer came.
    let fifo = dir.path("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let e = refused(&fifo).await;
    assert!(e.contains("is a FIFO, not a regular file"), "{e}");
    // A device never ends: reading it whole would fill memory.
    let zero = dir.path("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let e = refused(&zero).await;
    assert!(e.contains("a character device"), "{e}");
    let e = refused(std::path::Path::new("/dev/zero")).await;
    assert!(e.contains("a character device"), "{e}");
    let big = dir.path("big");
    std::fs::write(
        &big,
        format!("1{}", " ".repeat(probe::TRACK_FILE_LIMIT as usize)),
    )
    .unwrap();
    let e = refused(&big).await;
    assert!(e.contains("larger than"), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_users_link_out_of_its_directory_is_refused_but_one_inside_is_followed() {
    let outside = Scratch::new("file-secret");
    let secret = outside.path("secret");
    std::fs::write(&secret, "42 root-only\n").unwrap();
    let dir = Scratch::new("file-link");
    std::fs::write(dir.path("real"), "7\n").unwrap();
    let out = dir.path("out");
    let inside = dir.path("inside");
    std::os::unix::fs::symlink(&secret, &out).unwrap();
    std::os::unix::fs::symlink("real", &inside).unwrap();
    // Links planted by an ordinary user (here: handed to nobody when the test runs as root).
    if nix::unistd::geteuid().is_root() {
        for l in [&out, &inside] {
            std::os::unix::fs::lchown(l, Some(65534), Some(65534)).unwrap();
        }
    }
    let e = refused(&out).await;
    assert!(e.contains("outside its directory"), "{e}");
    // The file's words, not its number: "42" also turns up in scratch paths named by pid.
    assert!(!e.contains("root-only"), "{e}");
    assert_eq!(probe::read_file(&inside).await, FileValue::Value(7));
}
