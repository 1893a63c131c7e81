//! Container labels → dynamic configuration: the forms Traefik documents
//! (routing-configuration/other-providers/docker.md and the label
//! reference), each written next to the dynamic file it means; Traefik's
//! decoding rules (checked against Traefik 3.7.15 reading the same labels
//! from a Docker API); errors naming the label; provider labels and tags.

mod common;

use common::{assert_same, yaml, Pairs};
use switchyard_config::labels::{
    decode_labels, labels_from_tags, provider_labels, split_label, LabelConfiguration,
    LabelProvider, ProviderLabels, TagStyle,
};
use switchyard_config::ConfigError;

fn decode(labels: &[(&str, &str)]) -> Result<LabelConfiguration, ConfigError> {
    decode_labels(labels.iter().copied())
}

struct Case {
    what: &'static str,
    labels: &'static [(&'static str, &'static str)],
    /// The dynamic file the labels mean.
    yaml: &'static str,
    /// `(protocol, service, port, scheme)` of the label-only server settings.
    servers: &'static [(
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    )],
    ignored: &'static [&'static str],
}

fn check(cases: &[Case]) {
    for case in cases {
        let got = decode(case.labels).unwrap_or_else(|e| panic!("{}: {e}", case.what));
        assert_same(case.what, &got.configuration, &yaml(case.yaml));
        let mut servers = Vec::new();
        for (proto, map) in [
            ("http", &got.servers.http),
            ("tcp", &got.servers.tcp),
            ("udp", &got.servers.udp),
        ] {
            for (name, s) in map {
                servers.push((proto, name.as_str(), s.port.as_deref(), s.scheme.as_deref()));
            }
        }
        assert_eq!(servers, case.servers, "{}: servers", case.what);
        assert_eq!(got.ignored, case.ignored, "{}: ignored", case.what);
    }
}

#[test]
fn documented_docker_examples() {
    check(&[
        Case {
            what: "exposing one service",
            labels: &[("traefik.http.routers.my-container.rule", "Host(`example.com`)")],
            yaml: "http:\n  routers:\n    my-container:\n      rule: Host(`example.com`)\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "a custom port for the container",
            labels: &[
                ("traefik.http.routers.my-container.rule", "Host(`example.com`)"),
                ("traefik.http.services.my-service.loadbalancer.server.port", "12345"),
            ],
            yaml: "http:\n  routers:\n    my-container:\n      rule: Host(`example.com`)\n  services:\n    my-service:\n      loadBalancer:\n        servers:\n          - {}\n",
            servers: &[("http", "my-service", Some("12345"), None)],
            ignored: &[],
        },
        Case {
            what: "two routers and two services on one container",
            labels: &[
                ("traefik.http.routers.www-router.rule", "Host(`example-a.com`)"),
                ("traefik.http.routers.www-router.service", "www-service"),
                ("traefik.http.services.www-service.loadbalancer.server.port", "8000"),
                ("traefik.http.routers.admin-router.rule", "Host(`example-b.com`)"),
                ("traefik.http.routers.admin-router.service", "admin-service"),
                ("traefik.http.services.admin-service.loadbalancer.server.port", "9000"),
            ],
            yaml: "http:\n  routers:\n    www-router:\n      rule: Host(`example-a.com`)\n      service: www-service\n    admin-router:\n      rule: Host(`example-b.com`)\n      service: admin-service\n  services:\n    www-service:\n      loadBalancer:\n        servers: [{}]\n    admin-service:\n      loadBalancer:\n        servers: [{}]\n",
            servers: &[
                ("http", "admin-service", Some("9000"), None),
                ("http", "www-service", Some("8000"), None),
            ],
            ignored: &[],
        },
        Case {
            what: "declaring and referencing a middleware",
            labels: &[
                ("traefik.http.middlewares.my-redirect.redirectscheme.scheme", "https"),
                ("traefik.http.routers.my-container.middlewares", "my-redirect"),
            ],
            yaml: "http:\n  middlewares:\n    my-redirect:\n      redirectScheme:\n        scheme: https\n  routers:\n    my-container:\n      middlewares: [my-redirect]\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "a TCP router with one service",
            labels: &[
                ("traefik.tcp.routers.my-router.rule", "HostSNI(`example.com`)"),
                ("traefik.tcp.routers.my-router.tls", "true"),
                ("traefik.tcp.services.my-service.loadbalancer.server.port", "4123"),
            ],
            yaml: "tcp:\n  routers:\n    my-router:\n      rule: HostSNI(`example.com`)\n      tls: {}\n  services:\n    my-service:\n      loadBalancer:\n        servers:\n          - {}\n",
            servers: &[("tcp", "my-service", Some("4123"), None)],
            ignored: &[],
        },
        Case {
            what: "a TCP middleware",
            labels: &[
                ("traefik.tcp.middlewares.test-inflightconn.inflightconn.amount", "10"),
                ("traefik.tcp.routers.my-service.middlewares", "test-inflightconn"),
            ],
            yaml: "tcp:\n  middlewares:\n    test-inflightconn:\n      inflightconn:\n        amount: '10'\n  routers:\n    my-service:\n      middlewares: test-inflightconn\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "a UDP router with one service",
            labels: &[
                ("traefik.udp.routers.my-router.entrypoints", "udp"),
                ("traefik.udp.services.my-service.loadbalancer.server.port", "4123"),
            ],
            yaml: "udp:\n  routers:\n    my-router:\n      entrypoints: udp\n  services:\n    my-service:\n      loadBalancer:\n        servers:\n          - {}\n",
            servers: &[("udp", "my-service", Some("4123"), None)],
            ignored: &[],
        },
    ]);
}

#[test]
fn documented_router_and_service_options() {
    check(&[
        Case {
            what: "every router option",
            labels: &[
                ("traefik.http.routers.r0.rule", "Host(`example.com`)"),
                ("traefik.http.routers.r0.ruleSyntax", "v3"),
                ("traefik.http.routers.r0.entrypoints", "ep1,ep2"),
                ("traefik.http.routers.r0.middlewares", "auth,prefix,cb"),
                ("traefik.http.routers.r0.service", "myservice"),
                ("traefik.http.routers.r0.tls", "true"),
                ("traefik.http.routers.r0.tls.certresolver", "myresolver"),
                ("traefik.http.routers.r0.tls.domains[0].main", "example.org"),
                ("traefik.http.routers.r0.tls.domains[0].sans", "test.example.org,dev.example.org"),
                ("traefik.http.routers.r0.tls.domains[1].main", "example.net"),
                ("traefik.http.routers.r0.tls.options", "foobar"),
                ("traefik.http.routers.r0.observability.accesslogs", "true"),
                ("traefik.http.routers.r0.observability.metrics", "false"),
                ("traefik.http.routers.r0.observability.tracing", "true"),
                ("traefik.http.routers.r0.priority", "42"),
            ],
            yaml: r#"
http:
  routers:
    r0:
      rule: Host(`example.com`)
      ruleSyntax: v3
      entryPoints: [ep1, ep2]
      middlewares: [auth, prefix, cb]
      service: myservice
      tls:
        certResolver: myresolver
        domains:
          - main: example.org
            sans: [test.example.org, dev.example.org]
          - main: example.net
        options: foobar
      observability:
        accesslogs: "true"
        metrics: "false"
        tracing: "true"
      priority: 42
"#,
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "every load-balancer option",
            labels: &[
                ("traefik.http.services.s.loadbalancer.server.port", "8080"),
                ("traefik.http.services.s.loadbalancer.server.scheme", "https"),
                ("traefik.http.services.s.loadbalancer.server.weight", "3"),
                ("traefik.http.services.s.loadbalancer.server.preservepath", "true"),
                ("traefik.http.services.s.loadbalancer.serverstransport", "foobar@file"),
                ("traefik.http.services.s.loadbalancer.passhostheader", "false"),
                ("traefik.http.services.s.loadbalancer.strategy", "p2c"),
                ("traefik.http.services.s.loadbalancer.healthcheck.headers.X-Foo", "foobar"),
                ("traefik.http.services.s.loadbalancer.healthcheck.hostname", "example.org"),
                ("traefik.http.services.s.loadbalancer.healthcheck.interval", "10s"),
                ("traefik.http.services.s.loadbalancer.healthcheck.unhealthyinterval", "3s"),
                ("traefik.http.services.s.loadbalancer.healthcheck.path", "/foo"),
                ("traefik.http.services.s.loadbalancer.healthcheck.method", "HEAD"),
                ("traefik.http.services.s.loadbalancer.healthcheck.mode", "grpc"),
                ("traefik.http.services.s.loadbalancer.healthcheck.status", "204"),
                ("traefik.http.services.s.loadbalancer.healthcheck.port", "42"),
                ("traefik.http.services.s.loadbalancer.healthcheck.scheme", "http"),
                ("traefik.http.services.s.loadbalancer.healthcheck.timeout", "7"),
                ("traefik.http.services.s.loadbalancer.healthcheck.followredirects", "false"),
                ("traefik.http.services.s.loadbalancer.passivehealthcheck.failurewindow", "42s"),
                ("traefik.http.services.s.loadbalancer.passivehealthcheck.maxfailedattempts", "4"),
                ("traefik.http.services.s.loadbalancer.sticky.cookie", "true"),
                ("traefik.http.services.s.loadbalancer.sticky.cookie.httponly", "true"),
                ("traefik.http.services.s.loadbalancer.sticky.cookie.name", "foobar"),
                ("traefik.http.services.s.loadbalancer.sticky.cookie.path", "/foobar"),
                ("traefik.http.services.s.loadbalancer.sticky.cookie.secure", "true"),
                ("traefik.http.services.s.loadbalancer.sticky.cookie.samesite", "none"),
                ("traefik.http.services.s.loadbalancer.sticky.cookie.maxage", "42"),
                ("traefik.http.services.s.loadbalancer.sticky.cookie.domain", "example.org"),
                ("traefik.http.services.s.loadbalancer.responseforwarding.flushinterval", "10"),
            ],
            yaml: r#"
http:
  services:
    s:
      loadBalancer:
        servers:
          - weight: 3
            preservePath: true
        serversTransport: foobar@file
        passHostHeader: false
        strategy: p2c
        healthCheck:
          headers:
            X-Foo: foobar
          hostname: example.org
          interval: 10s
          unhealthyInterval: 3s
          path: /foo
          method: HEAD
          mode: grpc
          status: 204
          port: 42
          scheme: http
          timeout: 7s
          followRedirects: false
        passiveHealthCheck:
          failureWindow: 42s
          maxFailedAttempts: 4
        sticky:
          cookie:
            httpOnly: true
            name: foobar
            path: /foobar
            secure: true
            sameSite: none
            maxAge: 42
            domain: example.org
        responseForwarding:
          flushInterval: 10s
"#,
            servers: &[("http", "s", Some("8080"), Some("https"))],
            ignored: &[],
        },
        Case {
            what: "a server given by URL",
            labels: &[(
                "traefik.http.services.s.loadbalancer.server.url",
                "http://foobar:8080",
            )],
            yaml: "http:\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://foobar:8080\n",
            servers: &[("http", "s", None, None)],
            ignored: &[],
        },
        Case {
            what: "sticky sessions switched on by their section alone",
            labels: &[("traefik.http.services.s.loadbalancer.sticky", "true")],
            yaml: "http:\n  services:\n    s:\n      loadBalancer:\n        sticky: {}\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "every TCP router and service option",
            labels: &[
                ("traefik.tcp.routers.t0.entrypoints", "ep1,ep2"),
                ("traefik.tcp.routers.t0.rule", "HostSNI(`example.com`)"),
                ("traefik.tcp.routers.t0.ruleSyntax", "v3"),
                ("traefik.tcp.routers.t0.service", "myservice"),
                ("traefik.tcp.routers.t0.tls", "true"),
                ("traefik.tcp.routers.t0.tls.certresolver", "myresolver"),
                ("traefik.tcp.routers.t0.tls.domains[0].main", "example.org"),
                ("traefik.tcp.routers.t0.tls.domains[0].sans", "test.example.org,dev.example.org"),
                ("traefik.tcp.routers.t0.tls.options", "mysoptions"),
                ("traefik.tcp.routers.t0.tls.passthrough", "true"),
                ("traefik.tcp.routers.t0.priority", "42"),
                ("traefik.tcp.services.ts.loadbalancer.server.port", "423"),
                ("traefik.tcp.services.ts.loadbalancer.server.tls", "true"),
                ("traefik.tcp.services.ts.loadbalancer.serverstransport", "foobar@file"),
                ("traefik.tcp.services.ts.loadbalancer.proxyprotocol.version", "2"),
                ("traefik.tcp.services.ts.loadbalancer.terminationdelay", "100"),
            ],
            yaml: r#"
tcp:
  routers:
    t0:
      entrypoints: ep1,ep2
      rule: HostSNI(`example.com`)
      rulesyntax: v3
      service: myservice
      tls:
        certresolver: myresolver
        domains:
          - main: example.org
            sans: test.example.org,dev.example.org
        options: mysoptions
        passthrough: "true"
      priority: "42"
  services:
    ts:
      loadbalancer:
        serverstransport: foobar@file
        proxyprotocol:
          version: "2"
        terminationdelay: "100"
        servers:
          - tls: "true"
"#,
            servers: &[("tcp", "ts", Some("423"), None)],
            ignored: &[],
        },
        Case {
            what: "the default TLS store's generated certificate; other stores are not label-configurable",
            labels: &[
                ("traefik.tls.stores.default.defaultgeneratedcert.resolver", "myresolver"),
                ("traefik.tls.stores.default.defaultgeneratedcert.domain.main", "example.org"),
                ("traefik.tls.stores.default.defaultgeneratedcert.domain.sans", "a.example.org, b.example.org"),
                ("traefik.tls.stores.store0.defaultgeneratedcert.resolver", "other"),
            ],
            yaml: "tls:\n  stores:\n    default:\n      defaultGeneratedCert:\n        resolver: myresolver\n        domain:\n          main: example.org\n          sans: [a.example.org, b.example.org]\n",
            servers: &[],
            ignored: &[],
        },
    ]);
}

#[test]
fn documented_middleware_labels() {
    check(&[Case {
        what: "middlewares of the label reference",
        labels: &[
            ("traefik.http.middlewares.m01.addprefix.prefix", "/foo"),
            ("traefik.http.middlewares.m02.basicauth.headerfield", "X-User"),
            ("traefik.http.middlewares.m02.basicauth.realm", "myrealm"),
            ("traefik.http.middlewares.m02.basicauth.removeheader", "true"),
            ("traefik.http.middlewares.m02.basicauth.users", "a:$apr1$x, b:$apr1$y"),
            ("traefik.http.middlewares.m03.buffering.maxrequestbodybytes", "42"),
            ("traefik.http.middlewares.m03.buffering.memresponsebodybytes", "43"),
            ("traefik.http.middlewares.m04.chain.middlewares", "m01, m02"),
            ("traefik.http.middlewares.m05.circuitbreaker.expression", "NetworkErrorRatio() > 0.5"),
            ("traefik.http.middlewares.m05.circuitbreaker.checkperiod", "42s"),
            ("traefik.http.middlewares.m05.circuitbreaker.responsecode", "503"),
            ("traefik.http.middlewares.m06.compress", "true"),
            ("traefik.http.middlewares.m06.compress.excludedcontenttypes", "text/event-stream, image/png"),
            ("traefik.http.middlewares.m06.compress.minresponsebodybytes", "42"),
            ("traefik.http.middlewares.m07.contenttype", "true"),
            ("traefik.http.middlewares.m08.digestauth.users", "a:r:h, b:r:h"),
            ("traefik.http.middlewares.m09.errors.status", "500-599, 404"),
            ("traefik.http.middlewares.m09.errors.service", "errsvc"),
            ("traefik.http.middlewares.m09.errors.query", "/{status}.html"),
            ("traefik.http.middlewares.m10.forwardauth.address", "http://auth.test"),
            ("traefik.http.middlewares.m10.forwardauth.authresponseheaders", "X-A, X-B"),
            ("traefik.http.middlewares.m10.forwardauth.trustforwardheader", "true"),
            ("traefik.http.middlewares.m10.forwardauth.tls.insecureskipverify", "true"),
            ("traefik.http.middlewares.m11.grpcweb.alloworigins", "a.test, b.test"),
            ("traefik.http.middlewares.m12.headers.customrequestheaders.X-Script-Name", "test"),
            ("traefik.http.middlewares.m12.headers.customresponseheaders.X-Custom-Response-Header", "value"),
            ("traefik.http.middlewares.m12.headers.accesscontrolallowmethods", "GET,OPTIONS,PUT"),
            ("traefik.http.middlewares.m12.headers.accesscontrolmaxage", "100"),
            ("traefik.http.middlewares.m12.headers.sslproxyheaders.X-Forwarded-Proto", "https"),
            ("traefik.http.middlewares.m12.headers.stsseconds", "31536000"),
            ("traefik.http.middlewares.m12.headers.framedeny", "true"),
            ("traefik.http.middlewares.m13.ipallowlist.sourcerange", "127.0.0.1/32, 192.168.1.7"),
            ("traefik.http.middlewares.m13.ipallowlist.ipstrategy", "true"),
            ("traefik.http.middlewares.m13.ipallowlist.ipstrategy.depth", "2"),
            ("traefik.http.middlewares.m13.ipallowlist.ipstrategy.excludedips", "10.0.0.1, 10.0.0.2"),
            ("traefik.http.middlewares.m13.ipallowlist.rejectstatuscode", "404"),
            ("traefik.http.middlewares.m14.ipwhitelist.sourcerange", "10.0.0.0/8"),
            ("traefik.http.middlewares.m15.inflightreq.amount", "10"),
            ("traefik.http.middlewares.m15.inflightreq.sourcecriterion.requesthost", "true"),
            ("traefik.http.middlewares.m16.passtlsclientcert.pem", "true"),
            ("traefik.http.middlewares.m16.passtlsclientcert.info.subject.commonname", "true"),
            ("traefik.http.middlewares.m16.passtlsclientcert.info.sans", "true"),
            ("traefik.http.middlewares.m17.plugin.example.headers.Foo", "Bar"),
            ("traefik.http.middlewares.m18.ratelimit.average", "100"),
            ("traefik.http.middlewares.m18.ratelimit.burst", "50"),
            ("traefik.http.middlewares.m18.ratelimit.period", "1m"),
            ("traefik.http.middlewares.m18.ratelimit.sourcecriterion.ipstrategy.depth", "1"),
            ("traefik.http.middlewares.m19.redirectregex.regex", "^http://localhost/(.*)"),
            ("traefik.http.middlewares.m19.redirectregex.replacement", "http://mydomain/${1}"),
            ("traefik.http.middlewares.m19.redirectregex.permanent", "true"),
            ("traefik.http.middlewares.m20.redirectscheme.scheme", "https"),
            ("traefik.http.middlewares.m20.redirectscheme.port", "8443"),
            ("traefik.http.middlewares.m21.replacepath.path", "/foo"),
            ("traefik.http.middlewares.m22.replacepathregex.regex", "^/foo/(.*)"),
            ("traefik.http.middlewares.m22.replacepathregex.replacement", "/bar/$1"),
            ("traefik.http.middlewares.m23.retry.attempts", "4"),
            ("traefik.http.middlewares.m23.retry.initialinterval", "100ms"),
            ("traefik.http.middlewares.m24.stripprefix.prefixes", "/foobar, /fiibar"),
            ("traefik.http.middlewares.m24.stripprefix.forceslash", "false"),
            ("traefik.http.middlewares.m25.stripprefixregex.regex", "/foo/[a-z0-9]+/[0-9]+/"),
        ],
        yaml: r#"
http:
  middlewares:
    m01: {addPrefix: {prefix: /foo}}
    m02:
      basicAuth:
        headerField: X-User
        realm: myrealm
        removeHeader: true
        users: ["a:$apr1$x", "b:$apr1$y"]
    m03: {buffering: {maxRequestBodyBytes: 42, memResponseBodyBytes: 43}}
    m04: {chain: {middlewares: [m01, m02]}}
    m05:
      circuitBreaker:
        expression: NetworkErrorRatio() > 0.5
        checkPeriod: 42s
        responseCode: 503
    m06:
      compress:
        excludedContentTypes: [text/event-stream, image/png]
        minResponseBodyBytes: 42
    m07: {contentType: {}}
    m08: {digestAuth: {users: ["a:r:h", "b:r:h"]}}
    m09: {errors: {status: ["500-599", "404"], service: errsvc, query: "/{status}.html"}}
    m10:
      forwardAuth:
        address: http://auth.test
        authResponseHeaders: [X-A, X-B]
        trustForwardHeader: true
        tls: {insecureskipverify: "true"}
    m11: {grpcWeb: {allowOrigins: [a.test, b.test]}}
    m12:
      headers:
        customRequestHeaders: {X-Script-Name: test}
        customResponseHeaders: {X-Custom-Response-Header: value}
        accessControlAllowMethods: [GET, OPTIONS, PUT]
        accessControlMaxAge: 100
        sslProxyHeaders: {X-Forwarded-Proto: https}
        stsSeconds: 31536000
        frameDeny: true
    m13:
      ipAllowList:
        sourceRange: [127.0.0.1/32, 192.168.1.7]
        ipStrategy: {depth: 2, excludedIPs: [10.0.0.1, 10.0.0.2]}
        rejectStatusCode: 404
    m14: {ipWhiteList: {sourceRange: [10.0.0.0/8]}}
    m15: {inFlightReq: {amount: 10, sourceCriterion: {requestHost: true}}}
    m16:
      passTLSClientCert:
        pem: true
        info: {subject: {commonName: true}, sans: true}
    m17: {plugin: {example: {headers: {Foo: Bar}}}}
    m18:
      rateLimit:
        average: 100
        burst: 50
        period: 1m
        sourceCriterion: {ipStrategy: {depth: 1}}
    m19:
      redirectRegex:
        regex: ^http://localhost/(.*)
        replacement: http://mydomain/${1}
        permanent: true
    m20: {redirectScheme: {scheme: https, port: "8443"}}
    m21: {replacePath: {path: /foo}}
    m22: {replacePathRegex: {regex: ^/foo/(.*), replacement: /bar/$1}}
    m23: {retry: {attempts: 4, initialInterval: 100ms}}
    m24: {stripPrefix: {prefixes: [/foobar, /fiibar], forceSlash: false}}
    m25: {stripPrefixRegex: {regex: ["/foo/[a-z0-9]+/[0-9]+/"]}}
"#,
        servers: &[],
        ignored: &[],
    }]);
}

/// Behaviour checked against Traefik 3.7.15 reading the same labels from a
/// Docker API (`/api/rawdata`).
#[test]
fn traefik_decoding_rules() {
    check(&[
        Case {
            what: "tls=false switches TLS off, settings below it included",
            labels: &[
                ("traefik.http.routers.r.rule", "Host(`a`)"),
                ("traefik.http.routers.r.tls", "false"),
                ("traefik.http.routers.r.tls.certresolver", "le"),
            ],
            yaml: "http:\n  routers:\n    r:\n      rule: Host(`a`)\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "any value but true or empty switches a section off",
            labels: &[("traefik.http.routers.r.tls", "yes"), ("traefik.http.routers.s.tls", "")],
            yaml: "http:\n  routers:\n    r: {}\n    s:\n      tls: {}\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "compress=false leaves the middleware without a type",
            labels: &[
                ("traefik.http.middlewares.c1.compress", "TRUE"),
                ("traefik.http.middlewares.c2.compress", "false"),
            ],
            yaml: "http:\n  middlewares:\n    c1:\n      compress: {}\n    c2: {}\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "a value on a list element is ignored; the comma form is read",
            labels: &[
                ("traefik.http.routers.a.entrypoints[0]", "web"),
                ("traefik.http.routers.b.entrypoints", "web, z"),
                ("traefik.http.routers.b.entrypoints[0]", "q"),
            ],
            yaml: "http:\n  routers:\n    a: {}\n    b:\n      entryPoints: [web, z]\n",
            servers: &[],
            ignored: &["traefik.http.routers.a.entrypoints[0]", "traefik.http.routers.b.entrypoints[0]"],
        },
        Case {
            what: "list elements follow the labels' byte order",
            labels: &[
                ("traefik.http.routers.r.tls.domains[1].main", "one"),
                ("traefik.http.routers.r.tls.domains[0].main", "zero"),
                ("traefik.http.routers.r.tls.domains[10].main", "ten"),
                ("traefik.http.routers.r.tls.domains[2].main", "two"),
            ],
            yaml: "http:\n  routers:\n    r:\n      tls:\n        domains:\n          - main: zero\n          - main: ten\n          - main: one\n          - main: two\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "names that differ by case merge: first spelling, last value",
            labels: &[
                ("traefik.http.middlewares.m.headers.customrequestheaders.x-foo", "baz"),
                ("traefik.http.middlewares.m.headers.customrequestheaders.X-Foo", "bar"),
                ("traefik.http.routers.f7.rule", "Host(`f7`)"),
                ("traefik.http.routers.F7.service", "s7"),
            ],
            yaml: "http:\n  middlewares:\n    m:\n      headers:\n        customRequestHeaders:\n          X-Foo: baz\n  routers:\n    F7:\n      rule: Host(`f7`)\n      service: s7\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "field names in any case",
            labels: &[
                ("traefik.HTTP.Routers.r.RULE", "Path(`/`)"),
                ("traefik.http.routers.r.EntryPoints", "web"),
                ("traefik.Http.services.s.LoadBalancer.Server.Port", "80"),
            ],
            yaml: "http:\n  routers:\n    r:\n      rule: Path(`/`)\n      entryPoints: [web]\n  services:\n    s:\n      loadBalancer:\n        servers: [{}]\n",
            servers: &[("http", "s", Some("80"), None)],
            ignored: &[],
        },
        Case {
            what: "what Traefik reads from no label is dropped and reported",
            labels: &[
                ("traefik.http.services.d.weighted.services[0].name", "zz"),
                ("traefik.http.services.d.loadbalancer.server.port", "81"),
                ("traefik.http.services.d.loadbalancer.server.fenced", "true"),
                ("traefik.http.serverstransports.st.insecureskipverify", "true"),
                ("traefik.http.routers.r.parentrefs", "p"),
                ("traefik.tcp.services.t.loadbalancer.server.address", "10.0.0.1:1"),
                ("traefik.tls.stores.default.defaultcertificate.certfile", "/c.pem"),
            ],
            yaml: "http:\n  routers:\n    r: {}\n  services:\n    d:\n      loadBalancer:\n        servers: [{}]\ntcp:\n  services:\n    t:\n      loadbalancer:\n        servers: [{}]\ntls:\n  stores:\n    default: {}\n",
            servers: &[("http", "d", Some("81"), None), ("tcp", "t", None, None)],
            ignored: &[
                "traefik.http.routers.r.parentrefs",
                "traefik.http.serverstransports.st.insecureskipverify",
                "traefik.http.services.d.loadbalancer.server.fenced",
                "traefik.http.services.d.weighted.services[0].name",
                "traefik.tcp.services.t.loadbalancer.server.address",
                "traefik.tls.stores.default.defaultcertificate.certfile",
            ],
        },
        Case {
            what: "labels outside the configuration prefixes are not configuration",
            labels: &[
                ("traefik.enable", "true"),
                ("traefik.docker.network", "front"),
                ("com.docker.compose.project", "demo"),
                ("traefik.tls.options.o.minversion", "VersionTLS12"),
                ("traefik.http.routers.r.rule", "Host(`r`)"),
            ],
            yaml: "http:\n  routers:\n    r:\n      rule: Host(`r`)\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "a value alone makes an empty element",
            labels: &[
                ("traefik.http.routers.r", "x"),
                ("traefik.http.services.s", "x"),
                ("traefik.http.middlewares.m", "x"),
            ],
            yaml: "http:\n  routers:\n    r: {}\n  services:\n    s: {}\n  middlewares:\n    m: {}\n",
            servers: &[],
            ignored: &[],
        },
        Case {
            what: "no labels, no configuration",
            labels: &[("maintainer", "someone")],
            yaml: "",
            servers: &[],
            ignored: &[],
        },
    ]);
}

#[test]
fn errors_name_the_label() {
    let cases: &[(&str, Pairs, &str, &str)] = &[
        (
            "an unknown router field",
            &[
                ("traefik.http.routers.b.rule", "Host(`b`)"),
                ("traefik.http.routers.b.foo", "x"),
            ],
            "label traefik.http.routers.b.foo",
            "field not found",
        ),
        (
            "an unknown load-balancer field",
            &[("traefik.http.services.s.loadbalancer.sever.port", "80")],
            "label traefik.http.services.s.loadbalancer.sever.port",
            "field not found",
        ),
        (
            "a bad integer",
            &[("traefik.http.routers.r.priority", "abc")],
            "label traefik.http.routers.r.priority",
            "expected an integer",
        ),
        (
            "a bad boolean",
            &[(
                "traefik.http.services.s.loadbalancer.passhostheader",
                "maybe",
            )],
            "label traefik.http.services.s.loadbalancer.passhostheader",
            "expected true or false",
        ),
        (
            "a bad duration",
            &[(
                "traefik.http.services.s.loadbalancer.healthcheck.interval",
                "soon",
            )],
            "label traefik.http.services.s.loadbalancer.healthcheck.interval",
            "soon",
        ),
        (
            "the plural servers form",
            &[(
                "traefik.http.services.c.loadbalancer.servers[0].url",
                "http://x",
            )],
            "label traefik.http.services.c.loadbalancer.servers[0].url",
            "field not found: \"servers\"",
        ),
        (
            "a server without settings",
            &[("traefik.http.services.s.loadbalancer.server", "x")],
            "label traefik.http.services.s.loadbalancer.server",
            "invalid slice",
        ),
        (
            "the root spelled otherwise",
            &[("Traefik.http.routers.r.rule", "Host(`r`)")],
            "label Traefik.http.routers.r.rule",
            "invalid label root \"Traefik\"",
        ),
        (
            "an empty segment",
            &[("traefik.http.routers..rule", "Host(`r`)")],
            "label traefik.http.routers..rule",
            "invalid element",
        ),
        (
            "a segment starting with a bracket",
            &[("traefik.http.routers.r.tls.[0].main", "a")],
            "label traefik.http.routers.r.tls.[0].main",
            "invalid leading character",
        ),
        (
            "an unknown middleware type",
            &[("traefik.http.middlewares.m.stripprefixes.prefixes", "/a")],
            "label traefik.http.middlewares.m.stripprefixes.prefixes",
            "not a middleware type",
        ),
        (
            "a list where a name is expected",
            &[("traefik.http.routers.r.rule.x", "Host(`r`)")],
            "label traefik.http.routers.r.rule.x",
            "field not found",
        ),
    ];
    for (what, labels, location, message) in cases {
        let err = match decode(labels) {
            Ok(c) => panic!("{what}: decoded to {:?}", c.configuration),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(text.starts_with(&format!("{location}:")), "{what}: {text}");
        assert!(text.contains(message), "{what}: {text}");
    }
}

#[test]
fn middleware_settings_errors_name_the_label() {
    // The key check reaches into each middleware's settings, as Traefik's
    // decoder does.
    let err = decode(&[("traefik.http.middlewares.m.stripprefix.prefixs", "/a")])
        .expect_err("unknown field");
    assert!(
        err.to_string()
            .starts_with("label traefik.http.middlewares.m.stripprefix.prefixs:"),
        "{err}"
    );
    assert!(err.to_string().contains("field not found"), "{err}");
}

#[test]
fn split_label_table() {
    let cases: &[(&str, Option<&[&str]>)] = &[
        (
            "traefik.http.routers.r.rule",
            Some(&["traefik", "http", "routers", "r", "rule"]),
        ),
        ("a.domains[0].main", Some(&["a", "domains", "[0]", "main"])),
        ("a.b[0][1]", Some(&["a", "b", "[0][1]"])),
        ("a.b[0]c", Some(&["a", "b[0]c"])),
        ("a.X-Foo", Some(&["a", "X-Foo"])),
        ("a..b", None),
        ("a.", None),
        (".a", None),
        ("", None),
        ("a.[0]", None),
        ("a.b]", None),
    ];
    for (key, want) in cases {
        let got = split_label(key).ok();
        let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, want, "{key:?}");
    }
}

#[test]
fn provider_labels_table() {
    struct P {
        what: &'static str,
        provider: LabelProvider,
        labels: &'static [(&'static str, &'static str)],
        want: Result<ProviderLabels, &'static str>,
    }
    let cases = [
        P {
            what: "docker: enable, network, allownonrunning",
            provider: LabelProvider::Docker,
            labels: &[
                ("traefik.enable", "false"),
                ("traefik.docker.network", "mynetwork"),
                ("traefik.docker.allownonrunning", "true"),
                ("traefik.swarm.network", "not-read-by-docker"),
                ("traefik.http.routers.r.rule", "Host(`r`)"),
            ],
            want: Ok(ProviderLabels {
                enable: Some(false),
                network: Some("mynetwork".into()),
                allow_non_running: true,
                ..ProviderLabels::default()
            }),
        },
        P {
            what: "docker: Go's boolean forms",
            provider: LabelProvider::Docker,
            labels: &[("traefik.enable", "1"), ("traefik.docker.LBSwarm", "T")],
            want: Ok(ProviderLabels {
                enable: Some(true),
                lb_swarm: true,
                ..ProviderLabels::default()
            }),
        },
        P {
            what: "docker: nothing said",
            provider: LabelProvider::Docker,
            labels: &[("traefik.http.routers.r.rule", "Host(`r`)")],
            want: Ok(ProviderLabels::default()),
        },
        P {
            what: "docker: a bad boolean",
            provider: LabelProvider::Docker,
            labels: &[("traefik.enable", "yes")],
            want: Err("label traefik.enable: invalid value \"yes\""),
        },
        P {
            what: "docker: an unknown docker label",
            provider: LabelProvider::Docker,
            labels: &[("traefik.docker.netwrok", "x")],
            want: Err("label traefik.docker.netwrok: field not found"),
        },
        P {
            what: "docker: a prefix match is still a field",
            provider: LabelProvider::Docker,
            labels: &[("traefik.enabled", "true")],
            want: Err("label traefik.enabled: field not found"),
        },
        P {
            what: "swarm: swarm labels",
            provider: LabelProvider::Swarm,
            labels: &[
                ("traefik.swarm.network", "net"),
                ("traefik.swarm.lbswarm", "true"),
            ],
            want: Ok(ProviderLabels {
                network: Some("net".into()),
                lb_swarm: true,
                ..ProviderLabels::default()
            }),
        },
        P {
            what: "swarm: docker labels, deprecated",
            provider: LabelProvider::Swarm,
            labels: &[("traefik.docker.network", "net")],
            want: Ok(ProviderLabels {
                network: Some("net".into()),
                deprecated: vec!["traefik.docker.network".into()],
                ..ProviderLabels::default()
            }),
        },
        P {
            what: "swarm: both",
            provider: LabelProvider::Swarm,
            labels: &[
                ("traefik.docker.network", "a"),
                ("traefik.swarm.network", "b"),
            ],
            want: Err("both Docker and Swarm labels are defined"),
        },
        P {
            what: "consul catalog: connect and canary",
            provider: LabelProvider::ConsulCatalog,
            labels: &[
                ("traefik.consulcatalog.connect", "false"),
                ("traefik.consulcatalog.canary", "true"),
            ],
            want: Ok(ProviderLabels {
                connect: Some(false),
                canary: true,
                ..ProviderLabels::default()
            }),
        },
        P {
            what: "ecs: only enable exists",
            provider: LabelProvider::Ecs,
            labels: &[("traefik.ecs.anywhere", "true")],
            want: Err("label traefik.ecs.anywhere: field not found"),
        },
        P {
            what: "nomad: exact names, true in any case, anything else false",
            provider: LabelProvider::Nomad,
            labels: &[("traefik.enable", "TRUE"), ("traefik.nomad.canary", "yes")],
            want: Ok(ProviderLabels {
                enable: Some(true),
                ..ProviderLabels::default()
            }),
        },
    ];
    for case in cases {
        let got = provider_labels(case.labels.iter().copied(), case.provider);
        match (&got, &case.want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{}", case.what),
            (Err(e), Err(prefix)) => {
                assert!(e.to_string().starts_with(prefix), "{}: {e}", case.what)
            }
            _ => panic!("{}: got {got:?}", case.what),
        }
    }
}

#[test]
fn tags_become_labels() {
    let tags = [
        "traefik.http.routers.r.rule=Host(`a=b`)",
        "traefik.enable=true",
        "traefik.noequals",
        "other.http.routers.x.rule=Host(`x`)",
        "traefik.http.routers.r.priority=1",
        "traefik.http.routers.r.priority=2",
    ];
    let got = labels_from_tags(tags, "traefik", TagStyle::ConsulCatalog);
    let want: Vec<(&str, &str)> = vec![
        ("traefik.enable", "true"),
        ("traefik.http.routers.r.priority", "2"),
        ("traefik.http.routers.r.rule", "Host(`a=b`)"),
    ];
    let got_pairs: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got_pairs, want);

    let custom = labels_from_tags(
        ["edge.http.routers.r.rule=Path(`/`)", "traefik.enable=true"],
        "edge",
        TagStyle::ConsulCatalog,
    );
    assert_eq!(
        custom.into_iter().collect::<Vec<_>>(),
        vec![(
            "traefik.http.routers.r.rule".to_string(),
            "Path(`/`)".to_string()
        )]
    );

    let nomad = labels_from_tags(
        [
            "traefik.http.routers.r.rule = Host(`n`) ",
            " traefik.enable=true",
        ],
        "traefik",
        TagStyle::Nomad,
    );
    // Trimmed after the prefix is matched, as Nomad does.
    assert_eq!(
        nomad.into_iter().collect::<Vec<_>>(),
        vec![(
            "traefik.http.routers.r.rule".to_string(),
            "Host(`n`)".to_string()
        )]
    );
    let consul = labels_from_tags(
        ["traefik.http.routers.r.rule = Host(`n`)"],
        "traefik",
        TagStyle::ConsulCatalog,
    );
    assert_eq!(
        consul
            .get("traefik.http.routers.r.rule ")
            .map(String::as_str),
        Some(" Host(`n`)")
    );
}

#[test]
fn catalog_tags_with_a_custom_prefix_decode() {
    let labels = labels_from_tags(
        [
            "edge.http.routers.api.rule=PathPrefix(`/api`)",
            "edge.http.services.api.loadbalancer.server.port=8080",
        ],
        "edge",
        TagStyle::ConsulCatalog,
    );
    let got = decode_labels(labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))).expect("decodes");
    assert_same(
        "custom prefix",
        &got.configuration,
        &yaml("http:\n  routers:\n    api:\n      rule: PathPrefix(`/api`)\n  services:\n    api:\n      loadBalancer:\n        servers: [{}]\n"),
    );
    assert_eq!(got.servers.http["api"].port.as_deref(), Some("8080"));
}
