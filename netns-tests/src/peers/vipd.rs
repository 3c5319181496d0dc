//! A minimal vipd launcher: writes a one-instance YAML and runs `vipd run -c` in a node.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{Agent, VrrpSpec};
use crate::error::{HarnessError, Result};
use crate::mac::Mac;
use crate::node::Node;
use crate::proc::Proc;

/// vipd with one instance, `vt`, on `eth0` (or with a configuration file of the test's own,
/// see [`Vipd::with_config_file`]).
pub struct Vipd {
    node: Node,
    spec: VrrpSpec,
    priority: u8,
    dir: PathBuf,
    proc: Option<Proc>,
    file: Option<PathBuf>,
}

impl Vipd {
    /// A vipd for `node` (not started); its files go to `dir`.
    pub fn new(node: &Node, spec: &VrrpSpec, priority: u8, dir: PathBuf) -> Vipd {
        Vipd {
            node: node.clone(),
            spec: spec.clone(),
            priority,
            dir,
            proc: None,
            file: None,
        }
    }

    /// Runs `vipd run -c FILE` with `file` exactly as it is (say, the output of `vipd
    /// convert`), instead of a YAML written from the spec. The spec and priority must still
    /// describe it: the scenario's checks and [`Agent::wipe`] read them.
    ///
    /// Such a file may keep the default control socket (`/run/vipd/vipd.sock`), which two
    /// nodes of one lab would share, since namespaces share the host's filesystem. So vipd
    /// gets a private mount namespace with an empty `/run`, as if each node were its own host.
    pub fn with_config_file(mut self, file: PathBuf) -> Vipd {
        self.file = Some(file);
        self
    }

    /// The configuration file it runs with.
    pub fn config_path(&self) -> PathBuf {
        self.file
            .clone()
            .unwrap_or_else(|| self.dir.join(format!("vipd-{}.yaml", self.node.name())))
    }

    /// The YAML for this node.
    pub fn yaml(&self) -> String {
        let s = &self.spec;
        let interval = format!("{}ms", s.interval.as_millis());
        let mut y = String::new();
        let sock = self.dir.join(format!("vipd-{}.sock", self.node.name()));
        let _ = writeln!(y, "global:\n  router_id: {}", self.node.name());
        let _ = writeln!(y, "  control_socket: {}", sock.display());
        let _ = writeln!(y, "instances:\n  vt:\n    interface: eth0");
        let _ = writeln!(y, "    vrid: {}\n    version: {}", s.vrid, s.version);
        let _ = writeln!(y, "    priority: {}", self.priority);
        let _ = writeln!(y, "    advert_interval: {interval}");
        let _ = writeln!(y, "    vips: [\"{}/{}\"]", s.vip, s.prefix);
        if let Some((src, peer)) = s.unicast_for(&self.node) {
            let _ = writeln!(
                y,
                "    unicast: {{ source: \"{src}\", peers: [\"{peer}\"] }}"
            );
        }
        if let Some(pass) = &s.auth_pass {
            let _ = writeln!(y, "    auth: {{ type: pass, password: \"{pass}\" }}");
        }
        if s.rfc9568_checksum {
            let _ = writeln!(y, "    v3_checksum: rfc9568");
        }
        y
    }
}

impl Agent for Vipd {
    fn kind(&self) -> &'static str {
        "vipd"
    }

    fn node(&self) -> &Node {
        &self.node
    }

    fn priority(&self) -> u8 {
        self.priority
    }

    fn start(&mut self) -> Result<()> {
        if self.proc.as_mut().is_some_and(|p| p.try_status().is_none()) {
            return Err(HarnessError::parse("vipd start", "already running"));
        }
        let conf = self.config_path();
        if self.file.is_none() {
            std::fs::write(&conf, self.yaml())
                .map_err(|e| HarnessError::io(format!("write {}", conf.display()), e))?;
        }
        let bin = crate::vipd::vipd_bin()?;
        if !bin.is_file() {
            return Err(HarnessError::parse(
                "vipd binary",
                format!(
                    "none at {}: run `cargo build -p vipd` or set VIPD_BIN",
                    bin.display()
                ),
            ));
        }
        let (bin, conf) = (bin.to_string_lossy(), conf.to_string_lossy());
        let log = self.dir.join(format!("vipd-{}.log", self.node.name()));
        let args: &[&str] = if self.file.is_some() {
            // `unshare -m` keeps the tmpfs out of the host's mount table; every step execs, so
            // the PID we hold (and signal) is vipd's own.
            &[
                "unshare",
                "-m",
                "/bin/sh",
                "-c",
                r#"mount -t tmpfs vt-run /run && exec "$0" run -c "$1""#,
                &bin,
                &conf,
            ]
        } else {
            &[&bin, "run", "-c", &conf]
        };
        self.proc = Some(self.node.spawn(args, log)?);
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        super::stop_procs("vipd", self.proc.as_mut())
    }

    fn kill(&mut self) {
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
        let log = self.dir.join(format!("vipd-{}.log", self.node.name()));
        std::fs::read_to_string(log).unwrap_or_default()
    }
}
