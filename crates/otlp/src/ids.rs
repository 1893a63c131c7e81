//! Trace and span identifiers, the W3C `traceparent` header, and the
//! sampler Traefik configures (parent-based, else a ratio of trace ids).

use std::fmt::Write as _;

/// A 16-byte trace id; never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id; never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// Reads back [`TraceId::to_hex`]'s text.
    pub fn from_hex(s: &str) -> Option<TraceId> {
        unhex(s).map(TraceId)
    }

    /// A random, valid trace id.
    pub fn random() -> TraceId {
        loop {
            let v = fastrand::u128(..);
            if v != 0 {
                return TraceId(v.to_be_bytes());
            }
        }
    }

    /// Lower-case hex, 32 characters.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl SpanId {
    /// Reads back [`SpanId::to_hex`]'s text.
    pub fn from_hex(s: &str) -> Option<SpanId> {
        unhex(s).map(SpanId)
    }

    /// A random, valid span id.
    pub fn random() -> SpanId {
        loop {
            let v = fastrand::u64(..);
            if v != 0 {
                return SpanId(v.to_be_bytes());
            }
        }
    }

    /// Lower-case hex, 16 characters.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// What a W3C `traceparent` header says: the caller's trace, its span
/// and whether it sampled the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub sampled: bool,
}

impl TraceParent {
    /// Reads a `traceparent` value (W3C Trace Context level 1). `None`
    /// when it is not valid: the request then starts a new trace.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let value = value.trim();
        let mut parts = value.split('-');
        let version = parts.next()?;
        let version: [u8; 1] = unhex(version)?;
        if version[0] == 0xff {
            return None;
        }
        let trace_id = TraceId(unhex(parts.next()?)?);
        let span_id = SpanId(unhex(parts.next()?)?);
        let flags: [u8; 1] = unhex(parts.next()?)?;
        // Version 00 has exactly four fields; later versions may add some.
        if version[0] == 0 && parts.next().is_some() {
            return None;
        }
        if trace_id.0 == [0; 16] || span_id.0 == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id,
            span_id,
            sampled: flags[0] & 1 == 1,
        })
    }

    /// The header value: `00-<trace>-<span>-<flags>`.
    pub fn header_value(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id.to_hex(),
            self.span_id.to_hex(),
            if self.sampled { "01" } else { "00" }
        )
    }
}

/// Traefik's sampler: a trace continued from a caller keeps the caller's
/// decision; a new trace is sampled when its id falls in the ratio, as
/// OpenTelemetry's `TraceIDRatioBased` decides (the same id gets the same
/// answer in every process).
#[derive(Debug, Clone, Copy)]
pub struct Sampler {
    /// Trace ids whose low 63 bits are below this are sampled.
    bound: u64,
    always: bool,
}

impl Sampler {
    /// `rate` between 0 (nothing) and 1 (everything).
    pub fn ratio(rate: f64) -> Sampler {
        if rate >= 1.0 {
            return Sampler {
                bound: u64::MAX,
                always: true,
            };
        }
        let rate = if rate.is_nan() { 0.0 } else { rate.max(0.0) };
        Sampler {
            // `as` saturates; 2^63 is exact in an f64.
            bound: (rate * 9_223_372_036_854_775_808.0) as u64,
            always: false,
        }
    }

    /// Whether a span of trace `trace_id` is recorded, `parent` being the
    /// caller's context when there is one.
    pub fn sampled(&self, trace_id: &TraceId, parent: Option<&TraceParent>) -> bool {
        if let Some(p) = parent {
            return p.sampled;
        }
        if self.always {
            return true;
        }
        let mut low = [0u8; 8];
        low.copy_from_slice(&trace_id.0[8..]);
        (u64::from_be_bytes(low) >> 1) < self.bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trace id, span id and sampled flag a header should give.
    type Parsed = Option<(&'static str, &'static str, bool)>;

    #[test]
    fn traceparent_table() {
        let cases: &[(&str, &str, Parsed)] = &[
            (
                "sampled",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                Some(("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", true)),
            ),
            (
                "not sampled",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
                Some((
                    "0af7651916cd43dd8448eb211c80319c",
                    "b7ad6b7169203331",
                    false,
                )),
            ),
            (
                "other flag bits ignored",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03",
                Some(("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", true)),
            ),
            (
                "a later version may add fields",
                "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-xyz",
                Some(("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", true)),
            ),
            (
                "version 00 with a fifth field",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-xyz",
                None,
            ),
            (
                "version ff",
                "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                None,
            ),
            (
                "upper-case hex",
                "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
                None,
            ),
            (
                "zero trace id",
                "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                None,
            ),
            (
                "zero span id",
                "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                None,
            ),
            ("short", "00-0af7-b7ad-01", None),
            ("empty", "", None),
        ];
        for (what, value, want) in cases {
            let got = TraceParent::parse(value)
                .map(|p| (p.trace_id.to_hex(), p.span_id.to_hex(), p.sampled));
            let want = want.map(|(t, s, f)| (t.to_string(), s.to_string(), f));
            assert_eq!(got, want, "{what}");
        }
    }

    proptest::proptest! {
        /// Whatever a client sends, parsing never panics, and what it
        /// accepts is written back the same (lower-case, version 00).
        #[test]
        fn traceparent_parse_is_total(s in "\\PC{0,80}") {
            if let Some(p) = TraceParent::parse(&s) {
                proptest::prop_assert_eq!(TraceParent::parse(&p.header_value()), Some(p));
            }
        }

        #[test]
        fn traceparent_of_valid_shape(t in "[0-9a-f]{32}", s in "[0-9a-f]{16}", f in "[0-9a-f]{2}") {
            let value = format!("00-{t}-{s}-{f}");
            let parsed = TraceParent::parse(&value);
            let zero = t.bytes().all(|b| b == b'0') || s.bytes().all(|b| b == b'0');
            proptest::prop_assert_eq!(parsed.is_some(), !zero);
        }
    }

    #[test]
    fn traceparent_round_trip() {
        let p = TraceParent {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            sampled: true,
        };
        assert_eq!(TraceParent::parse(&p.header_value()), Some(p));
    }

    #[test]
    fn sampler_ratio_and_parent() {
        let parent_yes = TraceParent {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            sampled: true,
        };
        let parent_no = TraceParent {
            sampled: false,
            ..parent_yes
        };
        let never = Sampler::ratio(0.0);
        let always = Sampler::ratio(1.0);
        let half = Sampler::ratio(0.5);
        let id = TraceId::random();
        assert!(!never.sampled(&id, None));
        assert!(always.sampled(&id, None));
        assert!(never.sampled(&id, Some(&parent_yes)), "the parent decides");
        assert!(!always.sampled(&id, Some(&parent_no)), "the parent decides");
        // The low 64 bits, shifted right once, against half of 2^63.
        let low = |v: u64| {
            let mut b = [0u8; 16];
            b[8..].copy_from_slice(&v.to_be_bytes());
            TraceId(b)
        };
        assert!(half.sampled(&low(0), None));
        assert!(half.sampled(&low((1 << 62) * 2 - 1), None));
        assert!(!half.sampled(&low((1 << 62) * 2), None));
        let n = 4000;
        let kept = (0..n)
            .filter(|_| half.sampled(&TraceId::random(), None))
            .count();
        assert!((1600..2400).contains(&kept), "{kept} of {n} sampled");
    }
}
