//! Probes and check scripts in a process that has run out of descriptors: the failure is
//! marked local (the isolation guard then does not read it as "cut off from the network").
//! A file of its own, so that its own process, and no other test, runs out of descriptors.

use std::time::Duration;

use vipd::track::{probe, process};

/// Lowers the soft descriptor limit to just above the highest descriptor open now, fills
/// every free number below it, runs `f`, and undoes both.
fn with_no_free_descriptor<T>(f: impl FnOnce() -> T) -> T {
    let highest = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap();
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let mut fillers = Vec::new();
    // SAFETY: getrlimit/setrlimit on local structs; dup of stdin and close of those dups.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        let tight = libc::rlimit {
            rlim_cur: highest + 1,
            rlim_max: lim.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &tight), 0);
        loop {
            let fd = libc::dup(2);
            if fd < 0 {
                break;
            }
            fillers.push(fd);
        }
    }
    let out = f();
    // SAFETY: as above.
    unsafe {
        for fd in fillers {
            libc::close(fd);
        }
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    out
}

#[test]
fn a_probe_or_script_that_cannot_get_a_descriptor_fails_as_a_local_error() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let limit = Duration::from_secs(2);
    let script = process::Spec {
        argv: vec!["/bin/true".into()],
        env: Vec::new(),
        run_as: None,
        timeout: limit,
    };
    let (tcp, ping, run) = with_no_free_descriptor(|| {
        rt.block_on(async {
            (
                probe::tcp("127.0.0.1", port, limit).await,
                probe::ping("127.0.0.1".parse().unwrap(), None, limit).await,
                process::run(&script).await,
            )
        })
    });
    // A script check cannot even get the pipes for its output.
    assert!(run.local_error, "{:?}", run.exit);
    assert!(!run.exit.success());
    assert!(!tcp.ok && tcp.local, "{tcp:?}");
    assert!(tcp.detail.contains("Too many open files"), "{tcp:?}");
    // Without CAP_NET_RAW the socket is refused for that reason first.
    if nix::unistd::Uid::effective().is_root() {
        assert!(!ping.ok && ping.local, "{ping:?}");
    }
    // With descriptors again, the same probe passes: the failure was this process's.
    let again = rt.block_on(probe::tcp("127.0.0.1", port, limit));
    assert!(again.ok && !again.local, "{again:?}");
    let again = rt.block_on(process::run(&script));
    assert!(
        again.exit.success() && !again.local_error,
        "{:?}",
        again.exit
    );
}
