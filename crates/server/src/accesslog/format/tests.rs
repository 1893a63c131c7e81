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
        assert_eq!(split_host_port(input), (h, p), "{input}");
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
        assert_eq!(canonical("", input), want, "{input}");
        assert_eq!(canonical("request_", input), format!("request_{want}"));
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

#[test]
fn json_strings_escaped_as_go_writes_them() {
    let cases = [
        ("plain", r#""plain""#),
        ("a\"b\\c", r#""a\"b\\c""#),
        ("<script>&", r#""\u003cscript\u003e\u0026""#),
        ("tab\tnl\ncr\r", r#""tab\tnl\ncr\r""#),
        ("\u{8}\u{c}\u{1}\u{1f}", r#""\b\f\u0001\u001f""#),
        ("\u{2028}\u{2029}", r#""\u2028\u2029""#),
        ("é→😀", "\"é→😀\""),
        ("", r#""""#),
    ];
    for (input, want) in cases {
        let mut out = String::new();
        write_json_str(&mut out, input);
        assert_eq!(out, want, "{input:?}");
        // And it reads back as the same string.
        let back: String = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(back, input);
    }
}

#[test]
fn word_at_a_time_scan_finds_the_first_byte_to_escape() {
    // Every byte value at every position of strings long enough to span
    // whole words and a tail, on a background of plain text: the scan
    // must agree with the byte-by-byte lookup.
    let naive = |s: &[u8]| s.iter().position(|&b| JSON_ESCAPES[usize::from(b)] != 0);
    for len in [1usize, 7, 8, 9, 16, 23, 40] {
        for at in 0..len {
            for b in 0..=255u8 {
                let mut s = vec![b'a'; len];
                s[at] = b;
                assert_eq!(
                    first_to_escape(&s),
                    naive(&s),
                    "byte {b:#x} at {at} of {len}"
                );
            }
        }
    }
    // Two marked bytes: the first one is found.
    let s = b"0123456789<abcdef\\";
    assert_eq!(first_to_escape(s), Some(10));
    assert_eq!(first_to_escape(b""), None);
    assert_eq!(first_to_escape(b"plain-router-name@file"), None);
}

#[test]
fn floats_as_go_writes_them() {
    for (x, want) in [
        (2.0, "2"),
        (0.5, "0.5"),
        (1.0 / 3.0, "0.3333333333333333"),
        (12.25, "12.25"),
    ] {
        let mut out = String::new();
        write_float(&mut out, x);
        assert_eq!(out, want);
    }
}

#[test]
fn json_keys_sorted_with_logrus_keys_merged() {
    let s = settings(|c| {
        c.format = "json".into();
        c.fields = Some(switchyard_config::static_config::AccessLogFields {
            headers: Some(switchyard_config::static_config::AccessLogHeaders {
                default_mode: "keep".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    let line = record().line(&s, SystemTime::UNIX_EPOCH);
    assert!(line.ends_with("}\n"), "{line}");
    let mut in_line: Vec<&str> = line
        .trim_start_matches('{')
        .split(",\"")
        .map(|kv| kv.trim_start_matches('"').split('"').next().unwrap_or(""))
        .collect();
    in_line.dedup();
    let mut keys = in_line.clone();
    keys.sort_unstable();
    assert_eq!(in_line, keys, "{line}");
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&line).expect("json");
    assert_eq!(parsed.len(), keys.len(), "{line}");
    for k in [
        "level",
        "msg",
        "time",
        "request_User-Agent",
        "origin_Content-Type",
        "downstream_Content-Type",
    ] {
        assert!(keys.contains(&k), "{k} missing: {line}");
    }
}

#[test]
fn numbers_written_by_hand() {
    for (n, want) in [
        (0u64, "0"),
        (7, "7"),
        (10, "10"),
        (4_300_000, "4300000"),
        (u64::MAX, "18446744073709551615"),
    ] {
        let mut out = String::new();
        push_u64(&mut out, n);
        assert_eq!(out, want);
    }
    for (n, width, want) in [
        (0u64, 2, "00"),
        (5, 2, "05"),
        (2026, 4, "2026"),
        (12, 4, "0012"),
        (95154842, 8, "95154842"),
        (5, 9, "000000005"),
        (123, 1, "123"),
    ] {
        let mut out = String::new();
        push_padded(&mut out, n, width);
        assert_eq!(out, want, "{n} {width}");
    }
    for (secs, nanos, want) in [
        (0, 0, "1970-01-01T00:00:00Z"),
        (1_796_622_767, 5, "2026-12-07T05:52:47.000000005Z"),
        (1_796_622_767, 500_000_000, "2026-12-07T05:52:47.5Z"),
        (1_796_622_767, 123_456_780, "2026-12-07T05:52:47.12345678Z"),
        (
            253_402_300_799,
            999_999_999,
            "9999-12-31T23:59:59.999999999Z",
        ),
    ] {
        let t = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
        assert_eq!(rfc3339(t, true), want);
        assert_eq!(parse_rfc3339(want), Some(t));
    }
}

/// Every field a record can have comes out in byte order, without the
/// sort that header fields need.
#[test]
fn core_fields_come_sorted() {
    let mut r = record();
    r.request_headers = None;
    r.downstream_headers = None;
    r.recorded.service = None;
    r.size = 5;
    r.tls = Some(TlsFacts {
        version: Some("1.3"),
        cipher: Some("TLS_AES_128_GCM_SHA256"),
        client_subject: Some("CN=c".into()),
    });
    r.recorded.client_username = Some("u".into());
    for service in [false, true] {
        if service {
            r.recorded.service = record().recorded.service;
        }
        let s = settings(|_| {});
        let mut scratch = Scratch::default();
        let fields = r.fields(&s, &mut scratch);
        let names: Vec<&str> = fields.iter().map(|(k, _)| k).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for k in [
            "GzipRatio",
            "TLSClientSubject",
            "TLSVersion",
            "TLSCipher",
            "RequestPort",
            "entryPointName",
        ] {
            assert!(names.contains(&k), "{k}: {names:?}");
        }
        assert_eq!(names.contains(&"ServiceURL"), service);
    }
}

/// The line written field by field (no header fields) is the line the
/// general path builds, sorts and writes, for every variation of record
/// and field modes.
#[test]
fn direct_json_equals_general_json() {
    use switchyard_config::static_config::AccessLogFields;
    let field_modes: Vec<Option<AccessLogFields>> = vec![
        None,
        Some(AccessLogFields {
            default_mode: "drop".into(),
            names: [
                ("RequestPath".to_string(), "keep".to_string()),
                ("duration".to_string(), "keep".to_string()),
            ]
            .into(),
            ..Default::default()
        }),
        Some(AccessLogFields {
            names: [("StartLocal".to_string(), "drop".to_string())].into(),
            ..Default::default()
        }),
        Some(AccessLogFields {
            default_mode: "redact".into(),
            ..Default::default()
        }),
    ];
    let mut records = Vec::new();
    for variant in 0..6 {
        let mut r = record();
        r.request_headers = None;
        r.downstream_headers = None;
        match variant {
            1 => {
                r.forwarded_for = Some("10.0.0.1, \"x\"<y>".into());
                r.path = "/é/\u{2028}?a=1&b=<2>".into();
                r.host = Some("[::1]:8443".into());
                r.client_addr = "[::1]:41000".parse().expect("addr");
            }
            2 => {
                r.router = None;
                r.recorded.service = None;
                r.recorded.origin = None;
                r.status = 404;
                r.host = None;
            }
            3 => {
                r.tls = Some(TlsFacts {
                    version: Some("1.3"),
                    cipher: Some("TLS_AES_128_GCM_SHA256"),
                    client_subject: Some("CN=a\"b".into()),
                });
                r.recorded.trace = Some((
                    "0af7651916cd43dd8448eb211c80319c".into(),
                    "b7ad6b7169203331".into(),
                ));
                r.recorded.client_username = Some("al\\ice".into());
            }
            4 => {
                // Compressed on the way: GzipRatio, a float.
                r.size = 5;
                r.start = SystemTime::UNIX_EPOCH + Duration::new(1_796_622_767, 120_000_000);
            }
            5 => {
                r.entrypoint = Arc::from("we\"b");
                r.router = Some(Arc::from("time"));
                r.start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_622_767);
            }
            _ => {}
        }
        records.push(r);
    }
    let now = SystemTime::UNIX_EPOCH + Duration::new(1_796_622_768, 3);
    // One writer for every line, as the writer thread has: what it keeps
    // from line to line (client address, repeated fields) must never leak
    // into the next line.
    let mut shared = LineWriter::default();
    for fields in &field_modes {
        let s = settings(|c| {
            c.format = "json".into();
            c.fields = fields.clone();
        });
        assert!(!s.any_header());
        for r in &records {
            let mut direct = String::new();
            let mut writer = LineWriter::default();
            writer.write(r, &s, now, &mut direct);
            // A second line through the same writer reuses its clocks.
            writer.write(r, &s, now, &mut direct);
            let mut scratch = Scratch::default();
            let fields = r.fields(&s, &mut scratch);
            let mut general = String::new();
            json_line(&fields, "2026-12-07T05:52:48Z", &mut general);
            assert_eq!(direct, format!("{general}{general}"), "{fields:?}");
            let mut again = String::new();
            shared.write(r, &s, now, &mut again);
            assert_eq!(again, general, "shared writer: {fields:?}");
            let _: serde_json::Value = serde_json::from_str(general.trim_end()).expect("json");
        }
    }
}

/// The router, service and entrypoint texts a writer keeps are found again
/// by their `Arc`, never by an address or text alone: lines of many
/// routers interleaved, more than it keeps, some with equal names, each
/// come out as the general path writes them.
#[test]
fn repeated_fields_follow_their_arc() {
    let s = settings(|c| c.format = "json".into());
    let now = SystemTime::UNIX_EPOCH + Duration::new(1_796_622_768, 0);
    let names: Vec<Arc<str>> = (0..SEGMENTS_PER_FIELD * 2 + 3)
        .map(|i| Arc::from(format!("r{}<{}>@file", i % 5, i).as_str()))
        .collect();
    // Hosts, found again by their text: more than the writer keeps, with
    // ports and without, some to escape.
    let hosts: Vec<Option<Box<str>>> = (0..SEGMENTS_PER_FIELD + 3)
        .map(|i| match i % 4 {
            0 => Some(format!("h{i}.test:{}", 80 + i).into()),
            1 => Some(format!("[::{i}]:8443").into()),
            2 => Some(format!("a<{i}>&b").into()),
            _ => None,
        })
        .collect();
    let services: Vec<ServiceFacts> = (0..2)
        .map(|i| ServiceFacts {
            name: Arc::from(format!("s{i}@file").as_str()),
            url: Arc::from(format!("http://10.0.0.{i}:80/<b>").as_str()),
            addr: Arc::from(format!("10.0.0.{i}:80").as_str()),
        })
        .collect();
    let mut writer = LineWriter::default();
    for round in 0..3 {
        for (i, name) in names.iter().enumerate() {
            let mut r = record();
            r.request_headers = None;
            r.downstream_headers = None;
            r.router = Some(name.clone());
            r.host = hosts[(i * 7 + round) % hosts.len()].clone();
            // Services shared by many lines, or none, or a new one.
            match (i + round) % 5 {
                0 => r.recorded.service = None,
                1 => {}
                n => r.recorded.service = Some(services[n % services.len()].clone()),
            }
            // A new Arc with an earlier router's text, every other line.
            if (i + round) % 2 == 0 {
                r.entrypoint = Arc::from(format!("ep{}", i % 3).as_str());
            }
            if i % 4 == 0 {
                r.client_addr = format!("10.0.{round}.{i}:{}", 1000 + i)
                    .parse()
                    .expect("addr");
            }
            let mut direct = String::new();
            writer.write(&r, &s, now, &mut direct);
            let mut scratch = Scratch::default();
            let mut general = String::new();
            json_line(
                &r.fields(&s, &mut scratch),
                "2026-12-07T05:52:48Z",
                &mut general,
            );
            assert_eq!(direct, general, "round {round}, router {name}");
        }
    }
}
