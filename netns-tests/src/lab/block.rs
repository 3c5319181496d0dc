//! Partitions made with nftables in the switch namespace: every link stays up, frames are
//! dropped in the bridge, like a broken switch or a firewall rule. [`Lab::set_port`] is the
//! other kind of fault, carrier loss, which an agent sees as a link fault; these it cannot see.
//!
//! Each cut is one `bridge` table of its own, hooked at `forward`, holding a named counter
//! that every one of its drop rules counts into. Removing a cut deletes its table and nothing
//! else, so cuts can be stacked and healed in any order.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{HarnessError, Result};
use crate::node::Node;

use super::Lab;

/// Table names only need to be unique in one switch namespace; a process-wide counter makes
/// them unique across labs too, which keeps logs unambiguous.
static CUT_COUNTER: AtomicU32 = AtomicU32::new(0);

/// What a cut drops. Every other frame keeps flowing.
#[derive(Debug, Clone, Copy)]
pub enum Cut<'a> {
    /// Every frame to or from the node's LAN port (`n<i>` on `br0`).
    Node(&'a Node),
    /// Every frame to or from the node's heartbeat port (`h<i>` on `br1`).
    Heartbeat(&'a Node),
    /// IP protocol 112 (VRRP), IPv4 and IPv6, entering `br0` from any port.
    VrrpOnLan,
    /// VRRP (IPv4 and IPv6) on `br0` from one node's port to another's only: `to` stops
    /// hearing `from` on the LAN while `from` still hears `to`, and everything else flows.
    VrrpOnLanOneWay {
        /// The node whose adverts are dropped.
        from: &'a Node,
        /// The node that no longer hears them.
        to: &'a Node,
    },
    /// UDP to this destination port, IPv4 and IPv6, entering `br0` from any port.
    UdpPortOnLan(u16),
}

/// A cut in force. [`CutGuard::heal`] (or dropping the guard) removes its table.
#[derive(Debug)]
pub struct CutGuard {
    switch: String,
    table: String,
    healed: bool,
}

impl Lab {
    /// Starts dropping what `cut` names, in the switch's bridges, until the returned guard is
    /// healed or dropped. Fails for a heartbeat cut in a lab without a heartbeat link.
    pub fn cut(&self, cut: Cut<'_>) -> Result<CutGuard> {
        let matches = self.cut_matches(cut)?;
        let table = format!(
            "vtcut{}x{}",
            std::process::id(),
            CUT_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut script = format!(
            "table bridge {table} {{\n  counter dropped {{}}\n  chain cut {{\n    \
             type filter hook forward priority 0; policy accept;\n"
        );
        for m in &matches {
            script += &format!("    {m} counter name dropped drop\n");
        }
        script += "  }\n}\n";
        nft_stdin(self.switch_ns(), &script)?;
        Ok(CutGuard {
            switch: self.switch_ns().to_string(),
            table,
            healed: false,
        })
    }

    /// The nft match expressions of `cut`, one rule each.
    fn cut_matches(&self, cut: Cut<'_>) -> Result<Vec<String>> {
        let both_ways =
            |port: String| vec![format!("iifname \"{port}\""), format!("oifname \"{port}\"")];
        Ok(match cut {
            Cut::Node(node) => both_ways(self.port(node, "n")?),
            Cut::Heartbeat(node) => {
                if node.hb_ip4().is_none() {
                    return Err(HarnessError::parse(
                        "heartbeat cut",
                        format!("{} has no heartbeat link", node.name()),
                    ));
                }
                both_ways(self.port(node, "h")?)
            }
            // br0 is matched by its ports: this kernel's bridge family rejects `meta ibrname`.
            Cut::VrrpOnLan => {
                let ports = self.lan_ports();
                vec![
                    format!("iifname {ports} ip protocol 112"),
                    format!("iifname {ports} ip6 nexthdr 112"),
                ]
            }
            Cut::VrrpOnLanOneWay { from, to } => {
                let (i, o) = (self.port(from, "n")?, self.port(to, "n")?);
                vec![
                    format!("iifname \"{i}\" oifname \"{o}\" ip protocol 112"),
                    format!("iifname \"{i}\" oifname \"{o}\" ip6 nexthdr 112"),
                ]
            }
            Cut::UdpPortOnLan(port) => {
                let ports = self.lan_ports();
                vec![
                    format!("iifname {ports} ip protocol udp udp dport {port}"),
                    format!("iifname {ports} ip6 nexthdr udp udp dport {port}"),
                ]
            }
        })
    }

    /// Every port of `br0` as an nft anonymous set: `{ "n0", "n1", "cl" }`.
    fn lan_ports(&self) -> String {
        let names: Vec<String> = (0..self.nodes.len())
            .map(|i| format!("\"n{i}\""))
            .chain(["\"cl\"".to_string()])
            .collect();
        format!("{{ {} }}", names.join(", "))
    }
}

impl CutGuard {
    /// The nft table holding this cut (family `bridge`, in the switch namespace).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Frames this cut has dropped so far.
    pub fn dropped(&self) -> Result<u64> {
        let out = nft(
            &self.switch,
            &["-j", "list", "counter", "bridge", &self.table, "dropped"],
        )?;
        let v: serde_json::Value = serde_json::from_slice(&out)
            .map_err(|e| HarnessError::parse("nft -j list counter", e.to_string()))?;
        v["nftables"]
            .as_array()
            .and_then(|items| items.iter().find_map(|i| i["counter"]["packets"].as_u64()))
            .ok_or_else(|| HarnessError::parse("nft -j list counter", v.to_string()))
    }

    /// Removes the cut: its table and nothing else.
    pub fn heal(mut self) -> Result<()> {
        self.healed = true;
        nft(&self.switch, &["delete", "table", "bridge", &self.table]).map(|_| ())
    }
}

/// A heal made ready in advance: an `nft -f -` is already running in the switch namespace,
/// waiting for its command on stdin. Starting `ip netns exec ... nft` takes tens of
/// milliseconds on a loaded machine, too blurry a moment to time a heal from; a prepared
/// heal takes effect within a millisecond or two of [`PendingHeal::fire`]. Dropped without
/// firing, it stops the waiting nft and the cut heals as its guard would.
#[derive(Debug)]
pub struct PendingHeal {
    child: Option<Child>,
    guard: CutGuard,
}

impl CutGuard {
    /// Starts the nft that [`PendingHeal::fire`] will hand the heal to.
    pub fn prepare_heal(self) -> Result<PendingHeal> {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.switch, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                cmd: format!("ip netns exec {} nft -f -", self.switch),
                source,
            })?;
        Ok(PendingHeal {
            child: Some(child),
            guard: self,
        })
    }
}

impl PendingHeal {
    /// Removes the cut's table now, and waits for nft to confirm it.
    pub fn fire(mut self) -> Result<()> {
        let mut child = self.child.take().expect("fired once: fire consumes self");
        let cmd = format!("delete table bridge {}\n", self.guard.table);
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let written = stdin.write_all(cmd.as_bytes());
        // Closing stdin is what makes nft read to the end and commit.
        drop(stdin);
        let out = child
            .wait_with_output()
            .map_err(|e| HarnessError::io("wait for nft", e))?;
        written.map_err(|e| HarnessError::io("write the heal to nft", e))?;
        if !out.status.success() {
            return Err(HarnessError::Command {
                cmd: format!("nft -f - <<< {}", cmd.trim()),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        self.guard.healed = true;
        Ok(())
    }
}

impl Drop for PendingHeal {
    fn drop(&mut self) {
        // Only an unfired heal still has its nft, which this module started.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for CutGuard {
    fn drop(&mut self) {
        if self.healed {
            return;
        }
        // A lab dropped first has taken the namespace, and the table, with it.
        if std::path::Path::new("/run/netns")
            .join(&self.switch)
            .exists()
            && let Err(e) = nft(&self.switch, &["delete", "table", "bridge", &self.table])
        {
            eprintln!("cut {}: heal on drop: {e}", self.table);
        }
    }
}

/// Runs `nft ARGS` in namespace `ns`; returns its stdout.
pub(crate) fn nft(ns: &str, args: &[&str]) -> Result<Vec<u8>> {
    let all = [&["netns", "exec", ns, "nft"][..], args].concat();
    crate::cmd::run("ip", &all).map(|o| o.stdout)
}

/// Runs `nft -f -` in namespace `ns` with `script` on stdin: one transaction, so a cut is
/// either wholly in place or not at all.
pub(crate) fn nft_stdin(ns: &str, script: &str) -> Result<()> {
    let cmd = format!("ip netns exec {ns} nft -f -");
    let spawn_err = |source| HarnessError::Spawn {
        cmd: cmd.clone(),
        source,
    };
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    let written = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(script.as_bytes());
    // Wait even if the write failed, so no zombie is left; stdin is closed by now.
    let out = child.wait_with_output().map_err(spawn_err)?;
    written.map_err(|e| HarnessError::io(format!("write the script to `{cmd}`"), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(HarnessError::Command {
            cmd,
            status: out.status,
            stderr: format!(
                "{}\nscript:\n{script}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}
