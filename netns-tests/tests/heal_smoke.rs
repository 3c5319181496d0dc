//! Smoke test of the partition-heal benchmark (`heal_bench`), so the tool cannot rot: one
//! run of vipd on the v3 100 ms profile, then checks that the report is complete and its
//! numbers plausible. Needs root.
//!
//! It runs the `vipd` binary next to the test binaries (`cargo test --workspace` builds it;
//! alone: `cargo build -p vipd` first) or `VIPD_BIN`.

use std::process::Command;

use netns_tests::require_root;

/// The cells of a Markdown table row, trimmed.
fn cells(row: &str) -> Vec<&str> {
    row.trim()
        .strip_prefix('|')
        .and_then(|r| r.strip_suffix('|'))
        .unwrap_or_else(|| panic!("not a table row: {row}"))
        .split('|')
        .map(str::trim)
        .collect()
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
    let vipd = netns_tests::vipd::vipd_bin().expect("vipd binary");
    assert!(
        vipd.is_file(),
        "{} missing: run `cargo build -p vipd` or set VIPD_BIN",
        vipd.display()
    );
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
