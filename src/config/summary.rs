//! The human-readable summary `vipd check` prints: the effective configuration with every
//! default filled in and the timers the RFC formulas derive from it.

use std::fmt::{self, Write};
use std::time::Duration;

use super::model::{CheckKind, Config, Instance, IsolationTarget, TrackTarget};
use crate::vrrp::timing::{master_down_interval, skew_time};

/// Formats durations the way the rest of the summary does: `609.375ms`, `3.609375s`.
fn dur(d: Duration) -> String {
    if d.is_zero() {
        "0s".into()
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

impl Config {
    /// A multi-line, human-readable summary of the effective configuration.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_summary(&mut out);
        out
    }

    fn write_summary(&self, out: &mut String) -> fmt::Result {
        let g = &self.global;
        writeln!(out, "global:")?;
        let router_id = g.router_id.as_deref().unwrap_or("(hostname)");
        writeln!(out, "  router_id: {router_id}")?;
        writeln!(out, "  control_socket: {}", g.control_socket.display())?;
        match g.metrics_listen {
            Some(a) => writeln!(out, "  metrics: {a}")?,
            None => writeln!(out, "  metrics: off")?,
        }
        let script_user = g.script_user.as_deref().unwrap_or("(same as vipd)");
        writeln!(out, "  script_user: {script_user}")?;
        match g.realtime_priority {
            0 => writeln!(out, "  realtime_priority: off (normal scheduling)")?,
            p => writeln!(
                out,
                "  realtime_priority: {p} (SCHED_RR, router thread only)"
            )?,
        }
        if let Some(p) = &g.event_log {
            let format = match g.event_log_format {
                crate::config::EventLogFormat::Json => "json",
                crate::config::EventLogFormat::Keepalived => "keepalived",
            };
            writeln!(out, "  event_log: {} ({format})", p.display())?;
        }
        for (name, c) in &self.checks {
            let what = match &c.kind {
                CheckKind::Script(s) => format!("script {s}"),
                CheckKind::Tcp { host, port } => format!("tcp {host}:{port}"),
                CheckKind::Http(h) => format!("http {} (expect {})", h.url, h.expect_status),
                CheckKind::Interface(i) => format!("interface {i}"),
                CheckKind::File(f) => format!("file {}", f.display()),
                CheckKind::Process(p) => {
                    let max = p.quorum_max.map_or("any".into(), |m| m.to_string());
                    let args = if p.args.is_empty() {
                        String::new()
                    } else {
                        format!(" {:?} ({:?})", p.args, p.args_match)
                    };
                    writeln!(
                        out,
                        "check {name}: process {}{args}, quorum {}..={max}; fork_delay {}, terminate_delay {}; /proc scanned every {} without process events",
                        p.name,
                        p.quorum,
                        dur(p.fork_delay),
                        dur(p.terminate_delay),
                        dur(c.interval)
                    )?;
                    continue;
                }
            };
            writeln!(
                out,
                "check {name}: {what}; every {}, timeout {}, rise {}, fall {}",
                dur(c.interval),
                dur(c.timeout),
                c.rise,
                c.fall
            )?;
        }
        if let Some(a) = &self.arbiter {
            let policy = match a.on_store_loss {
                crate::arbiter::StoreLoss::Release => "release",
                crate::arbiter::StoreLoss::Keep => "keep",
            };
            writeln!(
                out,
                "arbiter: etcd {}; lease ttl {}, a Master leaves {} before it could expire (and 1% for clock rates); on_store_loss {policy}; request timeout {}",
                a.endpoints.join(", "),
                dur(a.ttl),
                dur(a.margin),
                dur(a.request_timeout)
            )?;
        }
        for (name, i) in &self.instances {
            write_instance(out, name, i)?;
            if let Some(key) = self.arbiter_key(name) {
                writeln!(
                    out,
                    "  arbiter: key {key} (every takeover needs its lease; a held lease is not preempted)"
                )?;
            }
        }
        for (name, members) in &self.groups {
            writeln!(out, "group {name}: {}", members.join(", "))?;
        }
        Ok(())
    }
}

fn write_instance(out: &mut String, name: &str, i: &Instance) -> fmt::Result {
    writeln!(out, "instance {name}:")?;
    writeln!(out, "  interface: {}", i.interface)?;
    writeln!(out, "  vrid: {}", i.vrid)?;
    writeln!(out, "  version: VRRPv{} ({})", i.version, i.family())?;
    if i.is_address_owner() {
        writeln!(
            out,
            "  priority: 255 (address owner: starts as Master, never adjusted)"
        )?;
    } else {
        writeln!(out, "  priority: {} (base)", i.priority)?;
    }
    writeln!(out, "  advert_interval: {}", i.advert_interval)?;
    let preempt = if !i.preempt {
        "no".to_owned()
    } else if i.preempt_delay.is_zero() {
        "yes".to_owned()
    } else {
        format!("yes, after {}", dur(i.preempt_delay))
    };
    writeln!(out, "  preempt: {preempt}")?;
    if !i.startup_delay.is_zero() {
        writeln!(out, "  startup_delay: {}", dur(i.startup_delay))?;
    }
    let skew = skew_time(i.version, i.priority, i.advert_interval);
    let down = master_down_interval(
        i.version,
        i.priority,
        i.advert_interval,
        i.down_timer_adverts,
    );
    writeln!(out, "  skew_time: {}", dur(skew))?;
    writeln!(
        out,
        "  master_down_interval: {} ({} x {} + skew)",
        dur(down),
        i.down_timer_adverts,
        i.advert_interval
    )?;
    for v in i.vips.iter() {
        match &v.label {
            Some(l) => writeln!(out, "  vip: {} label {l}", v.addr)?,
            None => writeln!(out, "  vip: {}", v.addr)?,
        }
    }
    match &i.unicast {
        Some(u) => {
            let peers: Vec<String> = u.peers.iter().map(ToString::to_string).collect();
            let src = u.source.map_or("primary address".into(), |s| s.to_string());
            writeln!(out, "  adverts: unicast from {src} to {}", peers.join(", "))?;
        }
        None => writeln!(out, "  adverts: multicast")?,
    }
    for ch in &i.channels {
        writeln!(out, "  channel: {}", ch.describe())?;
    }
    if let Some(ic) = &i.isolation_check {
        let what = match &ic.target {
            IsolationTarget::Ping(a) => format!("ping {a}"),
            IsolationTarget::Tcp { host, port } => format!("tcp {host}:{port}"),
            IsolationTarget::Check(c) => format!("check {c}"),
        };
        writeln!(
            out,
            "  isolation check: {what} within {:?} before taking over from silence",
            ic.timeout
        )?;
    }
    if let Some(f) = &i.fence {
        writeln!(
            out,
            "  fence: {} within {:?} before taking over from silence; on failure: {}",
            f.argv.join(" "),
            f.timeout,
            f.on_failure.word()
        )?;
    }
    for t in &i.track {
        let what = match &t.target {
            TrackTarget::Check(c) => format!("check {c}"),
            TrackTarget::Interface(n) => format!("interface {n}"),
            TrackTarget::File(f) => format!("file {}", f.display()),
        };
        let effect = if t.weight == 0 {
            "FAULT when failed".to_owned()
        } else {
            format!("weight {:+}", t.weight)
        };
        writeln!(out, "  track: {what}, {effect}")?;
    }
    for (event, cmd) in i.notify().commands() {
        writeln!(out, "  notify {event}: {cmd}")?;
    }
    if i.auth.is_some() {
        writeln!(out, "  auth: simple password")?;
    }
    if i.use_vmac {
        writeln!(out, "  use_vmac: yes")?;
    }
    Ok(())
}
