//! Value distributions for durations and resource requests.
//!
//! Values are in the quantity's base unit (nanoseconds for durations,
//! millicores or bytes for requests). Samples are clamped at zero and
//! rounded to an integer, since every quantity in the model is an integer.
//!
//! Samplers are pinned so that outputs are the same bytes on every machine:
//! uniforms from [`unit_f64`], transcendentals from `libm` (pure Rust)
//! rather than the platform's math library, and methods written here
//! rather than taken from `rand_distr` (whose methods and math calls are not
//! ours to pin). Uniform: min + (max - min)·u. Exponential: inverse
//! transform. Log-normal: median·exp(sigma·z), z from Box–Muller.
//! Empirical: the first value whose cumulative weight exceeds u·total.

use crate::rng::{unit_f64, SimRng};

#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    Constant(f64),
    /// Uniform on `[min, max]`.
    Uniform {
        min: f64,
        max: f64,
    },
    Exponential {
        mean: f64,
    },
    /// Log-normal given by its median (e^mu) and sigma (std. dev. of the log).
    LogNormal {
        median: f64,
        sigma: f64,
    },
    /// Draws one of `values` with probability proportional to its weight.
    Empirical {
        values: Vec<f64>,
        cumulative_weights: Vec<f64>,
    },
}

/// Why a distribution's parameters were rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistributionError {
    #[error("values must be finite and not negative")]
    Negative,
    #[error("min must not exceed max")]
    MinAboveMax,
    #[error("mean must be greater than zero")]
    NonPositiveMean,
    #[error("sigma must be finite and not negative")]
    BadSigma,
    #[error("an empirical distribution needs at least one value")]
    Empty,
    #[error("weights must be as many as values, not negative, and sum above zero")]
    BadWeights,
}

fn non_negative(v: f64) -> Result<f64, DistributionError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(DistributionError::Negative)
    }
}

impl Distribution {
    pub fn constant(value: f64) -> Result<Self, DistributionError> {
        Ok(Distribution::Constant(non_negative(value)?))
    }

    pub fn uniform(min: f64, max: f64) -> Result<Self, DistributionError> {
        let (min, max) = (non_negative(min)?, non_negative(max)?);
        if min > max {
            return Err(DistributionError::MinAboveMax);
        }
        Ok(Distribution::Uniform { min, max })
    }

    pub fn exponential(mean: f64) -> Result<Self, DistributionError> {
        if non_negative(mean)? == 0.0 {
            return Err(DistributionError::NonPositiveMean);
        }
        Ok(Distribution::Exponential { mean })
    }

    pub fn log_normal(median: f64, sigma: f64) -> Result<Self, DistributionError> {
        if non_negative(median)? == 0.0 {
            return Err(DistributionError::NonPositiveMean);
        }
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(DistributionError::BadSigma);
        }
        Ok(Distribution::LogNormal { median, sigma })
    }

    /// `weights` empty means all values are equally likely.
    pub fn empirical(values: Vec<f64>, weights: Vec<f64>) -> Result<Self, DistributionError> {
        if values.is_empty() {
            return Err(DistributionError::Empty);
        }
        for &v in &values {
            non_negative(v)?;
        }
        let weights = if weights.is_empty() {
            vec![1.0; values.len()]
        } else {
            weights
        };
        if weights.len() != values.len() || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(DistributionError::BadWeights);
        }
        let mut total = 0.0;
        let cumulative_weights: Vec<f64> = weights
            .iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        if total <= 0.0 {
            return Err(DistributionError::BadWeights);
        }
        Ok(Distribution::Empirical {
            values,
            cumulative_weights,
        })
    }

    /// The expected value, used for memory estimates and documentation.
    pub fn mean(&self) -> f64 {
        match self {
            Distribution::Constant(v) => *v,
            Distribution::Uniform { min, max } => (min + max) / 2.0,
            Distribution::Exponential { mean } => *mean,
            Distribution::LogNormal { median, sigma } => median * libm::exp(sigma * sigma / 2.0),
            Distribution::Empirical {
                values,
                cumulative_weights,
            } => {
                let mut previous = 0.0;
                let total = *cumulative_weights.last().unwrap_or(&1.0);
                values
                    .iter()
                    .zip(cumulative_weights)
                    .map(|(v, c)| {
                        let w = c - previous;
                        previous = *c;
                        v * w / total
                    })
                    .sum()
            }
        }
    }

    /// The largest value this distribution can return, if bounded.
    pub fn max(&self) -> Option<f64> {
        match self {
            Distribution::Constant(v) => Some(*v),
            Distribution::Uniform { max, .. } => Some(*max),
            Distribution::Empirical { values, .. } => values.iter().copied().reduce(f64::max),
            Distribution::Exponential { .. } | Distribution::LogNormal { .. } => None,
        }
    }

    /// The smallest value this distribution can return.
    pub fn min(&self) -> f64 {
        match self {
            Distribution::Constant(v) => *v,
            Distribution::Uniform { min, .. } => *min,
            Distribution::Empirical { values, .. } => {
                values.iter().copied().fold(f64::INFINITY, f64::min)
            }
            Distribution::Exponential { .. } | Distribution::LogNormal { .. } => 0.0,
        }
    }

    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        let value = match self {
            Distribution::Constant(v) => *v,
            Distribution::Uniform { min, max } => min + (max - min) * unit_f64(rng),
            Distribution::Exponential { mean } => mean * standard_exponential(rng),
            Distribution::LogNormal { median, sigma } => {
                median * libm::exp(sigma * standard_normal(rng))
            }
            Distribution::Empirical {
                values,
                cumulative_weights,
            } => {
                let total = *cumulative_weights.last().expect("validated non-empty");
                let target = unit_f64(rng) * total;
                let index = cumulative_weights
                    .partition_point(|&c| c <= target)
                    .min(values.len() - 1);
                values[index]
            }
        };
        if value.is_finite() && value > 0.0 {
            value.round().min(u64::MAX as f64) as u64
        } else {
            0
        }
    }
}

/// Exp(1) by inverse transform, -ln(1 - u): one draw; 1 - u lies in (0, 1],
/// so the logarithm is finite.
pub(crate) fn standard_exponential(rng: &mut SimRng) -> f64 {
    -libm::log(1.0 - unit_f64(rng))
}

/// N(0, 1) by Box–Muller, cosine branch only (the sine one would need state
/// between calls): sqrt(-2 ln(1 - u1)) · cos(2π u2), two draws, u1 first.
fn standard_normal(rng: &mut SimRng) -> f64 {
    let radius = (2.0 * standard_exponential(rng)).sqrt();
    let angle = std::f64::consts::TAU * unit_f64(rng);
    radius * libm::cos(angle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RngStreams;

    fn sample_mean(d: &Distribution, n: usize) -> f64 {
        let mut rng = RngStreams::new(1).stream("test");
        (0..n).map(|_| d.sample(&mut rng) as f64).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_expected_means() {
        let cases = [
            Distribution::constant(5000.0).unwrap(),
            Distribution::uniform(1000.0, 3000.0).unwrap(),
            Distribution::exponential(10_000.0).unwrap(),
            Distribution::log_normal(10_000.0, 0.5).unwrap(),
            Distribution::empirical(vec![1000.0, 9000.0], vec![3.0, 1.0]).unwrap(),
        ];
        for d in &cases {
            let expected = d.mean();
            let got = sample_mean(d, 200_000);
            assert!(
                (got - expected).abs() / expected < 0.02,
                "{d:?}: mean {got} vs {expected}"
            );
        }
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert_eq!(
            Distribution::uniform(5.0, 1.0),
            Err(DistributionError::MinAboveMax)
        );
        assert_eq!(
            Distribution::constant(-1.0),
            Err(DistributionError::Negative)
        );
        assert_eq!(
            Distribution::exponential(0.0),
            Err(DistributionError::NonPositiveMean)
        );
        assert_eq!(
            Distribution::empirical(vec![], vec![]),
            Err(DistributionError::Empty)
        );
        assert_eq!(
            Distribution::empirical(vec![1.0], vec![1.0, 2.0]),
            Err(DistributionError::BadWeights)
        );
        assert_eq!(
            Distribution::log_normal(1.0, f64::NAN),
            Err(DistributionError::BadSigma)
        );
    }

    #[test]
    fn standard_normal_has_unit_variance_and_normal_tails() {
        let mut rng = RngStreams::new(9).stream("normal");
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let variance = draws.iter().map(|z| (z - mean) * (z - mean)).sum::<f64>() / n as f64;
        // P(|z| > 1.96) = 5% for N(0, 1).
        let tail = draws.iter().filter(|z| z.abs() > 1.96).count() as f64 / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.02, "variance {variance}");
        assert!((tail - 0.05).abs() < 0.003, "tail {tail}");
    }

    /// Pins every sampler bit for bit (the exponential gap of job arrivals
    /// and node failures is `standard_exponential` times the mean). A change
    /// here changes every output and must be treated as a format change.
    #[test]
    fn samplers_are_pinned() {
        let stream = || RngStreams::new(2024).stream("pinned");
        let bits = |sampler: fn(&mut SimRng) -> f64| {
            let mut rng = stream();
            [(); 3].map(|_| sampler(&mut rng).to_bits())
        };
        assert_eq!(
            bits(unit_f64),
            [
                0x3fd8_e114_11c3_d41a,
                0x3fd8_b2d6_b0e8_0f52,
                0x3fd2_02c4_6959_73d4
            ]
        );
        assert_eq!(
            bits(standard_exponential),
            [
                0x3fdf_80ae_83db_b616,
                0x3fdf_3535_9ea0_624f,
                0x3fd5_2687_c293_4dc5
            ]
        );
        assert_eq!(
            bits(standard_normal),
            [
                0xbfe7_efc9_c04a_7254,
                0x3fd5_9be9_5af1_6bd1,
                0x3fc5_c902_f815_50ba
            ]
        );
        let samples = |d: Distribution| {
            let mut rng = stream();
            [(); 3].map(|_| d.sample(&mut rng))
        };
        let second = 1e9;
        let ten_values = (1..=10).map(|v| f64::from(v) * 10.0).collect();
        assert_eq!(
            samples(Distribution::constant(second).unwrap()),
            [1_000_000_000, 1_000_000_000, 1_000_000_000]
        );
        assert_eq!(
            samples(Distribution::uniform(second, 2.0 * second).unwrap()),
            [1_388_737_695, 1_385_915_444, 1_281_418_898]
        );
        assert_eq!(
            samples(Distribution::exponential(second).unwrap()),
            [492_229_108, 487_622_647, 330_476_704]
        );
        assert_eq!(
            samples(Distribution::log_normal(second, 0.5).unwrap()),
            [687_969_686, 1_183_907_659, 1_088_824_249]
        );
        assert_eq!(
            samples(Distribution::empirical(ten_values, vec![]).unwrap()),
            [40, 40, 30]
        );
    }

    #[test]
    fn empirical_never_draws_zero_weight_values() {
        let d = Distribution::empirical(vec![1.0, 2.0, 3.0], vec![0.0, 1.0, 0.0]).unwrap();
        let mut rng = RngStreams::new(3).stream("e");
        assert!((0..1000).all(|_| d.sample(&mut rng) == 2));
    }
}
