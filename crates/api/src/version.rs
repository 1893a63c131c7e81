//! `/api/version`: the version, a codename and the start date (RFC 3339
//! with nanoseconds, UTC, as Go prints a `time.Time`), plus the dashboard's
//! `disableDashboardAd` and `dashboardName` when set.

use std::time::{SystemTime, UNIX_EPOCH};

use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};
use switchyard_config::static_config::Api;
use switchyard_proxy::{body, Response};

/// The body of `/api/version`.
pub fn version_json(version: &str, started: SystemTime, api: Option<&Api>) -> Value {
    let mut v = json!({
        "Version": version,
        "Codename": "switchyard",
        "startDate": rfc3339_nano(started),
    });
    if let Some(api) = api {
        if api.disable_dashboard_ad {
            v["disableDashboardAd"] = json!(true);
        }
        if !api.dashboard_name.is_empty() {
            v["dashboardName"] = json!(api.dashboard_name);
        }
    }
    v
}

/// The answer: Traefik renders this one with another library, which
/// names the charset and ends without a newline.
pub fn response(body_json: &Value) -> Response {
    let mut r = Response::new(body::full(body_json.to_string()));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}

/// `t` as Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction
/// dropped, no fraction when it is zero.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    let nanos = since.subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        let cases: &[(&str, u64, u32, &str)] = &[
            ("epoch", 0, 0, "1970-01-01T00:00:00Z"),
            (
                "nanoseconds",
                1_796_609_934,
                431_308_176,
                "2026-12-07T02:18:54.431308176Z",
            ),
            (
                "trailing zeros dropped",
                1_796_609_934,
                500_000_000,
                "2026-12-07T02:18:54.5Z",
            ),
            ("leap day", 951_782_400, 1, "2000-02-29T00:00:00.000000001Z"),
            ("end of a year", 1_704_067_199, 0, "2023-12-31T23:59:59Z"),
        ];
        for (desc, secs, nanos, want) in cases {
            let t = UNIX_EPOCH + Duration::new(*secs, *nanos);
            assert_eq!(rfc3339_nano(t), *want, "{desc}");
        }
    }

    #[test]
    fn dashboard_fields() {
        let t = UNIX_EPOCH;
        let plain = version_json("1.0", t, Some(&Api::default()));
        assert!(plain.get("disableDashboardAd").is_none());
        assert!(plain.get("dashboardName").is_none());
        let api = Api {
            disable_dashboard_ad: true,
            dashboard_name: "edge".into(),
            ..Api::default()
        };
        let v = version_json("1.0", t, Some(&api));
        assert_eq!(v["disableDashboardAd"], true);
        assert_eq!(v["dashboardName"], "edge");
        assert_eq!(v["startDate"], "1970-01-01T00:00:00Z");
    }
}
