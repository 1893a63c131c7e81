//! Traefik's durations: Go duration strings (`100ms`, `1m30s`, `1.5h`) or a
//! bare number of seconds (`10`, as Traefik's `ptypes.Duration` reads it).

use std::fmt;

/// A duration as Traefik reads and prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const ZERO: Duration = Duration(std::time::Duration::ZERO);

    pub const fn from_secs(s: u64) -> Duration {
        Duration(std::time::Duration::from_secs(s))
    }

    pub const fn from_millis(ms: u64) -> Duration {
        Duration(std::time::Duration::from_millis(ms))
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> std::time::Duration {
        d.0
    }
}

/// Parses `s` as Traefik does; the error says why not.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit in duration {s:?}")),
            other => return Err(format!("unknown unit {other:?} in duration {s:?}")),
        };
        total += number * nanos;
    }
    if negative {
        // Traefik accepts negative durations; they mean "none" wherever used.
        return Ok(Duration::ZERO);
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(format!("duration {s:?} is too large"));
    }
    Ok(Duration(std::time::Duration::from_nanos(
        total.round() as u64
    )))
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String`: `0s`, `100ms`, `1m30s`, `1h0m0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < 1_000 {
            return write!(f, "{nanos}ns");
        }
        if nanos < 1_000_000 {
            return write!(f, "{}µs", trim(nanos as f64 / 1e3));
        }
        if nanos < 1_000_000_000 {
            return write!(f, "{}ms", trim(nanos as f64 / 1e6));
        }
        let secs_total = nanos / 1_000_000_000;
        let frac = nanos % 1_000_000_000;
        let (h, m, s) = (secs_total / 3600, (secs_total / 60) % 60, secs_total % 60);
        let secs = if frac == 0 {
            s.to_string()
        } else {
            trim(s as f64 + frac as f64 / 1e9)
        };
        if h > 0 {
            write!(f, "{h}h{m}m{secs}s")
        } else if m > 0 {
            write!(f, "{m}m{secs}s")
        } else {
            write!(f, "{secs}s")
        }
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 10s, 100ms or 1m30s, or a number of seconds")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                Ok(Duration::from_secs(u64::try_from(v).unwrap_or(0)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
                if v.is_finite() && v >= 0.0 {
                    Ok(Duration(std::time::Duration::from_secs_f64(v)))
                } else {
                    Ok(Duration::ZERO)
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let ms = |n| Ok(Duration::from_millis(n));
        let cases: &[(&str, Result<Duration, ()>)] = &[
            ("10s", ms(10_000)),
            ("100ms", ms(100)),
            ("1m30s", ms(90_000)),
            ("1h", ms(3_600_000)),
            ("1.5s", ms(1_500)),
            ("1.5h", ms(5_400_000)),
            ("10", ms(10_000)),
            ("0", ms(0)),
            ("0s", ms(0)),
            ("  5s ", ms(5_000)),
            ("250us", Ok(Duration(std::time::Duration::from_micros(250)))),
            ("42ns", Ok(Duration(std::time::Duration::from_nanos(42)))),
            ("2h45m", ms(9_900_000)),
            ("-1s", ms(0)),
            ("", Err(())),
            ("s", Err(())),
            ("10x", Err(())),
            ("1.2.3s", Err(())),
            ("ten seconds", Err(())),
            ("5 s", Err(())),
        ];
        for (input, want) in cases {
            let got = parse(input).map_err(|_| ());
            assert_eq!(&got, want, "parse({input:?})");
        }
    }

    #[test]
    fn display_table() {
        let cases = [
            (0, "0s"),
            (100, "100ms"),
            (1_500, "1.5s"),
            (10_000, "10s"),
            (90_000, "1m30s"),
            (3_600_000, "1h0m0s"),
            (5_400_000, "1h30m0s"),
        ];
        for (ms, want) in cases {
            assert_eq!(Duration::from_millis(ms).to_string(), want, "{ms} ms");
        }
    }
}
