//! The switch's ports served by kernel threads of their own (threaded NAPI), so that what
//! the switch and the receiving node's kernel do with a frame is charged to no agent.
//!
//! A veth hands a frame to its peer in the sender's context: without this, the bridge's
//! forwarding, the receiving node's IP input, the delivery to its socket and the wake-up of
//! its agent all run in the softirq of the agent that sent the frame, and count as that
//! agent's CPU time. On two hosts with a switch between them the sender pays only for its
//! own stack down to the NIC. With NAPI on each switch port (GRO, and UDP GRO forwarding,
//! which lets a veth queue a socket's frames for its peer's NAPI even with TSO on) and that
//! NAPI threaded, the rest runs in a `napi/<port>` kernel thread.
//!
//! A NAPI veth holds 256 frames for its peer and drops the rest, where a NIC has a queueing
//! discipline in front of its ring. So each host's end gets one (`pfifo`, txqueuelen frames),
//! which a kernel since 6.16 stops while the ring is full instead of dropping: a burst of
//! hundreds of adverts (one interface's instances due together) reaches the switch whole.

use crate::cmd::run;
use crate::error::{HarnessError, Result};

use super::Lab;

impl Lab {
    /// Moves the switch's forwarding, and the receive path of whatever it forwards to, into
    /// kernel threads of the switch's ports (see the module's documentation). Needs ethtool
    /// and a kernel with threaded NAPI (5.12 or later).
    pub fn thread_switch_ports(&self) -> Result<()> {
        let sw = self.switch_ns();
        let ports = veths(sw)?;
        if ports.is_empty() {
            return Err(HarnessError::parse("switch ports", "no veth in the switch"));
        }
        for port in &ports {
            let features = ["gro", "on", "rx-udp-gro-forwarding", "on"];
            let ethtool = [&["netns", "exec", sw, "ethtool", "-K", port][..], &features].concat();
            run("ip", &ethtool)?;
            // `ip netns exec` mounts the namespace's own /sys.
            let threaded = format!("/sys/class/net/{port}/threaded");
            let write = format!("echo 1 > {threaded} && test \"$(cat {threaded})\" = 1");
            run("ip", &["netns", "exec", sw, "sh", "-c", &write])?;
        }
        for host in self.nodes.iter().chain([&self.client]) {
            for iface in veths(host.ns())? {
                run(
                    "tc",
                    &[
                        "-n",
                        host.ns(),
                        "qdisc",
                        "replace",
                        "dev",
                        &iface,
                        "root",
                        "pfifo",
                    ],
                )?;
            }
        }
        Ok(())
    }
}

/// The veths in namespace `ns`, by name.
fn veths(ns: &str) -> Result<Vec<String>> {
    let listing = run("ip", &["-n", ns, "-o", "link", "show", "type", "veth"])?;
    Ok(String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect())
}
