//! What a router task publishes about itself for the control server and the metrics.
//!
//! Every instance keeps one, replaced at each change it shows, so it holds values, not text:
//! the status spelt out (names, addresses and the state as strings) took some 900 bytes per
//! instance in a dozen allocations, for an answer a client asks for now and then.
//! [`View::status`] spells it out then.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use super::protocol::{ChannelStatus, InstanceStatus};
use crate::config::Vip;
use crate::vrrp::router::{Reason, RouterConfig};
use crate::vrrp::timing::Centis;
use crate::vrrp::{State, Version};

/// An instance as its router task last showed it, without the time-dependent and counter
/// fields, which are filled in when a client asks.
#[derive(Clone, Debug)]
pub struct View {
    /// The router's configuration at the last change (name, VRID, version, base priority,
    /// interval, channel names): the router's own, shared.
    pub config: Arc<RouterConfig>,
    /// The interface the VIPs and adverts use.
    pub interface: Arc<str>,
    /// The configured VIPs, advertised or not: the reloadable settings' list, shared.
    pub vips: Arc<[Vip]>,
    /// The state.
    pub state: State,
    /// Priority in adverts now.
    pub effective_priority: u8,
    /// The Master as this node knows it.
    pub master: Option<IpAddr>,
    /// The Master's interval in use (a v3 Backup adopts the Master's).
    pub master_interval: Centis,
    /// When the current state began.
    pub since: SystemTime,
    /// Why the last transition happened; `None` before the first.
    pub last_reason: Option<Reason>,
    /// Maintenance drain on.
    pub maintenance: bool,
    /// Fault sources and lost channels, when there are any (see [`View::set_trouble`]).
    trouble: Option<Box<Trouble>>,
}

/// What is wrong with an instance, nearly always nothing: kept inline, its two lists made
/// every view 24 bytes larger and a whole allocation class larger.
#[derive(Clone, Debug)]
struct Trouble {
    faults: Box<[String]>,
    lost: Box<[usize]>,
}

impl View {
    /// A router not started yet.
    pub fn initial(config: Arc<RouterConfig>, interface: Arc<str>, vips: Arc<[Vip]>) -> View {
        View {
            state: State::Initialize,
            effective_priority: config.priority,
            master: None,
            master_interval: config.advert_interval,
            config,
            interface,
            vips,
            since: SystemTime::now(),
            last_reason: None,
            maintenance: false,
            trouble: None,
        }
    }

    /// Active fault sources.
    pub fn faults(&self) -> &[String] {
        self.trouble.as_ref().map_or(&[], |t| &t.faults)
    }

    /// The heartbeat channels reported lost, by index in `config.channel_names`.
    pub fn lost(&self) -> &[usize] {
        self.trouble.as_ref().map_or(&[], |t| &t.lost)
    }

    /// Sets the active fault sources and the lost channels.
    pub fn set_trouble(&mut self, faults: Box<[String]>, lost: Box<[usize]>) {
        self.trouble =
            (!faults.is_empty() || !lost.is_empty()).then(|| Box::new(Trouble { faults, lost }));
    }

    /// The status as of the last change; the caller fills in time in state, counters,
    /// trackers and what it reads now.
    pub fn status(&self) -> InstanceStatus {
        let config = &self.config;
        let names = &config.channel_names;
        let lost = |k: usize| self.lost().contains(&k);
        let heartbeat_warning = (!self.lost().is_empty()).then(|| {
            // The router names its channels from this configuration; `get` all the same,
            // so a view out of step can never panic the listener.
            let lost: Vec<&str> = self
                .lost()
                .iter()
                .filter_map(|&k| names.get(k).map(String::as_str))
                .collect();
            format!(
                "running on {} of {} channels; lost: {}",
                names.len() - lost.len(),
                names.len(),
                lost.join(", ")
            )
        });
        InstanceStatus {
            name: config.name.to_string(),
            interface: self.interface.to_string(),
            vrid: config.vrid,
            version: if config.version == Version::V2 { 2 } else { 3 },
            state: self.state.to_string(),
            base_priority: config.priority,
            effective_priority: self.effective_priority,
            master: self.master.map(|m| m.to_string()),
            vips: self.vips.iter().map(|v| v.addr.to_string()).collect(),
            vips_held: self.state == State::Master,
            advert_interval_ms: config.advert_interval.as_duration().as_millis() as u64,
            master_advert_interval_ms: self.master_interval.as_duration().as_millis() as u64,
            since: String::new(),
            seconds_in_state: 0.0,
            last_reason: self
                .last_reason
                .as_ref()
                .map_or_else(|| "not started".to_owned(), ToString::to_string),
            faults: self.faults().to_vec(),
            maintenance: self.maintenance,
            trackers: Vec::new(),
            counters: Default::default(),
            channels: names
                .iter()
                .enumerate()
                .map(|(k, name)| ChannelStatus {
                    name: name.clone(),
                    lost: lost(k),
                    last_advert_ms_ago: None,
                    counters: Default::default(),
                    connections: Default::default(),
                })
                .collect(),
            heartbeat_warning,
            arbiter: None,
            last_fence: None,
        }
    }
}
