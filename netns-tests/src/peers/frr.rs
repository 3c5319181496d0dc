//! FRR's vrrpd (with its own zebra) in a lab node.
//!
//! FRR does not create the virtual-MAC interface it sends from and answers on: the test
//! makes a macvlan in bridge mode on `eth0` with the virtual MAC and the VIP, which vrrpd
//! finds by MAC and keeps `protodown` while Backup. `eth0` must ignore ARP for addresses it
//! does not hold itself, or the node answers for the macvlan's VIP with its own MAC.
//! Both daemons run as user `frr` in a per-namespace path space (`-N`), so their socket
//! directory and log directory must be writable by that user.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::{Agent, VrrpSpec, virtual_mac};
use crate::cmd::{ip_n, run, sysctl};
use crate::error::{HarnessError, Result};
use crate::mac::Mac;
use crate::node::Node;
use crate::proc::Proc;
use crate::wait::wait_until;

/// zebra + vrrpd with one virtual router on `eth0`.
pub struct Frr {
    node: Node,
    spec: VrrpSpec,
    priority: u8,
    dir: PathBuf,
    zebra: Option<Proc>,
    vrrpd: Option<Proc>,
}

impl Frr {
    /// An FRR for `node` (not started); its files go to a subdirectory of `dir`.
    pub fn new(node: &Node, spec: &VrrpSpec, priority: u8, dir: PathBuf) -> Frr {
        Frr {
            node: node.clone(),
            spec: spec.clone(),
            priority,
            dir: dir.join(format!("frr-{}", node.name())),
            zebra: None,
            vrrpd: None,
        }
    }

    /// The macvlan's name (FRR finds it by MAC; the name is ours).
    fn macvlan(&self) -> String {
        let fam = if self.spec.vip.is_ipv4() { 4 } else { 6 };
        format!("vrrp{fam}-{}", self.spec.vrid)
    }

    /// FRR's socket directory for this namespace's path space.
    fn run_dir(&self) -> PathBuf {
        PathBuf::from("/var/run/frr").join(self.node.ns())
    }

    /// vrrpd.conf for this node.
    pub fn conf(&self) -> String {
        let s = &self.spec;
        let v = s.vrid;
        // Packet and protocol debugging, so that a dropped advert is logged with its reason.
        let mut c = String::from("debug vrrp packets\ndebug vrrp protocol\n!\ninterface eth0\n");
        let _ = writeln!(c, " vrrp {v} version {}", s.version);
        let _ = writeln!(c, " vrrp {v} priority {}", self.priority);
        let _ = writeln!(
            c,
            " vrrp {v} advertisement-interval {}",
            s.interval.as_millis()
        );
        let kw = if s.vip.is_ipv4() { "ip" } else { "ipv6" };
        let _ = writeln!(c, " vrrp {v} {kw} {}\n!", s.vip);
        c
    }

    /// Creates the macvlan with the virtual MAC and the VIP, and the directories the `frr`
    /// user writes to.
    fn prepare(&self) -> Result<()> {
        let ns = self.node.ns();
        let (mvl, s) = (self.macvlan(), &self.spec);
        // A restart after a clean stop finds the old one, protodown and all.
        let _ = ip_n(ns, &["link", "del", &mvl]);
        ip_n(
            ns,
            &[
                "link", "add", &mvl, "link", "eth0", "type", "macvlan", "mode", "bridge",
            ],
        )?;
        if s.vip.is_ipv6() {
            // A link-local address of its own: from the virtual MAC it would be the same on
            // every router of the group. (`ip link add ... addrgenmode` is refused here.)
            ip_n(ns, &["link", "set", &mvl, "addrgenmode", "random"])?;
        }
        let mac = virtual_mac(s.vip, s.vrid).to_string();
        ip_n(ns, &["link", "set", &mvl, "address", &mac])?;
        let addr = format!("{}/{}", s.vip, s.prefix);
        let mut addr_add = vec!["addr", "add", &addr, "dev", &mvl];
        if s.vip.is_ipv6() {
            addr_add.push("nodad");
        }
        ip_n(ns, &addr_add)?;
        ip_n(ns, &["link", "set", &mvl, "up"])?;
        sysctl(ns, "net.ipv4.conf.eth0.arp_ignore", "1")?;
        for d in [&self.dir, &self.run_dir()] {
            std::fs::create_dir_all(d)
                .map_err(|e| HarnessError::io(format!("mkdir {}", d.display()), e))?;
            run("chown", &["frr:frr", &d.to_string_lossy()])?;
        }
        // A stale zserv.api makes vrrpd wait 10 s before it reconnects to zebra.
        let _ = std::fs::remove_file(self.run_dir().join("zserv.api"));
        Ok(())
    }

    fn daemon(&self, name: &str, conf: &str) -> Result<Proc> {
        let conf_path = self.dir.join(format!("{name}.conf"));
        std::fs::write(&conf_path, conf)
            .map_err(|e| HarnessError::io(format!("write {}", conf_path.display()), e))?;
        let bin = format!("/usr/lib/frr/{name}");
        let file = |ext: &str| {
            self.dir
                .join(format!("{name}.{ext}"))
                .to_string_lossy()
                .into_owned()
        };
        let log = format!("file:{}", file("log"));
        let args = [
            bin.as_str(),
            "-N",
            self.node.ns(),
            "-f",
            &file("conf"),
            "-i",
            &file("pid"),
            "--log",
            &log,
            "--log-level",
            "debug",
        ];
        self.node.spawn(&args, PathBuf::from(file("out")))
    }

    /// `show vrrp` as vtysh prints it (for failure messages).
    pub fn show_vrrp(&self) -> String {
        self.node
            .exec(&["vtysh", "-N", self.node.ns(), "-c", "show vrrp"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| e.to_string())
    }
}

impl Agent for Frr {
    fn kind(&self) -> &'static str {
        "frr"
    }

    fn node(&self) -> &Node {
        &self.node
    }

    fn priority(&self) -> u8 {
        self.priority
    }

    fn start(&mut self) -> Result<()> {
        if self
            .vrrpd
            .as_mut()
            .is_some_and(|p| p.try_status().is_none())
        {
            return Err(HarnessError::parse("frr start", "already running"));
        }
        self.prepare()?;
        self.zebra = Some(self.daemon("zebra", "hostname zebra\n")?);
        // vrrpd connects to zebra's socket; starting it before the socket exists costs a
        // reconnect delay.
        let api = self.run_dir().join("zserv.api");
        let waited = Duration::from_secs(10);
        wait_until(waited, Duration::from_millis(20), || api.exists()).map_err(|what| {
            HarnessError::Timeout {
                what: format!("zebra's zserv.api: {what}"),
                waited,
            }
        })?;
        self.vrrpd = Some(self.daemon("vrrpd", &self.conf())?);
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        // vrrpd first, while zebra still serves it: its shutdown sends priority 0.
        super::stop_procs(
            "FRR",
            [self.vrrpd.as_mut(), self.zebra.as_mut()]
                .into_iter()
                .flatten(),
        )
    }

    fn kill(&mut self) {
        for p in [self.vrrpd.as_mut(), self.zebra.as_mut()]
            .into_iter()
            .flatten()
        {
            p.kill();
        }
    }

    fn wipe(&mut self) -> Result<()> {
        // Deleting the macvlan takes its VIP with it.
        let _ = ip_n(self.node.ns(), &["link", "del", &self.macvlan()]);
        Ok(())
    }

    fn vip_mac(&self) -> Result<Mac> {
        Ok(virtual_mac(self.spec.vip, self.spec.vrid))
    }

    /// On IPv6 the first advert after Backup -> Master is lost: the macvlan's link-local
    /// address is not usable yet when protodown clears (vrrpd logs "Failed to find address
    /// to bind on vrrp6-51"), so the next one, an interval later, is the first on the wire.
    fn first_advert_lag(&self) -> Duration {
        if self.spec.vip.is_ipv6() {
            self.spec.interval
        } else {
            Duration::ZERO
        }
    }

    fn log_text(&self) -> String {
        ["zebra.out", "vrrpd.out", "vrrpd.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(self.run_dir());
    }
}
