//! Go `time.ParseDuration` syntax: a sequence of decimal numbers, each with
//! an optional fraction and a unit (`ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`),
//! such as `"300ms"`, `"1.5h"` or `"2h45m"`; `"0"` needs no unit.
//!
//! Parsing follows Go exactly, including its range (below 2^63 ns, about 292
//! years) and how it rounds fractions, except that negative durations are
//! rejected because nothing in a scenario can be negative.

use ksim_core::time::SimDuration;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration `{input}`{hint}")]
    Syntax { input: String, hint: String },
    #[error("duration `{0}` must not be negative")]
    Negative(String),
    #[error("duration `{0}` is too large (the limit is about 292 years)")]
    TooLarge(String),
}

/// Exclusive upper bound of a duration in ns, as in Go (`1<<63`).
pub(crate) const LIMIT: u64 = 1 << 63;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Leading decimal digits as an integer; `None` once it reaches 2^63.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut x: u64 = 0;
    for digit in s[..end].bytes() {
        x = x.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
        if x > LIMIT {
            return None;
        }
    }
    Some((x, &s[end..]))
}

/// Leading fraction digits as (numerator, 10^len); digits that no longer fit
/// are consumed but ignored, as in Go.
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (mut x, mut scale, mut overflow) = (0u64, 1.0f64, false);
    for digit in s[..end].bytes() {
        if overflow || x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(digit - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[end..])
}

/// Parses a Go-style duration; see the module documentation.
pub fn parse_duration(input: &str) -> Result<SimDuration, DurationError> {
    let syntax = |hint: String| DurationError::Syntax {
        input: input.to_string(),
        hint,
    };
    let too_large = || DurationError::TooLarge(input.to_string());
    let (negative, mut s) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if s == "0" {
        return Ok(SimDuration::ZERO);
    }
    if s.is_empty() {
        return Err(syntax(suggestion_hint(input)));
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(syntax(suggestion_hint(input)));
        }
        let before = s.len();
        let (whole, rest) = leading_int(s).ok_or_else(too_large)?;
        s = rest;
        let has_int = s.len() != before;
        let (mut fraction, mut scale, mut has_fraction) = (0, 1.0, false);
        if let Some(rest) = s.strip_prefix('.') {
            let before = rest.len();
            (fraction, scale, s) = leading_fraction(rest);
            has_fraction = s.len() != before;
        }
        if !has_int && !has_fraction {
            return Err(syntax(suggestion_hint(input)));
        }
        let unit_end = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        let (unit, rest) = s.split_at(unit_end);
        s = rest;
        if unit.is_empty() {
            return Err(syntax(missing_unit_hint(input)));
        }
        let Some(unit) = unit_nanos(unit) else {
            return Err(syntax(suggestion_hint(input)));
        };
        let mut value = whole
            .checked_mul(unit)
            .filter(|v| *v <= LIMIT)
            .ok_or_else(too_large)?;
        if fraction > 0 {
            // Go's float step, kept so results match it to the nanosecond.
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(too_large());
            }
        }
        total = total
            .checked_add(value)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(too_large)?;
    }
    if negative && total > 0 {
        return Err(DurationError::Negative(input.to_string()));
    }
    if total >= LIMIT {
        return Err(too_large());
    }
    Ok(SimDuration::from_nanos(total))
}

fn missing_unit_hint(input: &str) -> String {
    let number = input.trim_start_matches('+');
    format!(": missing unit (write \"{number}s\" for seconds; units are ns, us, ms, s, m, h)")
}

fn suggestion_hint(input: &str) -> String {
    match suggest(input) {
        Some(fixed) => format!(": did you mean `{fixed}`?"),
        None => ": expected a number and a unit (ns, us, ms, s, m, h), like \"90s\", \"5m\", \
                 \"1h30m\" or \"250ms\""
            .to_string(),
    }
}

/// Maps spelled-out units (`5 minutes`, `2 days`, `1h 30m`) to Go syntax.
fn suggest(input: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = input.trim();
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let after = after.trim_start();
        let unit_end = after
            .find(|c: char| c.is_whitespace() || c.is_ascii_digit() || c == '.' || c == ',')
            .unwrap_or(after.len());
        let (word, after) = after.split_at(unit_end);
        rest = after.trim_start_matches([' ', '\t', ',']);
        if number.is_empty() {
            return None;
        }
        let word = word.to_lowercase();
        let (unit, days) = match word.as_str() {
            "ns" | "nsec" | "nsecs" | "nanosecond" | "nanoseconds" => ("ns", 0),
            "us" | "µs" | "μs" | "usec" | "usecs" | "microsecond" | "microseconds" => ("us", 0),
            "ms" | "msec" | "msecs" | "milli" | "millis" | "millisecond" | "milliseconds" => {
                ("ms", 0)
            }
            "" | "s" | "sec" | "secs" | "second" | "seconds" => ("s", 0),
            "m" | "min" | "mins" | "minute" | "minutes" => ("m", 0),
            "h" | "hr" | "hrs" | "hour" | "hours" => ("h", 0),
            "d" | "day" | "days" => ("h", 24),
            "w" | "wk" | "week" | "weeks" => ("h", 24 * 7),
            _ => return None,
        };
        if days > 0 {
            let n: u64 = number.parse().ok()?;
            out.push_str(&format!("{}{unit}", n.checked_mul(days)?));
        } else {
            out.push_str(number);
            out.push_str(unit);
        }
    }
    (!out.is_empty() && out != input && parse_duration(&out).is_ok()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;

    // Non-negative cases of Go's time.TestParseDuration (parseDurationTests).
    #[test]
    fn go_parse_duration_cases() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("5s", 5 * S),
            ("30s", 30 * S),
            ("1478s", 1478 * S),
            ("+5s", 5 * S),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5 * S),
            ("5.6s", 5 * S + 600 * MS),
            ("5.s", 5 * S),
            (".5s", 500 * MS),
            ("1.0s", S),
            ("1.00s", S),
            ("1.004s", S + 4 * MS),
            ("1.0040s", S + 4 * MS),
            ("100.00100s", 100 * S + MS),
            ("10ns", 10),
            ("11us", 11 * US),
            ("12\u{b5}s", 12 * US),
            ("12\u{3bc}s", 12 * US),
            ("13ms", 13 * MS),
            ("14s", 14 * S),
            ("15m", 15 * M),
            ("16h", 16 * H),
            ("3h30m", 3 * H + 30 * M),
            ("10.5s4m", 4 * M + 10 * S + 500 * MS),
            ("1h2m3s4ms5us6ns", H + 2 * M + 3 * S + 4 * MS + 5 * US + 6),
            ("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * M),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", (1 << 63) - 1),
            ("9223372036854775.807us", (1 << 63) - 1),
            ("9223372036s854ms775us807ns", (1 << 63) - 1),
            ("0.100000000000000000000h", 6 * M),
            ("0.830103483285477580700h", 49 * M + 48 * S + 372_539_827),
            ("1.5h", 90 * M),
            ("250ms", 250 * MS),
        ];
        for (input, nanos) in cases {
            assert_eq!(
                parse_duration(input),
                Ok(SimDuration::from_nanos(*nanos)),
                "{input}"
            );
        }
    }

    // Go's parseDurationErrorTests, plus negatives (valid in Go, not here).
    #[test]
    fn go_parse_duration_errors() {
        for input in [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "\u{fffd}",
            "\u{fffd} hello \u{fffd} world",
            "9223372036854775810ns",
            "9223372036854775808ns",
            "9223372036854776us",
            "3000000h",
            "9223372036854775.808us",
            "9223372036854ms775us808ns",
            "-5s",
            "-2m3.4s",
            "1h 30m",
            " 1s",
        ] {
            assert!(parse_duration(input).is_err(), "{input:?}");
        }
        assert_eq!(
            parse_duration("-5s"),
            Err(DurationError::Negative("-5s".into()))
        );
        assert_eq!(
            parse_duration("3000000h"),
            Err(DurationError::TooLarge("3000000h".into()))
        );
    }

    #[test]
    fn spelled_out_units_get_suggestions() {
        let message = |s: &str| parse_duration(s).unwrap_err().to_string();
        assert_eq!(
            message("5 minutes"),
            "invalid duration `5 minutes`: did you mean `5m`?"
        );
        assert!(message("1h 30m").contains("`1h30m`"));
        assert!(message("2 days").contains("`48h`"));
        assert!(message("1d").contains("`24h`"));
        assert!(message("10 sec").contains("`10s`"));
        assert!(message("90").contains("missing unit (write \"90s\""));
        assert!(message("soon").contains("expected a number and a unit"));
    }
}
