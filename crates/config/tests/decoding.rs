//! Decoding tests: the same configuration from YAML, TOML, flags and env;
//! Traefik's defaults; located errors.

use std::path::{Path, PathBuf};

use switchyard_config::decode::from_node;
use switchyard_config::dynamic::{decode_middleware, MiddlewareKind};
use switchyard_config::loader::{load_static_from, parse_dynamic, parse_tree, Source};
use switchyard_config::static_config::StaticConfiguration;
use switchyard_config::Duration;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn static_checked(file: &str, text: &str) -> Result<(StaticConfiguration, Vec<String>), String> {
    let tree = parse_tree(Path::new(file), text).map_err(|e| e.to_string())?;
    let checked = switchyard_config::schema::check_static(&tree).map_err(|e| e.to_string())?;
    let config = from_node(&checked.tree).map_err(|e| e.to_string())?;
    Ok((config, checked.not_implemented))
}

fn static_from(file: &str, text: &str) -> Result<StaticConfiguration, String> {
    static_checked(file, text).map(|(c, _)| c)
}

fn static_from_flags(flags: &[&str]) -> StaticConfiguration {
    let args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    let loaded = load_static_from(&args, &[], &[]).expect("flags decode");
    assert_eq!(loaded.source, Source::Flags);
    loaded.config
}

fn static_from_env(vars: &[(&str, &str)]) -> StaticConfiguration {
    let env: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let loaded = load_static_from(&[], &env, &[]).expect("env decode");
    assert_eq!(loaded.source, Source::Env);
    loaded.config
}

#[test]
fn one_configuration_four_sources() {
    struct Case {
        what: &'static str,
        yaml: &'static str,
        toml: &'static str,
        flags: &'static [&'static str],
        env: &'static [(&'static str, &'static str)],
    }
    let cases = [
        Case {
            what: "entrypoint, file provider, api",
            yaml: "entryPoints:\n  web:\n    address: \":8000\"\nproviders:\n  file:\n    directory: ./dynamic\napi:\n  insecure: true\n",
            toml: "[entryPoints.web]\naddress = \":8000\"\n[providers.file]\ndirectory = \"./dynamic\"\n[api]\ninsecure = true\n",
            flags: &["--entryPoints.web.address=:8000", "--providers.file.directory=./dynamic", "--api.insecure=true"],
            env: &[
                ("TRAEFIK_ENTRYPOINTS_WEB_ADDRESS", ":8000"),
                ("TRAEFIK_PROVIDERS_FILE_DIRECTORY", "./dynamic"),
                ("TRAEFIK_API_INSECURE", "true"),
            ],
        },
        Case {
            what: "lists, durations and numbers",
            yaml: "entryPoints:\n  web:\n    address: \":80\"\n    forwardedHeaders:\n      trustedIPs: [\"10.0.0.0/8\", \"::1\"]\n    transport:\n      lifeCycle:\n        graceTimeOut: 42s\n      respondingTimeouts:\n        idleTimeout: 5m\n    http:\n      maxHeaderBytes: 65536\n      middlewares: [a@file, b@file]\nproviders:\n  providersThrottleDuration: 500ms\n",
            toml: "[entryPoints.web]\naddress = \":80\"\n[entryPoints.web.forwardedHeaders]\ntrustedIPs = [\"10.0.0.0/8\", \"::1\"]\n[entryPoints.web.transport.lifeCycle]\ngraceTimeOut = \"42s\"\n[entryPoints.web.transport.respondingTimeouts]\nidleTimeout = \"5m\"\n[entryPoints.web.http]\nmaxHeaderBytes = 65536\nmiddlewares = [\"a@file\", \"b@file\"]\n[providers]\nprovidersThrottleDuration = \"500ms\"\n",
            flags: &[
                "--entrypoints.web.address=:80",
                "--entrypoints.web.forwardedheaders.trustedips=10.0.0.0/8,::1",
                "--entryPoints.web.transport.lifeCycle.graceTimeOut=42s",
                "--entryPoints.web.transport.respondingTimeouts.idleTimeout=5m",
                "--entryPoints.web.http.maxHeaderBytes=65536",
                "--entryPoints.web.http.middlewares=a@file,b@file",
                "--providers.providersThrottleDuration=500ms",
            ],
            env: &[
                ("SWITCHYARD_ENTRYPOINTS_WEB_ADDRESS", ":80"),
                ("SWITCHYARD_ENTRYPOINTS_WEB_FORWARDEDHEADERS_TRUSTEDIPS", "10.0.0.0/8,::1"),
                ("SWITCHYARD_ENTRYPOINTS_WEB_TRANSPORT_LIFECYCLE_GRACETIMEOUT", "42s"),
                ("SWITCHYARD_ENTRYPOINTS_WEB_TRANSPORT_RESPONDINGTIMEOUTS_IDLETIMEOUT", "5m"),
                ("SWITCHYARD_ENTRYPOINTS_WEB_HTTP_MAXHEADERBYTES", "65536"),
                ("SWITCHYARD_ENTRYPOINTS_WEB_HTTP_MIDDLEWARES", "a@file,b@file"),
                ("SWITCHYARD_PROVIDERS_PROVIDERSTHROTTLEDURATION", "500ms"),
            ],
        },
        Case {
            what: "bare sections mean defaults",
            yaml: "entryPoints:\n  web:\n    address: \":80\"\nping: {}\napi: {}\nlog:\n  level: DEBUG\n  format: json\n",
            toml: "[entryPoints.web]\naddress = \":80\"\n[ping]\n[api]\n[log]\nlevel = \"DEBUG\"\nformat = \"json\"\n",
            flags: &["--entryPoints.web.address=:80", "--ping", "--api", "--log.level=DEBUG", "--log.format=json"],
            env: &[
                ("TRAEFIK_ENTRYPOINTS_WEB_ADDRESS", ":80"),
                ("TRAEFIK_PING", "true"),
                ("TRAEFIK_API", "true"),
                ("TRAEFIK_LOG_LEVEL", "DEBUG"),
                ("TRAEFIK_LOG_FORMAT", "json"),
            ],
        },
    ];
    for c in cases {
        let yaml = static_from("t.yml", c.yaml)
            .unwrap_or_else(|e| panic!("{}: yaml: {e}", c.what))
            .with_defaults();
        let toml = static_from("t.toml", c.toml)
            .unwrap_or_else(|e| panic!("{}: toml: {e}", c.what))
            .with_defaults();
        let flags = static_from_flags(c.flags);
        let env = static_from_env(c.env);
        assert_eq!(yaml, toml, "{}: YAML vs TOML", c.what);
        assert_eq!(yaml, flags, "{}: YAML vs flags", c.what);
        assert_eq!(yaml, env, "{}: YAML vs env", c.what);
    }
}

#[test]
fn defaults_match_traefik() {
    let c = static_from("t.yml", "entryPoints:\n  web:\n    address: \":80\"\nping: {}\napi: {}\nproviders:\n  file:\n    filename: x.yml\n")
        .unwrap()
        .with_defaults();
    let web = &c.entry_points["web"];
    assert_eq!(
        web.transport.life_cycle.grace_time_out,
        Duration::from_secs(10)
    );
    assert_eq!(
        web.transport.responding_timeouts.read_timeout,
        Duration::from_secs(60)
    );
    assert_eq!(
        web.transport.responding_timeouts.idle_timeout,
        Duration::from_secs(180)
    );
    assert!(web.http.sanitize_path);
    assert_eq!(web.http.max_header_bytes, 1 << 20);
    let ping = c.ping.as_ref().unwrap();
    assert_eq!(
        (ping.entry_point.as_str(), ping.terminating_status_code),
        ("traefik", 503)
    );
    let api = c.api.as_ref().unwrap();
    assert!(api.dashboard && !api.insecure);
    let providers = c.providers.as_ref().unwrap();
    // Differs on purpose: Traefik throttles 2s by default, Switchyard not.
    assert_eq!(providers.providers_throttle_duration, Duration::ZERO);
    assert!(providers.file.as_ref().unwrap().watch);
    assert_eq!(
        c.entry_points["traefik"].address, ":8080",
        "ping on `traefik` adds the entrypoint"
    );

    let none = StaticConfiguration::default().with_defaults();
    assert_eq!(none.entry_points.keys().collect::<Vec<_>>(), ["http"]);
    assert_eq!(none.entry_points["http"].address, ":80");
}

#[test]
fn keys_are_case_insensitive() {
    let a = static_from(
        "t.yml",
        "entrypoints:\n  web:\n    ADDRESS: \":80\"\nAPI:\n  Insecure: true\n",
    )
    .unwrap();
    assert_eq!(a.entry_points["web"].address, ":80");
    assert!(a.api.unwrap().insecure);
}

#[test]
fn errors_name_file_line_and_field() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "unknown field",
            "s.yml",
            "entryPoints:\n  web:\n    address: \":80\"\n    adress: \":81\"\n",
            &["s.yml:4", "entryPoints.web.adress", "field not found"],
        ),
        (
            "bad duration",
            "s.yml",
            "entryPoints:\n  web:\n    transport:\n      lifeCycle:\n        graceTimeOut: soon\n",
            &["s.yml:5", "graceTimeOut", "invalid duration"],
        ),
        (
            "bad integer",
            "s.yml",
            "entryPoints:\n  web:\n    http:\n      maxHeaderBytes: lots\n",
            &["s.yml:4", "maxHeaderBytes", "expected an integer"],
        ),
        (
            "bad bool",
            "s.yml",
            "api:\n  insecure: maybe\n",
            &["s.yml:2", "api.insecure", "true or false"],
        ),
        (
            "yaml syntax",
            "s.yml",
            "entryPoints:\n  web:\n   - address: [\n",
            &["s.yml:", "YAML syntax error"],
        ),
        (
            "toml syntax",
            "s.toml",
            "[entryPoints.web]\naddress = \n",
            &["s.toml:2", "TOML syntax error"],
        ),
        (
            "toml unknown field",
            "s.toml",
            "[entryPoints.web]\naddress = \":80\"\nbogus = 1\n",
            &["s.toml:3", "entryPoints.web.bogus"],
        ),
        (
            "duplicate yaml key",
            "s.yml",
            "api:\n  insecure: true\n  insecure: false\n",
            &["s.yml:3", "duplicate key"],
        ),
        (
            "section is a scalar",
            "s.yml",
            "entryPoints: 5\n",
            &["s.yml:1", "expected a map"],
        ),
        (
            "unknown extension",
            "s.json",
            "{}",
            &["s.json", "unsupported file extension"],
        ),
    ];
    for (what, file, text, needles) in cases {
        let err = static_from(file, text).expect_err(what);
        for n in *needles {
            assert!(err.contains(n), "{what}: {err:?} should contain {n:?}");
        }
    }
    let err = load_static_from(
        &[
            "--entryPoints.web.address=:80".into(),
            "--api.insecure=perhaps".into(),
        ],
        &[],
        &[],
    )
    .expect_err("flag error");
    assert!(err.to_string().contains("flag --api.insecure"), "{err}");
}

#[test]
fn config_file_search_order_and_flag() {
    let dir = std::env::temp_dir().join(format!("sy-config-search-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("traefik.yml"),
        "entryPoints:\n  t:\n    address: \":1\"\n",
    )
    .unwrap();
    let loaded = load_static_from(&[], &[], std::slice::from_ref(&dir)).unwrap();
    assert_eq!(loaded.source, Source::File(dir.join("traefik.yml")));
    std::fs::write(
        dir.join("switchyard.toml"),
        "[entryPoints.s]\naddress = \":2\"\n",
    )
    .unwrap();
    let loaded = load_static_from(&[], &[], std::slice::from_ref(&dir)).unwrap();
    assert!(
        loaded.config.entry_points.contains_key("s"),
        "switchyard.* comes before traefik.*"
    );
    // A file wins over flags; --configFile names it.
    let args = vec![
        format!("--configFile={}", dir.join("traefik.yml").display()),
        "--entryPoints.x.address=:3".into(),
    ];
    let loaded = load_static_from(&args, &[], &[]).unwrap();
    assert!(
        loaded.config.entry_points.contains_key("t")
            && !loaded.config.entry_points.contains_key("x")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unsupported_sections_are_named() {
    let (_, not_implemented) = static_checked(
        "t.yml",
        "entryPoints:\n  web:\n    address: \":80\"\n    udp:\n      timeout: 3s\nmetrics:\n  prometheus: {}\n  datadog: {}\nproviders:\n  nomad: {}\n  file:\n    directory: x\n",
    )
    .unwrap();
    // `udp` is read (UDP entrypoints are served).
    assert_eq!(not_implemented, vec!["metrics.datadog", "providers.nomad"]);
}

#[test]
fn dynamic_yaml_and_toml_agree() {
    let yaml_path = fixture("dynamic.yml");
    let toml_path = fixture("dynamic.toml");
    let yaml = parse_dynamic(&yaml_path, &std::fs::read_to_string(&yaml_path).unwrap()).unwrap();
    let toml = parse_dynamic(&toml_path, &std::fs::read_to_string(&toml_path).unwrap()).unwrap();
    assert_eq!(yaml, toml);
    let http = yaml.http.unwrap();
    let router = &http.routers["api"];
    assert_eq!(router.priority, Some(42));
    assert_eq!(router.middlewares, ["strip", "auth@docker"]);
    let lb = http.services["api"].load_balancer.as_ref().unwrap();
    assert_eq!(lb.pass_host_header, Some(false));
    assert_eq!(lb.servers[0].weight, Some(3));
    assert!(lb.servers[1].preserve_path);
    let hc = lb.health_check.as_ref().unwrap();
    assert_eq!(
        (hc.interval, hc.timeout, hc.method.as_str()),
        (Duration::from_secs(10), Duration::from_secs(2), "GET")
    );
    assert!(hc.follow_redirects);
    let st = &http.servers_transports["slow"];
    assert_eq!(st.max_idle_conns_per_host, 7);
    assert_eq!(
        st.forwarding_timeouts
            .as_ref()
            .unwrap()
            .response_header_timeout,
        Duration::from_secs(90)
    );
    assert_eq!(
        st.forwarding_timeouts.as_ref().unwrap().dial_timeout,
        Duration::from_secs(30)
    );
    match decode_middleware(&http.middlewares["strip"]).unwrap() {
        MiddlewareKind::StripPrefix(s) => assert_eq!(s.prefixes, ["/v1"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dynamic_edge_cases() {
    let p = Path::new("d.yml");
    assert_eq!(parse_dynamic(p, "").unwrap(), Default::default());
    assert_eq!(
        parse_dynamic(p, "# only a comment\n").unwrap(),
        Default::default()
    );
    let c = parse_dynamic(
        p,
        "http:\n  middlewares:\n    two:\n      stripPrefix: {prefixes: [/a]}\n      addPrefix: {prefix: /b}\n    bad:\n      addPrefix:\n        prefix: [1, 2]\n",
    )
    .unwrap();
    let m = &c.http.as_ref().unwrap().middlewares;
    assert!(decode_middleware(&m["two"])
        .unwrap_err()
        .to_string()
        .contains("multi-types"));
    let err = decode_middleware(&m["bad"]).unwrap_err().to_string();
    assert!(
        err.contains("d.yml:8") && err.contains("addPrefix.prefix"),
        "{err}"
    );
    // A middleware type Traefik does not know is kept for the builder, which
    // makes it that middleware's error (Switchyard differs on purpose).
    let c = parse_dynamic(
        p,
        "http:\n  middlewares:\n    odd:\n      notAThing: {x: 1}\n",
    )
    .unwrap();
    assert_eq!(
        c.http.as_ref().unwrap().middlewares["odd"].kinds(),
        ["notAThing"]
    );
    // Moving a block changes locations, not the configuration.
    let a = parse_dynamic(
        p,
        "http:\n  routers:\n    r: {rule: \"Path(`/`)\", service: s}\n",
    )
    .unwrap();
    let b = parse_dynamic(
        p,
        "\n\nhttp:\n  routers:\n\n    r: {service: s, rule: \"Path(`/`)\"}\n",
    )
    .unwrap();
    assert_eq!(a, b);
    // Anchors and aliases.
    let c = parse_dynamic(p, "x-common: &lb\n  servers: [{url: http://a}]\nhttp:\n  services:\n    s:\n      loadBalancer: *lb\n");
    assert!(
        c.is_err(),
        "unknown top-level keys are errors as in Traefik"
    );
    let err = parse_dynamic(
        p,
        "http:\n  routers:\n    r:\n      rule: \"Path(`/`)\"\n      sevice: s\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("d.yml:5") && err.contains("http.routers.r.sevice"),
        "{err}"
    );
}

#[test]
fn kubernetes_ingress_provider_from_file_flags_and_env() {
    use switchyard_config::static_config::{IngressEndpoint, KubernetesIngressProvider};
    let want = KubernetesIngressProvider {
        endpoint: "http://127.0.0.1:6443".into(),
        namespaces: vec!["a".into(), "b".into()],
        label_selector: "team=x".into(),
        ingress_class: "edge".into(),
        ingress_endpoint: Some(IngressEndpoint {
            ip: "10.0.0.1".into(),
            hostname: String::new(),
            published_service: "kube-system/traefik".into(),
        }),
        throttle_duration: Duration(std::time::Duration::from_secs(2)),
        allow_empty_services: true,
        native_lb_by_default: true,
        strict_prefix_matching: true,
        disable_ingress_class_lookup: true,
        ..KubernetesIngressProvider::default()
    };
    let yaml = static_from(
        "s.yml",
        "providers:\n  kubernetesIngress:\n    endpoint: http://127.0.0.1:6443\n    namespaces: [a, b]\n\
         \x20   labelSelector: team=x\n    ingressClass: edge\n    ingressEndpoint:\n      ip: 10.0.0.1\n\
         \x20     publishedService: kube-system/traefik\n    throttleDuration: 2s\n    allowEmptyServices: true\n\
         \x20   nativeLBByDefault: true\n    strictPrefixMatching: true\n    disableIngressClassLookup: true\n",
    )
    .expect("yaml");
    let flags = static_from_flags(&[
        "--providers.kubernetesingress.endpoint=http://127.0.0.1:6443",
        "--providers.kubernetesingress.namespaces=a,b",
        "--providers.kubernetesingress.labelselector=team=x",
        "--providers.kubernetesingress.ingressclass=edge",
        "--providers.kubernetesingress.ingressendpoint.ip=10.0.0.1",
        "--providers.kubernetesingress.ingressendpoint.publishedservice=kube-system/traefik",
        "--providers.kubernetesingress.throttleduration=2s",
        "--providers.kubernetesingress.allowemptyservices=true",
        "--providers.kubernetesingress.nativelbbydefault=true",
        "--providers.kubernetesingress.strictprefixmatching=true",
        "--providers.kubernetesingress.disableingressclasslookup=true",
    ]);
    let env = static_from_env(&[
        (
            "TRAEFIK_PROVIDERS_KUBERNETESINGRESS_ENDPOINT",
            "http://127.0.0.1:6443",
        ),
        ("TRAEFIK_PROVIDERS_KUBERNETESINGRESS_NAMESPACES", "a,b"),
        (
            "TRAEFIK_PROVIDERS_KUBERNETESINGRESS_LABELSELECTOR",
            "team=x",
        ),
        ("TRAEFIK_PROVIDERS_KUBERNETESINGRESS_INGRESSCLASS", "edge"),
        (
            "TRAEFIK_PROVIDERS_KUBERNETESINGRESS_INGRESSENDPOINT_IP",
            "10.0.0.1",
        ),
        (
            "TRAEFIK_PROVIDERS_KUBERNETESINGRESS_INGRESSENDPOINT_PUBLISHEDSERVICE",
            "kube-system/traefik",
        ),
        ("TRAEFIK_PROVIDERS_KUBERNETESINGRESS_THROTTLEDURATION", "2s"),
        (
            "TRAEFIK_PROVIDERS_KUBERNETESINGRESS_ALLOWEMPTYSERVICES",
            "true",
        ),
        (
            "TRAEFIK_PROVIDERS_KUBERNETESINGRESS_NATIVELBBYDEFAULT",
            "true",
        ),
        (
            "TRAEFIK_PROVIDERS_KUBERNETESINGRESS_STRICTPREFIXMATCHING",
            "true",
        ),
        (
            "TRAEFIK_PROVIDERS_KUBERNETESINGRESS_DISABLEINGRESSCLASSLOOKUP",
            "true",
        ),
    ]);
    for (what, c) in [("yaml", yaml), ("flags", flags), ("env", env)] {
        let got = c.providers.and_then(|p| p.kubernetes_ingress);
        assert_eq!(got.as_ref(), Some(&want), "{what}");
    }
    // An empty section turns the provider on with Traefik's defaults.
    let on = static_from("s.yml", "providers:\n  kubernetesIngress: {}\n").expect("empty");
    assert_eq!(
        on.providers.and_then(|p| p.kubernetes_ingress),
        Some(KubernetesIngressProvider::default())
    );
    // A wrong value is located.
    let err = static_from(
        "s.yml",
        "providers:\n  kubernetesIngress:\n    strictPrefixMatching: maybe\n",
    )
    .expect_err("a bad bool");
    for part in ["s.yml:3", "strictPrefixMatching", "true or false"] {
        assert!(err.contains(part), "{part} not in {err}");
    }
}
