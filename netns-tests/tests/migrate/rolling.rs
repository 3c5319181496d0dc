//! Test 2: the one-node-at-a-time procedure of docs/migrating-from-keepalived.md, with a
//! client pinging the VIP every 10 ms throughout.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netns_tests::peers::{
    Agent, Keepalived, LOW, expect_holder, graceful_handover, master_down_interval, skew_time,
};
use netns_tests::ping::PingReport;
use netns_tests::vipd::{VrrpState, transitions};
use netns_tests::{Lab, LabSpec, Mac, Node, Pinger, pinger_bin, wait_until};

use super::conf::{NodeConf, PairConf, convert_and_check, write};
use super::vipd_from;

/// What a handover may cost the client beyond Skew_Time: the new Master's first gratuitous
/// ARP reaching the client, and scheduling on a loaded 2-core machine. A takeover on the
/// down timer instead of priority 0 would cost two more seconds and fail.
const TOLERANCE: Duration = Duration::from_millis(500);

/// The handovers of the procedure: keepalived A to vipd B (A stops), vipd B to vipd A
/// (A preempts). Replacing the Backup must not cost a single echo.
const HANDOVERS: usize = 2;

/// Runs the migration and asserts on what the client saw.
pub fn run() {
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let pair = PairConf {
        version: 2,
        interval: Duration::from_secs(1),
        vip: lab.vip4(0),
    };
    let spec = pair.spec();
    let dir = lab.log_path("");
    let (a, b) = (NodeConf::new(true, &dir), NodeConf::new(false, &dir));
    a.set_healthy(true);
    b.set_healthy(true);
    let (a_text, b_text) = (pair.keepalived_conf(&a), pair.keepalived_conf(&b));
    // Step 1 of the procedure: convert and check both files before touching a node.
    let a_yaml = convert_and_check(&write(&dir, "keepalived-a.conf", &a_text));
    let b_yaml = convert_and_check(&write(&dir, "keepalived-b.conf", &b_text));

    let mut ka_a = Keepalived::new(lab.node(0), &spec, a.priority, dir.clone()).with_config(a_text);
    let mut ka_b = Keepalived::new(lab.node(1), &spec, b.priority, dir.clone()).with_config(b_text);
    let mut vipd_a = vipd_from(&lab, 0, &spec, a.priority, &a_yaml);
    let mut vipd_b = vipd_from(&lab, 1, &spec, b.priority, &b_yaml);

    let mdi = master_down_interval(spec.version, LOW, spec.interval);
    let settle = mdi * 3 + Duration::from_secs(5);
    let vip = spec.vip;
    let mut first_handover = SystemTime::now();
    let mut took = Duration::ZERO;
    let mut run = || -> Result<(PingReport, Vec<Vec<Mac>>), String> {
        ka_b.start()
            .map_err(|e| format!("start keepalived B: {e}"))?;
        ka_a.start()
            .map_err(|e| format!("start keepalived A: {e}"))?;
        expect_holder(&lab, vip, &ka_a, settle)?;
        let log = dir.join("pinger.log");
        let pinger = Pinger::start(&lab.client, &pinger_bin(), vip, None, log)
            .map_err(|e| format!("start pinger: {e}"))?;
        let watch = ArpWatch::start(lab.client.clone(), pair.vip);

        // Step 2: the Backup's keepalived gives way to vipd, which joins as Backup.
        ka_b.stop().map_err(|e| format!("stop keepalived B: {e}"))?;
        vipd_b.start().map_err(|e| format!("start vipd B: {e}"))?;
        wait_until(settle, Duration::from_millis(50), || {
            transitions(&vipd_b.log_text(), "VI_1")
                .iter()
                .any(|t| t.to == VrrpState::Backup)
        })
        .map_err(|e| format!("vipd B never became Backup: {e}"))?;
        // A whole down timer and more: vipd B hears keepalived A and stays Backup.
        std::thread::sleep(mdi + Duration::from_secs(1));
        expect_holder(&lab, vip, &ka_a, Duration::from_secs(2))?;

        // Step 3: keepalived A stops (priority 0), vipd B takes over; vipd replaces A and
        // preempts back.
        first_handover = SystemTime::now();
        (took, _) = graceful_handover(&lab, &spec, &mut ka_a, &vipd_b, LOW)?;
        vipd_a.start().map_err(|e| format!("start vipd A: {e}"))?;
        expect_holder(&lab, vip, &vipd_a, settle)?;
        // The client keeps pinging the settled pair for a while.
        std::thread::sleep(Duration::from_secs(2));
        let report = pinger.stop().map_err(|e| format!("stop pinger: {e}"))?;
        let probes = watch.stop();
        vipd_a.stop().map_err(|e| format!("stop vipd A: {e}"))?;
        vipd_b.stop().map_err(|e| format!("stop vipd B: {e}"))?;
        Ok((report, probes))
    };
    let outcome = run();
    let agents: [&dyn Agent; 4] = [&ka_a, &ka_b, &vipd_a, &vipd_b];
    let fail = |why: String| -> ! {
        let mut logs = String::new();
        for a in agents {
            let text = a.log_text();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            logs += &format!("\n--- {} on {} ---\n{tail}", a.kind(), a.node().name());
        }
        panic!("rolling migration: {why}{logs}")
    };
    let (report, probes) = outcome.unwrap_or_else(|e| fail(e));

    let per_handover = skew_time(spec.version, LOW, spec.interval) + TOLERANCE;
    let since = first_handover
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs_f64();
    let total_ms: f64 = report.windows.iter().map(|w| w.ms).sum();
    eprintln!(
        "rolling migration: priority-0 takeover {took:?} on the wire; client sent {} echoes, \
         lost {} in {} window(s) {:?} ms, total {total_ms:.0} ms (bound {per_handover:?} per \
         handover), {} duplicates, {} ARP probes",
        report.sent,
        report.lost,
        report.windows.len(),
        report
            .windows
            .iter()
            .map(|w| w.ms.round())
            .collect::<Vec<_>>(),
        report.duplicates,
        probes.len(),
    );
    // The pinger really watched the whole migration: it would otherwise prove nothing.
    let watched = report.end - report.start;
    if report.received == 0 || report.sent < (watched / 0.01 * 0.9) as u64 {
        fail(format!(
            "the pinger did not keep its 10 ms grid: {report:?}"
        ));
    }
    if report.duplicates != 0 {
        fail(format!("two hosts answered one echo: {report:?}"));
    }
    if let Some(w) = report.windows.iter().find(|w| w.start < since) {
        fail(format!("replacing the Backup cost the client {w:?}"));
    }
    if report.windows.len() > HANDOVERS {
        fail(format!(
            "more loss windows than handovers: {:?}",
            report.windows
        ));
    }
    if let Some(w) = report
        .windows
        .iter()
        .find(|w| w.ms > per_handover.as_secs_f64() * 1e3)
    {
        fail(format!(
            "a handover cost the client {w:?}, more than {per_handover:?}"
        ));
    }
    if let Some(i) = probes
        .windows(2)
        .position(|p| p[0].len() > 1 && p[1].len() > 1)
    {
        fail(format!(
            "two hosts answered ARP for the VIP in consecutive probes {:?}: a split brain",
            &probes[i..i + 2]
        ));
    }
}

/// Probes who answers ARP for the VIP, back to back, from a thread, until stopped.
struct ArpWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Vec<Mac>>>>,
}

impl ArpWatch {
    fn start(client: Node, vip: Ipv4Addr) -> ArpWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                // A probe straddling a handover legitimately hears the old and the new
                // Master; a split brain shows up as two answerers in consecutive probes.
                match client.arp_probe(vip, Duration::from_millis(300)) {
                    Ok(macs) => seen.push(macs),
                    Err(e) => panic!("ARP probe of {}: {e}", IpAddr::V4(vip)),
                }
            }
            seen
        });
        ArpWatch {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops probing and returns every probe's answerers, in order.
    fn stop(mut self) -> Vec<Vec<Mac>> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("joined once");
        thread
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl Drop for ArpWatch {
    fn drop(&mut self) {
        // On an early return the thread must not outlive the lab it probes.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
