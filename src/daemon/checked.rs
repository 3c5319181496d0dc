//! A configuration checked against the system before it is applied: script security, the
//! users scripts run as, UDP channel keys, isolation checks and fence commands. All of it reads files or the
//! user database, so it runs on a thread of its own, never on the routers' thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::fence::Fencer;
use super::isolation::IsolationProbe;
use super::{DaemonError, keys};
use crate::config::Config;
use crate::track::{self, RunAs};
use crate::vrrp::udp_frame::FrameKey;

/// A configuration checked against the system: its tracker plan (script security, check
/// users) and the user scripts run as. Checking reads the user database (NSS: possibly over
/// the network) and stats every script, so it is built off the routers' thread
/// ([`Checked::off_thread`]).
pub struct Checked {
    pub(super) config: Config,
    pub(super) plan: track::Plan,
    pub(super) run_as: Option<RunAs>,
    /// UDP channel keys, by file.
    pub(super) keys: HashMap<PathBuf, Arc<FrameKey>>,
    /// Isolation checks, by instance.
    pub(super) isolation: HashMap<String, Arc<IsolationProbe>>,
    /// Fence commands, by instance.
    pub(super) fences: HashMap<String, Arc<Fencer>>,
}

impl Checked {
    /// Checks `config`. Blocking.
    pub fn new(config: Config) -> Result<Checked, DaemonError> {
        let mut keys = HashMap::new();
        let mut isolation = HashMap::new();
        for (name, inst) in &config.instances {
            for ch in &inst.channels {
                if let Some(key_file) = ch.key_file()
                    && !keys.contains_key(key_file)
                {
                    let key = keys::load_key(key_file)
                        .map_err(|e| DaemonError::Config(format!("instance {name}: {e}")))?;
                    keys.insert(key_file.to_owned(), Arc::new(key));
                }
            }
            if let Some(check) = &inst.isolation_check {
                let probe = IsolationProbe::new(&config, check).map_err(|e| {
                    DaemonError::Scripts(format!("instance {name}: isolation_check: {e}"))
                })?;
                isolation.insert(name.clone(), Arc::new(probe));
            }
        }
        let plan = track::plan(&config).map_err(|e| DaemonError::Scripts(e.to_string()))?;
        let run_as = RunAs::for_scripts(config.global.script_user.as_deref())
            .map_err(|e| DaemonError::Scripts(e.to_string()))?;
        let fences = config
            .instances
            .iter()
            .filter_map(|(name, inst)| {
                let fence = inst.fence.as_deref()?.clone();
                Some((name.clone(), Arc::new(Fencer::new(fence, run_as))))
            })
            .collect();
        Ok(Checked {
            config,
            plan,
            run_as,
            keys,
            isolation,
            fences,
        })
    }

    /// Runs `make` (which reads and checks a configuration) on a thread of its own. Not
    /// tokio's blocking pool: a read stuck in the kernel (a dead network filesystem) would
    /// then hold up the runtime's shutdown, and so the exit after SIGTERM.
    pub async fn off_thread(
        make: impl FnOnce() -> Result<Checked, DaemonError> + Send + 'static,
    ) -> Result<Checked, DaemonError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("vipd-config".into())
            .spawn(move || {
                let _ = tx.send(make());
            });
        if let Err(e) = spawned {
            return Err(DaemonError::Config(format!(
                "configuration check failed: cannot start a thread: {e}"
            )));
        }
        rx.await.unwrap_or_else(|_| {
            Err(DaemonError::Config(
                "configuration check failed: the checking thread panicked".into(),
            ))
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
