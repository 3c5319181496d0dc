//! Privilege and tool checks that decide whether a privileged test runs.

use std::io::Write;
use std::path::Path;

/// Tools every lab needs, with the Debian package that provides each.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("tcpdump", "tcpdump"),
    ("ping", "iputils-ping"),
];

/// Returns true when the test may run: we are root and the lab's tools are installed.
///
/// Otherwise, under `CI=true` it panics (a skipped end-to-end suite must fail CI, never pass
/// it silently); elsewhere it prints a loud `SKIPPED` line and returns false so the test can
/// `return` early.
pub fn require_root() -> bool {
    let problem = if !nix::unistd::geteuid().is_root() {
        Some("needs root (network namespaces, raw sockets)".to_string())
    } else {
        missing_tools().map(|(tool, pkg)| {
            format!("`{tool}` not found: install package `{pkg}` (scripts/install-deps.sh)")
        })
    };
    let Some(problem) = problem else { return true };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("privileged test cannot run under CI: {problem}");
    }
    // Written to the stderr handle directly: the test harness captures `eprintln!` of
    // passing tests, and a skip must be seen.
    let _ = std::io::stderr().write_all(format!("\n*** SKIPPED: {problem} ***\n").as_bytes());
    false
}

fn missing_tools() -> Option<(&'static str, &'static str)> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    // Root's PATH may lack sbin on some systems; `ip` lives there.
    let dirs: Vec<_> = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(Into::into))
        .collect();
    TOOLS
        .iter()
        .copied()
        .find(|(tool, _)| !dirs.iter().any(|d| Path::new(d).join(tool).is_file()))
}
