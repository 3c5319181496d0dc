//! A two-namespace lab for the net-layer tests: namespaces A and B joined by a veth pair,
//! removed on drop. Independent of the shared harness in `netns-tests/src` on purpose, so
//! these tests exercise only `vipd::net`.

use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::net::Ipv6Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use serde_json::Value;

/// Returns false (after saying so loudly) when the tests cannot run; under `CI=true` a
/// missing privilege is a failure, never a silent skip.
pub fn privileged() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let msg = "SKIPPED: net-layer tests need root (network namespaces, raw sockets)";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}; failing because CI=true");
    }
    // Straight to stderr: libtest captures `eprintln!` of passing tests, and a skip must
    // not pass unnoticed.
    let _ = writeln!(std::io::stderr(), "\n!!!!!!!! {msg} !!!!!!!!\n");
    false
}

/// Runs a command, panicking with its output if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command and parses its JSON output (`ip -j ...`).
pub fn json(args: &[&str]) -> Value {
    let text = sh(args);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{args:?} printed non-JSON {text:?}: {e}"))
}

/// Runs `f` on a new thread that has entered network namespace `ns`, inside a
/// current-thread tokio runtime, so sockets and netlink calls act on that namespace.
pub fn run_in_netns<F, Fut, T>(ns: &str, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
        setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns into the test namespace");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(f())
    })
}

/// Waits for a thread from [`run_in_netns`], re-raising its panic in the test thread.
pub fn join<T>(h: JoinHandle<T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Namespaces `ns_a` and `ns_b`, with `if_a` in A joined to `if_b` in B.
pub struct Lab {
    pub ns_a: String,
    pub ns_b: String,
    pub if_a: String,
    pub if_b: String,
}

pub const A4: &str = "10.77.0.1";
pub const B4: &str = "10.77.0.2";

impl Lab {
    /// Builds the lab. IPv6 DAD is turned off in both namespaces so link-local addresses
    /// are usable at once, unless `dad` is set (to test that vipd's own addresses skip it).
    pub fn new(dad: bool) -> Lab {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}x{n}", std::process::id());
        let lab = Lab {
            ns_a: format!("vtA{id}"),
            ns_b: format!("vtB{id}"),
            if_a: format!("vta{id}"),
            if_b: format!("vtb{id}"),
        };
        assert!(
            lab.if_a.len() <= 15,
            "interface name too long: {}",
            lab.if_a
        );
        // The guard exists from here on, so a failure below still removes what was made.
        sh(&["ip", "netns", "add", &lab.ns_a]);
        sh(&["ip", "netns", "add", &lab.ns_b]);
        let accept_dad = if dad { "1" } else { "0" };
        for ns in [&lab.ns_a, &lab.ns_b] {
            for scope in ["all", "default"] {
                let key = format!("net.ipv6.conf.{scope}.accept_dad={accept_dad}");
                sh(&["ip", "netns", "exec", ns, "sysctl", "-qw", &key]);
            }
        }
        sh(&[
            "ip", "-n", &lab.ns_a, "link", "add", &lab.if_a, "type", "veth", "peer", "name",
            &lab.if_b, "netns", &lab.ns_b,
        ]);
        sh(&[
            "ip",
            "-n",
            &lab.ns_a,
            "addr",
            "add",
            &format!("{A4}/24"),
            "dev",
            &lab.if_a,
        ]);
        sh(&[
            "ip",
            "-n",
            &lab.ns_b,
            "addr",
            "add",
            &format!("{B4}/24"),
            "dev",
            &lab.if_b,
        ]);
        for (ns, ifname) in [(&lab.ns_a, &lab.if_a), (&lab.ns_b, &lab.if_b)] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            sh(&["ip", "-n", ns, "link", "set", ifname, "up"]);
        }
        // The kernel adds link-local addresses once the carrier is up, asynchronously;
        // sockets opened before that would find none.
        let deadline = Instant::now() + Duration::from_secs(5);
        for (ns, ifname) in [(&lab.ns_a, &lab.if_a), (&lab.ns_b, &lab.if_b)] {
            while !lab.link_local_ready(ns, ifname) {
                assert!(
                    Instant::now() < deadline,
                    "no usable link-local on {ifname}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        lab
    }

    fn link_local_ready(&self, ns: &str, ifname: &str) -> bool {
        let v = json(&[
            "ip", "-n", ns, "-j", "-6", "addr", "show", "dev", ifname, "scope", "link",
        ]);
        v[0]["addr_info"]
            .as_array()
            .and_then(|a| a.first())
            .is_some_and(|a| a.get("tentative").is_none())
    }

    /// The MAC address of `ifname` in `ns`.
    pub fn mac(&self, ns: &str, ifname: &str) -> String {
        let v = json(&["ip", "-n", ns, "-j", "link", "show", "dev", ifname]);
        v[0]["address"]
            .as_str()
            .expect("link has an address")
            .to_owned()
    }

    /// The ifindex of `ifname` in `ns`.
    pub fn ifindex(&self, ns: &str, ifname: &str) -> u32 {
        let v = json(&["ip", "-n", ns, "-j", "link", "show", "dev", ifname]);
        v[0]["ifindex"].as_u64().expect("link has an index") as u32
    }

    /// The link-local address of `ifname` in `ns`.
    pub fn link_local(&self, ns: &str, ifname: &str) -> Ipv6Addr {
        let v = json(&[
            "ip", "-n", ns, "-j", "-6", "addr", "show", "dev", ifname, "scope", "link",
        ]);
        v[0]["addr_info"][0]["local"]
            .as_str()
            .expect("interface has a link-local address")
            .parse()
            .expect("an IPv6 address")
    }

    /// The neighbour entry for `ip` on `ifname` in `ns`, if any.
    pub fn neigh(&self, ns: &str, ifname: &str, ip: &str) -> Option<Value> {
        let v = json(&["ip", "-n", ns, "-j", "neigh", "show", ip, "dev", ifname]);
        v.as_array().and_then(|a| a.first().cloned())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the interfaces in it; errors are ignored because
        // a half-built lab may lack either namespace.
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
