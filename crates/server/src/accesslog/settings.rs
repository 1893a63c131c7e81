//! `accessLog` compiled once at start: the format, the filters and the
//! field and header modes, as Traefik reads them (`fields.names` keys in
//! any case; header names in any case; an unknown mode falls back to the
//! default one).

use std::collections::HashMap;
use std::time::Duration;

use switchyard_config::static_config::AccessLog as Config;

/// How a line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Common,
    GenericClf,
    Json,
}

/// What a header becomes in a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    Keep,
    Drop,
    Redact,
}

impl HeaderMode {
    fn parse(s: &str) -> Option<HeaderMode> {
        match s {
            "keep" => Some(HeaderMode::Keep),
            "drop" => Some(HeaderMode::Drop),
            "redact" => Some(HeaderMode::Redact),
            _ => None,
        }
    }
}

/// `keep` / `drop`; anything else is the default.
fn keep_mode(s: &str, default: bool) -> bool {
    match s {
        "keep" => true,
        "drop" => false,
        _ => default,
    }
}

/// The compiled `accessLog` settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub format: Format,
    pub add_internals: bool,
    /// Status ranges, inclusive; empty: no status filter.
    pub status_codes: Vec<(u16, u16)>,
    pub retry_attempts: bool,
    pub min_duration: Duration,
    /// Whether any filter is set (Traefik keeps every line otherwise).
    pub filtered: bool,
    keep_fields: bool,
    /// Lower-cased field name → keep.
    field_names: HashMap<String, bool>,
    header_default: HeaderMode,
    /// Lower-cased header name → mode.
    header_names: HashMap<String, HeaderMode>,
    /// Whether any header can be written.
    any_header: bool,
    pub keep_query: bool,
}

impl Settings {
    /// Compiles `config`; an unknown format is `common`, as Traefik falls
    /// back to it (with an error logged), and bad status codes are an error.
    pub fn new(config: &Config) -> Result<Settings, String> {
        let format = match config.format.as_str() {
            "json" => Format::Json,
            "genericCLF" => Format::GenericClf,
            "common" | "" => Format::Common,
            other => {
                tracing::error!(
                    "unsupported access log format {other:?}, defaulting to common format instead"
                );
                Format::Common
            }
        };
        let (status_codes, retry_attempts, min_duration) = match &config.filters {
            Some(f) => {
                let list: Vec<String> = f
                    .status_codes
                    .iter()
                    .flat_map(|s| s.split(','))
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                let ranges = switchyard_proxy::middlewares::retry::parse_status_ranges(&list)
                    .map_err(|e| format!("accessLog.filters.statusCodes: {e}"))?;
                (ranges, f.retry_attempts, f.min_duration.into())
            }
            None => (Vec::new(), false, Duration::ZERO),
        };
        let fields = config.fields.clone().unwrap_or_default();
        let keep_fields = keep_mode(&fields.default_mode, true);
        let field_names = fields
            .names
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), keep_mode(v, keep_fields)))
            .collect();
        let headers = fields.headers.clone().unwrap_or_default();
        // Traefik's default for headers is `drop`; a mode it does not know
        // is `keep` (its fallback when no default applies).
        let header_default = if headers.default_mode.is_empty() {
            HeaderMode::Drop
        } else {
            HeaderMode::parse(&headers.default_mode).unwrap_or(HeaderMode::Keep)
        };
        let header_names: HashMap<String, HeaderMode> = headers
            .names
            .iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    HeaderMode::parse(v).unwrap_or(header_default),
                )
            })
            .collect();
        let keep_query = fields
            .query_parameters
            .as_ref()
            .is_none_or(|q| keep_mode(&q.default_mode, true));
        let filtered = !status_codes.is_empty() || retry_attempts || !min_duration.is_zero();
        Ok(Settings {
            format,
            add_internals: config.add_internals,
            status_codes,
            retry_attempts,
            min_duration,
            filtered,
            keep_fields,
            field_names,
            any_header: header_default != HeaderMode::Drop
                || header_names.values().any(|m| *m != HeaderMode::Drop),
            header_default,
            header_names,
            keep_query,
        })
    }

    /// Whether the filters keep a request's line (Traefik's
    /// `keepAccessLog`: any filter that matches keeps it).
    pub fn keeps(&self, status: u16, retries: u32, duration: Duration) -> bool {
        if !self.filtered {
            return true;
        }
        self.status_codes
            .iter()
            .any(|(a, b)| (*a..=*b).contains(&status))
            || (self.retry_attempts && retries > 0)
            || (!self.min_duration.is_zero() && duration > self.min_duration)
    }

    /// Whether field `name` is written.
    pub fn keeps_field(&self, name: &str) -> bool {
        // A handful of names at most: compared in place, without making a
        // lower-cased copy of `name`.
        self.field_names
            .iter()
            .find_map(|(k, keep)| k.eq_ignore_ascii_case(name).then_some(*keep))
            .unwrap_or(self.keep_fields)
    }

    /// Whether every field is written (no field mode drops one).
    pub fn keeps_all_fields(&self) -> bool {
        self.keep_fields && self.field_names.values().all(|keep| *keep)
    }

    /// What header `name` (any case) becomes.
    pub fn header_mode(&self, name: &str) -> HeaderMode {
        self.header_names
            .iter()
            .find_map(|(k, mode)| k.eq_ignore_ascii_case(name).then_some(*mode))
            .unwrap_or(self.header_default)
    }

    /// Whether any header can be written (else none is copied).
    pub fn any_header(&self) -> bool {
        self.any_header
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_config::static_config::{
        AccessLogFields, AccessLogFilters, AccessLogHeaders, AccessLogQuery,
    };

    fn with_filters(codes: &[&str], retries: bool, min_ms: u64) -> Settings {
        let config = Config {
            filters: Some(AccessLogFilters {
                status_codes: codes.iter().map(|s| s.to_string()).collect(),
                retry_attempts: retries,
                min_duration: switchyard_config::Duration(Duration::from_millis(min_ms)),
            }),
            ..Config::default()
        };
        Settings::new(&config).expect("valid filters")
    }

    #[test]
    fn filters_table() {
        let ms = Duration::from_millis;
        // (description, codes, retries filter, minDuration ms, status, retries, duration, kept)
        type Case<'a> = (&'a str, &'a [&'a str], bool, u64, u16, u32, Duration, bool);
        let cases: &[Case] = &[
            ("no filter keeps all", &[], false, 0, 500, 0, ms(1), true),
            (
                "status in a range",
                &["200", "300-302"],
                false,
                0,
                301,
                0,
                ms(1),
                true,
            ),
            (
                "status outside",
                &["200", "300-302"],
                false,
                0,
                404,
                0,
                ms(1),
                false,
            ),
            (
                "comma list in one item",
                &["200,300-302"],
                false,
                0,
                302,
                0,
                ms(1),
                true,
            ),
            ("retried kept", &["500"], true, 0, 200, 1, ms(1), true),
            (
                "not retried dropped",
                &["500"],
                true,
                0,
                200,
                0,
                ms(1),
                false,
            ),
            ("slow kept", &[], false, 10, 200, 0, ms(11), true),
            ("fast dropped", &[], false, 10, 200, 0, ms(9), false),
        ];
        for (what, codes, retries, min, status, tried, took, kept) in cases {
            let s = with_filters(codes, *retries, *min);
            assert_eq!(s.keeps(*status, *tried, *took), *kept, "{what}");
        }
    }

    #[test]
    fn bad_status_range_is_an_error() {
        let config = Config {
            filters: Some(AccessLogFilters {
                status_codes: vec!["2xx".into()],
                ..AccessLogFilters::default()
            }),
            ..Config::default()
        };
        let err = Settings::new(&config).expect_err("2xx is not a range");
        assert!(err.contains("statusCodes"), "{err}");
    }

    #[test]
    fn field_and_header_modes_table() {
        let config = Config {
            fields: Some(AccessLogFields {
                default_mode: "drop".into(),
                names: [("ClientHost".to_string(), "keep".to_string())].into(),
                headers: Some(AccessLogHeaders {
                    default_mode: "keep".into(),
                    names: [
                        ("authorization".to_string(), "redact".to_string()),
                        ("X-Secret".to_string(), "drop".to_string()),
                    ]
                    .into(),
                }),
                query_parameters: Some(AccessLogQuery {
                    default_mode: "drop".into(),
                }),
            }),
            ..Config::default()
        };
        let s = Settings::new(&config).expect("valid");
        assert!(s.keeps_field("clienthost"));
        assert!(s.keeps_field("ClientHost"));
        assert!(!s.keeps_field("RequestPath"));
        assert_eq!(s.header_mode("Authorization"), HeaderMode::Redact);
        assert_eq!(s.header_mode("x-secret"), HeaderMode::Drop);
        assert_eq!(s.header_mode("User-Agent"), HeaderMode::Keep);
        assert!(!s.keep_query);
        let defaults = Settings::new(&Config::default()).expect("defaults");
        assert_eq!(defaults.header_mode("User-Agent"), HeaderMode::Drop);
        assert!(!defaults.any_header());
        assert!(defaults.keeps_field("RequestPath"));
        assert!(defaults.keep_query);
        assert_eq!(defaults.format, Format::Common);
    }
}
