//! The pinger's report, its loss arithmetic, and starting it inside a lab.
//!
//! iputils `ping -i 0.01` paces at ~16 ms on a loaded 2-core machine, which blurs an outage
//! of a few tens of milliseconds; the `pinger` binary keeps a fixed grid of absolute send
//! deadlines instead, and reports the loss windows measured on that grid.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::error::{HarnessError, Result};
use crate::node::Node;
use crate::proc::Proc;
use crate::wait::wait_until;

/// What the pinger prints (one JSON line on stdout) when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingReport {
    /// Destination pinged.
    pub dst: IpAddr,
    /// Grid spacing.
    pub interval_ms: f64,
    /// Echo requests sent.
    pub sent: u64,
    /// Requests answered (each counted once).
    pub received: u64,
    /// Requests never answered.
    pub lost: u64,
    /// Extra replies to an already answered request: two hosts answering one address.
    pub duplicates: u64,
    /// Sends more than 2 ms behind their grid slot (the grid was not held).
    pub late_sends: u64,
    /// Slowest answer.
    pub max_rtt_ms: f64,
    /// Duration of the longest loss window (0 if nothing was lost).
    pub longest_gap_ms: f64,
    /// The longest loss window.
    pub loss_window: Option<LossWindow>,
    /// Every loss window, in time order.
    pub windows: Vec<LossWindow>,
    /// When the first request was sent (seconds since the Unix epoch).
    pub start: f64,
    /// When sending stopped.
    pub end: f64,
}

/// A run of consecutive unanswered requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossWindow {
    /// Index (from 0) of the first unanswered request.
    pub first: u64,
    /// How many consecutive requests went unanswered.
    pub lost: u64,
    /// Send time of the first unanswered request (seconds since the Unix epoch).
    pub start: f64,
    /// Send time of the next answered request, or the end of the run if none was.
    pub end: f64,
    /// `end - start` in milliseconds: the outage as the client saw it, to one interval.
    pub ms: f64,
}

/// Finds the runs of unanswered requests. `sent[i]` is the send time of request `i`,
/// `answered[i]` whether it got a reply; a run still open at the end closes at `end`.
pub fn loss_windows(sent: &[f64], answered: &[bool], end: f64) -> Vec<LossWindow> {
    let mut windows = Vec::new();
    let mut run_start: Option<usize> = None;
    // A sentinel "answered" after the last request closes a run still open at the end.
    for (i, &ok) in answered.iter().chain([&true]).enumerate() {
        match (ok, run_start) {
            (false, None) => run_start = Some(i),
            (true, Some(first)) => {
                let stop = sent.get(i).copied().unwrap_or(end);
                windows.push(LossWindow {
                    first: first as u64,
                    lost: (i - first) as u64,
                    start: sent[first],
                    end: stop,
                    ms: (stop - sent[first]) * 1e3,
                });
                run_start = None;
            }
            _ => {}
        }
    }
    windows
}

/// The longest of `windows`, if any.
pub fn longest(windows: &[LossWindow]) -> Option<&LossWindow> {
    windows.iter().max_by(|a, b| a.ms.total_cmp(&b.ms))
}

/// A pinger running in a lab namespace.
pub struct Pinger {
    proc: Proc,
}

impl Pinger {
    /// Starts `bin` (the `pinger` binary; see [`pinger_bin`]) on `node`, pinging `dst` every
    /// 10 ms for `duration` (or until [`Pinger::stop`] with `None`), and returns once it sends.
    pub fn start(
        node: &Node,
        bin: &Path,
        dst: IpAddr,
        duration: Option<Duration>,
        log: PathBuf,
    ) -> Result<Pinger> {
        let bin = bin.to_string_lossy();
        let dst = dst.to_string();
        let ms = duration.map_or(0, |d| d.as_millis()).to_string();
        let mut proc = node.spawn(&[&bin, "--dst", &dst, "--duration-ms", &ms], log)?;
        let waited = Duration::from_secs(10);
        wait_until(waited, Duration::from_millis(2), || {
            proc.log_text().contains("pinger: started") || proc.try_status().is_some()
        })
        .ok()
        .filter(|_| proc.try_status().is_none())
        .ok_or_else(|| HarnessError::Timeout {
            what: format!("pinger to start: {}", proc.log_text()),
            waited,
        })?;
        Ok(Pinger { proc })
    }

    /// Waits for a pinger started with a duration to end, and returns its report.
    pub fn finish(mut self, timeout: Duration) -> Result<PingReport> {
        let status = self
            .proc
            .wait_exit(timeout)
            .ok_or_else(|| HarnessError::Timeout {
                what: "pinger to exit".into(),
                waited: timeout,
            })?;
        let log = self.proc.log_text();
        if !status.success() {
            return Err(HarnessError::parse(
                "pinger result",
                format!("exit {status}: {log}"),
            ));
        }
        let line = log
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_default();
        serde_json::from_str(line)
            .map_err(|e| HarnessError::parse("pinger report", format!("{e}: {log}")))
    }

    /// Stops the pinger (SIGTERM: it waits briefly for late replies, then reports).
    pub fn stop(mut self) -> Result<PingReport> {
        self.proc.signal(Signal::SIGTERM)?;
        self.finish(Duration::from_secs(10))
    }
}

/// Where cargo put the `pinger` binary, seen from a test of this package: test executables
/// live in `target/<profile>/deps/`, binaries one level up. `VIPD_PINGER` overrides it.
/// (Integration tests of this package can also use `env!("CARGO_BIN_EXE_pinger")`.)
pub fn pinger_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VIPD_PINGER") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .join("pinger")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_loss_no_window() {
        assert!(loss_windows(&[0.0, 0.01, 0.02], &[true; 3], 0.03).is_empty());
    }

    #[test]
    fn windows_span_from_first_loss_to_next_answer() {
        let sent: Vec<f64> = (0..10).map(|i| f64::from(i) * 0.01).collect();
        let answered = [
            true, false, false, false, true, true, false, true, false, false,
        ];
        let w = loss_windows(&sent, &answered, 0.1);
        assert_eq!(w.len(), 3);
        assert_eq!((w[0].first, w[0].lost), (1, 3));
        assert!((w[0].ms - 30.0).abs() < 1e-9);
        assert_eq!((w[1].first, w[1].lost), (6, 1));
        // A run still open at the end is closed at `end`.
        assert_eq!((w[2].first, w[2].lost), (8, 2));
        assert!((w[2].end - 0.1).abs() < 1e-12);
        assert_eq!(longest(&w).map(|l| l.first), Some(1));
    }
}
