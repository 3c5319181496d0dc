//! Smoke tests of the benchmarks, so that the tools cannot rot. `failover_bench`: one run of
//! each fault on the v3 100 ms profile for both agents, and a short idle measurement.
//! `heal_bench`: one partition heal of vipd on v3 100 ms. Each checks that the report is
//! well-formed and its numbers plausible. Needs root.
//!
//! It runs the `vipd` binary next to the test binaries (`cargo test --workspace` builds it;
//! alone: `cargo build -p vipd` first) or `VIPD_BIN`.

use std::process::Command;

use netns_tests::require_root;

/// The cells of a Markdown table row, trimmed.
fn cells(row: &str) -> Vec<&str> {
    let inner = row
        .trim()
        .strip_prefix('|')
        .and_then(|r| r.strip_suffix('|'));
    inner
        .unwrap_or_else(|| panic!("not a table row: {row}"))
        .split('|')
        .map(str::trim)
        .collect()
}

/// `min / median / max` of a single run: three equal numbers.
fn single(cell: &str) -> f64 {
    let v: Vec<f64> = cell
        .split(" / ")
        .map(|n| {
            n.parse()
                .unwrap_or_else(|_| panic!("not a number in {cell:?}"))
        })
        .collect();
    assert_eq!(v.len(), 3, "{cell:?}");
    assert!(v[0] == v[1] && v[1] == v[2], "one run, yet {cell:?}");
    v[0]
}

#[test]
fn one_run_per_fault_gives_a_complete_plausible_report() {
    if !require_root() {
        return;
    }
    // vipd_bin fails, naming where it looked, when there is no vipd binary.
    let vipd = netns_tests::vipd::vipd_bin().expect("vipd binary");
    let out = Command::new(env!("CARGO_BIN_EXE_failover_bench"))
        .args([
            "--runs",
            "1",
            "--profiles",
            "v3",
            "--agents",
            "vipd,keepalived",
        ])
        .args([
            "--idle-secs",
            "2",
            "--idle-instances",
            "1",
            "--idle-profiles",
            "v3",
        ])
        .arg("--vipd")
        .arg(&vipd)
        .arg("--pinger")
        .arg(env!("CARGO_BIN_EXE_pinger"))
        .output()
        .expect("run failover_bench");
    let report = String::from_utf8_lossy(&out.stdout);
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{progress}\n{report}");
    let context = format!("report:\n{report}\nprogress:\n{progress}");
    for header in [
        "- machine: ",
        " CPUs, ",
        "- vipd: vipd ",
        "- keepalived: Keepalived v",
    ] {
        assert!(report.contains(header), "{header:?} missing; {context}");
    }

    assert!(
        report.contains("- command: `") && report.contains("--runs 1 --profiles v3"),
        "{context}"
    );

    let rows: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| l.starts_with("| v3 100ms | SIG"))
        .map(cells)
        .collect();
    // Per fault: takeovers + four metrics, + the priority-0 advert for SIGTERM.
    assert_eq!(rows.len(), 11, "{context}");
    // profile, fault, metric, RFC, vipd, keepalived.
    assert!(rows.iter().all(|r| r.len() == 6), "{context}");
    let row = |fault: &str, metric: &str| -> &Vec<&str> {
        rows.iter()
            .find(|r| r[1] == fault && r[2].starts_with(metric))
            .unwrap_or_else(|| panic!("no {fault} {metric} row; {context}"))
    };
    for fault in ["SIGKILL+cut", "SIGTERM"] {
        assert_eq!(row(fault, "takeovers")[4..], ["1/1", "1/1"], "{context}");
    }
    // Bounds: the RFC's value, with room for scheduling on a loaded 2-core machine, yet
    // tight enough to catch a unit slip (seconds, centiseconds) or a wrong reference point.
    let checks = [
        ("SIGKILL+cut", "fault → new Master", 230.0, 500.0),
        (
            "SIGKILL+cut",
            "fault → its first gratuitous ARP",
            230.0,
            500.0,
        ),
        ("SIGKILL+cut", "old Master's last advert", 355.0, 500.0),
        ("SIGKILL+cut", "client outage", 200.0, 550.0),
        ("SIGTERM", "fault → new Master", 55.0, 250.0),
        ("SIGTERM", "old Master's last advert", 55.0, 250.0),
        ("SIGTERM", "fault → priority-0 advert", 0.0, 50.0),
    ];
    for (fault, metric, lo, hi) in checks {
        for cell in &row(fault, metric)[4..] {
            let v = single(cell);
            assert!((lo..=hi).contains(&v), "{fault} {metric}: {v}; {context}");
        }
    }

    let idle: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| l.starts_with("| v3 100ms | 1 |"))
        .map(cells)
        .collect();
    assert_eq!(idle.len(), 2, "{context}");
    for r in idle {
        // profile, instances, agent, processes, VmRSS, CPU ms, window, CPU %.
        assert_eq!(r.len(), 8, "{context}");
        let n = |i: usize| -> f64 {
            r[i].parse()
                .unwrap_or_else(|_| panic!("cell {i} of {r:?} not a number"))
        };
        let expect_procs = if r[2] == "keepalived" { 2.0 } else { 1.0 };
        assert_eq!(n(3), expect_procs, "{r:?}");
        assert!((1000.0..200_000.0).contains(&n(4)), "VmRSS {r:?}");
        assert!((1.9..4.0).contains(&n(6)), "window {r:?}");
        assert!((0.0..20.0).contains(&n(7)), "CPU {r:?}");
    }
}

fn number(cell: &str) -> f64 {
    cell.parse()
        .unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

#[test]
fn one_vipd_heal_gives_a_complete_plausible_report() {
    if !require_root() {
        return;
    }
    // vipd_bin fails, naming where it looked, when there is no vipd binary.
    let vipd = netns_tests::vipd::vipd_bin().expect("vipd binary");
    let out = Command::new(env!("CARGO_BIN_EXE_heal_bench"))
        .args(["--runs", "1", "--profiles", "v3", "--agents", "vipd"])
        .args(["--hold-ms", "1000", "--seed", "5"])
        .arg("--vipd")
        .arg(&vipd)
        .arg("--pinger")
        .arg(env!("CARGO_BIN_EXE_pinger"))
        .output()
        .expect("run heal_bench");
    let report = String::from_utf8_lossy(&out.stdout);
    let progress = String::from_utf8_lossy(&out.stderr);
    let context = format!("report:\n{report}\nprogress:\n{progress}");
    assert!(out.status.success(), "{context}");
    for want in [
        "# Partition-heal benchmark",
        "- vipd: vipd ",
        "- seed: 5",
        "partition held 1000 ms",
        "## Target",
        "- vipd, v3 100ms: ",
    ] {
        assert!(report.contains(want), "{want:?} missing; {context}");
    }

    // The single run's row: agent, profile, run, takeover, node0 advert, two Masters, reach,
    // node1 last reply, longest gap, lost, node0 GARP, GARPs, heal cmd, result.
    let runs: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| l.starts_with("| vipd | v3 100ms | 1 |"))
        .map(cells)
        .collect();
    assert_eq!(runs.len(), 1, "{context}");
    let r = &runs[0];
    assert_eq!(r.len(), 14, "{context}");
    assert_eq!(r[13], "ok", "{context}");
    // Generous bounds: scheduling on a loaded 2-core machine, yet tight enough to catch a
    // unit slip or a wrong reference point (cut vs heal).
    let bounds = [
        (3, "takeover", 230.0, 700.0),
        (4, "node0 advert", 0.0, 300.0),
        (5, "two Masters", -200.0, 2000.0),
        (6, "reach", 0.0, 5000.0),
        (8, "longest gap", 0.0, 5000.0),
        (12, "heal cmd", 0.0, 500.0),
    ];
    for (i, name, lo, hi) in bounds {
        let v = number(r[i]);
        assert!((lo..=hi).contains(&v), "{name} = {v}; {context}");
    }
    let summary = report
        .lines()
        .find(|l| l.starts_with("| v3 100ms | client reached node0 within"))
        .map(cells)
        .unwrap_or_else(|| panic!("no target row; {context}"));
    assert!(
        summary[3] == "1/1" || summary[3] == "0/1",
        "{summary:?}; {context}"
    );
}

#[test]
fn one_small_scale_case_gives_a_plausible_row() {
    if !require_root() {
        return;
    }
    // vipd_bin fails, naming where it looked, when there is no vipd binary.
    let vipd = netns_tests::vipd::vipd_bin().expect("vipd binary");
    let out = Command::new(env!("CARGO_BIN_EXE_scale_bench"))
        // A threaded switch, so its setup (ethtool, sysfs in the switch) is exercised too.
        .args(["--cases", "2@100ms", "--idle-secs", "2", "--agents", "vipd"])
        .args(["--switch", "threaded"])
        .arg("--vipd")
        .arg(&vipd)
        .arg("--pinger")
        .arg(env!("CARGO_BIN_EXE_pinger"))
        .output()
        .expect("run scale_bench");
    let report = String::from_utf8_lossy(&out.stdout);
    let progress = String::from_utf8_lossy(&out.stderr);
    let context = format!("report:\n{report}\nprogress:\n{progress}");
    assert!(out.status.success(), "{context}");
    // case, agent, Master CPU, Backup CPU, Master memory, Backup memory, false takeovers,
    // longest gap, Master up, all-Backup, load.
    let rows: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| l.starts_with("| 2 × 100ms | vipd |"))
        .map(cells)
        .collect();
    // The main table's row, then the machine's.
    assert_eq!(rows.len(), 2, "{context}");
    let r = &rows[0];
    assert_eq!(r.len(), 11, "{context}");
    // Two instances at 100 ms cost far less than a core, and something.
    for k in [2, 3] {
        let cpu = number(r[k]);
        assert!(cpu > 0.0 && cpu < 50.0, "column {k}: {context}");
    }
    // RSS / anonymous / PSS in MB: anonymous is part of the RSS.
    let mem: Vec<f64> = r[4].split(" / ").map(number).collect();
    assert!(
        mem.len() == 3 && mem[1] > 0.0 && mem[1] <= mem[0],
        "{context}"
    );
    assert_eq!(r[6], "0", "a false takeover in 2 s: {context}");
    // Adverts every 100 ms: the longest gap is about that, far below Master_Down_Interval.
    let gap = number(r[7].trim_end_matches(" ms"));
    assert!((50.0..300.0).contains(&gap), "{context}");

    // case, agent, gaps sent / received, per CPU, major faults.
    let m = &rows[1];
    assert_eq!(m.len(), 5, "{context}");
    // The Master's own gap is about the interval too, and dated within the 2 s window.
    let sent = m[2].split(" / ").next().unwrap_or_default();
    let (sent_gap, when) = sent.split_once(" ms at +").expect("a dated gap");
    assert!((50.0..300.0).contains(&number(sent_gap)), "{context}");
    assert!(
        (0.0..=3.0).contains(&number(when.trim_end_matches(" s"))),
        "{context}"
    );
    // Both CPUs sampled, at realtime priority (the test runs as root).
    for cpu in ["CPU 0: late ", "; CPU 1: late "] {
        assert!(m[3].contains(cpu), "{context}");
    }
    assert!(!m[3].contains("not realtime"), "{context}");
    let faults: Vec<f64> = m[4].split(" / ").map(number).collect();
    assert_eq!(faults.len(), 2, "{context}");
}
