//! Track files a local user can plant: a FIFO, a link to a device. Each is refused with its
//! reason logged and counts as a failed read (keepalived's track_file: FAULT), at once and
//! without reading the device.

use std::time::{Duration, Instant};

use netns_tests::require_root;
use netns_tests::vipd::{TrackSpec, TrackTarget, Vipd, VrrpState};

use crate::common::*;

/// vipd's resident memory in KiB, from /proc.
fn rss_kib(d: &Vipd) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_fifo_or_a_link_to_a_device_as_track_file_faults_with_the_reason_and_reads_nothing() {
    if !require_root() {
        return;
    }
    let lab = lab(false);
    let vip = lab.vip4(0);
    let (n0, n1) = (lab.node(0), lab.node(1));
    let file = lab.log_path("node0.track");
    let high = web(
        vip,
        150,
        vec![TrackSpec {
            target: TrackTarget::File(file.clone()),
            weight: -100,
        }],
    );
    let low = web(vip, 100, vec![]);
    let [mut d0, _d1] =
        master_then_backup(&lab, &config(n0, high.clone()), &config(n1, low.clone()));
    wait_holds(n0, vip, true, TOLERANCE);
    // vipd reads track files every second.
    let read = Duration::from_secs(1);
    let rss_before = rss_kib(&d0);

    // A FIFO would block the tracker for ever, with nothing logged.
    nix::unistd::mkfifo(&file, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    d0.wait_state("web", VrrpState::Fault, read + TOLERANCE)
        .unwrap_or_else(|e| panic!("{e}\n{}", d0.log_text()));
    wait_holds(n1, vip, true, high.master_down_interval() + TOLERANCE);
    let log = d0.log_text();
    assert!(
        log.contains(&format!(
            "{}: refused: is a FIFO, not a regular file",
            file.display()
        )),
        "{log}"
    );

    // Removing it reads as 0 again: back to Master.
    std::fs::remove_file(&file).unwrap();
    d0.wait_state(
        "web",
        VrrpState::Master,
        read + high.master_down_interval() + TOLERANCE,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d0.log_text()));

    // A link to /dev/zero would be read for ever.
    std::os::unix::fs::symlink("/dev/zero", &file).unwrap();
    let t0 = Instant::now();
    d0.wait_state("web", VrrpState::Fault, read + TOLERANCE)
        .unwrap_or_else(|e| panic!("{e}\n{}", d0.log_text()));
    let log = d0.log_text();
    assert!(
        log.contains("refused: is a character device, not a regular file"),
        "{log}"
    );
    // Several more reads of the link: memory stays where it was.
    std::thread::sleep((read * 3).saturating_sub(t0.elapsed()));
    let rss_after = rss_kib(&d0);
    assert!(
        rss_after < rss_before + 50 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert!(d0.try_status().is_none(), "vipd must keep running");
    std::fs::remove_file(&file).unwrap();
}
