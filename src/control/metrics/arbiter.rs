//! The arbiter's metrics, per instance with `arbiter: true`: whether the store answers,
//! whether the lease is held here and for how long it is proven, grants, refusals and
//! renewals.

use std::fmt;
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::{Labels, family};
use crate::control::server::Instances;

#[derive(Debug)]
pub(super) struct Arbiters(pub Instances);

impl Collector for Arbiters {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let now = Instant::now();
        let (mut reachable, mut held, mut left, mut latency) = (vec![], vec![], vec![], vec![]);
        let (mut grants, mut denials, mut renewals, mut failures) =
            (vec![], vec![], vec![], vec![]);
        for i in &self.0 {
            let Some(board) = &i.arbiter else { continue };
            let s = board.status(now);
            let l = || -> Labels { vec![("instance", i.name.to_string()), ("key", s.key.clone())] };
            reachable.push((l(), ConstGauge::new(i64::from(s.reachable))));
            held.push((l(), ConstGauge::new(i64::from(s.held_here))));
            let secs = s.lease_left_ms.map_or(0.0, |ms| ms as f64 / 1000.0);
            left.push((l(), ConstGauge::new(secs)));
            if let Some(ms) = s.renew_latency_ms {
                latency.push((l(), ConstGauge::new(ms / 1000.0)));
            }
            grants.push((l(), ConstCounter::new(s.grants)));
            denials.push((l(), ConstCounter::new(s.denials)));
            renewals.push((l(), ConstCounter::new(s.renewals)));
            failures.push((l(), ConstCounter::new(s.renew_failures)));
        }
        let e = &mut enc;
        family(
            e,
            "vipd_arbiter_reachable",
            "1 while the store answers",
            reachable,
        )?;
        family(
            e,
            "vipd_arbiter_lease_held",
            "1 while this node's lease owns the key",
            held,
        )?;
        family(
            e,
            "vipd_arbiter_lease_seconds_left",
            "How long the held lease is still proven ours by this node's clock",
            left,
        )?;
        family(
            e,
            "vipd_arbiter_renew_latency_seconds",
            "Round trip of the last successful lease renewal",
            latency,
        )?;
        family(
            e,
            "vipd_arbiter_grants",
            "Takeovers the arbiter granted",
            grants,
        )?;
        family(
            e,
            "vipd_arbiter_denials",
            "Takeovers the arbiter refused (the store could not be asked)",
            denials,
        )?;
        family(
            e,
            "vipd_arbiter_renewals",
            "Successful lease renewals",
            renewals,
        )?;
        family(
            e,
            "vipd_arbiter_renew_failures",
            "Failed lease renewals",
            failures,
        )
    }
}
