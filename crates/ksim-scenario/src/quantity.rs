//! Kubernetes resource quantities (k8s.io/apimachinery `resource.Quantity`):
//! `<sign><number><suffix>` where the number is `1`, `1.5`, `1.` or `.5` and
//! the suffix is a binary SI suffix (`Ki Mi Gi Ti Pi Ei`), a decimal SI suffix
//! (`n u m "" k M G T P E`) or a decimal exponent (`e3`, `E-3`).
//!
//! Values are computed exactly with integers, never through floats.
//! Deviations from upstream, chosen to catch mistakes rather than round them
//! away: cpu finer than one millicore is rejected (upstream rounds up), byte
//! quantities may not use `n`, `u` or `m`, negative values are rejected, and
//! values above `u64::MAX` are an error (upstream caps binary values silently).
//! A fractional byte count (e.g. `0.1Ki`) is rounded up, as upstream `Value()` does.

/// Why a quantity string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("invalid quantity `{input}`: {hint}")]
    Syntax { input: String, hint: String },
    #[error("quantity `{0}` must not be negative")]
    Negative(String),
    #[error("quantity `{0}` is too large")]
    TooLarge(String),
    #[error("cpu quantity `{0}` is finer than one millicore (1m), the smallest cpu unit")]
    SubMillicore(String),
    #[error("cpu quantity `{0}` is finer than one nanocore (1n)")]
    SubNanocore(String),
    #[error(
        "invalid quantity `{input}`: `{suffix}` is a fraction of a byte; for memory and storage \
         use binary suffixes like {number}Mi or decimal like {number}M"
    )]
    FractionalByteSuffix {
        input: String,
        suffix: String,
        number: String,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Suffix {
    /// Times 1024^n.
    Binary(u32),
    /// Times 10^n.
    Decimal(i32),
}

/// The pieces of a syntactically valid quantity.
#[derive(Debug)]
struct Parts<'s> {
    negative: bool,
    /// All digits, integer and fraction, without the point.
    digits: String,
    fraction_len: u32,
    suffix: Suffix,
    suffix_text: &'s str,
}

/// Splits `s` into sign, number and suffix text, without interpreting the suffix.
fn split_number(s: &str) -> Option<(bool, &str, &str, &str)> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let int_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (int_part, rest) = rest.split_at(int_end);
    let (fraction, suffix) = match rest.strip_prefix('.') {
        Some(after) => {
            let end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            after.split_at(end)
        }
        None => ("", rest),
    };
    if int_part.is_empty() && fraction.is_empty() {
        return None;
    }
    Some((negative, int_part, fraction, suffix))
}

fn parse_suffix(text: &str) -> Option<Suffix> {
    let suffix = match text {
        "Ki" => Suffix::Binary(1),
        "Mi" => Suffix::Binary(2),
        "Gi" => Suffix::Binary(3),
        "Ti" => Suffix::Binary(4),
        "Pi" => Suffix::Binary(5),
        "Ei" => Suffix::Binary(6),
        "n" => Suffix::Decimal(-9),
        "u" => Suffix::Decimal(-6),
        "m" => Suffix::Decimal(-3),
        "" => Suffix::Decimal(0),
        "k" => Suffix::Decimal(3),
        "M" => Suffix::Decimal(6),
        "G" => Suffix::Decimal(9),
        "T" => Suffix::Decimal(12),
        "P" => Suffix::Decimal(15),
        "E" => Suffix::Decimal(18),
        _ => {
            let exponent = text.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Anything beyond this is far outside u64 either way.
            Suffix::Decimal(
                exponent
                    .parse::<i32>()
                    .unwrap_or(if exponent.starts_with('-') {
                        -1000
                    } else {
                        1000
                    }),
            )
        }
    };
    Some(suffix)
}

fn parts(s: &str) -> Option<Parts<'_>> {
    let (negative, int_part, fraction, suffix_text) = split_number(s)?;
    let suffix = parse_suffix(suffix_text)?;
    let fraction = fraction.trim_end_matches('0');
    let digits = format!("{int_part}{fraction}");
    let digits = digits.trim_start_matches('0');
    Some(Parts {
        negative,
        digits: digits.to_string(),
        fraction_len: fraction.len() as u32,
        suffix,
        suffix_text,
    })
}

fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

/// The quantity times `unit_scale`, as an exact quotient and remainder.
fn scaled(p: &Parts, unit_scale: u128) -> Option<(u128, bool)> {
    if p.digits.is_empty() {
        return Some((0, true));
    }
    // u128 holds 38 digits; more significant digits are far beyond u64 anyway.
    let mantissa: u128 = p.digits.parse().ok()?;
    let (mut numerator, mut exponent10) = (mantissa.checked_mul(unit_scale)?, 0i64);
    match p.suffix {
        Suffix::Binary(n) => numerator = numerator.checked_mul(1u128 << (10 * n))?,
        Suffix::Decimal(n) => exponent10 = i64::from(n),
    }
    exponent10 -= i64::from(p.fraction_len);
    if exponent10 >= 0 {
        let factor = pow10(u32::try_from(exponent10).ok()?)?;
        return Some((numerator.checked_mul(factor)?, true));
    }
    // A denominator beyond u128 means the value is below one unit.
    match u32::try_from(-exponent10).ok().and_then(pow10) {
        Some(denominator) => Some((numerator / denominator, numerator % denominator == 0)),
        None => Some((0, false)),
    }
}

/// A hint for a quantity that did not parse, e.g. `16GB` -> `16Gi or 16G`.
fn syntax_error(input: &str, cpu: bool) -> QuantityError {
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let hint = if compact != input && parts(&compact).is_some() {
        format!("remove the spaces: {compact}")
    } else {
        unit_hint(input, cpu).unwrap_or_else(|| {
            let milli = if cpu { " (cpu also takes m: 500m)" } else { "" };
            "expected a number with an optional suffix: Ki Mi Gi Ti Pi Ei (powers of 1024) or \
             k M G T P E (powers of 1000)"
                .to_string()
                + milli
        })
    };
    QuantityError::Syntax {
        input: input.to_string(),
        hint,
    }
}

/// Recognises familiar but non-Kubernetes unit spellings.
fn unit_hint(input: &str, cpu: bool) -> Option<String> {
    let (_, int_part, fraction, suffix) = split_number(input.trim())?;
    let number = if fraction.is_empty() {
        int_part.to_string()
    } else {
        format!("{int_part}.{fraction}")
    };
    let unit = suffix.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches('s');
    if cpu {
        return match unit {
            "core" | "cpu" | "vcpu" => Some(format!("write {number} for {number} cores")),
            "millicore" | "millicpu" | "mc" => Some(format!("write {number}m")),
            _ => None,
        };
    }
    if matches!(unit, "b" | "byte") {
        return Some(format!("write {number} for bytes, without a unit"));
    }
    let letter = unit
        .strip_suffix("ib")
        .or(unit.strip_suffix('b'))
        .unwrap_or(unit);
    let letter = letter.strip_suffix('i').unwrap_or(letter);
    let decimal = match letter {
        "k" => "k",
        "m" => "M",
        "g" => "G",
        "t" => "T",
        "p" => "P",
        "e" => "E",
        _ => return None,
    };
    let binary = format!("{}i", decimal.to_ascii_uppercase());
    Some(format!(
        "use binary suffixes like {number}{binary} or decimal like {number}{decimal}"
    ))
}

/// Parses a cpu quantity into millicores: `"500m"`, `"2"`, `"1.5"`.
pub fn parse_cpu_millis(input: &str) -> Result<u64, QuantityError> {
    parse_cpu(input, 1000).map_err(|e| match e {
        CpuError::Finer => QuantityError::SubMillicore(input.into()),
        CpuError::Quantity(e) => e,
    })
}

/// Parses a cpu quantity into nanocores (`"500u"` is 500,000): for costs per
/// request or execution, which are often a fraction of a millicore.
pub fn parse_cpu_nanos(input: &str) -> Result<u64, QuantityError> {
    parse_cpu(input, 1_000_000_000).map_err(|e| match e {
        CpuError::Finer => QuantityError::SubNanocore(input.into()),
        CpuError::Quantity(e) => e,
    })
}

enum CpuError {
    /// Not a whole number of the unit.
    Finer,
    Quantity(QuantityError),
}

/// A cpu quantity in units of 1/`per_core` core, exactly.
fn parse_cpu(input: &str, per_core: u128) -> Result<u64, CpuError> {
    let fail = |e: QuantityError| CpuError::Quantity(e);
    let p = parts(input).ok_or_else(|| fail(syntax_error(input, true)))?;
    let (units, exact) =
        scaled(&p, per_core).ok_or_else(|| fail(QuantityError::TooLarge(input.into())))?;
    if p.negative && (units > 0 || !exact) {
        return Err(fail(QuantityError::Negative(input.into())));
    }
    if !exact {
        return Err(CpuError::Finer);
    }
    u64::try_from(units).map_err(|_| fail(QuantityError::TooLarge(input.into())))
}

/// Parses a memory or storage quantity into bytes: `"16Gi"`, `"500M"`, `"1024"`.
pub fn parse_bytes(input: &str) -> Result<u64, QuantityError> {
    let p = parts(input).ok_or_else(|| syntax_error(input, false))?;
    if matches!(p.suffix_text, "n" | "u" | "m") {
        let number = &input[..input.len() - p.suffix_text.len()];
        return Err(QuantityError::FractionalByteSuffix {
            input: input.into(),
            suffix: p.suffix_text.into(),
            number: number.trim_start_matches('+').into(),
        });
    }
    let (bytes, exact) = scaled(&p, 1).ok_or_else(|| QuantityError::TooLarge(input.into()))?;
    if p.negative && (bytes > 0 || !exact) {
        return Err(QuantityError::Negative(input.into()));
    }
    let bytes = if exact { bytes } else { bytes + 1 };
    u64::try_from(bytes).map_err(|_| QuantityError::TooLarge(input.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KI: u64 = 1024;

    // Valid inputs after k8s.io/apimachinery resource TestQuantityParse,
    // converted to our units (bytes; millicores for the fractional ones).
    #[test]
    fn byte_quantities_follow_upstream() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("0Ki", 0),
            ("0k", 0),
            ("0Mi", 0),
            ("0M", 0),
            ("0Gi", 0),
            ("0G", 0),
            ("0Ti", 0),
            ("0T", 0),
            ("1", 1),
            ("1Ki", KI),
            ("8Ki", 8 * KI),
            ("7Mi", 7 * KI * KI),
            ("6Gi", 6 * KI * KI * KI),
            ("5Ti", 5 * KI.pow(4)),
            ("4Pi", 4 * KI.pow(5)),
            ("3Ei", 3 * KI.pow(6)),
            ("100Ti", 100 * KI.pow(4)),
            ("9", 9),
            ("8k", 8_000),
            ("50k", 50_000),
            ("7M", 7_000_000),
            ("6G", 6_000_000_000),
            ("5T", 5_000_000_000_000),
            ("40T", 40_000_000_000_000),
            ("2P", 2_000_000_000_000_000),
            ("1E", 1_000_000_000_000_000_000),
            ("1e3", 1_000),
            ("1E6", 1_000_000),
            ("1e9", 1_000_000_000),
            ("1E18", 1_000_000_000_000_000_000),
            ("100.035k", 100_035),
            ("0.0005k", 1), // 0.5 bytes rounds up, as upstream Value() does
            ("10.035M", 10_035_000),
            ("1.2e3", 1_200),
            ("1.3E+6", 1_300_000),
            ("1.40e9", 1_400_000_000),
            ("8.1k", 8_100),
            ("7.123456M", 7_123_456),
            ("6.987654321G", 6_987_654_321),
            ("2.5P", 2_500_000_000_000_000),
            ("1.01E", 1_010_000_000_000_000_000),
            ("0.5Mi", 512 * KI),
            ("100.035Ki", 102_436), // 102435.84 rounded up
            ("0.025Ti", 27_487_790_695),
            (".0001k", 1),
            ("1.", 1),
            ("1.G", 1_000_000_000),
            ("+1Ki", KI),
            ("-0", 0),
        ];
        for (input, bytes) in cases {
            assert_eq!(parse_bytes(input), Ok(*bytes), "{input}");
        }
    }

    #[test]
    fn cpu_quantities_are_exact_millicores() {
        let cases: &[(&str, u64)] = &[
            ("500m", 500),
            ("2", 2_000),
            ("1.5", 1_500),
            ("0.001", 1),
            (".001", 1),
            ("0.5e0", 500),
            ("0.5e-1", 50),
            ("0.5e-2", 5),
            ("9.01", 9_010),
            ("1000000u", 1_000),
            ("3000000000n", 3_000),
            ("0.100000000000000000000000000000", 100),
            ("0", 0),
        ];
        for (input, millis) in cases {
            assert_eq!(parse_cpu_millis(input), Ok(*millis), "{input}");
        }
    }

    // Invalid inputs from upstream TestQuantityParse, plus our own.
    #[test]
    fn malformed_quantities_are_rejected() {
        for input in [
            "1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-", " 1",
            "1 ", "", ".", "1K", "1e", "1E+", "Gi", "1Gi ",
        ] {
            assert!(
                matches!(parse_bytes(input), Err(QuantityError::Syntax { .. })),
                "{input:?}"
            );
            assert!(parse_cpu_millis(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn cpu_rejects_negatives_and_sub_millicore() {
        assert_eq!(
            parse_cpu_millis("-1"),
            Err(QuantityError::Negative("-1".into()))
        );
        assert_eq!(
            parse_cpu_millis("0.0001"),
            Err(QuantityError::SubMillicore("0.0001".into()))
        );
        assert_eq!(
            parse_cpu_millis("1u"),
            Err(QuantityError::SubMillicore("1u".into()))
        );
        assert_eq!(
            parse_cpu_millis("-0.5m"),
            Err(QuantityError::Negative("-0.5m".into()))
        );
    }

    #[test]
    fn bytes_reject_milli_and_negatives_and_overflow() {
        let err = parse_bytes("512m").unwrap_err().to_string();
        assert!(err.contains("512Mi") && err.contains("512M"), "{err}");
        assert_eq!(
            parse_bytes("-1Gi"),
            Err(QuantityError::Negative("-1Gi".into()))
        );
        assert_eq!(
            parse_bytes("16Ei"),
            Err(QuantityError::TooLarge("16Ei".into()))
        );
        assert_eq!(
            parse_bytes("1e40"),
            Err(QuantityError::TooLarge("1e40".into()))
        );
        assert_eq!(
            parse_bytes("1e99999999999"),
            Err(QuantityError::TooLarge("1e99999999999".into()))
        );
        assert_eq!(parse_bytes("1e-99999999999"), Ok(1));
        assert_eq!(parse_bytes("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_bytes("18446744073709551616").is_err());
        assert!(parse_bytes(&"9".repeat(60)).is_err());
    }

    #[test]
    fn familiar_units_get_kubernetes_suggestions() {
        let message = |s: &str| parse_bytes(s).unwrap_err().to_string();
        assert_eq!(
            message("16GB"),
            "invalid quantity `16GB`: use binary suffixes like 16Gi or decimal like 16G"
        );
        assert!(message("1.5gib").contains("1.5Gi or decimal like 1.5G"));
        assert!(message("512MB").contains("512Mi"));
        assert!(message("10kb").contains("10Ki or decimal like 10k"));
        assert!(message("100 bytes").contains("write 100"));
        assert!(message("16 Gi").contains("remove the spaces: 16Gi"));
        let cpu = parse_cpu_millis("2 cores").unwrap_err().to_string();
        assert!(cpu.contains("write 2 for 2 cores"), "{cpu}");
    }

    #[test]
    fn cpu_nanos_take_fractions_of_a_millicore() {
        assert_eq!(parse_cpu_nanos("500u"), Ok(500_000));
        assert_eq!(parse_cpu_nanos("0.5m"), Ok(500_000));
        assert_eq!(parse_cpu_nanos("2"), Ok(2_000_000_000));
        assert_eq!(parse_cpu_nanos("1n"), Ok(1));
        assert_eq!(
            parse_cpu_nanos("0.5n"),
            Err(QuantityError::SubNanocore("0.5n".into()))
        );
        assert_eq!(
            parse_cpu_nanos("-1m"),
            Err(QuantityError::Negative("-1m".into()))
        );
        assert!(parse_cpu_nanos("2 cores").is_err());
    }
}
