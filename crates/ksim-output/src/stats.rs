//! Means and their 95% confidence intervals over seeds.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// A mean and its 95% interval; the interval is None with fewer than two
/// values, or for a single pooled value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Estimate {
    pub mean: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl Estimate {
    pub(crate) fn none() -> Self {
        Estimate {
            mean: None,
            low: None,
            high: None,
        }
    }

    pub(crate) fn point(value: f64) -> Self {
        Estimate {
            mean: Some(value),
            ..Estimate::none()
        }
    }
}

/// The mean of `values` with the Student t 95% interval, mean ± t(0.975,
/// n − 1) × s / √n, s the sample standard deviation. For paired differences
/// this is the paired t interval.
pub(crate) fn mean_ci95(values: &[f64]) -> Estimate {
    let n = values.len();
    if n == 0 {
        return Estimate::none();
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Estimate::point(mean);
    }
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    let Ok(t) = StudentsT::new(0.0, 1.0, (n - 1) as f64) else {
        return Estimate::point(mean);
    };
    let half = t.inverse_cdf(0.975) * (variance / n as f64).sqrt();
    Estimate {
        mean: Some(mean),
        low: Some(mean - half),
        high: Some(mean + half),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// t(0.975, 9) = 2.262157 (any table of Student's t).
    #[test]
    fn ten_values_use_t_with_nine_degrees_of_freedom() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let e = mean_ci95(&values);
        assert_eq!(e.mean, Some(5.5));
        // s = sqrt(82.5 / 9) = 3.02765; half = 2.262157 × 3.02765 / √10.
        let half = e.high.unwrap() - 5.5;
        assert!((half - 2.165_850).abs() < 1e-5, "{half}");
        assert!((5.5 - e.low.unwrap() - half).abs() < 1e-12);
    }

    #[test]
    fn one_value_has_no_interval_and_equal_values_a_zero_one() {
        assert_eq!(mean_ci95(&[3.0]), Estimate::point(3.0));
        assert_eq!(mean_ci95(&[]), Estimate::none());
        let e = mean_ci95(&[2.0, 2.0, 2.0]);
        assert_eq!((e.low, e.high), (Some(2.0), Some(2.0)));
    }
}
