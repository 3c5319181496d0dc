//! keepalived (VRRP only) in a lab node: a config written from a [`VrrpSpec`], its own pid
//! files, logging to the console (our log file) instead of syslog.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{Agent, VrrpSpec};
use crate::error::{HarnessError, Result};
use crate::mac::Mac;
use crate::node::Node;
use crate::proc::Proc;

/// keepalived with one instance, `vt`, on `eth0` (or with a keepalived.conf of the test's
/// own, see [`Keepalived::with_config`]).
pub struct Keepalived {
    node: Node,
    spec: VrrpSpec,
    priority: u8,
    dir: PathBuf,
    proc: Option<Proc>,
    config: Option<String>,
}

impl Keepalived {
    /// A keepalived for `node` (not started); its files go to `dir`.
    pub fn new(node: &Node, spec: &VrrpSpec, priority: u8, dir: PathBuf) -> Keepalived {
        Keepalived {
            node: node.clone(),
            spec: spec.clone(),
            priority,
            dir,
            proc: None,
            config: None,
        }
    }

    /// Runs with `conf` as its keepalived.conf instead of the one written from the spec. The
    /// spec and priority must still describe it: the scenario's checks and [`Agent::wipe`]
    /// read them.
    pub fn with_config(mut self, conf: String) -> Keepalived {
        self.config = Some(conf);
        self
    }

    fn file(&self, ext: &str) -> PathBuf {
        self.dir
            .join(format!("keepalived-{}.{ext}", self.node.name()))
    }

    /// keepalived.conf for this node.
    pub fn conf(&self) -> String {
        if let Some(conf) = &self.config {
            return conf.clone();
        }
        let s = &self.spec;
        let mut c = String::new();
        let _ = writeln!(c, "global_defs {{\n  router_id {}\n}}", self.node.name());
        let _ = writeln!(c, "vrrp_instance vt {{\n  state BACKUP\n  interface eth0");
        let _ = writeln!(c, "  virtual_router_id {}", s.vrid);
        let _ = writeln!(c, "  priority {}", self.priority);
        let _ = writeln!(c, "  version {}", s.version);
        // keepalived takes seconds with a fraction; v2 accepts whole seconds only.
        let _ = writeln!(c, "  advert_int {}", s.interval.as_secs_f64());
        if s.vip.is_ipv6() {
            let _ = writeln!(c, "  native_ipv6");
        }
        if let Some((src, peer)) = s.unicast_for(&self.node) {
            let _ = writeln!(
                c,
                "  unicast_src_ip {src}\n  unicast_peer {{\n    {peer}\n  }}"
            );
        }
        if let Some(pass) = &s.auth_pass {
            let _ = writeln!(
                c,
                "  authentication {{\n    auth_type PASS\n    auth_pass {pass}\n  }}"
            );
        }
        let _ = writeln!(
            c,
            "  virtual_ipaddress {{\n    {}/{} dev eth0\n  }}\n}}",
            s.vip, s.prefix
        );
        c
    }
}

impl Agent for Keepalived {
    fn kind(&self) -> &'static str {
        "keepalived"
    }

    fn node(&self) -> &Node {
        &self.node
    }

    fn priority(&self) -> u8 {
        self.priority
    }

    fn start(&mut self) -> Result<()> {
        if self.proc.as_mut().is_some_and(|p| p.try_status().is_none()) {
            return Err(HarnessError::parse("keepalived start", "already running"));
        }
        let conf = self.file("conf");
        std::fs::write(&conf, self.conf())
            .map_err(|e| HarnessError::io(format!("write {}", conf.display()), e))?;
        let (pid, vrrp_pid) = (self.file("pid"), self.file("vrrp.pid"));
        // Stale pid files from a killed run would make keepalived think it is running.
        let _ = std::fs::remove_file(&pid);
        let _ = std::fs::remove_file(&vrrp_pid);
        let args = [
            "keepalived",
            "-n", // foreground: the PID we hold is the parent
            "-P", // VRRP only
            "-l",
            "-D",
            "-G", // log details to the console, not syslog
            "-f",
            &conf.to_string_lossy(),
            "-p",
            &pid.to_string_lossy(),
            "-r",
            &vrrp_pid.to_string_lossy(),
        ]
        .map(String::from);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.proc = Some(self.node.spawn(&args, self.file("log"))?);
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        // The parent forwards SIGTERM to its VRRP child, which sends priority 0.
        super::stop_procs("keepalived", self.proc.as_mut())
    }

    fn kill(&mut self) {
        // The whole process group: the parent and its VRRP child die at the same instant.
        if let Some(p) = self.proc.as_mut() {
            p.kill();
        }
    }

    fn wipe(&mut self) -> Result<()> {
        super::wipe_vip(&self.node, &self.spec);
        Ok(())
    }

    fn vip_mac(&self) -> Result<Mac> {
        self.node.mac("eth0")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.file("log")).unwrap_or_default()
    }
}
