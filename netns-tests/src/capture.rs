//! Packet captures with tcpdump inside a lab namespace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::error::{HarnessError, Result};
use crate::node::Node;
use crate::pcap::{self, Frame};
use crate::proc::Proc;
use crate::wait::wait_until;

/// A running tcpdump writing to a pcap file.
pub struct Capture {
    proc: Proc,
    file: PathBuf,
}

impl Capture {
    /// Starts capturing on `iface` of `node` (with a BPF `filter`, empty for everything) into
    /// `file`, and returns once tcpdump reports that it is listening, so that nothing sent
    /// afterwards is missed. tcpdump's own messages go to `file` + `.log`.
    pub fn start(node: &Node, iface: &str, filter: &str, file: PathBuf) -> Result<Capture> {
        // Per-packet delivery and flushing, or the last frames of a short capture are lost.
        Capture::spawn(node, iface, filter, file, &["--immediate-mode", "-U"])
    }

    /// Like [`Capture::start`], but only frames `node` receives on `iface`, never those it
    /// sends (`-Q in`). libpcap 1.10 does not ask the kernel to leave outgoing frames out
    /// (`perf` shows `tpacket_rcv` under the sender's `sendmsg`): each frame the node sends
    /// still costs the sender a run of the capture's filter, which should then reject it
    /// (a filter on the other node's source address does), so that nothing is copied.
    pub fn start_incoming(
        node: &Node,
        iface: &str,
        filter: &str,
        file: PathBuf,
    ) -> Result<Capture> {
        Capture::spawn(
            node,
            iface,
            filter,
            file,
            &["--immediate-mode", "-U", "-Q", "in"],
        )
    }

    /// Like [`Capture::start`], but tcpdump is handed frames in blocks (about once a second)
    /// rather than woken for each one; the frames still carry the kernel's arrival times.
    /// For long captures on a node whose CPU time is being measured: a capture woken by
    /// every advert competes with the agent for the CPU at the instants it receives them
    /// (at 100 adverts a second it raised vipd's Backup from about 1.1 % to 1.6 % of a core).
    /// The frames of the last block may be lost when the capture stops.
    pub fn start_batched(node: &Node, iface: &str, filter: &str, file: PathBuf) -> Result<Capture> {
        Capture::spawn(node, iface, filter, file, &[])
    }

    /// Like [`Capture::start_batched`], but only the frames `node` sends on `iface` (`-Q out`),
    /// timed as they leave it: for a veth, in the sending thread's own `sendmsg`.
    pub fn start_batched_outgoing(
        node: &Node,
        iface: &str,
        filter: &str,
        file: PathBuf,
    ) -> Result<Capture> {
        Capture::spawn(node, iface, filter, file, &["-Q", "out"])
    }

    fn spawn(
        node: &Node,
        iface: &str,
        filter: &str,
        file: PathBuf,
        delivery: &[&str],
    ) -> Result<Capture> {
        let path = file.to_string_lossy().into_owned();
        // `-Z root`: Debian's tcpdump would otherwise drop to user tcpdump before writing.
        let mut args = vec!["tcpdump", "-i", iface, "-n"];
        args.extend(delivery);
        args.extend(["-Z", "root", "-w", &path]);
        // Adapter timestamps where the driver has them (veths do not; hosts' NICs may).
        if supports_adapter_ts(node, iface) {
            args.extend(["-j", "adapter_unsynced"]);
        }
        if !filter.is_empty() {
            args.push(filter);
        }
        let log = PathBuf::from(format!("{path}.log"));
        let mut proc = node.spawn(&args, log.clone())?;
        let waited = Duration::from_secs(10);
        let listening = wait_until(waited, Duration::from_millis(10), || {
            std::fs::read_to_string(&log).is_ok_and(|s| s.contains("listening on"))
                || proc.try_status().is_some()
        });
        if listening.is_err() || proc.try_status().is_some() {
            return Err(HarnessError::Timeout {
                what: format!("tcpdump to start listening: {}", proc.log_text()),
                waited,
            });
        }
        Ok(Capture { proc, file })
    }

    /// The pcap file being written.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Stops tcpdump (SIGINT, so it flushes and closes the file) and reads what it captured.
    pub fn stop(mut self) -> Result<Vec<Frame>> {
        self.proc.signal(Signal::SIGINT)?;
        if self.proc.wait_exit(Duration::from_secs(10)).is_none() {
            return Err(HarnessError::Timeout {
                what: "tcpdump to exit after SIGINT".into(),
                waited: Duration::from_secs(10),
            });
        }
        pcap::read(&self.file)
    }
}

fn supports_adapter_ts(node: &Node, iface: &str) -> bool {
    node.exec(&["tcpdump", "-J", "-i", iface])
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("adapter_unsynced"))
}
