//! Starting either agent on a lab node with the same settings, and finding its processes.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use crate::error::{HarnessError, Result};
use crate::lab::Lab;
use crate::node::Node;
use crate::proc::Proc;
use crate::wait::wait_until;

use super::{Agent, Options, Profile};

/// The VRID of the first instance; instance `i` uses `FIRST_VRID + i`.
pub const FIRST_VRID: u8 = 51;

/// What one node runs: `vips.len()` instances on `eth0`, instance `i` holding `vips[i]`.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    /// Which agent.
    pub agent: Agent,
    /// Version and interval of every instance.
    pub profile: Profile,
    /// Priority of every instance.
    pub priority: u8,
    /// One VIP per instance.
    pub vips: &'a [Ipv4Addr],
}

impl Setup<'_> {
    fn vrid(i: usize) -> u8 {
        FIRST_VRID + u8::try_from(i).expect("fewer than 205 instances")
    }

    /// A vipd YAML configuration; `control_socket` must be unique per node.
    pub fn vipd_config(&self, router_id: &str, control_socket: &Path) -> String {
        let mut s = format!(
            "global:\n  router_id: {router_id}\n  control_socket: {}\ninstances:\n",
            control_socket.display()
        );
        for (i, vip) in self.vips.iter().enumerate() {
            s += &format!(
                "  vi{vrid}:\n    interface: eth0\n    vrid: {vrid}\n    version: {v}\n    \
                 priority: {p}\n    advert_interval: {int}\n    vips: [{vip}/24]\n",
                vrid = Self::vrid(i),
                v = self.profile.version_number(),
                p = self.priority,
                int = self.profile.interval,
            );
        }
        s
    }

    /// A keepalived configuration. `state BACKUP` with an explicit priority: the same start as
    /// vipd's (Backup, then Master after Master_Down_Interval), and never the implicit 255.
    pub fn keepalived_config(&self, router_id: &str) -> String {
        let mut s = format!("global_defs {{\n  router_id {router_id}\n}}\n");
        let secs = f64::from(self.profile.interval.get()) / 100.0;
        for (i, vip) in self.vips.iter().enumerate() {
            s += &format!(
                "vrrp_instance vi{vrid} {{\n  state BACKUP\n  interface eth0\n  \
                 virtual_router_id {vrid}\n  version {v}\n  priority {p}\n  advert_int {secs}\n  \
                 virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n",
                vrid = Self::vrid(i),
                v = self.profile.version_number(),
                p = self.priority,
            );
        }
        s
    }

    /// Writes the configuration into the lab directory and starts the agent on `node`. The
    /// returned process leads a process group holding every process of the agent.
    pub fn start(&self, lab: &Lab, node: &Node, opts: &Options) -> Result<Proc> {
        self.start_edited(lab, node, opts, |text| text)
    }

    /// [`Setup::start`] with the configuration text passed through `edit` first (settings
    /// one benchmark needs and the others do not).
    pub fn start_edited(
        &self,
        lab: &Lab,
        node: &Node,
        opts: &Options,
        edit: impl FnOnce(String) -> String,
    ) -> Result<Proc> {
        let name = node.name();
        let file = |ext: &str| lab.log_path(&format!("{name}-{}.{ext}", self.agent));
        let conf = file("conf");
        let text = edit(match self.agent {
            Agent::Vipd => self.vipd_config(name, &file("sock")),
            Agent::Keepalived => self.keepalived_config(name),
        });
        std::fs::write(&conf, text)
            .map_err(|e| HarnessError::io(format!("write {}", conf.display()), e))?;
        let bin = match self.agent {
            Agent::Vipd => &opts.vipd,
            Agent::Keepalived => &opts.keepalived,
        };
        spawn(lab, node, self.agent, bin, &conf, None)
    }
}

/// Starts `agent` (binary `bin`) on `node` with the configuration file `conf`, logging to
/// the lab directory. The returned process leads a process group holding every process of
/// the agent.
pub fn spawn(
    lab: &Lab,
    node: &Node,
    agent: Agent,
    bin: &Path,
    conf: &Path,
    cpu: Option<usize>,
) -> Result<Proc> {
    let name = node.name();
    let file = |ext: &str| lab.log_path(&format!("{name}-{agent}.{ext}"));
    let conf = conf.to_string_lossy().into_owned();
    let log = file("log");
    let bin = bin.to_string_lossy().into_owned();
    let (pid, vrrp_pid) = (
        file("pid").to_string_lossy().into_owned(),
        file("vrrp.pid").to_string_lossy().into_owned(),
    );
    let mut args: Vec<&str> = Vec::new();
    // taskset execs the agent, so the process (and group) is still the agent's own; the
    // CPU set is inherited by every process and thread it starts.
    let cpu = cpu.map(|c| c.to_string());
    if let Some(cpu) = &cpu {
        args.extend(["taskset", "-c", cpu]);
    }
    match agent {
        Agent::Vipd => args.extend([bin.as_str(), "run", "-c", &conf]),
        // -n foreground, -P VRRP only, -l log to the console, -G no syslog; pid files per
        // node, or the second keepalived refuses to start.
        Agent::Keepalived => args.extend([
            bin.as_str(),
            "-n",
            "-P",
            "-l",
            "-G",
            "-f",
            &conf,
            "-p",
            &pid,
            "-r",
            &vrrp_pid,
        ]),
    }
    node.spawn(&args, log)
}

/// Waits until `node` holds every address of `vips` on `eth0` (it is Master of every
/// instance), failing early if `proc` exits.
pub fn wait_master(
    node: &Node,
    proc: &mut Proc,
    vips: &[Ipv4Addr],
    timeout: Duration,
) -> Result<()> {
    let mut exited = None;
    let held = wait_until(timeout, Duration::from_millis(50), || {
        exited = proc.try_status();
        exited.is_some()
            || node
                .addrs("eth0")
                .is_ok_and(|have| vips.iter().all(|v| have.contains(&IpAddr::V4(*v))))
    });
    match (exited, held) {
        (None, Ok(_)) => Ok(()),
        (Some(status), _) => Err(HarnessError::parse(
            format!("{} on {}", proc.pid(), node.name()),
            format!(
                "exited ({status}) before becoming Master: {}",
                tail(&proc.log_text())
            ),
        )),
        (None, Err(what)) => Err(HarnessError::Timeout {
            what: format!(
                "{} to hold {} VIPs ({what}); log: {}",
                node.name(),
                vips.len(),
                tail(&proc.log_text())
            ),
            waited: timeout,
        }),
    }
}

/// The last lines of a log, for error messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(8)..].join(" | ")
}

/// Every live process whose process group is `pgid` (an agent and what it forked).
pub fn group_pids(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| super::idle::parse_stat(&s))
                .is_some_and(|st| st.pgrp == pgid && st.state != 'Z')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(agent: Agent, profile: Profile, vips: &[Ipv4Addr]) -> Setup<'_> {
        Setup {
            agent,
            profile,
            priority: 150,
            vips,
        }
    }

    #[test]
    fn vipd_config_is_valid_for_both_profiles() {
        let vips = [Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 101)];
        for profile in [Profile::V2_1S, Profile::V3_100MS] {
            let text =
                setup(Agent::Vipd, profile, &vips).vipd_config("node0", Path::new("/tmp/x.sock"));
            let dir = std::env::temp_dir().join(format!("bench-cfg-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("v{}.yaml", profile.version_number()));
            std::fs::write(&path, &text).unwrap();
            let config = vipd::config::Config::load(&path);
            std::fs::remove_dir_all(&dir).unwrap();
            let config = config.unwrap_or_else(|e| panic!("{e:?}\n{text}"));
            assert_eq!(config.instances.len(), 2, "{text}");
        }
    }

    #[test]
    fn keepalived_config_states_priority_version_and_interval() {
        let vips = [Ipv4Addr::new(10, 0, 0, 100)];
        let v3 = setup(Agent::Keepalived, Profile::V3_100MS, &vips).keepalived_config("n");
        for want in [
            "virtual_router_id 51",
            "priority 150",
            "version 3",
            "advert_int 0.1\n",
            "10.0.0.100/24 dev eth0",
            "state BACKUP",
        ] {
            assert!(v3.contains(want), "{want:?} missing from\n{v3}");
        }
        let v2 = setup(Agent::Keepalived, Profile::V2_1S, &vips).keepalived_config("n");
        assert!(
            v2.contains("advert_int 1\n") && v2.contains("version 2"),
            "{v2}"
        );
    }
}
