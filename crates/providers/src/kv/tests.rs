use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_bad_key_leaves_out_only_its_element() {
    struct Case {
        what: &'static str,
        keys: Vec<(&'static str, &'static str)>,
        routers: Vec<&'static str>,
        services: Vec<&'static str>,
    }
    let good = [
        ("traefik/http/routers/a/rule", "Host(`a`)"),
        ("traefik/http/routers/a/service", "s"),
        (
            "traefik/http/services/s/loadBalancer/servers/0/url",
            "http://127.0.0.1:1",
        ),
    ];
    let cases = [
        Case {
            what: "all good",
            keys: good.to_vec(),
            routers: vec!["a"],
            services: vec!["s"],
        },
        Case {
            what: "unknown router field",
            keys: [&good[..], &[("traefik/http/routers/b/rulez", "Host(`b`)")]].concat(),
            routers: vec!["a"],
            services: vec!["s"],
        },
        Case {
            what: "bad number in a service",
            keys: [
                &good[..],
                &[
                    (
                        "traefik/http/services/t/loadBalancer/servers/0/url",
                        "http://x",
                    ),
                    (
                        "traefik/http/services/t/loadBalancer/servers/0/weight",
                        "heavy",
                    ),
                ],
            ]
            .concat(),
            routers: vec!["a"],
            services: vec!["s"],
        },
        Case {
            what: "the bad element is matched whatever its keys' case",
            keys: [
                &good[..],
                &[
                    ("traefik/HTTP/Routers/b/rule", "Host(`b`)"),
                    ("traefik/http/routers/b/priority", "high"),
                ],
            ]
            .concat(),
            routers: vec!["a"],
            services: vec!["s"],
        },
        Case {
            what: "keys outside the sections are not elements",
            keys: [&good[..], &[("traefik/other/thing", "x")]].concat(),
            routers: vec!["a"],
            services: vec!["s"],
        },
    ];
    for case in cases {
        let config = decode("test", &pairs(&case.keys), "traefik");
        let http = config.http.unwrap_or_default();
        let routers: Vec<&str> = http.routers.keys().map(String::as_str).collect();
        let services: Vec<&str> = http.services.keys().map(String::as_str).collect();
        assert_eq!(routers, case.routers, "{}", case.what);
        assert_eq!(services, case.services, "{}", case.what);
    }
}

#[test]
fn no_keys_is_an_empty_configuration() {
    let config = decode("test", &[], "traefik");
    let routers = config.http.map(|h| h.routers.len()).unwrap_or(0);
    assert_eq!(routers, 0);
}

#[test]
fn endpoints() {
    let cases: [(&str, Option<(&str, u16)>); 7] = [
        ("127.0.0.1:6379", Some(("127.0.0.1", 6379))),
        ("localhost", Some(("localhost", 2379))),
        ("[::1]:7000", Some(("::1", 7000))),
        ("::1", Some(("::1", 2379))),
        (" redis:1 ", Some(("redis", 1))),
        ("host:port", None),
        (":80", None),
    ];
    for (text, want) in cases {
        let got = host_port(text, 2379).ok();
        let want = want.map(|(h, p)| (h.to_string(), p));
        assert_eq!(got, want, "{text:?}");
    }
}

#[test]
fn backoff_doubles_up_to_its_cap_and_resets() {
    let mut b = Backoff::new();
    let waits: Vec<Duration> = (0..10).map(|_| b.next()).collect();
    assert_eq!(waits[0], Duration::from_millis(100));
    assert_eq!(waits[1], Duration::from_millis(200));
    assert_eq!(waits[9], Backoff::MAX);
    assert!(waits.windows(2).all(|w| w[0] <= w[1]));
    b.reset();
    assert_eq!(b.next(), Backoff::FIRST);
}
