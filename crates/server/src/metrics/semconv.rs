//! The semantic-convention histograms as `metrics.otlp` pushes them:
//! Traefik's names, descriptions and unit, cumulative explicit-bucket
//! histograms with min and max, attributes sorted by key as the
//! OpenTelemetry SDK sorts them, status code and port as integers.

use switchyard_otlp::proto::common::v1::{any_value, AnyValue, KeyValue};
use switchyard_otlp::proto::metrics::v1::{
    metric, AggregationTemporality, Histogram as ProtoHistogram, HistogramDataPoint, Metric,
};
use switchyard_proxy::semconv::{Attributes, Histogram, SemConv};

/// Which histogram: the server's `error.type` says `Invalid HTTP status
/// code ; N`, the client's `Invalid HTTP status code N`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// `error.type`: the status for 400 and up, a note for a status outside
/// 100..600; none for a success.
fn error_type(side: Side, status: u16) -> Option<String> {
    if !(100..600).contains(&status) {
        let sep = if side == Side::Server { " ;" } else { "" };
        return Some(format!("Invalid HTTP status code{sep} {status}"));
    }
    (status >= 400).then(|| status.to_string())
}

/// The attributes of one set, sorted by key.
fn attributes(side: Side, a: Attributes<'_>) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(8);
    if let Some(e) = error_type(side, a.status) {
        out.push(string("error.type", &e));
    }
    out.push(string("http.request.method", a.method));
    out.push(int("http.response.status_code", i64::from(a.status)));
    out.push(string("network.protocol.name", a.protocol.0));
    out.push(string("network.protocol.version", a.protocol.1));
    out.push(string("server.address", a.address));
    if let Some(port) = a.port {
        out.push(int("server.port", i64::from(port)));
    }
    out.push(string("url.scheme", a.scheme));
    out
}

/// The overflow set's attributes.
fn overflow() -> Vec<KeyValue> {
    vec![KeyValue {
        key: "otel.metric.overflow".to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(true)),
        }),
        ..Default::default()
    }]
}

/// One histogram as an OTLP metric, or none without observations.
fn metric(
    name: &str,
    description: &str,
    side: Side,
    h: &Histogram,
    (start, now): (u64, u64),
) -> Option<Metric> {
    let points: Vec<HistogramDataPoint> = h
        .snapshot()
        .into_iter()
        .map(|(set, s)| HistogramDataPoint {
            attributes: set.map_or_else(overflow, |a| attributes(side, a.get())),
            start_time_unix_nano: start,
            time_unix_nano: now,
            count: s.count,
            sum: Some(s.sum),
            bucket_counts: s.buckets,
            explicit_bounds: h.bounds().to_vec(),
            min: Some(s.min),
            max: Some(s.max),
            ..Default::default()
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    Some(Metric {
        name: name.to_string(),
        description: description.to_string(),
        unit: "s".to_string(),
        metadata: Vec::new(),
        data: Some(metric::Data::Histogram(ProtoHistogram {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
    })
}

/// Both histograms, cumulative from `start` to `now` (Unix nanoseconds).
pub(super) fn metrics(semconv: &SemConv, start: u64, now: u64) -> Vec<Metric> {
    [
        metric(
            "http.server.request.duration",
            "Duration of HTTP server requests.",
            Side::Server,
            &semconv.server,
            (start, now),
        ),
        metric(
            "http.client.request.duration",
            "Duration of HTTP client requests.",
            Side::Client,
            &semconv.client,
            (start, now),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Version;
    use std::time::Duration;
    use switchyard_proxy::semconv::protocol;

    fn values(kvs: &[KeyValue]) -> Vec<(String, String)> {
        kvs.iter()
            .map(|kv| {
                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    Some(any_value::Value::IntValue(i)) => format!("int {i}"),
                    Some(any_value::Value::BoolValue(b)) => format!("bool {b}"),
                    other => format!("{other:?}"),
                };
                (kv.key.clone(), v)
            })
            .collect()
    }

    #[test]
    fn error_type_table() {
        let cases = [
            ("success", Side::Server, 200, None),
            ("redirect", Side::Client, 302, None),
            ("client error", Side::Server, 404, Some("404")),
            ("server error", Side::Client, 502, Some("502")),
            (
                "server: beyond 599",
                Side::Server,
                600,
                Some("Invalid HTTP status code ; 600"),
            ),
            (
                "client: beyond 599",
                Side::Client,
                999,
                Some("Invalid HTTP status code 999"),
            ),
        ];
        for (what, side, status, want) in cases {
            assert_eq!(error_type(side, status).as_deref(), want, "{what}");
        }
    }

    #[test]
    fn histograms_as_traefik_pushes_them() {
        let s = SemConv::new(&[0.5, 1.0]);
        assert!(
            metrics(&s, 1, 2).is_empty(),
            "nothing recorded, nothing sent"
        );
        let server = Attributes {
            method: "GET",
            status: 500,
            protocol: protocol(Version::HTTP_2),
            address: "app.test:81",
            port: None,
            scheme: "https",
        };
        s.server.record(server, Duration::from_millis(700));
        s.server.record(server, Duration::from_millis(100));
        s.client.record(
            Attributes {
                port: Some(0),
                status: 200,
                address: "127.0.0.1:9",
                ..server
            },
            Duration::from_millis(2),
        );
        let got = metrics(&s, 1, 2);
        let names: Vec<&str> = got.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "http.server.request.duration",
                "http.client.request.duration"
            ]
        );
        assert!(got.iter().all(|m| m.unit == "s"));
        let Some(metric::Data::Histogram(h)) = &got[0].data else {
            panic!("not a histogram: {:?}", got[0].data);
        };
        assert_eq!(
            h.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let p = &h.data_points[0];
        assert_eq!(
            values(&p.attributes),
            [
                ("error.type", "500"),
                ("http.request.method", "GET"),
                ("http.response.status_code", "int 500"),
                ("network.protocol.name", "http/2.0"),
                ("network.protocol.version", "HTTP/2.0"),
                ("server.address", "app.test:81"),
                ("url.scheme", "https"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!((p.count, p.bucket_counts.as_slice()), (2, &[1, 1, 0][..]));
        assert_eq!(p.explicit_bounds, [0.5, 1.0]);
        assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (1, 2));
        assert!((p.sum.unwrap_or_default() - 0.8).abs() < 1e-9);
        assert!((p.min.unwrap_or_default() - 0.1).abs() < 1e-9);
        assert!((p.max.unwrap_or_default() - 0.7).abs() < 1e-9);

        let Some(metric::Data::Histogram(c)) = &got[1].data else {
            panic!("not a histogram");
        };
        let keys: Vec<(String, String)> = values(&c.data_points[0].attributes);
        assert_eq!(keys[4], ("server.address".into(), "127.0.0.1:9".into()));
        assert_eq!(keys[5], ("server.port".into(), "int 0".into()));
        assert!(
            !keys.iter().any(|(k, _)| k == "error.type"),
            "no error.type for a 200"
        );
    }
}
