//! Fixed-point decimal formatting of integer nanoseconds. Integer arithmetic
//! keeps the text exact and identical on every platform. Also the rounding of
//! the control plane's float metrics.

use std::fmt;

use ksim_core::time::{SimDuration, NANOS_PER_MILLI, NANOS_PER_SEC};

/// `nanos` expressed in units of `unit_nanos`, rounded half up to `decimals`
/// places.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Fixed {
    nanos: u64,
    unit_nanos: u64,
    decimals: u32,
}

impl Fixed {
    /// Seconds with millisecond resolution (timeline times).
    pub(crate) fn secs3(nanos: u64) -> Self {
        Fixed {
            nanos,
            unit_nanos: NANOS_PER_SEC,
            decimals: 3,
        }
    }

    /// Seconds with microsecond resolution (pod timestamps, so per-pod
    /// latencies below a millisecond survive).
    pub(crate) fn secs6(nanos: u64) -> Self {
        Fixed {
            nanos,
            unit_nanos: NANOS_PER_SEC,
            decimals: 6,
        }
    }

    /// Milliseconds with microsecond resolution (latencies).
    pub(crate) fn ms3(duration: SimDuration) -> Self {
        Fixed {
            nanos: duration.0,
            unit_nanos: NANOS_PER_MILLI,
            decimals: 3,
        }
    }

    /// The same rounded value as an `f64`, for JSON.
    pub(crate) fn to_f64(self) -> f64 {
        let (steps, scale) = self.steps();
        steps as f64 / scale as f64
    }

    /// Seconds without trailing zeros, for prose: `130`, `60.5`.
    pub(crate) fn trimmed(self) -> String {
        let text = self.to_string();
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }

    fn steps(self) -> (u128, u128) {
        let scale = 10u128.pow(self.decimals);
        let step = u128::from(self.unit_nanos) / scale;
        ((u128::from(self.nanos) + step / 2) / step, scale)
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (steps, scale) = self.steps();
        write!(
            f,
            "{}.{:0width$}",
            steps / scale,
            steps % scale,
            width = self.decimals as usize
        )
    }
}

/// Beyond this magnitude an `f64` is too coarse for a sixth decimal to be
/// noise worth removing (and scaling by 10^6 would no longer be exact).
const ROUND_6DP_LIMIT: f64 = 1e9;

/// `value` rounded to six decimal places, so float noise such as
/// `0.7000000000000001` stays out of the outputs. Printed with `{}` (the
/// shortest text that reads back the same, computed by Rust itself, hence
/// identical everywhere), the result has at most six decimals. Negative zero
/// becomes zero; non-finite values pass through for the caller to refuse.
pub(crate) fn round_6dp(value: f64) -> f64 {
    if value.is_nan() || value.abs() >= ROUND_6DP_LIMIT {
        return value;
    }
    let rounded = (value * 1e6).round() / 1e6;
    if rounded == 0.0 {
        0.0
    } else {
        rounded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_up_with_fixed_digits() {
        assert_eq!(Fixed::secs3(0).to_string(), "0.000");
        assert_eq!(Fixed::secs3(1_499_999).to_string(), "0.001");
        assert_eq!(Fixed::secs3(1_500_000).to_string(), "0.002");
        assert_eq!(Fixed::secs3(61_000_000_000).to_string(), "61.000");
        assert_eq!(Fixed::secs6(1_234_567_890).to_string(), "1.234568");
        assert_eq!(Fixed::ms3(SimDuration(12_345_500)).to_string(), "12.346");
        assert_eq!(Fixed::ms3(SimDuration(12_345_500)).to_f64(), 12.346);
    }

    #[test]
    fn trimmed_seconds_drop_trailing_zeros() {
        assert_eq!(Fixed::secs3(130_000_000_000).trimmed(), "130");
        assert_eq!(Fixed::secs3(60_500_000_000).trimmed(), "60.5");
        assert_eq!(Fixed::secs3(0).trimmed(), "0");
        assert_eq!(Fixed::secs3(100_000_000_000).trimmed(), "100");
    }

    #[test]
    fn floats_lose_their_noise_but_keep_six_decimals() {
        let text = |v: f64| round_6dp(v).to_string();
        assert_eq!(text(0.1 + 0.2), "0.3");
        assert_eq!(text(0.7000000000000001), "0.7");
        assert_eq!(text(2.25), "2.25");
        assert_eq!(text(1.0 / 3.0), "0.333333");
        assert_eq!(text(0.0000004), "0");
        assert_eq!(text(-0.0000004), "0");
        assert_eq!(text(44_320.0), "44320");
        assert_eq!(text(999_999_999.123_456_7), "999999999.123457");
        assert_eq!(text(2_147_483_648_000.5), "2147483648000.5");
        assert!(round_6dp(f64::NAN).is_nan());
        assert_eq!(round_6dp(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn largest_time_does_not_overflow() {
        assert_eq!(Fixed::secs3(u64::MAX).to_string(), "18446744073.710");
    }
}
