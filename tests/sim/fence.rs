//! The fence gate in the simulator: a fence device that powers off the node it is named
//! (the silent Master), and the property that no node takes over from a silent Master that
//! still holds the addresses.

use std::net::IpAddr;
use std::time::Duration;

use vipd::vrrp::State;
use vipd::vrrp::router::{GateAnswer, GateKind, Input, Reason, Transition};

use super::Sim;

impl Sim {
    /// The node that has `addr` on some channel.
    fn node_at(&self, addr: IpAddr) -> Option<usize> {
        (0..self.nodes.len())
            .find(|&j| (0..self.spec.channels).any(|c| self.spec.addr_on(c, j) == addr))
    }

    /// Node `i` asks to fence `peer`: the device crashes it now and answers a moment later.
    /// No peer: nothing to fence, granted without a fence, as the daemon does.
    pub(super) fn fence(&mut self, i: usize, attempt: u64, peer: Option<IpAddr>) {
        self.nodes[i].fence_asked = Some(self.now);
        let target = peer.and_then(|p| self.node_at(p));
        if let Some(j) = target
            && self.fence_kills
            && self.nodes[j].alive
        {
            self.crash(j);
            self.fences += 1;
        }
        // A fence device (a PDU, a BMC) takes a moment to answer.
        let at = self.now + Duration::from_millis(20 + self.next_u64() % 200);
        let answer = GateAnswer {
            gate: GateKind::Fence,
            attempt,
            granted: true,
            detail: String::new(),
            fenced: target.is_some(),
        };
        self.schedule(at, i, Input::Gate(answer));
    }

    /// With fencing, a node that takes over from a silent Master does so only once that
    /// Master holds the addresses no more (so never two holders after a fence). A process
    /// of that node started after the fence question is a new one, not the one fenced.
    pub(super) fn fence_watch(&mut self, i: usize, t: &Transition) {
        if !self.spec.fence || t.to != State::Master || t.from == State::Master {
            return;
        }
        let asked = self.nodes[i].fence_asked.take().unwrap_or(self.now);
        let Reason::MasterDown {
            last_master: Some(m),
            ..
        } = t.reason
        else {
            return;
        };
        let Some(j) = self.node_at(m) else {
            return;
        };
        let silent = &self.nodes[j];
        if silent.alive && silent.holds_vips && silent.started <= asked {
            self.violations.push(format!(
                "{:?}: node {i} took over ({}) while node {j}, the silent Master, still holds \
                 the VIPs",
                self.now, t.reason
            ));
        }
    }
}
