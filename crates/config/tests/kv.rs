//! KV keys → dynamic configuration: the forms Traefik documents
//! (routing-configuration/other-providers/kv.md), each next to the dynamic
//! file it means; Traefik's decoding rules (checked against Traefik 3.7.15
//! reading the same keys from a Consul KV API); errors naming the key.

mod common;

use common::{assert_same, yaml, Pairs};
use switchyard_config::kv::{decode_kv, KvConfiguration, DEFAULT_ROOT_KEY};
use switchyard_config::ConfigError;

fn decode(pairs: &[(&str, &str)]) -> Result<KvConfiguration, ConfigError> {
    decode_kv(pairs.iter().copied(), DEFAULT_ROOT_KEY)
}

struct Case {
    what: &'static str,
    keys: &'static [(&'static str, &'static str)],
    yaml: &'static str,
    ignored: &'static [&'static str],
}

fn check(cases: &[Case]) {
    for case in cases {
        let got = decode(case.keys).unwrap_or_else(|e| panic!("{}: {e}", case.what));
        assert_same(case.what, &got.configuration, &yaml(case.yaml));
        assert_eq!(got.ignored, case.ignored, "{}: ignored", case.what);
    }
}

#[test]
fn documented_kv_examples() {
    check(&[
        Case {
            what: "exposing one service",
            keys: &[
                ("traefik/http/routers/my-router/rule", "Host(`example.com`)"),
                ("traefik/http/routers/my-router/service", "my-service"),
                ("traefik/http/services/my-service/loadbalancer/servers/0/url", "http://127.0.0.1:8080"),
            ],
            yaml: "http:\n  routers:\n    my-router:\n      rule: Host(`example.com`)\n      service: my-service\n  services:\n    my-service:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:8080\n",
            ignored: &[],
        },
        Case {
            what: "two routers and two services",
            keys: &[
                ("traefik/http/routers/www-router/rule", "Host(`example-a.com`)"),
                ("traefik/http/routers/www-router/service", "www-service"),
                ("traefik/http/services/www-service/loadbalancer/servers/0/url", "http://127.0.0.1:8000"),
                ("traefik/http/routers/admin-router/rule", "Host(`example-b.com`)"),
                ("traefik/http/routers/admin-router/service", "admin-service"),
                ("traefik/http/services/admin-service/loadbalancer/servers/0/url", "http://127.0.0.1:9000"),
            ],
            yaml: "http:\n  routers:\n    www-router: {rule: Host(`example-a.com`), service: www-service}\n    admin-router: {rule: Host(`example-b.com`), service: admin-service}\n  services:\n    www-service:\n      loadBalancer: {servers: [{url: http://127.0.0.1:8000}]}\n    admin-service:\n      loadBalancer: {servers: [{url: http://127.0.0.1:9000}]}\n",
            ignored: &[],
        },
        Case {
            what: "every router option",
            keys: &[
                ("traefik/http/routers/r/rule", "Host(`example.com`)"),
                ("traefik/http/routers/r/ruleSyntax", "v3"),
                ("traefik/http/routers/r/entrypoints/0", "web"),
                ("traefik/http/routers/r/entrypoints/1", "websecure"),
                ("traefik/http/routers/r/middlewares/0", "auth"),
                ("traefik/http/routers/r/middlewares/1", "prefix"),
                ("traefik/http/routers/r/service", "myservice"),
                ("traefik/http/routers/r/tls", "true"),
                ("traefik/http/routers/r/tls/certresolver", "myresolver"),
                ("traefik/http/routers/r/tls/domains/0/main", "example.org"),
                ("traefik/http/routers/r/tls/domains/0/sans/0", "test.example.org"),
                ("traefik/http/routers/r/tls/domains/0/sans/1", "dev.example.org"),
                ("traefik/http/routers/r/tls/options", "foobar"),
                ("traefik/http/routers/r/observability/accesslogs", "true"),
                ("traefik/http/routers/r/observability/metrics", "true"),
                ("traefik/http/routers/r/observability/tracing", "true"),
                ("traefik/http/routers/r/priority", "42"),
            ],
            yaml: r#"
http:
  routers:
    r:
      rule: Host(`example.com`)
      ruleSyntax: v3
      entryPoints: [web, websecure]
      middlewares: [auth, prefix]
      service: myservice
      tls:
        certResolver: myresolver
        domains:
          - main: example.org
            sans: [test.example.org, dev.example.org]
        options: foobar
      observability: {accesslogs: "true", metrics: "true", tracing: "true"}
      priority: 42
"#,
            ignored: &[],
        },
        Case {
            what: "every service option",
            keys: &[
                ("traefik/http/services/s/loadbalancer/servers/0/url", "http://10.0.0.1:80/"),
                ("traefik/http/services/s/loadbalancer/servers/0/preservePath", "true"),
                ("traefik/http/services/s/loadbalancer/servers/0/weight", "1"),
                ("traefik/http/services/s/loadbalancer/serverstransport", "foobar@file"),
                ("traefik/http/services/s/loadbalancer/passhostheader", "true"),
                ("traefik/http/services/s/loadbalancer/healthcheck/headers/X-Foo", "foobar"),
                ("traefik/http/services/s/loadbalancer/healthcheck/hostname", "example.org"),
                ("traefik/http/services/s/loadbalancer/healthcheck/interval", "10"),
                ("traefik/http/services/s/loadbalancer/healthcheck/path", "/foo"),
                ("traefik/http/services/s/loadbalancer/healthcheck/method", "foobar"),
                ("traefik/http/services/s/loadbalancer/healthcheck/status", "42"),
                ("traefik/http/services/s/loadbalancer/healthcheck/port", "42"),
                ("traefik/http/services/s/loadbalancer/healthcheck/scheme", "http"),
                ("traefik/http/services/s/loadbalancer/healthcheck/timeout", "10"),
                ("traefik/http/services/s/loadbalancer/sticky", "true"),
                ("traefik/http/services/s/loadbalancer/sticky/cookie/httponly", "true"),
                ("traefik/http/services/s/loadbalancer/sticky/cookie/name", "foobar"),
                ("traefik/http/services/s/loadbalancer/sticky/cookie/path", "/foobar"),
                ("traefik/http/services/s/loadbalancer/sticky/cookie/secure", "true"),
                ("traefik/http/services/s/loadbalancer/sticky/cookie/samesite", "none"),
                ("traefik/http/services/s/loadbalancer/sticky/cookie/maxage", "42"),
                ("traefik/http/services/myservice/loadbalancer/responseforwarding/flushinterval", "10"),
            ],
            yaml: r#"
http:
  services:
    s:
      loadBalancer:
        servers:
          - url: http://10.0.0.1:80/
            preservePath: true
            weight: 1
        serversTransport: foobar@file
        passHostHeader: true
        healthCheck:
          headers: {X-Foo: foobar}
          hostname: example.org
          interval: 10s
          path: /foo
          method: foobar
          status: 42
          port: 42
          scheme: http
          timeout: 10s
        sticky:
          cookie: {httpOnly: true, name: foobar, path: /foobar, secure: true, sameSite: none, maxAge: 42}
    myservice:
      loadBalancer:
        responseForwarding: {flushInterval: 10s}
"#,
            ignored: &[],
        },
        Case {
            what: "mirroring, weighted and failover services",
            keys: &[
                ("traefik/http/services/m/mirroring/service", "foobar"),
                ("traefik/http/services/m/mirroring/mirrors/0/name", "foobar"),
                ("traefik/http/services/m/mirroring/mirrors/0/percent", "42"),
                ("traefik/http/services/w/weighted/services/0/name", "foobar"),
                ("traefik/http/services/w/weighted/services/0/weight", "42"),
                ("traefik/http/services/w/weighted/sticky/cookie/name", "foobar"),
                ("traefik/http/services/w/weighted/sticky/cookie/secure", "true"),
                ("traefik/http/services/w/weighted/sticky/cookie/samesite", "none"),
                ("traefik/http/services/w/weighted/sticky/cookie/httpOnly", "true"),
                ("traefik/http/services/w/weighted/sticky/cookie/maxage", "42"),
                ("traefik/http/services/f/failover/fallback", "backup"),
                ("traefik/http/services/f/failover/service", "main"),
            ],
            yaml: r#"
http:
  services:
    m:
      mirroring:
        service: foobar
        mirrors:
          - {name: foobar, percent: "42"}
    w:
      weighted:
        services:
          - {name: foobar, weight: "42"}
        sticky:
          cookie: {name: foobar, secure: "true", samesite: none, httpOnly: "true", maxage: "42"}
    f:
      failover: {fallback: backup, service: main}
"#,
            ignored: &[],
        },
        Case {
            what: "middlewares by type and option",
            keys: &[
                ("traefik/http/middlewares/add/addPrefix/prefix", "/foo"),
                ("traefik/http/middlewares/strip/stripPrefix/prefixes/0", "/a"),
                ("traefik/http/middlewares/strip/stripPrefix/prefixes/1", "/b"),
                ("traefik/http/middlewares/h/headers/customRequestHeaders/X-Script-Name", "test"),
                ("traefik/http/middlewares/h/headers/accessControlAllowMethods/0", "GET"),
                ("traefik/http/middlewares/h/headers/accessControlAllowMethods/1", "PUT"),
                ("traefik/http/middlewares/ip/ipAllowList/sourceRange/0", "10.0.0.0/8"),
                ("traefik/http/middlewares/ip/ipAllowList/ipStrategy", "true"),
            ],
            yaml: r#"
http:
  middlewares:
    add: {addPrefix: {prefix: /foo}}
    strip: {stripPrefix: {prefixes: [/a, /b]}}
    h:
      headers:
        customRequestHeaders: {X-Script-Name: test}
        accessControlAllowMethods: [GET, PUT]
    ip: {ipAllowList: {sourceRange: [10.0.0.0/8], ipStrategy: {}}}
"#,
            ignored: &[],
        },
        Case {
            what: "a servers transport",
            keys: &[
                ("traefik/http/serversTransports/st/maxIdleConnsPerHost", "7"),
                ("traefik/http/serversTransports/st/insecureSkipVerify", "true"),
                ("traefik/http/serversTransports/st/rootCAs/0", "/ca.pem"),
                ("traefik/http/serversTransports/st/forwardingTimeouts/dialTimeout", "3s"),
            ],
            yaml: "http:\n  serversTransports:\n    st:\n      maxIdleConnsPerHost: 7\n      insecureSkipVerify: true\n      rootCAs: [/ca.pem]\n      forwardingTimeouts: {dialTimeout: 3s}\n",
            ignored: &[],
        },
        Case {
            what: "TCP routers, services, middlewares",
            keys: &[
                ("traefik/tcp/routers/t/entrypoints/0", "ep1"),
                ("traefik/tcp/routers/t/entrypoints/1", "ep2"),
                ("traefik/tcp/routers/t/rule", "HostSNI(`example.com`)"),
                ("traefik/tcp/routers/t/service", "myservice"),
                ("traefik/tcp/routers/t/tls", "true"),
                ("traefik/tcp/routers/t/tls/certresolver", "myresolver"),
                ("traefik/tcp/routers/t/tls/domains/0/main", "example.org"),
                ("traefik/tcp/routers/t/tls/domains/0/sans/0", "test.example.org"),
                ("traefik/tcp/routers/t/tls/domains/0/sans/1", "dev.example.org"),
                ("traefik/tcp/routers/t/tls/options", "foobar"),
                ("traefik/tcp/routers/t/tls/passthrough", "true"),
                ("traefik/tcp/routers/t/priority", "42"),
                ("traefik/tcp/services/ts/loadbalancer/servers/0/address", "10.0.0.1:9000"),
                ("traefik/tcp/services/ts/loadbalancer/servers/0/tls", "true"),
                ("traefik/tcp/services/ts/loadbalancer/serverstransport", "foobar@file"),
                ("traefik/tcp/services/tw/weighted/services/0/name", "ts"),
                ("traefik/tcp/services/tw/weighted/services/0/weight", "42"),
                ("traefik/tcp/middlewares/test-inflightconn/inflightconn/amount", "10"),
            ],
            yaml: r#"
tcp:
  routers:
    t:
      entrypoints: ep1,ep2
      rule: HostSNI(`example.com`)
      service: myservice
      tls:
        certresolver: myresolver
        domains:
          - {main: example.org, sans: "test.example.org,dev.example.org"}
        options: foobar
        passthrough: "true"
      priority: "42"
  services:
    ts:
      loadbalancer:
        servers:
          - {address: "10.0.0.1:9000", tls: "true"}
        serverstransport: foobar@file
    tw:
      weighted:
        services:
          - {name: ts, weight: "42"}
  middlewares:
    test-inflightconn:
      inflightconn: {amount: "10"}
"#,
            ignored: &[],
        },
        Case {
            what: "UDP routers and services",
            keys: &[
                ("traefik/udp/routers/u/entrypoints/0", "foobar"),
                ("traefik/udp/routers/u/service", "foobar"),
                ("traefik/udp/services/us/loadBalancer/servers/0/address", "10.0.0.1:53"),
                ("traefik/udp/services/uw/weighted/services/0/name", "us"),
                ("traefik/udp/services/uw/weighted/services/0/weight", "42"),
            ],
            yaml: r#"
udp:
  routers:
    u: {entrypoints: foobar, service: foobar}
  services:
    us:
      loadBalancer:
        servers: [{address: "10.0.0.1:53"}]
    uw:
      weighted:
        services: [{name: us, weight: "42"}]
"#,
            ignored: &[],
        },
        Case {
            what: "TLS options and stores",
            keys: &[
                ("traefik/tls/options/Options0/alpnProtocols/0", "foobar"),
                ("traefik/tls/options/Options0/cipherSuites/0", "foobar"),
                ("traefik/tls/options/Options0/clientAuth/caFiles/0", "foobar"),
                ("traefik/tls/options/Options0/disableSessiontickets", "true"),
                ("traefik/tls/stores/Store0/defaultGeneratedCert/domain/main", "foobar"),
                ("traefik/tls/stores/Store0/defaultGeneratedCert/domain/sans/0", "foobar"),
                ("traefik/tls/stores/Store0/defaultGeneratedCert/domain/sans/1", "foobar"),
                ("traefik/tls/stores/Store0/defaultGeneratedCert/resolver", "foobar"),
            ],
            yaml: r#"
tls:
  options:
    Options0:
      alpnProtocols: [foobar]
      cipherSuites: [foobar]
      clientAuth: {caFiles: [foobar]}
      disableSessionTickets: true
  stores:
    Store0:
      defaultGeneratedCert:
        domain: {main: foobar, sans: [foobar, foobar]}
        resolver: foobar
"#,
            ignored: &[],
        },
    ]);
}

/// Behaviour checked against Traefik 3.7.15 reading the same keys from a
/// Consul KV API (`/api/rawdata`).
#[test]
fn traefik_decoding_rules() {
    check(&[
        Case {
            what: "list elements join in byte order, then split on commas",
            keys: &[
                ("traefik/http/routers/r/entrypoints/0", "web"),
                ("traefik/http/routers/r/entrypoints/1", "x,y"),
                ("traefik/http/routers/r/entrypoints/10", "ten"),
                ("traefik/http/routers/r/entrypoints/2", "two"),
            ],
            yaml: "http:\n  routers:\n    r:\n      entryPoints: [web, x, y, ten, two]\n",
            ignored: &[],
        },
        Case {
            what: "list elements win over the plain key",
            keys: &[
                ("traefik/http/routers/r/middlewares", "plain"),
                ("traefik/http/routers/r/middlewares/0", "m1"),
            ],
            yaml: "http:\n  routers:\n    r:\n      middlewares: [m1]\n",
            ignored: &[],
        },
        Case {
            what: "a server's port and scheme are not read from KV",
            keys: &[
                ("traefik/http/services/s/loadbalancer/servers/0/url", "http://127.0.0.1:9001"),
                ("traefik/http/services/s/loadbalancer/servers/1/url", "http://127.0.0.1:9002"),
                ("traefik/http/services/s/loadbalancer/servers/1/port", "99"),
                ("traefik/http/services/s/loadbalancer/servers/1/scheme", "h2c"),
            ],
            yaml: "http:\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:9001\n          - url: http://127.0.0.1:9002\n",
            ignored: &[
                "traefik/http/services/s/loadbalancer/servers/1/port",
                "traefik/http/services/s/loadbalancer/servers/1/scheme",
            ],
        },
        Case {
            what: "a name of digits among others is [n], as in Traefik",
            keys: &[
                ("traefik/http/routers/7/rule", "Host(`seven`)"),
                ("traefik/http/routers/r1/rule", "Host(`a`)"),
            ],
            yaml: "http:\n  routers:\n    '[7]': {rule: Host(`seven`)}\n    r1: {rule: Host(`a`)}\n",
            ignored: &[],
        },
        Case {
            what: "keys outside http, tcp, udp and tls are skipped; section names in any case",
            keys: &[
                ("traefik/foo/bar", "ignored"),
                ("traefik/HTTP/routers/R2/rule", "Host(`r2`)"),
                ("traefik/http/routers/R2/service", "s1"),
                ("other/http/routers/x/rule", "Host(`x`)"),
            ],
            yaml: "http:\n  routers:\n    R2: {rule: Host(`r2`), service: s1}\n",
            ignored: &[],
        },
        Case {
            what: "tls=false switches TLS off, settings below it included",
            keys: &[
                ("traefik/http/routers/r1/rule", "Host(`a`)"),
                ("traefik/http/routers/r1/tls", "false"),
                ("traefik/http/routers/r1/tls/certresolver", "le"),
                ("traefik/http/routers/r2/tls", "true"),
            ],
            yaml: "http:\n  routers:\n    r1: {rule: Host(`a`)}\n    r2: {tls: {}}\n",
            ignored: &[],
        },
        Case {
            what: "empty segments are skipped (but not before the section: the key is not read)",
            keys: &[
                ("traefik/http/routers//r/rule", "Host(`r`)"),
                ("traefik//http/routers/x/rule", "Host(`x`)"),
            ],
            yaml: "http:\n  routers:\n    r: {rule: Host(`r`)}\n",
            ignored: &[],
        },
        Case {
            what: "no keys",
            keys: &[],
            yaml: "",
            ignored: &[],
        },
    ]);
}

#[test]
fn another_root_key() {
    let got = decode_kv(
        [
            ("edge/http/routers/r/rule", "Host(`edge`)"),
            ("traefik/http/routers/t/rule", "Host(`t`)"),
        ],
        "edge",
    )
    .expect("decodes");
    assert_same(
        "root key edge",
        &got.configuration,
        &yaml("http:\n  routers:\n    r: {rule: Host(`edge`)}\n"),
    );
}

#[test]
fn errors_name_the_key() {
    let cases: &[(&str, Pairs, &str, &str)] = &[
        (
            "an unknown router field",
            &[("traefik/http/routers/r/rul", "Host(`r`)")],
            "key traefik/http/routers/r/rul",
            "field not found",
        ),
        (
            "a bad integer",
            &[("traefik/http/routers/r/priority", "abc")],
            "key traefik/http/routers/r/priority",
            "expected an integer",
        ),
        (
            "a bad value in a list of sections",
            &[
                (
                    "traefik/http/services/s/loadbalancer/servers/0/url",
                    "http://a",
                ),
                (
                    "traefik/http/services/s/loadbalancer/servers/0/weight",
                    "heavy",
                ),
            ],
            "key traefik/http/services/s/loadbalancer/servers/0/weight",
            "expected an integer",
        ),
        (
            "the label-only singular server",
            &[(
                "traefik/http/services/s/loadbalancer/server/url",
                "http://a",
            )],
            "key traefik/http/services/s/loadbalancer/server/url",
            "field not found",
        ),
        (
            "an unknown middleware type",
            &[("traefik/http/middlewares/m/addPrefixes/prefix", "/a")],
            "key traefik/http/middlewares/m/addPrefixes/prefix",
            "not a middleware type",
        ),
        (
            "the root in another case",
            &[("TRAEFIK/http/routers/r/rule", "Host(`r`)")],
            "key TRAEFIK/http/routers/r/rule",
            "invalid key root",
        ),
        (
            "routers all named with digits (Traefik names them [n])",
            &[("traefik/http/routers/1/rule", "Host(`r`)")],
            "key traefik/http/routers/1/rule",
            "expected a map",
        ),
    ];
    for (what, keys, location, message) in cases {
        let err = match decode(keys) {
            Ok(c) => panic!("{what}: decoded to {:?}", c.configuration),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(text.starts_with(&format!("{location}:")), "{what}: {text}");
        assert!(text.contains(message), "{what}: {text}");
    }
}
