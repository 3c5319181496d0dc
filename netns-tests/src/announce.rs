//! Gratuitous ARPs in a capture, grouped into bursts: what the announce-schedule tests
//! measure (refresh period, gaps inside a burst), for vipd and keepalived alike.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::decode;
use crate::mac::Mac;
use crate::pcap::Frame;

/// The capture times (seconds) of the gratuitous ARPs from `mac` for any of `vips`.
pub fn garp_times(frames: &[Frame], mac: Mac, vips: &[Ipv4Addr]) -> Vec<f64> {
    frames
        .iter()
        .filter(|f| decode::is_garp(&f.data).is_some_and(|(ip, m)| m == mac && vips.contains(&ip)))
        .map(|f| f.ts)
        .collect()
}

/// The capture times (seconds) of the unsolicited NAs from `mac` for any of `vips`.
pub fn na_times(frames: &[Frame], mac: Mac, vips: &[Ipv6Addr]) -> Vec<f64> {
    frames
        .iter()
        .filter(|f| {
            decode::is_unsolicited_na(&f.data).is_some_and(|(ip, m)| m == mac && vips.contains(&ip))
        })
        .map(|f| f.ts)
        .collect()
}

/// Bursts of timestamps: a new burst starts after a silence of `split` seconds.
pub fn bursts(times: &[f64], split: f64) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::new();
    for &t in times {
        match out.last_mut() {
            Some(b) if b.last().is_some_and(|last| t - last < split) => b.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

/// What a capture shows of an announce schedule.
#[derive(Debug)]
pub struct Schedule {
    /// Frames per burst, in order.
    pub sizes: Vec<usize>,
    /// Gaps between consecutive frames inside a burst, seconds.
    pub gaps: Vec<f64>,
    /// Time between the starts of consecutive bursts, seconds.
    pub periods: Vec<f64>,
}

impl Schedule {
    /// Measures `times` split into bursts at silences of `split` seconds.
    pub fn of(times: &[f64], split: f64) -> Schedule {
        let b = bursts(times, split);
        Schedule {
            sizes: b.iter().map(Vec::len).collect(),
            gaps: b
                .iter()
                .flat_map(|b| b.windows(2).map(|w| w[1] - w[0]))
                .collect(),
            periods: b.windows(2).map(|w| w[1][0] - w[0][0]).collect(),
        }
    }

    /// The smallest and largest gap inside a burst, seconds (0 when no burst has two frames).
    pub fn gap_range(&self) -> (f64, f64) {
        let min = self.gaps.iter().cloned().fold(f64::MAX, f64::min);
        let max = self.gaps.iter().cloned().fold(0.0, f64::max);
        if self.gaps.is_empty() {
            (0.0, 0.0)
        } else {
            (min, max)
        }
    }
}
