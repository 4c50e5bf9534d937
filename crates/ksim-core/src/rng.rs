//! Seeded random streams, one per component, derived from the scenario seed
//! and a stable label, so adding a random variable in one component never
//! shifts the numbers another component draws.
//!
//! The algorithm is pinned: PCG-64 with a 128-bit multiplier (`Pcg64Mcg`), seeded
//! through SplitMix64 from an FNV-1a hash of the label. Changing any of these
//! changes every output and must be treated as a format change.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// The one random generator type used anywhere in the simulation.
pub type SimRng = Pcg64Mcg;

/// Derives independent streams from a scenario seed.
#[derive(Copy, Clone, Debug)]
pub struct RngStreams {
    seed: u64,
}

impl RngStreams {
    pub fn new(seed: u64) -> Self {
        RngStreams { seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream for a component, e.g. `"scheduler"` or `"workload/web/arrivals"`.
    pub fn stream(&self, label: &str) -> SimRng {
        let mut state = self.seed ^ fnv1a64(label.as_bytes());
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        key[8..].copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        Pcg64Mcg::from_seed(key)
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_seed_and_label_give_same_stream() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = RngStreams::new(7).stream("x");
                move |_| r.random()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = RngStreams::new(7).stream("x");
                move |_| r.random()
            })
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn labels_and_seeds_separate_streams() {
        let first =
            |seed: u64, label: &str| -> u64 { RngStreams::new(seed).stream(label).random() };
        assert_ne!(first(7, "x"), first(7, "y"));
        assert_ne!(first(7, "x"), first(8, "x"));
    }

    /// Pins the algorithm: if this value changes, every golden output changes too.
    #[test]
    fn stream_algorithm_is_pinned() {
        let value: u64 = RngStreams::new(42).stream("scheduler").random();
        assert_eq!(value, PINNED_FIRST_DRAW);
    }

    const PINNED_FIRST_DRAW: u64 = 12_370_568_839_454_061_461;
}
