//! A small seeded generator for fault phases: reproducible from the printed seed, and no
//! dependency for what is a uniform draw a few dozen times per run.

/// xorshift64* (Vigna): good enough to spread faults over an advert cycle.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (zero, a fixed point of xorshift, is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform draw from [0, 1).
    pub fn unit(&mut self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn reproducible_and_spread_over_the_unit_interval() {
        let draws: Vec<f64> = {
            let mut r = Rng::new(42);
            (0..1000).map(|_| r.unit()).collect()
        };
        let mut again = Rng::new(42);
        assert!(draws.iter().all(|&d| d == again.unit()));
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        // Every tenth of the interval gets a share: the phases are not clustered.
        for decile in 0..10 {
            let n = draws
                .iter()
                .filter(|&&d| (d * 10.0) as usize == decile)
                .count();
            assert!((50..150).contains(&n), "decile {decile}: {n}");
        }
        assert_ne!(Rng::new(0).next_u64(), 0);
    }
}
