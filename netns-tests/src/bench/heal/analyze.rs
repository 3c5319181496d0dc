//! Timings of one partition heal, read from the frames the client captured.
//!
//! The cut and the heal are stamped with the wall clock the capture uses (CLOCK_REALTIME), so
//! every number is capture time minus fault time and no sleep of the benchmark enters it.

use std::net::{IpAddr, Ipv4Addr};

use crate::decode::{icmp_echo, is_garp, is_vrrp_advert};
use crate::mac::Mac;
use crate::pcap::Frame;

/// Who is who in the capture: the winner (higher priority, Master alone behind the cut) and
/// the loser (took over during the cut, must yield after the heal).
#[derive(Debug, Clone)]
pub struct Roles {
    /// The winner's address (source of its adverts).
    pub winner: IpAddr,
    /// The winner's interface MAC (its echo replies and gratuitous ARPs).
    pub winner_mac: Mac,
    /// The loser's address.
    pub loser: IpAddr,
    /// The loser's interface MAC.
    pub loser_mac: Mac,
    /// The virtual address.
    pub vip: Ipv4Addr,
    /// The virtual router.
    pub vrid: u8,
}

/// The timings of one run, in milliseconds; `None` where the event was not captured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealTimings {
    /// Cut -> the loser's first advert: its takeover during the partition.
    pub takeover: Option<f64>,
    /// Cut -> the first echo reply from the loser's MAC: the client moved to it.
    pub client_moved: Option<f64>,
    /// Heal -> the winner's first advert the client sees: where in the winner's advert cycle
    /// the heal fell.
    pub winner_advert: Option<f64>,
    /// Heal -> the loser's last advert with priority > 0: how long two Masters coexist.
    /// Negative when the loser's last advert went out before the heal (it yielded before its
    /// next one was due).
    pub two_masters: Option<f64>,
    /// Heal -> the first echo reply from the winner's MAC: the client reached the winner.
    pub reach: Option<f64>,
    /// Heal -> the last echo reply from the loser's MAC (negative: before the heal).
    pub loser_last_reply: Option<f64>,
    /// Heal -> the winner's first gratuitous ARP for the VIP.
    pub winner_garp: Option<f64>,
    /// Gratuitous ARPs for the VIP at the winner's MAC after the heal.
    pub winner_garps: usize,
}

/// Measures one heal from `frames` (in capture order); `cut` and `heal` are the fault times
/// in seconds since the Unix epoch.
pub fn analyze(frames: &[Frame], cut: f64, heal: f64, roles: &Roles) -> HealTimings {
    let ms = |from: f64, to: f64| (to - from) * 1e3;
    let adverts: Vec<(f64, IpAddr, u8)> = frames
        .iter()
        .filter_map(|f| {
            let a = is_vrrp_advert(&f.data)?;
            (a.vrid == roles.vrid).then_some((f.ts, a.src, a.priority))
        })
        .collect();
    let replies: Vec<(f64, Mac)> = frames
        .iter()
        .filter_map(|f| {
            let e = icmp_echo(&f.data)?;
            (e.reply && e.src == IpAddr::V4(roles.vip)).then_some((f.ts, e.src_mac))
        })
        .collect();
    let garps: Vec<f64> = frames
        .iter()
        .filter(|f| f.ts >= heal && is_garp(&f.data) == Some((roles.vip, roles.winner_mac)))
        .map(|f| f.ts)
        .collect();
    let first_advert = |from: f64, src: IpAddr| {
        adverts
            .iter()
            .find(|&&(ts, s, prio)| ts >= from && s == src && prio > 0)
            .map(|a| a.0)
    };
    let first_reply = |from: f64, mac: Mac| {
        replies
            .iter()
            .find(|&&(ts, m)| ts >= from && m == mac)
            .map(|r| r.0)
    };
    // The loser's mastership starts at the cut; adverts before it are not its own as Master.
    let loser_last = adverts
        .iter()
        .filter(|&&(ts, s, prio)| ts >= cut && s == roles.loser && prio > 0)
        .map(|a| a.0)
        .next_back();
    let loser_last_reply = replies
        .iter()
        .filter(|&&(ts, m)| ts >= cut && m == roles.loser_mac)
        .map(|r| r.0)
        .next_back();
    HealTimings {
        takeover: first_advert(cut, roles.loser).map(|t| ms(cut, t)),
        client_moved: first_reply(cut, roles.loser_mac).map(|t| ms(cut, t)),
        winner_advert: first_advert(heal, roles.winner).map(|t| ms(heal, t)),
        two_masters: loser_last.map(|t| ms(heal, t)),
        reach: first_reply(heal, roles.winner_mac).map(|t| ms(heal, t)),
        loser_last_reply: loser_last_reply.map(|t| ms(heal, t)),
        winner_garp: garps.first().map(|&t| ms(heal, t)),
        winner_garps: garps.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIN_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const LOSE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];
    const WIN: [u8; 4] = [10, 0, 0, 1];
    const LOSE: [u8; 4] = [10, 0, 0, 2];
    const VIP: [u8; 4] = [10, 0, 0, 100];
    const CLIENT: [u8; 4] = [10, 0, 0, 200];

    fn roles() -> Roles {
        Roles {
            winner: IpAddr::from(WIN),
            winner_mac: Mac::from_slice(&WIN_MAC).unwrap(),
            loser: IpAddr::from(LOSE),
            loser_mac: Mac::from_slice(&LOSE_MAC).unwrap(),
            vip: Ipv4Addr::from(VIP),
            vrid: 51,
        }
    }

    fn ipv4(ts: f64, mac: [u8; 6], src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Frame {
        let mut d = vec![1, 0, 0x5e, 0, 0, 18];
        d.extend_from_slice(&mac);
        d.extend_from_slice(&[0x08, 0x00]);
        let total = u16::try_from(20 + l4.len()).unwrap().to_be_bytes();
        d.extend_from_slice(&[0x45, 0, total[0], total[1], 0, 0, 0, 0, 255, proto, 0, 0]);
        d.extend_from_slice(&src);
        d.extend_from_slice(&dst);
        d.extend_from_slice(l4);
        Frame { ts, data: d }
    }

    /// A VRRPv3 advert for `vrid` (the decoder does not check the checksum).
    fn advert(ts: f64, mac: [u8; 6], src: [u8; 4], vrid: u8, prio: u8) -> Frame {
        let body = [
            0x31, vrid, prio, 1, 0, 10, 0, 0, VIP[0], VIP[1], VIP[2], VIP[3],
        ];
        ipv4(ts, mac, src, [224, 0, 0, 18], 112, &body)
    }

    fn reply(ts: f64, mac: [u8; 6]) -> Frame {
        ipv4(ts, mac, VIP, CLIENT, 1, &[0, 0, 0, 0, 0, 7, 0, 1])
    }

    fn request(ts: f64) -> Frame {
        ipv4(ts, CLIENT_MAC, CLIENT, VIP, 1, &[8, 0, 0, 0, 0, 7, 0, 1])
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

    fn close(got: Option<f64>, want: f64) -> bool {
        got.is_some_and(|g| (g - want).abs() < 1e-6)
    }

    #[test]
    fn a_heal_where_the_winner_reasserts() {
        let frames = vec![
            advert(9.9, WIN_MAC, WIN, 51, 150),
            reply(9.95, WIN_MAC),
            // Cut at 10.0: the loser takes over and the client follows its GARP.
            advert(10.36, LOSE_MAC, LOSE, 51, 100),
            garp(10.361, LOSE_MAC, VIP),
            reply(10.37, LOSE_MAC),
            advert(10.46, LOSE_MAC, LOSE, 51, 100),
            // Another virtual router, and a winner's GARP for another address, do not count.
            advert(12.01, LOSE_MAC, LOSE, 52, 100),
            garp(12.02, WIN_MAC, [10, 0, 0, 7]),
            reply(12.03, LOSE_MAC),
            // Heal at 12.0.
            advert(12.04, WIN_MAC, WIN, 51, 150),
            advert(12.041, LOSE_MAC, LOSE, 51, 100),
            garp(12.042, WIN_MAC, VIP),
            garp(12.043, WIN_MAC, VIP),
            request(12.05),
            reply(12.051, WIN_MAC),
            advert(12.14, WIN_MAC, WIN, 51, 150),
        ];
        let t = analyze(&frames, 10.0, 12.0, &roles());
        assert!(close(t.takeover, 360.0), "{t:?}");
        assert!(close(t.client_moved, 370.0), "{t:?}");
        assert!(close(t.winner_advert, 40.0), "{t:?}");
        assert!(close(t.two_masters, 41.0), "{t:?}");
        assert!(close(t.reach, 51.0), "{t:?}");
        assert!(close(t.loser_last_reply, 30.0), "{t:?}");
        assert!(close(t.winner_garp, 42.0), "{t:?}");
        assert_eq!(t.winner_garps, 2);
    }

    #[test]
    fn a_heal_where_the_client_stays_on_the_loser() {
        let frames = vec![
            advert(10.36, LOSE_MAC, LOSE, 51, 100),
            reply(10.37, LOSE_MAC),
            advert(11.36, LOSE_MAC, LOSE, 51, 100),
            reply(11.9, LOSE_MAC),
            // Heal at 12.0: the loser hears the winner first and yields silently; the winner
            // sends no GARP and the client finds it only when its entry expires.
            advert(12.5, WIN_MAC, WIN, 51, 150),
            reply(18.1, WIN_MAC),
        ];
        let t = analyze(&frames, 10.0, 12.0, &roles());
        assert!(close(t.two_masters, -640.0), "{t:?}");
        assert!(close(t.loser_last_reply, -100.0), "{t:?}");
        assert!(close(t.reach, 6100.0), "{t:?}");
        assert_eq!((t.winner_garp, t.winner_garps), (None, 0));
    }

    #[test]
    fn nothing_captured_after_the_cut_leaves_everything_empty() {
        let frames = vec![advert(9.9, WIN_MAC, WIN, 51, 150), reply(9.95, WIN_MAC)];
        let t = analyze(&frames, 10.0, 12.0, &roles());
        assert_eq!(
            t,
            HealTimings {
                ..Default::default()
            }
        );
    }
}
