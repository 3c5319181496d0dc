//! Privilege and tool checks that decide whether a privileged test runs.

use std::io::Write;
use std::path::Path;

/// Tools every lab needs, with the Debian package that provides each.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("tcpdump", "tcpdump"),
    ("ping", "iputils-ping"),
    ("nft", "nftables"),
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
        missing_tool(TOOLS)
    };
    may_run("privileged", problem)
}

/// The first of `tools` (program, Debian package) that is not installed, as the line that
/// says how to install it. A program is looked up on PATH and in the sbin directories (root's
/// PATH may lack them; `ip` lives there), or taken as is when absolute.
pub(crate) fn missing_tool(tools: &[(&str, &str)]) -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<_> = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(Into::into))
        .collect();
    let found = |tool: &str| {
        let p = Path::new(tool);
        if p.is_absolute() {
            p.is_file()
        } else {
            dirs.iter().any(|d| Path::new(d).join(tool).is_file())
        }
    };
    let (tool, pkg) = tools.iter().find(|(t, _)| !found(t))?;
    Some(format!(
        "`{tool}` not found: install package `{pkg}` (scripts/install-deps.sh)"
    ))
}

/// Whether a `kind` test may run given `problem`: under `CI=true` a problem panics (never a
/// silent skip in CI); elsewhere it prints a loud `SKIPPED` line and returns false.
pub(crate) fn may_run(kind: &str, problem: Option<String>) -> bool {
    let Some(problem) = problem else { return true };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{kind} test cannot run under CI: {problem}");
    }
    // Written to the stderr handle directly: the test harness captures `eprintln!` of
    // passing tests, and a skip must be seen.
    let _ = std::io::stderr().write_all(format!("\n*** SKIPPED: {problem} ***\n").as_bytes());
    false
}
