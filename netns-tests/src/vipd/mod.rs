//! Running vipd in a lab: its configuration file, the process, and what its log reports.
//!
//! ```no_run
//! use netns_tests::vipd::{InstanceSpec, Vipd, VipdConfig, VrrpState};
//! use netns_tests::{Lab, LabSpec, require_root};
//! use std::time::Duration;
//! if !require_root() { return; }
//! let lab = Lab::new(LabSpec::default()).unwrap();
//! let web = InstanceSpec { vips: vec![lab.vip4(0).into()], ..Default::default() };
//! let mut vipd = Vipd::start(&lab, lab.node(0), &VipdConfig::single("node0", web)).unwrap();
//! vipd.wait_state("web", VrrpState::Master, Duration::from_secs(5)).unwrap();
//! ```

mod arbiter;
mod checks;
mod config;
mod control;
mod log;
pub mod metrics;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;

pub use arbiter::{ArbiterSpec, StoreLoss};
pub use checks::{CheckKind, CheckSpec, NotifySpec, TrackSpec, TrackTarget};
pub use config::{InstanceSpec, VipdConfig};
pub use control::{InstanceStatus, ProcStat, Status, proc_stats};
pub use log::{Transition, VrrpState, parse_timestamp, parse_transition, reasserts, transitions};

use crate::error::{HarnessError, Result};
use crate::lab::Lab;
use crate::node::Node;
use crate::proc::Proc;
use crate::wait::wait_until;

/// Numbers each start, so that a restarted daemon gets a log of its own.
static STARTS: AtomicU32 = AtomicU32::new(0);

/// How often waits poll the log.
const POLL: Duration = Duration::from_millis(10);

/// The vipd binary to test: `VIPD_BIN` if set; else `vipd` beside the running test's own
/// profile directory (`target/<profile>/`), else `$CARGO_TARGET_DIR/debug/vipd`, else
/// `<workspace>/target/debug/vipd`. Fails naming every place looked at when none exists.
///
/// `cargo test -p netns-tests` does not build it (a dependency's binaries are not built for
/// a dependent's tests): run `cargo build -p vipd` first, or `cargo test --workspace`.
pub fn vipd_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("VIPD_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(not_found(&[p]))
        };
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let mut candidates = Vec::new();
    if let Some(profile_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
    {
        candidates.push(profile_dir.join("vipd"));
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        // A relative target dir is relative to where cargo ran: the workspace, normally.
        candidates.push(workspace.join(dir).join("debug/vipd"));
    }
    candidates.push(workspace.join("target/debug/vipd"));
    let found = candidates.iter().find(|p| p.is_file()).cloned();
    let bin = found.ok_or_else(|| not_found(&candidates))?;
    warn_if_older_than_sources(&bin, &workspace.join("src"));
    Ok(bin)
}

fn not_found(looked: &[PathBuf]) -> HarnessError {
    let list: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
    HarnessError::io(
        format!(
            "vipd binary not found (looked at {}); build it with `cargo build -p vipd` or set VIPD_BIN",
            list.join(", ")
        ),
        std::io::Error::from(std::io::ErrorKind::NotFound),
    )
}

/// A binary older than the sources would test yesterday's code without a word; say so.
fn warn_if_older_than_sources(bin: &Path, src: &Path) {
    let mtime = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let (Some(built), Some(newest)) = (mtime(bin), newest_mtime(src)) else {
        return;
    };
    if newest > built {
        use std::io::Write;
        let msg = format!(
            "\n*** WARNING: {} is older than the sources in {}; run `cargo build -p vipd` ***\n",
            bin.display(),
            src.display()
        );
        let _ = std::io::stderr().write_all(msg.as_bytes());
    }
}

fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(t);
    }
    newest
}

/// `<node>-vipd<k>`: the file name stem of one start's configuration, log and socket.
fn next_stem(node: &Node) -> String {
    let k = STARTS.fetch_add(1, Ordering::Relaxed);
    format!("{}-vipd{k}", node.name())
}

/// A `vipd run` process in a lab node. Dropping it kills it (SIGKILL), like any [`Proc`].
pub struct Vipd {
    proc: Proc,
    node: Node,
    config: PathBuf,
    /// `global.control_socket` as the configuration file says it, if it says.
    socket: Option<PathBuf>,
}

impl Vipd {
    /// Writes `config` into the lab's directory and starts `vipd run -c FILE` on `node`,
    /// its stderr in `<node>-vipd<k>.log` there. Returns at once; use the waits.
    pub fn start(lab: &Lab, node: &Node, config: &VipdConfig) -> Result<Vipd> {
        Vipd::start_bin(lab, node, config, &vipd_bin()?)
    }

    /// Like [`Vipd::start`] with the vipd binary given (a benchmark's release build).
    pub fn start_bin(lab: &Lab, node: &Node, config: &VipdConfig, bin: &Path) -> Result<Vipd> {
        let stem = next_stem(node);
        let sock = lab.log_path(&format!("{stem}.sock"));
        Vipd::spawn(lab, node, &stem, &config.to_yaml(&sock), bin)
    }

    /// Like [`Vipd::start`] with the YAML text given as is.
    pub fn start_yaml(lab: &Lab, node: &Node, yaml: &str) -> Result<Vipd> {
        Vipd::spawn(lab, node, &next_stem(node), yaml, &vipd_bin()?)
    }

    fn spawn(lab: &Lab, node: &Node, stem: &str, yaml: &str, bin: &Path) -> Result<Vipd> {
        let config = lab.log_path(&format!("{stem}.yaml"));
        std::fs::write(&config, yaml)
            .map_err(|e| HarnessError::io(format!("write {}", config.display()), e))?;
        let log = lab.log_path(&format!("{stem}.log"));
        let args = [
            &*bin.to_string_lossy(),
            "run",
            "-c",
            &*config.to_string_lossy(),
        ];
        let proc = node.spawn(&args, log)?;
        Ok(Vipd {
            proc,
            node: node.clone(),
            config,
            socket: control::socket_of(yaml),
        })
    }

    /// The node it runs on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Its configuration file.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        self.proc.log_text()
    }

    /// The state changes of `instance` logged so far, in order.
    pub fn transitions(&self, instance: &str) -> Vec<Transition> {
        transitions(&self.log_text(), instance)
    }

    /// The (from, to) states of the transitions of `instance` after its first `since`.
    pub fn moves_since(&self, instance: &str, since: usize) -> Vec<(VrrpState, VrrpState)> {
        let all = self.transitions(instance);
        all.get(since..)
            .unwrap_or_default()
            .iter()
            .map(|t| (t.from, t.to))
            .collect()
    }

    /// Every time `instance` re-asserted mastership over a lower Master.
    pub fn reasserts(&self, instance: &str) -> Vec<Transition> {
        reasserts(&self.log_text(), instance)
    }

    /// The state `instance` last reported entering, if any.
    pub fn state(&self, instance: &str) -> Option<VrrpState> {
        self.transitions(instance).last().map(|t| t.to)
    }

    /// Waits until the last state `instance` reported is `state`, and returns that transition.
    /// Fails at once, with the log, if vipd exits.
    pub fn wait_state(
        &mut self,
        instance: &str,
        state: VrrpState,
        timeout: Duration,
    ) -> Result<Transition> {
        let what = format!("{}: {instance} to be {state}", self.node.name());
        self.wait_for(&what, timeout, |v| {
            v.transitions(instance).pop().filter(|t| t.to == state)
        })
    }

    /// Waits until a log line contains `needle`, and returns the line.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let what = format!("{}: a log line with {needle:?}", self.node.name());
        self.wait_for(&what, timeout, |v| {
            v.log_text()
                .lines()
                .find(|l| l.contains(needle))
                .map(str::to_string)
        })
    }

    /// Polls `found` until it returns something, vipd exits, or `timeout` passes.
    fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut found: impl FnMut(&Vipd) -> Option<T>,
    ) -> Result<T> {
        let mut result = None;
        let mut exited = None;
        let _ = wait_until(timeout, POLL, || {
            result = found(self);
            exited = self.proc.try_status();
            result.is_some() || exited.is_some()
        });
        // A line written just before exiting still counts.
        result = result.or_else(|| found(self));
        match (result, exited) {
            (Some(r), _) => Ok(r),
            (None, Some(status)) => Err(HarnessError::parse(
                what,
                format!("vipd exited ({status}) first; log:\n{}", self.log_text()),
            )),
            (None, None) => Err(HarnessError::Timeout {
                what: format!("{what}; log:\n{}", self.log_text()),
                waited: timeout,
            }),
        }
    }

    /// Sends `sig` to vipd.
    pub fn signal(&mut self, sig: Signal) -> Result<()> {
        self.proc.signal(sig)
    }

    /// SIGKILLs vipd and reaps it. What it had configured (VIPs, a macvlan) stays behind.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        self.proc.kill()
    }

    /// Waits up to `timeout` for vipd to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.proc.wait_exit(timeout)
    }

    /// Its exit status if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.proc.try_status()
    }
}

/// Runs `vipd check -c FILE` and returns what it printed.
pub fn check(file: &Path) -> Result<Output> {
    let bin = vipd_bin()?;
    Command::new(&bin)
        .args(["check", "-c"])
        .arg(file)
        .output()
        .map_err(|e| HarnessError::io(format!("run {} check", bin.display()), e))
}

/// Whether `node` holds `vip` on eth0.
pub fn holds(node: &Node, vip: Ipv4Addr) -> bool {
    node.has_addr("eth0", vip.into()).unwrap_or(false)
}

/// Waits until `node` holds (or no longer holds) `vip`; returns how long that took, or
/// panics naming the node.
pub fn wait_holds(node: &Node, vip: Ipv4Addr, held: bool, timeout: Duration) -> Duration {
    wait_until(timeout, Duration::from_millis(10), || {
        holds(node, vip) == held
    })
    .unwrap_or_else(|e| {
        let what = if held { "never got" } else { "kept" };
        panic!("{} {what} {vip}: {e}", node.name())
    })
}
