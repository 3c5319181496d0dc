//! The control socket protocol, version 1: one JSON request per line, one JSON response per
//! line (and, for `events`, one JSON event per line until the client hangs up).
//!
//! ```text
//! > {"version":1,"command":"status"}
//! < {"version":1,"ok":true,"status":{"instances":[...]}}
//! > {"version":1,"command":"maintenance","on":true,"instance":"web"}
//! < {"version":1,"ok":true,"message":"maintenance on: web"}
//! > {"version":1,"command":"events"}
//! < {"version":1,"ok":true,"message":"following events"}
//! < {"time":"2026-11-22T07:21:52.718Z","instance":"web","from":"BACKUP","to":"MASTER",...}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// A request from a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Protocol version of the client.
    pub version: u32,
    /// What to do.
    #[serde(flatten)]
    pub command: Command,
}

/// The commands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Every instance's state.
    Status,
    /// Maintenance drain on or off, for one instance or (without `instance`) all.
    Maintenance {
        /// On or off.
        on: bool,
        /// One instance, or all.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// Follow the transition stream.
    Events,
    /// Re-read the configuration file and apply it (as SIGHUP); the answer says what changed
    /// or, on errors, that nothing did and why.
    Reload,
}

/// The answer to a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Protocol version of the daemon.
    pub version: u32,
    /// Whether the command was carried out.
    pub ok: bool,
    /// What went wrong, when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A short confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The answer to `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

impl Response {
    /// A success with a message.
    pub fn message(text: impl Into<String>) -> Self {
        Response {
            version: VERSION,
            ok: true,
            error: None,
            message: Some(text.into()),
            status: None,
        }
    }

    /// A failure.
    pub fn error(text: impl Into<String>) -> Self {
        Response {
            version: VERSION,
            ok: false,
            error: Some(text.into()),
            message: None,
            status: None,
        }
    }
}

/// The daemon's answer to `status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `global.router_id`, if set.
    pub router_id: Option<String>,
    /// One entry per instance, by name.
    pub instances: Vec<InstanceStatus>,
}

/// One virtual router as its task last saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// Interface the VIPs and adverts use.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// 2 or 3.
    pub version: u8,
    /// "MASTER", "BACKUP", "FAULT" or "INIT".
    pub state: String,
    /// Configured priority.
    pub base_priority: u8,
    /// Priority in adverts now.
    pub effective_priority: u8,
    /// The Master as this node knows it.
    pub master: Option<String>,
    /// The configured VIPs.
    pub vips: Vec<String>,
    /// Whether this node holds them (it does exactly when Master).
    pub vips_held: bool,
    /// Own advert interval, in milliseconds.
    pub advert_interval_ms: u64,
    /// The Master's interval in use (a v3 Backup adopts the Master's), in milliseconds.
    pub master_advert_interval_ms: u64,
    /// When the current state began (RFC 3339).
    pub since: String,
    /// Seconds in the current state.
    pub seconds_in_state: f64,
    /// Why the last transition happened.
    pub last_reason: String,
    /// Active fault sources.
    pub faults: Vec<String>,
    /// Maintenance drain on.
    pub maintenance: bool,
    /// Trackers with their state.
    #[serde(default)]
    pub trackers: Vec<TrackerStatus>,
    /// Counters: adverts sent and received, rejections by reason, transitions, notify
    /// failures.
    pub counters: BTreeMap<String, u64>,
    /// The heartbeat channels, primary interface first.
    #[serde(default)]
    pub channels: Vec<ChannelStatus>,
    /// "running on 1 of 2 channels; eth1 lost" while a Backup hears the Master on some
    /// channels only; `None` when every channel carries it (or there is one channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_warning: Option<String>,
    /// The last fence gate's answer: outcome, time, what ran and how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fence: Option<String>,
    /// The arbiter, when the instance has `arbiter: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arbiter: Option<crate::arbiter::board::ArbiterStatus>,
}

/// One heartbeat channel of an instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelStatus {
    /// "eth0", "eth1", "udp eth2:5405".
    pub name: String,
    /// A Backup has heard the Master on another channel but not on this one for
    /// Master_Down_Interval.
    pub lost: bool,
    /// Milliseconds since the last valid advert on it, if any arrived.
    #[serde(default)]
    pub last_advert_ms_ago: Option<u64>,
    /// Adverts in and out, rejections by reason.
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    /// A channel over connections (`type: tcp`): each peer's connection, "connected" or
    /// "connecting". Empty for the others.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connections: BTreeMap<String, String>,
}

/// One tracker of an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerStatus {
    /// Its source name ("check haproxy", "interface eth1", "file /run/x").
    pub name: String,
    /// Its weight (0: FAULT while failed).
    pub weight: i16,
    /// "init", "ok", "failed", or "value N" for a file.
    pub state: String,
}

/// One line of the event stream (`vipd events`, and the event file of the notify layer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When (RFC 3339, milliseconds).
    pub time: String,
    /// Instance name.
    pub instance: String,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// Why.
    pub reason: String,
    /// Effective priority (none for a sync group).
    pub priority: Option<u8>,
    /// The Master as far as this node knows.
    pub master: Option<String>,
    /// Present (true) for a sync-group event; `instance` is then the group's name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub group: bool,
    /// Present for a fence gate's answer, not a transition: its outcome (`fenced`,
    /// `failed`, `no_peer`); `from` and `to` are the state it was asked in, `master` the
    /// node fenced and `reason` what ran and how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_event_says_so_and_a_transition_does_not() {
        let mut e = Event {
            time: "2026-12-03T08:00:00.000Z".into(),
            instance: "web".into(),
            from: "BACKUP".into(),
            to: "BACKUP".into(),
            reason: "fence of 10.0.0.2 by fence-peer: exit status 0 after 0.10s".into(),
            priority: Some(100),
            master: Some("10.0.0.2".into()),
            group: false,
            fence: Some("fenced".into()),
        };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.ends_with(r#","fence":"fenced"}"#), "{text}");
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e);
        e.fence = None;
        assert!(!serde_json::to_string(&e).unwrap().contains("fence\""));
    }

    #[test]
    fn requests_have_a_stable_wire_form() {
        let r = Request {
            version: 1,
            command: Command::Maintenance {
                on: true,
                instance: Some("web".into()),
            },
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"command":"maintenance","on":true,"instance":"web"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        let status: Request = serde_json::from_str(r#"{"version":1,"command":"status"}"#).unwrap();
        assert_eq!(status.command, Command::Status);
    }

    #[test]
    fn unknown_commands_are_errors() {
        assert!(serde_json::from_str::<Request>(r#"{"version":1,"command":"reboot"}"#).is_err());
    }
}
