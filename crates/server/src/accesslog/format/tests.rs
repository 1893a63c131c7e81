use super::*;
use switchyard_config::static_config::AccessLog as Config;
use switchyard_proxy::accesslog::{OriginFacts, ServiceFacts};

#[test]
fn split_host_port_table() {
    let cases = [
        ("127.0.0.1:8080", ("127.0.0.1", "8080")),
        ("[::1]:443", ("::1", "443")),
        ("example.com", ("example.com", "-")),
        ("[::1]", ("[::1]", "-")),
        ("::1", ("::1", "-")),
    ];
    for (input, (h, p)) in cases {
        assert_eq!(
            split_host_port(input),
            (h.to_string(), p.to_string()),
            "{input}"
        );
    }
}

#[test]
fn canonical_header_names() {
    for (input, want) in [
        ("user-agent", "User-Agent"),
        ("x-forwarded-for", "X-Forwarded-For"),
        ("referer", "Referer"),
        ("x-real-ip", "X-Real-Ip"),
    ] {
        assert_eq!(canonical(input), want, "{input}");
    }
}

#[test]
fn times_as_go_writes_them() {
    let t = SystemTime::UNIX_EPOCH + Duration::new(1_796_622_752, 951_548_420);
    assert_eq!(rfc3339(t, true), "2026-12-07T05:52:32.95154842Z");
    assert_eq!(rfc3339(t, false), "2026-12-07T05:52:32Z");
    assert_eq!(common_time(t), "07/Dec/2026:05:52:32 +0000");
    assert_eq!(parse_rfc3339(&rfc3339(t, true)), Some(t));
    let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
    assert_eq!(rfc3339(whole, true), "2000-02-29T00:00:00Z");
    assert_eq!(common_time(whole), "29/Feb/2000:00:00:00 +0000");
}

fn record() -> Record {
    let mut req_headers = HeaderMap::new();
    req_headers.insert("user-agent", "ua/1".parse().expect("value"));
    req_headers.insert("referer", "http://ref/\"q".parse().expect("value"));
    req_headers.insert("authorization", "Basic x".parse().expect("value"));
    Record {
        start: SystemTime::UNIX_EPOCH + Duration::new(1_796_622_767, 5),
        duration: Duration::from_micros(4_300),
        client_addr: "127.0.0.1:50444".parse().expect("addr"),
        forwarded_for: None,
        host: Some("127.0.0.1:18990".into()),
        method: http::Method::GET,
        path: "/a/b?x=1".into(),
        version: http::Version::HTTP_11,
        tls: None,
        request_size: 0,
        request_count: 1,
        entrypoint: Arc::from("web"),
        router: Some(Arc::from("r@file")),
        recorded: Recorded {
            service: Some(ServiceFacts {
                name: Arc::from("s@file"),
                url: Arc::from("http://127.0.0.1:18991"),
                addr: Arc::from("127.0.0.1:18991"),
            }),
            origin: Some(OriginFacts {
                status: 200,
                headers: HeaderMap::new(),
                size: 12,
                duration: Duration::from_micros(4_000),
            }),
            retry_attempts: 0,
            client_username: None,
            trace: None,
        },
        status: 200,
        size: 12,
        request_headers: Some(req_headers),
        downstream_headers: Some(HeaderMap::new()),
    }
}

fn settings(yaml_like: impl FnOnce(&mut Config)) -> Settings {
    let mut c = Config::default();
    yaml_like(&mut c);
    Settings::new(&c).expect("settings")
}

#[test]
fn common_line_byte_for_byte() {
    // Headers kept, as in the line the real Traefik wrote for this request.
    let s = settings(|c| {
        c.fields = Some(switchyard_config::static_config::AccessLogFields {
            headers: Some(switchyard_config::static_config::AccessLogHeaders {
                default_mode: "keep".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    assert_eq!(
        record().line(&s, SystemTime::now()),
        "127.0.0.1 - - [07/Dec/2026:05:52:47 +0000] \"GET /a/b?x=1 HTTP/1.1\" 200 12 \"http://ref/\\\"q\" \"ua/1\" 1 \"r@file\" \"http://127.0.0.1:18991\" 4ms\n"
    );
    // Headers dropped (the default): no referer or agent.
    let s = settings(|_| {});
    assert_eq!(
        record().line(&s, SystemTime::now()),
        "127.0.0.1 - - [07/Dec/2026:05:52:47 +0000] \"GET /a/b?x=1 HTTP/1.1\" 200 12 \"-\" \"-\" 1 \"r@file\" \"http://127.0.0.1:18991\" 4ms\n"
    );
    let s = settings(|c| c.format = "genericCLF".into());
    assert_eq!(
        record().line(&s, SystemTime::now()),
        "127.0.0.1 - - [07/Dec/2026:05:52:47 +0000] \"GET /a/b?x=1 HTTP/1.1\" 200 12 \"-\" \"-\"\n"
    );
}

#[test]
fn json_fields_and_modes() {
    let s = settings(|c| {
        c.format = "json".into();
        c.fields = Some(switchyard_config::static_config::AccessLogFields {
            names: [("ClientAddr".to_string(), "drop".to_string())].into(),
            headers: Some(switchyard_config::static_config::AccessLogHeaders {
                default_mode: "keep".into(),
                names: [("Authorization".to_string(), "redact".to_string())].into(),
            }),
            ..Default::default()
        })
    });
    let line = record().line(&s, SystemTime::UNIX_EPOCH);
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!(v["DownstreamStatus"], 200);
    assert_eq!(v["Duration"], 4_300_000);
    assert_eq!(v["OriginDuration"], 4_000_000);
    assert_eq!(v["Overhead"], 300_000);
    assert_eq!(v["RequestPort"], "18990");
    assert_eq!(v["ServiceAddr"], "127.0.0.1:18991");
    assert_eq!(v["entryPointName"], "web");
    assert_eq!(v["level"], "info");
    assert_eq!(v["msg"], "");
    assert_eq!(v["time"], "1970-01-01T00:00:00Z");
    assert_eq!(v["request_Authorization"], "REDACTED");
    assert_eq!(v["request_User-Agent"], "ua/1");
    assert_eq!(v["origin_Content-Type"], "");
    assert!(v.get("ClientAddr").is_none(), "{line}");
    assert!(v.get("GzipRatio").is_none(), "{line}");
    // Keys sorted as logrus writes them (ClientAddr is dropped).
    assert!(line.starts_with("{\"ClientHost\":"), "{line}");
}
