//! Smoke test of the failover benchmark (`failover_bench`), so that the tool cannot rot: one
//! run of each fault on the v3 100 ms profile for both agents, and a short idle measurement,
//! then checks that the report is well-formed and its numbers plausible. Needs root.
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
    let vipd = netns_tests::vipd::vipd_bin().expect("vipd binary");
    assert!(
        vipd.is_file(),
        "{} missing: run `cargo build -p vipd` or set VIPD_BIN",
        vipd.display()
    );
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
