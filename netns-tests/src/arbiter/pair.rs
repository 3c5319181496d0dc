//! The pair: node 0 (priority 150) Master, node 1 (priority 100) Backup, VRRPv3 with 100 ms
//! adverts, one VIP, `arbiter: true`, a VIP watch on both nodes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{HarnessError, Result};
use crate::etcd::{EtcdCluster, EtcdSpec};
use crate::holders::HolderWatch;
use crate::lab::{Lab, LabSpec};
use crate::ping::Pinger;
use crate::vipd::{ArbiterSpec, InstanceSpec, StoreLoss, Vipd, VipdConfig, VrrpState};

/// Slack for a first election beyond Master_Down_Interval (process start, first lease).
const START_SLACK: Duration = Duration::from_secs(10);
/// Port of the metrics listener, when asked for.
pub const METRICS_PORT: u16 = 9742;

/// How to configure the pair.
#[derive(Debug, Clone)]
pub struct PairSpec {
    /// Lease TTL (whole seconds).
    pub ttl: Duration,
    /// What a Master does when it cannot renew.
    pub on_store_loss: StoreLoss,
    /// Both nodes serve metrics on `NODE_IP:9742`.
    pub metrics: bool,
    /// The vipd binary; `None` is [`crate::vipd::vipd_bin`]'s.
    pub vipd: Option<PathBuf>,
}

impl Default for PairSpec {
    fn default() -> Self {
        PairSpec {
            ttl: Duration::from_secs(1),
            on_store_loss: StoreLoss::Release,
            metrics: false,
            vipd: None,
        }
    }
}

/// A running pair. Fields drop in order: the agents first, then the watch, the cluster and
/// the lab, so nothing is left running in a namespace being deleted.
pub struct ArbiterPair {
    /// node 0's and node 1's vipd.
    pub vipds: [Vipd; 2],
    /// Who holds the VIP, sampled every few milliseconds since the pair settled.
    pub watch: HolderWatch,
    /// The instances as configured (node 0, node 1).
    pub specs: [InstanceSpec; 2],
    /// What was asked for.
    pub spec: PairSpec,
    /// The etcd cluster.
    pub cluster: EtcdCluster,
    /// The lab.
    pub lab: Lab,
}

impl ArbiterPair {
    /// Builds the lab and the cluster, starts node 0 until it is Master holding the VIP, then
    /// node 1 until it is Backup.
    pub fn start(spec: PairSpec) -> Result<ArbiterPair> {
        let lab = Lab::new(LabSpec::default())?;
        let cluster = EtcdCluster::start_for_lab(&lab, EtcdSpec::default())?;
        let vip = lab.vip4(0);
        let arbiter = ArbiterSpec::new(cluster.endpoints(), spec.ttl, spec.on_store_loss);
        let instance = |priority| InstanceSpec {
            priority,
            vips: vec![vip.into()],
            extra: vec!["arbiter: true".into()],
            ..Default::default()
        };
        let specs = [instance(150), instance(100)];
        let config = |i: usize| VipdConfig {
            router_id: lab.node(i).name().into(),
            instances: vec![specs[i].clone()],
            arbiter: Some(arbiter.clone()),
            metrics_listen: spec
                .metrics
                .then(|| SocketAddr::new(lab.node(i).ip4().into(), METRICS_PORT)),
            ..Default::default()
        };
        let budget = specs[0].master_down_interval() + START_SLACK;
        let bin = match &spec.vipd {
            Some(b) => b.clone(),
            None => crate::vipd::vipd_bin()?,
        };
        let mut first = Vipd::start_bin(&lab, lab.node(0), &config(0), &bin)?;
        first.wait_state("web", VrrpState::Master, budget)?;
        let held = crate::wait::wait_until(budget, Duration::from_millis(10), || {
            crate::vipd::holds(lab.node(0), vip)
        });
        held.map_err(|what| HarnessError::Timeout {
            what: format!("node0 to hold {vip}: {what}; log:\n{}", first.log_text()),
            waited: budget,
        })?;
        let mut second = Vipd::start_bin(&lab, lab.node(1), &config(1), &bin)?;
        second.wait_state("web", VrrpState::Backup, budget)?;
        let watch = HolderWatch::start([lab.node(0), lab.node(1)], vip)?;
        Ok(ArbiterPair {
            vipds: [first, second],
            watch,
            specs,
            spec,
            cluster,
            lab,
        })
    }

    /// The VIP.
    pub fn vip(&self) -> Ipv4Addr {
        self.watch.vip()
    }

    /// Starts a pinger (every 10 ms) from the lab's client to the VIP.
    pub fn pinger(&self, bin: &Path) -> Result<Pinger> {
        Pinger::start(
            &self.lab.client,
            bin,
            IpAddr::V4(self.vip()),
            None,
            self.lab.log_path("pinger.log"),
        )
    }

    /// Both agents' logs, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- node0:\n{}\n--- node1:\n{}",
            self.vipds[0].log_text(),
            self.vipds[1].log_text()
        )
    }

    /// Node 1's Master_Down_Interval.
    pub fn master_down(&self) -> Duration {
        self.specs[1].master_down_interval()
    }

    /// Node 1's Skew_Time.
    pub fn skew(&self) -> Duration {
        self.specs[1].skew_time()
    }
}
