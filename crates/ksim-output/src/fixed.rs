//! Fixed-point decimal formatting of integer nanoseconds. Integer arithmetic
//! keeps the text exact and identical on every platform.

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
    fn largest_time_does_not_overflow() {
        assert_eq!(Fixed::secs3(u64::MAX).to_string(), "18446744073.710");
    }
}
