//! Timings of one takeover, read from the frames the client captured.
//!
//! Everything is relative to the fault's wall-clock time, taken right at the kill with the
//! same clock the capture stamps frames with (CLOCK_REALTIME), so no sleep or poll of the
//! benchmark itself enters a number.

use std::net::{IpAddr, Ipv4Addr};

use crate::decode::{is_garp, is_vrrp_advert};
use crate::mac::Mac;
use crate::pcap::Frame;

/// Who is who in the capture.
#[derive(Debug, Clone)]
pub struct Roles {
    /// The failing Master's address (source of its adverts).
    pub old: IpAddr,
    /// The Backup's address (source of the new Master's adverts).
    pub new: IpAddr,
    /// The Backup's interface MAC, which its gratuitous ARPs announce.
    pub new_mac: Mac,
    /// The virtual address.
    pub vip: Ipv4Addr,
    /// The virtual router.
    pub vrid: u8,
}

/// The timings of one run, in milliseconds; `None` where the event was not captured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    /// How long before the fault the old Master's last advert went out: where in the advert
    /// cycle the fault fell (the spread of the takeover times should follow it).
    pub phase: Option<f64>,
    /// Fault -> the new Master's first advert.
    pub to_advert: Option<f64>,
    /// Fault -> the first gratuitous ARP announcing the VIP at the new Master's MAC.
    pub to_garp: Option<f64>,
    /// The old Master's last advert (a priority-0 one included) -> the new Master's first:
    /// the silence the Backup waited through (Master_Down_Interval, or Skew_Time after a
    /// priority-0 advert).
    pub silence: Option<f64>,
    /// Fault -> the old Master's priority-0 advert.
    pub to_prio0: Option<f64>,
}

impl Timings {
    /// Whether the takeover was seen at all.
    pub fn took_over(&self) -> bool {
        self.to_advert.is_some()
    }
}

/// Measures one takeover from `frames` (in capture order), `fault` being the fault's time
/// in seconds since the Unix epoch.
pub fn analyze(frames: &[Frame], fault: f64, roles: &Roles) -> Timings {
    let adverts: Vec<(f64, IpAddr, u8)> = frames
        .iter()
        .filter_map(|f| {
            let a = is_vrrp_advert(&f.data)?;
            (a.vrid == roles.vrid).then_some((f.ts, a.src, a.priority))
        })
        .collect();
    let ms = |from: f64, to: f64| (to - from) * 1e3;
    let new_first = adverts
        .iter()
        .find(|&&(ts, src, prio)| ts >= fault && src == roles.new && prio > 0)
        .map(|a| a.0);
    let old_last_before = |limit: f64, include_prio0: bool| {
        adverts
            .iter()
            .filter(|&&(ts, src, prio)| {
                ts < limit && src == roles.old && (include_prio0 || prio > 0)
            })
            .map(|a| a.0)
            .next_back()
    };
    let garp = frames
        .iter()
        .find(|f| f.ts >= fault && is_garp(&f.data) == Some((roles.vip, roles.new_mac)))
        .map(|f| f.ts);
    let prio0 = adverts
        .iter()
        .find(|&&(ts, src, prio)| ts >= fault && src == roles.old && prio == 0)
        .map(|a| a.0);
    Timings {
        phase: old_last_before(fault, false).map(|t| ms(t, fault)),
        to_advert: new_first.map(|t| ms(fault, t)),
        to_garp: garp.map(|t| ms(fault, t)),
        silence: new_first.and_then(|t| old_last_before(t, true).map(|o| ms(o, t))),
        to_prio0: prio0.map(|t| ms(fault, t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const NEW_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn roles() -> Roles {
        Roles {
            old: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            new: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            new_mac: Mac::from_slice(&NEW_MAC).unwrap(),
            vip: Ipv4Addr::new(10, 0, 0, 100),
            vrid: 51,
        }
    }

    /// A VRRPv3 advert frame (checksum not filled: the decoder does not check it).
    fn advert(ts: f64, mac: [u8; 6], src: [u8; 4], vrid: u8, prio: u8) -> Frame {
        let mut d = vec![1, 0, 0x5e, 0, 0, 18];
        d.extend_from_slice(&mac);
        d.extend_from_slice(&[0x08, 0x00]);
        // IPv4 header: 20 bytes, total length 20 + 12, TTL 255, protocol 112.
        d.extend_from_slice(&[0x45, 0, 0, 32, 0, 0, 0, 0, 255, 112, 0, 0]);
        d.extend_from_slice(&src);
        d.extend_from_slice(&[224, 0, 0, 18]);
        d.extend_from_slice(&[0x31, vrid, prio, 1, 0, 10, 0, 0, 10, 0, 0, 100]);
        Frame { ts, data: d }
    }

    fn garp(ts: f64, mac: [u8; 6], ip: [u8; 4]) -> Frame {
        let mut d = vec![0xff; 6];
        d.extend_from_slice(&mac);
        d.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        d.extend_from_slice(&mac);
        d.extend_from_slice(&ip);
        d.extend_from_slice(&[0; 6]);
        d.extend_from_slice(&ip);
        Frame { ts, data: d }
    }

    const OLD: [u8; 4] = [10, 0, 0, 1];
    const NEW: [u8; 4] = [10, 0, 0, 2];
    const VIP: [u8; 4] = [10, 0, 0, 100];

    fn close(got: Option<f64>, want: f64) -> bool {
        got.is_some_and(|g| (g - want).abs() < 1e-6)
    }

    #[test]
    fn kill_takeover_is_timed_from_the_fault_and_the_last_advert() {
        let frames = vec![
            advert(100.0, OLD_MAC, OLD, 51, 150),
            // Another virtual router's traffic must not count.
            advert(100.05, NEW_MAC, NEW, 52, 200),
            advert(100.1, OLD_MAC, OLD, 51, 150),
            // Fault at 100.13; the Backup waits out Master_Down_Interval from 100.1.
            garp(100.2, NEW_MAC, [10, 0, 0, 7]),
            advert(100.461, NEW_MAC, NEW, 51, 100),
            garp(100.462, OLD_MAC, VIP),
            garp(100.463, NEW_MAC, VIP),
        ];
        let t = analyze(&frames, 100.13, &roles());
        assert!(close(t.phase, 30.0), "{t:?}");
        assert!(close(t.to_advert, 331.0), "{t:?}");
        assert!(close(t.to_garp, 333.0), "{t:?}");
        assert!(close(t.silence, 361.0), "{t:?}");
        assert_eq!(t.to_prio0, None);
        assert!(t.took_over());
    }

    #[test]
    fn term_takeover_counts_the_priority_zero_advert_as_the_last() {
        let frames = vec![
            advert(10.0, OLD_MAC, OLD, 51, 150),
            advert(10.108, OLD_MAC, OLD, 51, 0),
            advert(10.17, NEW_MAC, NEW, 51, 100),
            garp(10.171, NEW_MAC, VIP),
        ];
        let t = analyze(&frames, 10.1, &roles());
        assert!(close(t.to_prio0, 8.0), "{t:?}");
        assert!(close(t.silence, 62.0), "{t:?}");
        assert!(close(t.to_advert, 70.0), "{t:?}");
        assert!(close(t.phase, 100.0), "{t:?}");
    }

    #[test]
    fn no_takeover_leaves_the_new_master_times_empty() {
        // The Backup's adverts before the fault (a split brain) are not a takeover.
        let frames = vec![
            advert(5.0, NEW_MAC, NEW, 51, 100),
            advert(5.1, OLD_MAC, OLD, 51, 150),
            garp(5.2, NEW_MAC, VIP),
        ];
        let t = analyze(&frames, 5.5, &roles());
        assert!(!t.took_over());
        assert_eq!((t.to_garp, t.silence), (None, None));
        assert!(close(t.phase, 400.0));
    }
}
