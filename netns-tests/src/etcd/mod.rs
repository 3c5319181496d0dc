//! A real 3-member etcd cluster in network namespaces, for the arbiter's tests.
//!
//! Network: the cluster has a switch namespace of its own holding bridge `br0`, the etcd
//! segment 172.20.C.0/24 (C distinct per cluster in a process; no lab uses 172.16/12, so it
//! never overlaps a node's LAN or heartbeat subnet). Member `i` is its own namespace with
//! `eth0` at host `i + 1`. Any other namespace, a lab node for instance, is connected by
//! [`EtcdCluster::attach`]: a veth named `etcd0` in that namespace whose peer is a port of
//! the cluster's bridge, like a management network beside the VRRP LAN. The cluster also
//! attaches a client namespace of its own ([`EtcdCluster::client_ns`]) for tests that talk to
//! etcd from the test process.
//!
//! Members run with `--heartbeat-interval 50 --election-timeout 500`, so leases of 1 s are
//! accepted (etcd's minimum TTL is ceil(1.5 × election timeout)) and a lost leader is noticed
//! within half a second.
//!
//! Dropping the cluster kills the members it started (by PID) and deletes its namespaces,
//! which removes every `etcd0` veth too. Its directory (`$TMPDIR/vipd-etcd-vth<pid>-<n>`) is
//! removed after a pass; after a panic or with VIPD_KEEP_LOGS=1 it is kept, and printed,
//! with only what helps debugging: each member's log `eN.log` and command line `eN.args`
//! (its whole configuration), and the certificates under `tls/`, each file cut to
//! 8 MiB. The members' data directories `eN.data` are deleted even then: etcd preallocates
//! 64 MB per WAL file, so keeping them cost about 190 MB per failed test and filled the disk.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::cmd::{ip_n, output, run};
use crate::error::{HarnessError, Result};
use crate::keep::{FILE_CAP, bound_dir, keep_files};
use crate::lab::{Lab, PREFIX, sweep_once};
use crate::node::Node;
use crate::wait::wait_until;

mod certs;
mod cut;
mod member;
pub use certs::EtcdTls;
pub use cut::EtcdCut;
use member::Member;

static CLUSTER_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Members in a cluster.
pub const MEMBERS: usize = 3;
/// Host number of the first attached namespace on the etcd segment.
const FIRST_ATTACHED: u8 = 10;
const CLIENT_PORT: u16 = 2379;
const PEER_PORT: u16 = 2380;

/// What to start.
#[derive(Debug, Clone, Copy, Default)]
pub struct EtcdSpec {
    /// Serve clients over TLS only, requiring client certificates (`--client-cert-auth`).
    pub tls: bool,
}

/// A running cluster; see the module documentation.
pub struct EtcdCluster {
    base: String,
    net: [u8; 3],
    dir: PathBuf,
    tls: Option<EtcdTls>,
    members: Vec<Member>,
    /// Namespaces attached to the segment, in order; the first is the cluster's client.
    attached: Vec<String>,
    /// Namespaces this cluster created, in creation order.
    created: Vec<String>,
}

impl EtcdCluster {
    /// Builds the network, starts the three members and waits until every one is healthy.
    pub fn start(spec: EtcdSpec) -> Result<EtcdCluster> {
        sweep_once();
        let (pid, n) = (
            std::process::id(),
            CLUSTER_COUNTER.fetch_add(1, Ordering::Relaxed),
        );
        let base = format!("{PREFIX}{pid}-{n}");
        let dir = std::env::temp_dir().join(format!("vipd-etcd-{base}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| HarnessError::io(format!("mkdir {}", dir.display()), e))?;
        // From here on an early return drops the cluster, which removes what exists so far.
        let mut c = EtcdCluster {
            base: base.clone(),
            net: [172, 20, (n % 250) as u8],
            dir,
            tls: None,
            members: Vec::new(),
            attached: Vec::new(),
            created: Vec::new(),
        };
        if spec.tls {
            c.tls = Some(EtcdTls::new(&c.dir.join("tls"))?);
        }
        let sw = c.switch();
        c.add_ns(&sw)?;
        ip_n(
            &sw,
            &["link", "add", "br0", "type", "bridge", "stp_state", "0"],
        )?;
        ip_n(&sw, &["link", "set", "br0", "up"])?;
        let client = format!("{base}-ec");
        c.add_ns(&client)?;
        c.attach_ns(&client)?;
        let ips: Vec<Ipv4Addr> = (0..MEMBERS).map(|i| c.ip(i as u8 + 1)).collect();
        let initial = (0..MEMBERS)
            .map(|i| format!("e{i}=http://{}:{PEER_PORT}", ips[i]))
            .collect::<Vec<_>>()
            .join(",");
        for (i, &ip) in ips.iter().enumerate() {
            let ns = format!("{base}-e{i}");
            c.add_ns(&ns)?;
            c.plug(&ns, &format!("m{i}"), "eth0", ip)?;
            let args = c.member_args(i, ip, &initial)?;
            let args_file = c.dir.join(format!("e{i}.args"));
            std::fs::write(&args_file, args.join("\n") + "\n")
                .map_err(|e| HarnessError::io(format!("write {}", args_file.display()), e))?;
            c.members.push(Member {
                name: format!("e{i}"),
                ns,
                ip,
                args,
                proc: None,
            });
        }
        for i in 0..MEMBERS {
            c.start_member(i)?;
        }
        if let Err(e) = c.wait_healthy(Duration::from_secs(30)) {
            // The directory goes with the cluster: say here why the members did not come up.
            let logs: String = (0..MEMBERS)
                .map(|i| format!("\n--- e{i} log (end):\n{}", tail(&c.member_log(i), 10)))
                .collect();
            return Err(HarnessError::parse("etcd start", format!("{e}{logs}")));
        }
        Ok(c)
    }

    /// [`EtcdCluster::start`], then attaches every node of `lab` (not its client), so that
    /// the agents running there reach the members through their `etcd0`.
    pub fn start_for_lab(lab: &Lab, spec: EtcdSpec) -> Result<EtcdCluster> {
        let mut c = EtcdCluster::start(spec)?;
        for node in &lab.nodes {
            c.attach(node)?;
        }
        Ok(c)
    }

    /// The client URLs of every member.
    pub fn endpoints(&self) -> Vec<String> {
        (0..MEMBERS).map(|i| self.endpoint(i)).collect()
    }

    /// Member `i`'s client URL.
    pub fn endpoint(&self, i: usize) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}:{CLIENT_PORT}", self.members[i].ip)
    }

    /// The certificates, for a cluster started with TLS.
    pub fn tls(&self) -> Option<&EtcdTls> {
        self.tls.as_ref()
    }

    /// vipd's store settings for this cluster (every endpoint; the CA and client certificate
    /// if it uses TLS).
    pub fn store_settings(&self, request_timeout: Duration) -> vipd::arbiter::etcd::StoreSettings {
        vipd::arbiter::etcd::StoreSettings {
            endpoints: self.endpoints(),
            ca: self.tls.as_ref().map(|t| t.ca.clone()),
            cert: self.tls.as_ref().map(|t| t.client_cert.clone()),
            key: self.tls.as_ref().map(|t| t.client_key.clone()),
            request_timeout,
        }
    }

    /// The namespace the cluster attached for the test's own client (see
    /// [`crate::block_on_in`]).
    pub fn client_ns(&self) -> &str {
        &self.attached[0]
    }

    /// Connects a lab node to the etcd segment (interface `etcd0`); returns its address there.
    pub fn attach(&mut self, node: &Node) -> Result<Ipv4Addr> {
        self.attach_ns(node.ns())
    }

    /// Connects namespace `ns` (which someone else owns) to the etcd segment through a veth
    /// `etcd0`; returns its address. Deleting either namespace removes the veth.
    pub fn attach_ns(&mut self, ns: &str) -> Result<Ipv4Addr> {
        let k = self.attached.len();
        let host = u8::try_from(usize::from(FIRST_ATTACHED) + k)
            .ok()
            .filter(|h| *h < 255)
            .ok_or_else(|| HarnessError::parse("etcd segment", "too many attached namespaces"))?;
        let ip = self.ip(host);
        self.plug(ns, &format!("a{k}"), "etcd0", ip)?;
        self.attached.push(ns.to_string());
        Ok(ip)
    }

    /// Member `i`'s namespace.
    pub fn member_ns(&self, i: usize) -> &str {
        &self.members[i].ns
    }

    /// Member `i`'s address on the segment.
    pub fn member_ip(&self, i: usize) -> Ipv4Addr {
        self.members[i].ip
    }

    /// Waits until every running member reports healthy (`etcdctl endpoint health`, which
    /// needs a committed read, so a quorum and a leader).
    pub fn wait_healthy(&self, timeout: Duration) -> Result<()> {
        let running: Vec<String> = (0..MEMBERS)
            .filter(|&i| self.members[i].proc.is_some())
            .map(|i| self.endpoint(i))
            .collect();
        let eps = format!("--endpoints={}", running.join(","));
        let mut last = String::new();
        wait_until(timeout, Duration::from_millis(200), || {
            match self.etcdctl(&[&eps, "endpoint", "health"]) {
                Ok(out) if out.status.success() => true,
                Ok(out) => {
                    last = String::from_utf8_lossy(&out.stderr).trim().to_string();
                    false
                }
                Err(e) => {
                    last = e.to_string();
                    false
                }
            }
        })
        .map(|_| ())
        .map_err(|_| HarnessError::Timeout {
            what: format!("etcd cluster {} healthy: {last}", self.base),
            waited: timeout,
        })
    }

    /// Runs `etcdctl ARGS` in the client namespace against every member (with the TLS files
    /// if any); returns its output whatever its status. An `--endpoints=` in `args` wins.
    pub fn etcdctl(&self, args: &[&str]) -> Result<std::process::Output> {
        let mut all: Vec<String> = ["netns", "exec", self.client_ns(), "etcdctl"]
            .map(String::from)
            .to_vec();
        all.push(format!("--endpoints={}", self.endpoints().join(",")));
        all.push("--dial-timeout=1s".into());
        all.push("--command-timeout=2s".into());
        if let Some(t) = &self.tls {
            all.push(format!("--cacert={}", t.ca.display()));
            all.push(format!("--cert={}", t.client_cert.display()));
            all.push(format!("--key={}", t.client_key.display()));
        }
        all.extend(args.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        output("ip", &refs)
    }

    /// The index of the member that is the raft leader now, as the members report it.
    pub fn leader(&self) -> Result<usize> {
        let out = self.etcdctl(&["endpoint", "status", "-w", "json"])?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| HarnessError::parse("etcdctl endpoint status", e.to_string()))?;
        let statuses = v.as_array().cloned().unwrap_or_default();
        let leader = statuses.iter().find_map(|s| s["Status"]["leader"].as_u64());
        statuses
            .iter()
            .find(|s| leader.is_some() && s["Status"]["header"]["member_id"].as_u64() == leader)
            .and_then(|s| s["Endpoint"].as_str())
            .and_then(|ep| (0..MEMBERS).find(|&i| self.endpoint(i) == ep))
            .ok_or_else(|| HarnessError::parse("etcdctl endpoint status", v.to_string()))
    }

    /// A log file of member `i`, for failure messages.
    pub fn member_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("e{i}.log"))).unwrap_or_default()
    }

    fn switch(&self) -> String {
        format!("{}-es", self.base)
    }

    fn ip(&self, host: u8) -> Ipv4Addr {
        let [a, b, c] = self.net;
        Ipv4Addr::new(a, b, c, host)
    }

    fn add_ns(&mut self, ns: &str) -> Result<()> {
        run("ip", &["netns", "add", ns])?;
        self.created.push(ns.to_string());
        ip_n(ns, &["link", "set", "lo", "up"]).map(|_| ())
    }

    /// A veth from the bridge (port `port`) to `peer` in `ns`, with `ip`/24, up.
    fn plug(&self, ns: &str, port: &str, peer: &str, ip: Ipv4Addr) -> Result<()> {
        let sw = self.switch();
        ip_n(
            &sw,
            &[
                "link", "add", port, "type", "veth", "peer", "name", peer, "netns", ns,
            ],
        )?;
        ip_n(&sw, &["link", "set", port, "master", "br0", "up"])?;
        ip_n(ns, &["addr", "add", &format!("{ip}/24"), "dev", peer])?;
        ip_n(ns, &["link", "set", peer, "up"]).map(|_| ())
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        // Only the members' own processes, by PID (each Proc kills its process group).
        for m in &mut self.members {
            if let Some(mut p) = m.proc.take() {
                p.kill();
            }
        }
        for ns in self.created.iter().rev() {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("etcd cluster teardown: {e}");
            }
        }
        if keep_files() {
            for i in 0..self.members.len() {
                let _ = std::fs::remove_dir_all(self.data_dir(i));
            }
            bound_dir(&self.dir, FILE_CAP);
            eprintln!(
                "etcd cluster logs, command lines and certificates kept in {} (data removed)",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// etcd's programs, for [`require_etcd`].
pub const ETCD_TOOLS: [(&str, &str); 3] = [
    ("etcd", "etcd-server"),
    ("etcdctl", "etcd-client"),
    ("openssl", "openssl"),
];

/// Like [`crate::require_root`], and etcd, etcdctl and openssl installed: true when an etcd
/// test may run. Otherwise it says SKIPPED loudly and returns false, or panics under `CI=true`.
pub fn require_etcd() -> bool {
    crate::require_root() && crate::root::may_run("etcd", crate::root::missing_tool(&ETCD_TOOLS))
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
