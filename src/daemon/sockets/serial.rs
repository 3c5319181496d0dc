//! `type: serial` channels: one endpoint per device, whose task keeps the line open and
//! both reads and writes it; each instance on the line gets its own queue onto it.

use std::sync::{Arc, RwLock};

use tokio::task::JoinHandle;

use super::endpoint::{SealedKey, SealedTransport, Shared, SinkTable};
use super::{Plan, Slot};
use crate::config::SerialLine as LineConfig;
use crate::daemon::DaemonError;
use crate::daemon::sealed::{FrameJudge, FrameSink, SealedRoutes, Transport};
use crate::daemon::serial_line::{self, PREFIX, SerialLine};
use crate::vrrp::Family;

/// A `type: serial` channel.
pub(super) struct Serial<'a> {
    pub(super) line: &'a LineConfig,
}

impl SealedTransport for Serial<'_> {
    /// The device, whatever the family: frames on a line are told apart by VRID alone.
    fn key(&self, _family: Family) -> SealedKey {
        SealedKey {
            kind: PREFIX,
            at: self.line.device.display().to_string(),
            family: None,
        }
    }

    /// The line's task; opening the device is its job, retried with backoff, so a device
    /// missing now (a USB adapter not plugged in yet) is waited for, not an error.
    fn open(
        &self,
        _key: &SealedKey,
        routes: Arc<RwLock<SealedRoutes>>,
        _lingering: Option<Shared>,
    ) -> Result<(JoinHandle<()>, Shared), DaemonError> {
        let line = Arc::new(SerialLine::new(self.line.device.clone()));
        let judge = FrameJudge::new(Transport::new(PREFIX));
        let task = tokio::spawn(serial_line::run(
            line.clone(),
            self.line.baud,
            routes,
            judge,
        ));
        Ok((task, line))
    }

    fn sinks(
        &self,
        _plan: &Plan<'_>,
        slot: &Slot<'_>,
        shared: &Shared,
        _reuse: &mut SinkTable,
    ) -> Vec<Arc<dyn FrameSink>> {
        let line = shared
            .clone()
            .downcast::<SerialLine>()
            .expect("a serial endpoint shares its line");
        vec![line.sink(self.line.peer, slot.stats.clone())]
    }
}
