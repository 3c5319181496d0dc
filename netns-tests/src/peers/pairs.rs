//! A mixed pair set up in a fresh lab and run through the scenario both ways at once.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Agent, PairReport, Side, Vipd, VrrpSpec, exercise_pair};
use crate::lab::{Lab, LabSpec};
use crate::node::Node;
use crate::wait::wait_until;

/// Makes the agent that faces vipd: (node, spec, priority, directory for its files).
pub type PeerFactory = fn(&Node, &VrrpSpec, u8, PathBuf) -> Box<dyn Agent>;

/// One interop combination.
#[derive(Clone, Copy)]
pub struct Case {
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// An IPv6 VIP (the lab gets ULA addresses) instead of IPv4.
    pub ipv6: bool,
    /// Advertisement interval.
    pub interval: Duration,
    /// Adjusts the spec once the lab's addresses are known (unicast peers need them).
    pub tweak: fn(&Lab, &mut VrrpSpec),
    /// The implementation paired with vipd (in node 1; vipd is in node 0).
    pub peer: PeerFactory,
}

/// The VRID every pair uses.
pub const VRID: u8 = 51;
/// The preferred Master's priority.
pub const HIGH: u8 = 150;
/// The other's.
pub const LOW: u8 = 100;

impl Case {
    /// Runs [`exercise_pair`] with vipd high in one lab and the peer high in another, in
    /// parallel. Also checks that adverts went where the spec says (multicast group or
    /// unicast peers). Returns the reports in the order (vipd high, peer high).
    pub fn run_both_ways(&self) -> [PairReport; 2] {
        std::thread::scope(|s| {
            let vipd_high = s.spawn(|| self.run(Side::Vipd));
            let peer_high = s.spawn(|| self.run(Side::Peer));
            let join = |h: std::thread::ScopedJoinHandle<'_, PairReport>| {
                h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            };
            [join(vipd_high), join(peer_high)]
        })
    }

    /// The VRRP spec of this case in `lab`.
    pub fn spec(&self, lab: &Lab) -> VrrpSpec {
        let vip: IpAddr = if self.ipv6 {
            lab.vip6(0).into()
        } else {
            lab.vip4(0).into()
        };
        let mut spec = VrrpSpec::new(self.version, VRID, vip, self.interval);
        (self.tweak)(lab, &mut spec);
        spec
    }

    /// A lab for this case: two nodes and a client, with ULA addresses for IPv6.
    pub fn lab(&self) -> Lab {
        Lab::new(LabSpec {
            ipv6_ula: self.ipv6,
            ..Default::default()
        })
        .expect("lab")
    }

    /// The VRRPv3-over-IPv4 checksum mismatch (IPv4 cases only): vipd, preferred Master,
    /// sends RFC 9568 checksums (`v3_checksum: rfc9568`) to a peer that verifies only the
    /// pseudo-header form. Asserts what then happens: the peer logs `peer_rejects` for
    /// vipd's adverts and becomes Master as if vipd were silent; vipd, which accepts both
    /// forms, stays Master and logs the mismatch with the setting that fixes it; the client
    /// sees both MACs answer for the VIP (a split brain).
    pub fn rfc9568_against_peer(&self, peer_rejects: &str) {
        let lab = self.lab();
        let spec = VrrpSpec {
            rfc9568_checksum: true,
            ..self.spec(&lab)
        };
        let IpAddr::V4(vip) = spec.vip else {
            panic!("the checksum conventions differ for IPv4 only")
        };
        let dir = lab.log_path("");
        let mut vipd = Vipd::new(lab.node(0), &spec, HIGH, dir.clone());
        let mut peer = (self.peer)(lab.node(1), &spec, LOW, dir);
        vipd.start().expect("start vipd");
        peer.start().expect("start peer");
        let fail = |what: String| -> ! {
            panic!(
                "{what}\n--- vipd ---\n{}\n--- {} ---\n{}",
                vipd.log_text(),
                peer.kind(),
                peer.log_text()
            )
        };
        let (wait, poll) = (Duration::from_secs(10), Duration::from_millis(50));
        if let Err(e) = wait_until(wait, poll, || peer.log_text().contains(peer_rejects)) {
            fail(format!(
                "{} never logged {peer_rejects:?}: {e}",
                peer.kind()
            ));
        }
        let explained = wait_until(wait, poll, || {
            let log = vipd.log_text();
            log.contains("VRRPv3 checksum convention mismatch")
                && log.contains("Set `v3_checksum: pseudo-header`")
        });
        if let Err(e) = explained {
            fail(format!("vipd did not name the mismatch: {e}"));
        }
        let mut both = [vipd.vip_mac().expect("mac"), peer.vip_mac().expect("mac")];
        both.sort();
        let mut seen = Vec::new();
        let split = wait_until(wait, Duration::ZERO, || {
            seen = lab
                .client
                .arp_probe(vip, Duration::from_millis(300))
                .expect("arp probe");
            seen.sort();
            seen == both
        });
        if let Err(e) = split {
            fail(format!(
                "expected both {both:?} to answer for {vip}, saw {seen:?}: {e}"
            ));
        }
    }

    fn run(&self, high: Side) -> PairReport {
        let lab = self.lab();
        let spec = self.spec(&lab);
        let (vp, pp) = match high {
            Side::Vipd => (HIGH, LOW),
            Side::Peer => (LOW, HIGH),
        };
        let dir = lab.log_path("");
        let mut vipd = Vipd::new(lab.node(0), &spec, vp, dir.clone());
        let mut peer = (self.peer)(lab.node(1), &spec, pp, dir);
        let (h, l): (&mut dyn Agent, &mut dyn Agent) = match high {
            Side::Vipd => (&mut vipd, peer.as_mut()),
            Side::Peer => (peer.as_mut(), &mut vipd),
        };
        let r = exercise_pair(&lab, &spec, h, l);
        let dsts = &r.advert_destinations;
        assert!(!dsts.is_empty(), "no adverts captured");
        match spec.unicast {
            Some(u) => assert!(
                dsts.iter().all(|d| u.addrs.contains(d)),
                "a unicast pair sent adverts to {dsts:?}"
            ),
            None => assert!(
                dsts.iter().all(IpAddr::is_multicast),
                "a multicast pair sent adverts to {dsts:?}"
            ),
        }
        let peer_kind = if h.kind() == "vipd" {
            l.kind()
        } else {
            h.kind()
        };
        eprintln!(
            "v{} {} vs {}, {high:?} high: priority-0 takeover {:?}, crash takeover {:?} \
             (on the wire; Master_Down_Interval {:?})",
            spec.version,
            if self.ipv6 { "IPv6" } else { "IPv4" },
            peer_kind,
            r.stop_takeover,
            r.crash_takeover,
            super::master_down_interval(spec.version, LOW, spec.interval),
        );
        r
    }
}
