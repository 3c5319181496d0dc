//! vipd configuration files for tests, rendered from a few typed fields.
//!
//! The timing formulas are written out here again rather than taken from `vipd::vrrp`, so that
//! a test's expectation cannot share a mistake with the code it checks.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::arbiter::ArbiterSpec;
use super::checks::{CheckSpec, NotifySpec, TrackSpec, ms, quote};

/// One virtual router of a test configuration. `Default` is a VRRPv3 instance `web`, VRID 51,
/// priority 100, 100 ms adverts, preemption on, no VIPs, multicast, no virtual MAC, no
/// trackers, no notify commands.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Instance name (also what its log lines start with).
    pub name: String,
    /// Interface for adverts and VIPs.
    pub interface: String,
    /// Virtual router ID.
    pub vrid: u8,
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// Priority, 1..=255.
    pub priority: u8,
    /// Advert interval (whole seconds for v2).
    pub advert_interval: Duration,
    /// Take over from a lower-priority Master.
    pub preempt: bool,
    /// Wait this long in Backup before preempting.
    pub preempt_delay: Duration,
    /// The virtual addresses; written as /24 (IPv4) or /64 (IPv6), the lab's prefixes.
    pub vips: Vec<IpAddr>,
    /// Addresses held with the VIPs but left out of adverts (`advertise: false`), such as
    /// an IPv4 instance's IPv6 addresses.
    pub unadvertised: Vec<IpAddr>,
    /// Unicast peers; empty means multicast adverts.
    pub unicast_peers: Vec<IpAddr>,
    /// Put the VIPs on a macvlan with the VRRP virtual MAC.
    pub use_vmac: bool,
    /// What lowers the priority or forces FAULT.
    pub track: Vec<TrackSpec>,
    /// Commands run on state changes.
    pub notify: Option<NotifySpec>,
    /// Further keys of the instance as YAML lines without indentation (`channels: [...]`),
    /// for settings this spec has no field for.
    pub extra: Vec<String>,
}

impl Default for InstanceSpec {
    fn default() -> Self {
        InstanceSpec {
            name: "web".into(),
            interface: "eth0".into(),
            vrid: 51,
            version: 3,
            priority: 100,
            advert_interval: Duration::from_millis(100),
            preempt: true,
            preempt_delay: Duration::ZERO,
            vips: Vec::new(),
            unadvertised: Vec::new(),
            unicast_peers: Vec::new(),
            use_vmac: false,
            track: Vec::new(),
            notify: None,
            extra: Vec::new(),
        }
    }
}

impl InstanceSpec {
    /// Skew_Time of this instance: RFC 3768 `(256 - priority) / 256` s for v2, RFC 9568
    /// `(256 - priority) * interval / 256` for v3.
    pub fn skew_time(&self) -> Duration {
        let unit = if self.version == 2 {
            Duration::from_secs(1)
        } else {
            self.advert_interval
        };
        unit * (256 - u32::from(self.priority)) / 256
    }

    /// Master_Down_Interval: three advert intervals plus Skew_Time (the peer is assumed to
    /// advertise at the same interval, as every test configures it).
    pub fn master_down_interval(&self) -> Duration {
        self.advert_interval * 3 + self.skew_time()
    }

    fn render(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "  {}:", self.name);
        let _ = writeln!(out, "    interface: {}", self.interface);
        let _ = writeln!(out, "    vrid: {}", self.vrid);
        let _ = writeln!(out, "    version: {}", self.version);
        let _ = writeln!(out, "    priority: {}", self.priority);
        let _ = writeln!(out, "    advert_interval: {}", ms(self.advert_interval));
        let _ = writeln!(out, "    preempt: {}", self.preempt);
        if self.preempt && !self.preempt_delay.is_zero() {
            let _ = writeln!(out, "    preempt_delay: {}", ms(self.preempt_delay));
        }
        let prefixed = |ip: &IpAddr| match ip {
            IpAddr::V4(a) => format!("{a}/24"),
            IpAddr::V6(a) => format!("{a}/64"),
        };
        let advertised = self.vips.iter().map(prefixed);
        let others = (self.unadvertised.iter())
            .map(|ip| format!("{{address: {}, advertise: false}}", prefixed(ip)));
        let vips: Vec<String> = advertised.chain(others).collect();
        let _ = writeln!(out, "    vips: [{}]", vips.join(", "));
        if !self.unicast_peers.is_empty() {
            let peers: Vec<String> = self.unicast_peers.iter().map(IpAddr::to_string).collect();
            let _ = writeln!(out, "    unicast: {{ peers: [{}] }}", peers.join(", "));
        }
        if self.use_vmac {
            let _ = writeln!(out, "    use_vmac: true");
        }
        if !self.track.is_empty() {
            let _ = writeln!(out, "    track:");
            for t in &self.track {
                t.render(out);
            }
        }
        if let Some(n) = &self.notify {
            n.render(out);
        }
        for line in &self.extra {
            let _ = writeln!(out, "    {line}");
        }
    }
}

/// A whole vipd configuration: a router ID, its instances, and optionally health checks,
/// a metrics listener, an event log and sync groups.
#[derive(Debug, Clone, Default)]
pub struct VipdConfig {
    /// `global.router_id`: the node name, so logs say which node wrote them.
    pub router_id: String,
    /// The virtual routers.
    pub instances: Vec<InstanceSpec>,
    /// `checks:`, referenced from the instances' `track:`.
    pub checks: Vec<CheckSpec>,
    /// `global.metrics_listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// `global.event_log`.
    pub event_log: Option<PathBuf>,
    /// `groups:`: sync groups as (name, member instances), in this order.
    pub groups: Vec<(String, Vec<String>)>,
    /// `arbiter:`, the etcd store of the instances with `arbiter: true`.
    pub arbiter: Option<ArbiterSpec>,
    /// `global.realtime_priority`; `None` leaves vipd's default.
    pub realtime_priority: Option<u8>,
}

impl VipdConfig {
    /// A configuration with one instance.
    pub fn single(router_id: &str, instance: InstanceSpec) -> VipdConfig {
        VipdConfig {
            router_id: router_id.into(),
            instances: vec![instance],
            ..Default::default()
        }
    }

    /// The YAML text. The control socket goes into the lab's directory so that parallel
    /// daemons never share one.
    pub fn to_yaml(&self, control_socket: &Path) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "global:");
        let _ = writeln!(out, "  router_id: {}", self.router_id);
        let _ = writeln!(out, "  control_socket: {}", control_socket.display());
        if let Some(addr) = self.metrics_listen {
            let _ = writeln!(out, "  metrics_listen: {}", quote(&addr.to_string()));
        }
        if let Some(path) = &self.event_log {
            let _ = writeln!(out, "  event_log: {}", quote(&path.display().to_string()));
        }
        if let Some(p) = self.realtime_priority {
            let _ = writeln!(out, "  realtime_priority: {p}");
        }
        if !self.checks.is_empty() {
            let _ = writeln!(out, "checks:");
            for c in &self.checks {
                c.render(&mut out);
            }
        }
        if let Some(a) = &self.arbiter {
            a.render(&mut out);
        }
        let _ = writeln!(out, "instances:");
        for inst in &self.instances {
            inst.render(&mut out);
        }
        if !self.groups.is_empty() {
            let _ = writeln!(out, "groups:");
            for (name, members) in &self.groups {
                let _ = writeln!(out, "  {name}: [{}]", members.join(", "));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_follow_the_rfc_formulas() {
        let v3 = InstanceSpec {
            priority: 100,
            advert_interval: Duration::from_millis(100),
            ..Default::default()
        };
        // (256 - 100) * 100 ms / 256 = 60.9375 ms.
        assert_eq!(
            v3.skew_time(),
            Duration::from_micros(60_937) + Duration::from_nanos(500)
        );
        assert_eq!(
            v3.master_down_interval(),
            Duration::from_millis(360) + Duration::from_micros(937) + Duration::from_nanos(500)
        );
        let v2 = InstanceSpec {
            version: 2,
            priority: 192,
            advert_interval: Duration::from_secs(1),
            ..Default::default()
        };
        assert_eq!(v2.skew_time(), Duration::from_millis(250));
        assert_eq!(v2.master_down_interval(), Duration::from_millis(3250));
    }

    #[test]
    fn renders_every_set_field() {
        let cfg = VipdConfig::single(
            "node0",
            InstanceSpec {
                priority: 150,
                preempt_delay: Duration::from_secs(2),
                vips: vec!["10.1.2.100".parse().unwrap(), "fd00::164".parse().unwrap()],
                unadvertised: vec!["fd00::165".parse().unwrap()],
                unicast_peers: vec!["10.1.2.2".parse().unwrap()],
                use_vmac: true,
                ..Default::default()
            },
        );
        let yaml = cfg.to_yaml(Path::new("/tmp/x.sock"));
        for line in [
            "  router_id: node0",
            "  control_socket: /tmp/x.sock",
            "  web:",
            "    priority: 150",
            "    advert_interval: 100ms",
            "    preempt_delay: 2000ms",
            "    vips: [10.1.2.100/24, fd00::164/64, {address: fd00::165/64, advertise: false}]",
            "    unicast: { peers: [10.1.2.2] }",
            "    use_vmac: true",
        ] {
            assert!(
                yaml.lines().any(|l| l == line),
                "{line:?} missing in:\n{yaml}"
            );
        }
    }

    #[test]
    fn checks_trackers_notify_and_globals_render_to_a_valid_config() {
        use crate::vipd::checks::{CheckKind, CheckSpec, NotifySpec, TrackSpec, TrackTarget};
        let cfg = VipdConfig {
            router_id: "node0".into(),
            instances: vec![InstanceSpec {
                vips: vec!["10.1.2.100".parse().unwrap()],
                track: vec![
                    TrackSpec {
                        target: TrackTarget::Check("alive".into()),
                        weight: 0,
                    },
                    TrackSpec {
                        target: TrackTarget::Check("web".into()),
                        weight: -60,
                    },
                    TrackSpec {
                        target: TrackTarget::Interface("eth1".into()),
                        weight: -10,
                    },
                    TrackSpec {
                        target: TrackTarget::File("/tmp/a b/track".into()),
                        weight: -100,
                    },
                ],
                notify: Some(NotifySpec {
                    master: Some("/bin/true master: #1".into()),
                    any: Some("/bin/echo \"quoted\"".into()),
                    timeout: Some(Duration::from_millis(500)),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            checks: vec![
                CheckSpec::new("alive", CheckKind::Script("/bin/test -e /tmp/x".into())),
                CheckSpec::new("port", CheckKind::Tcp("127.0.0.1:8080".parse().unwrap())),
                CheckSpec::new(
                    "web",
                    CheckKind::Http {
                        url: "http://127.0.0.1:8081/health".into(),
                        expect_body: Some("ok".into()),
                    },
                ),
            ],
            metrics_listen: Some("127.0.0.1:9742".parse().unwrap()),
            event_log: Some("/tmp/events.jsonl".into()),
            groups: vec![("lb".into(), vec!["web".into()])],
            arbiter: Some(ArbiterSpec::new(
                vec!["http://10.0.0.1:2379".into(), "http://10.0.0.2:2379".into()],
                Duration::from_secs(2),
                super::super::arbiter::StoreLoss::Keep,
            )),
            realtime_priority: Some(0),
        };
        let yaml = cfg.to_yaml(Path::new("/tmp/x.sock"));
        let parsed = vipd::config::Config::parse(&yaml, "test.yaml")
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(parsed.checks.len(), 3);
        assert_eq!(parsed.checks["alive"].interval, Duration::from_millis(200));
        assert_eq!(parsed.checks["alive"].fall, 2);
        let web = &parsed.instances["web"];
        assert_eq!(web.track.len(), 4);
        assert_eq!(web.track[3].weight, -100);
        assert_eq!(
            web.notify().master.as_deref(),
            Some("/bin/true master: #1"),
            "a command line with YAML specials survives"
        );
        assert_eq!(web.notify().any.as_deref(), Some("/bin/echo \"quoted\""));
        assert_eq!(web.notify().timeout, Duration::from_millis(500));
        assert_eq!(
            parsed.global.metrics_listen,
            Some("127.0.0.1:9742".parse().unwrap())
        );
        assert_eq!(
            parsed.global.event_log.as_deref(),
            Some(Path::new("/tmp/events.jsonl"))
        );
        assert_eq!(parsed.groups["lb"], ["web"]);
        assert_eq!(parsed.global.realtime_priority, 0);
        let arbiter = parsed.arbiter.expect("arbiter section");
        assert_eq!(arbiter.endpoints.len(), 2);
        assert_eq!(arbiter.ttl, Duration::from_secs(2));
        assert_eq!(arbiter.margin, Duration::from_millis(200));
        assert_eq!(arbiter.on_store_loss, vipd::arbiter::StoreLoss::Keep);
    }
}
