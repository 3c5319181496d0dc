//! Running short external commands (`ip`, `sysctl`) and turning failures into errors that
//! show the command line and its stderr.

use std::process::{Command, Output};

use crate::error::{HarnessError, Result};

/// Runs `prog args...` to completion; fails unless it exits 0.
pub fn run(prog: &str, args: &[&str]) -> Result<Output> {
    let out = output(prog, args)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(HarnessError::Command {
            cmd: line(prog, args),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs `prog args...` to completion and returns its output whatever the exit status.
pub fn output(prog: &str, args: &[&str]) -> Result<Output> {
    Command::new(prog)
        .args(args)
        .output()
        .map_err(|source| HarnessError::Spawn {
            cmd: line(prog, args),
            source,
        })
}

/// Runs `ip -n NS args...`, which acts on namespace NS without entering it.
pub fn ip_n(ns: &str, args: &[&str]) -> Result<Output> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Sets a sysctl inside a namespace (sysctls under net.* are per namespace).
pub fn sysctl(ns: &str, key: &str, value: &str) -> Result<()> {
    let kv = format!("{key}={value}");
    run("ip", &["netns", "exec", ns, "sysctl", "-q", "-w", &kv]).map(|_| ())
}

fn line(prog: &str, args: &[&str]) -> String {
    std::iter::once(prog)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}
