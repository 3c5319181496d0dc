//! The simulated network: channels, cuts, delays, loss and duplication.

use std::cmp::Reverse;
use std::time::Duration;

use vipd::vrrp::router::{Advert, Input};

use super::{Conditions, Delivery, Sim};

impl Sim {
    /// Cuts every channel between `side` and the other nodes, both ways.
    pub fn partition(&mut self, side: &[usize]) {
        for channel in 0..self.spec.channels {
            self.cut_channel(channel, side);
        }
    }

    /// Cuts one channel between `side` and the other nodes, both ways.
    pub fn cut_channel(&mut self, channel: usize, side: &[usize]) {
        for &a in side {
            for b in (0..self.nodes.len()).filter(|b| !side.contains(b)) {
                self.cut.insert((channel, a, b));
                self.cut.insert((channel, b, a));
            }
        }
    }

    /// Heals every cut on one channel.
    pub fn heal_channel(&mut self, channel: usize) {
        self.cut.retain(|&(c, _, _)| c != channel);
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub(super) fn deliver_next(&mut self) {
        let Some(Reverse((_, _, d))) = self.queue.pop() else {
            return;
        };
        let advert = Advert {
            from: self.spec.addr_on(d.channel, d.from),
            channel: d.channel,
            priority: d.priority,
            interval: self.spec.interval,
        };
        self.input(d.to, Input::Advert(advert));
    }

    pub(super) fn broadcast(&mut self, from: usize, priority: u8) {
        self.nodes[from].last_advert_sent = Some(self.now);
        self.nodes[from].adverts_sent += 1;
        self.sent.push(self.now);
        for channel in 0..self.spec.channels {
            self.send_on(channel, from, priority);
        }
    }

    fn send_on(&mut self, channel: usize, from: usize, priority: u8) {
        for to in 0..self.nodes.len() {
            if to == from || self.cut.contains(&(channel, from, to)) {
                continue;
            }
            if self.chance(self.conditions.loss) {
                continue;
            }
            let copies = if self.chance(self.conditions.dup) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let at = self.now + self.delay();
                self.seq += 1;
                let delivery = Delivery {
                    to,
                    from,
                    channel,
                    priority,
                };
                self.queue.push(Reverse((at, self.seq, delivery)));
            }
        }
    }

    fn delay(&mut self) -> Duration {
        let Conditions {
            min_delay,
            max_delay,
            ..
        } = self.conditions;
        if max_delay <= min_delay {
            return min_delay;
        }
        let span = (max_delay - min_delay).as_micros() as u64;
        min_delay + Duration::from_micros(self.next_u64() % (span + 1))
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        per_mille > 0 && (self.next_u64() % 1000) < u64::from(per_mille)
    }

    /// Deterministic per seed, so a failing schedule replays exactly.
    pub(super) fn next_u64(&mut self) -> u64 {
        splitmix64(&mut self.rng)
    }
}

/// The next number of the splitmix64 sequence at `state`.
pub(super) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
