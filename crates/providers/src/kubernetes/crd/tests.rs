//! The translation against what the real Traefik 3.7 made of the same
//! objects. `fixtures/objects.yml` was served by the testkit's kube-double
//! to Traefik's kubernetesCRD provider; `fixtures/objects.json` is the
//! objects as the double served them, and `fixtures/rawdata-*.json` what
//! Traefik's `/api/rawdata` showed (trimmed of its runtime state: status,
//! usedBy, errors, observability), with the provider options below.
//! `fixtures/capture.py` makes both from a manifest; `more.yml` gave
//! `more.json` and `rawdata-more.json` likewise, and `tcp.yml` (the TCP and
//! UDP kinds, Traefik's `tcpRouters`, `tcpServices`, `tcpMiddlewares`,
//! `udpRouters` and `udpServices`) `tcp-objects.json`, `tcp-rawdata.json`
//! and `tcp-open-rawdata.json`.

use serde_json::{json, Value};

use super::*;

fn load(fixture: &str) -> Objects {
    let all: Value = serde_json::from_str(fixture).expect("objects fixture is JSON");
    let items = all
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(Value::as_array)
        .flatten()
        .cloned();
    let (objects, unknown) = Objects::from_list(items);
    assert!(unknown.is_empty(), "{unknown:?}");
    objects
}

fn objects() -> Objects {
    load(include_str!("fixtures/objects.json"))
}

fn more() -> Objects {
    load(include_str!("fixtures/more.json"))
}

/// Traefik's rawdata, `@kubernetescrd` taken off every name and reference.
fn traefik(fixture: &str) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some(t) = s.strip_suffix("@kubernetescrd") {
                    *s = t.to_string();
                }
            }
            Value::Array(l) => l.iter_mut().for_each(strip),
            Value::Object(m) => {
                let old = std::mem::take(m);
                for (k, mut x) in old {
                    strip(&mut x);
                    let k = k.strip_suffix("@kubernetescrd").unwrap_or(&k).to_string();
                    m.insert(k, x);
                }
            }
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(fixture).expect("rawdata fixture is JSON");
    strip(&mut v);
    v
}

/// The options of the three captures (the class one ran with `open`'s and
/// `ingressClass: other`).
fn strict() -> CrdOptions {
    CrdOptions {
        allow_external_name_services: true,
        ..CrdOptions::default()
    }
}

fn open() -> CrdOptions {
    CrdOptions {
        allow_cross_namespace: true,
        allow_empty_services: true,
        native_lb_by_default: true,
        ..CrdOptions::default()
    }
}

fn classed() -> CrdOptions {
    CrdOptions {
        ingress_class: "other".into(),
        ..open()
    }
}

/// Each capture: the objects, the provider options, Traefik's rawdata.
fn captures() -> Vec<(&'static str, Objects, CrdOptions, Value)> {
    vec![
        (
            "strict",
            objects(),
            strict(),
            traefik(include_str!("fixtures/rawdata-strict.json")),
        ),
        (
            "open",
            objects(),
            open(),
            traefik(include_str!("fixtures/rawdata-open.json")),
        ),
        (
            "class",
            objects(),
            classed(),
            traefik(include_str!("fixtures/rawdata-class.json")),
        ),
        (
            "more",
            more(),
            strict(),
            traefik(include_str!("fixtures/rawdata-more.json")),
        ),
    ]
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// Servers in URL order (Traefik's order follows its informer's), without
/// the fenced ones (terminating endpoints, which Traefik keeps for sticky
/// sessions only and Switchyard leaves out).
fn sort_servers(v: &mut Value) {
    if let Some(l) = v
        .pointer_mut("/loadBalancer/servers")
        .and_then(Value::as_array_mut)
    {
        l.retain(|s| s.get("fenced") != Some(&json!(true)));
        l.sort_by_key(|s| s["url"].as_str().unwrap_or_default().to_string());
    }
}

#[test]
fn routers_as_traefik_names_and_values_them() {
    for (capture, objects, options, want) in captures() {
        let got = translate(&objects, &options).configuration;
        let http = got.http.expect("an http section");
        let names: Vec<String> = http.routers.keys().cloned().collect();
        assert_eq!(names, keys(&want["routers"]), "{capture}: router names");
        for (name, router) in &http.routers {
            let w = &want["routers"][name];
            let ctx = format!("{capture}: router {name}");
            assert_eq!(router.rule, w["rule"].as_str().unwrap_or_default(), "{ctx}");
            assert_eq!(
                router.service,
                w["service"].as_str().unwrap_or_default(),
                "{ctx}"
            );
            assert_eq!(
                json!(router.middlewares),
                w.get("middlewares").cloned().unwrap_or(json!([])),
                "{ctx}"
            );
            // Traefik shows an unset priority as the rule's length, and no
            // entry points as all of them (but its API's).
            let child = router.unsupported.refused.iter().any(|k| k == "parentRefs");
            assert_eq!(child, w.get("parentRefs").is_some(), "{ctx}: parentRefs");
            if child {
                // A child router has neither entry points nor priority.
                assert_eq!(
                    (w.get("entryPoints"), w.get("priority")),
                    (None, None),
                    "{ctx}"
                );
                continue;
            }
            match router.priority {
                Some(p) => assert_eq!(json!(p), w["priority"], "{ctx}"),
                None => assert_eq!(json!(router.rule.len()), w["priority"], "{ctx}"),
            }
            if router.entry_points.is_empty() {
                assert_eq!(w["entryPoints"], json!(["web", "websecure"]), "{ctx}");
            } else {
                assert_eq!(json!(router.entry_points), w["entryPoints"], "{ctx}");
            }
            let tls = router.tls.as_ref().map(|t| json!(t)).unwrap_or(Value::Null);
            assert_eq!(tls, w.get("tls").cloned().unwrap_or(Value::Null), "{ctx}");
        }
    }
}

#[test]
fn services_as_traefik_names_and_values_them() {
    for (capture, objects, options, want) in captures() {
        let http = translate(&objects, &options)
            .configuration
            .http
            .expect("an http section");
        let names: Vec<String> = http.services.keys().cloned().collect();
        assert_eq!(names, keys(&want["services"]), "{capture}: service names");
        for (name, service) in &http.services {
            let mut got = json!(&**service);
            let mut w = want["services"][name].clone();
            sort_servers(&mut got);
            sort_servers(&mut w);
            // Switchyard's health check spells its default method out.
            if w.pointer("/loadBalancer/healthCheck/method").is_none() {
                if let Some(hc) = got.pointer_mut("/loadBalancer/healthCheck") {
                    assert_eq!(hc["method"], "GET", "{capture}: service {name}");
                    hc.as_object_mut().map(|o| o.remove("method"));
                }
            }
            assert_eq!(got, w, "{capture}: service {name}");
        }
    }
}

/// Keys Traefik's defaults add to a middleware that the translation leaves
/// to the configuration's decoding (which applies the same defaults), as
/// JSON pointers within the middleware's settings.
const DEFAULTS: &[(&str, &str)] = &[
    ("forwardAuth", "/maxBodySize"),
    ("compress", "/encodings"),
    ("retry", "/maxRequestBodyBytes"),
    ("circuitBreaker", "/fallbackDuration"),
    ("circuitBreaker", "/recoveryDuration"),
    ("circuitBreaker", "/responseCode"),
    ("rateLimit", "/burst"),
    ("rateLimit", "/period"),
    ("rateLimit", "/redis/dialTimeout"),
    ("rateLimit", "/redis/readTimeout"),
    ("rateLimit", "/redis/writeTimeout"),
];

/// Removes what `pointer` names.
fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(o) = v.pointer_mut(parent).and_then(Value::as_object_mut) {
        o.remove(key);
    }
}

#[test]
fn middlewares_as_traefik_names_and_values_them() {
    for (capture, objects, options, want) in captures() {
        let http = translate(&objects, &options)
            .configuration
            .http
            .expect("an http section");
        let names: Vec<String> = http.middlewares.keys().cloned().collect();
        assert_eq!(
            names,
            keys(&want["middlewares"]),
            "{capture}: middleware names"
        );
        for (name, m) in &http.middlewares {
            let got = m.to_json();
            let w = &want["middlewares"][name];
            if !m.1.refused.is_empty() {
                // Refused by Switchyard (plugins): the type is taken out
                // and the middleware disabled, as for a file's.
                assert_eq!(m.1.refused, keys(w), "{capture}: middleware {name}");
                assert_eq!(got, json!({}), "{capture}: middleware {name}");
                continue;
            }
            assert_eq!(keys(&got), keys(w), "{capture}: middleware {name} types");
            for (kind, settings) in got.as_object().into_iter().flatten() {
                let mut expected = w[kind].clone();
                for (k, pointer) in DEFAULTS {
                    if k == kind && settings.pointer(pointer).is_none() {
                        remove(&mut expected, pointer);
                    }
                }
                assert_eq!(settings, &expected, "{capture}: middleware {name}.{kind}");
            }
        }
    }
}

#[test]
fn what_traefik_leaves_out_is_reported() {
    let broken = "IngressRoute";
    for (capture, objects, options, want) in [
        (
            "strict",
            objects(),
            strict(),
            vec![
                (
                    broken,
                    "broken",
                    "kubernetes service not found: default/missing",
                ),
                (broken, "broken", "no servers found for default/empty"),
                (broken, "broken", "service port not found: 81"),
                (broken, "broken", "not in the parent resource namespace"),
                (broken, "broken", "invalid reference to middleware shared"),
                (
                    "Middleware",
                    "auth-missing",
                    "secret 'default/nope' not found",
                ),
                ("Middleware", "chain", "cross-namespace are disallowed"),
            ],
        ),
        (
            "open",
            objects(),
            open(),
            vec![
                (
                    broken,
                    "broken",
                    "kubernetes service not found: default/missing",
                ),
                (
                    broken,
                    "broken",
                    "no clusterIP found for service: default/empty",
                ),
                (broken, "broken", "service port not found: 81"),
                (
                    broken,
                    "mws",
                    "externalName services not allowed: default/ext",
                ),
                (
                    "Middleware",
                    "auth-missing",
                    "secret 'default/nope' not found",
                ),
                (
                    "TraefikService",
                    "mirror",
                    "externalName services not allowed: default/ext",
                ),
            ],
        ),
        (
            "more",
            more(),
            strict(),
            vec![
                (
                    broken,
                    "more",
                    "kubernetes service not found: default/nothere",
                ),
                (
                    broken,
                    "more",
                    "healthCheck allowed only for ExternalName services",
                ),
                (
                    "TraefikService",
                    "partial",
                    "kubernetes service not found: default/nothere",
                ),
            ],
        ),
    ] {
        let errors = translate(&objects, &options).errors;
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), want.len(), "{capture}: {got:#?}");
        for (kind, name, message) in want {
            assert!(
                errors
                    .iter()
                    .any(|e| e.kind == kind && e.name == name && e.message.contains(message)),
                "{capture}: no {kind} {name} error with {message:?} in {got:#?}"
            );
        }
    }
}

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
const CA: &str = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";

/// Not in Traefik's rawdata: from its source (tls options and stores keyed
/// `<namespace>-<name>` but `default`, certificates inline from Secrets).
#[test]
fn tls_options_stores_and_certificates() {
    let tls = translate(&objects(), &strict())
        .configuration
        .tls
        .expect("a tls section");
    assert_eq!(tls.certificates.len(), 1);
    assert_eq!(tls.certificates[0].cert_file, CERT);
    assert_eq!(tls.certificates[0].key_file, KEY);
    assert!(tls.certificates[0].stores.is_empty());
    let store = &tls.stores["default"];
    let default = store
        .default_certificate
        .as_ref()
        .expect("default certificate");
    assert_eq!(
        (default.cert_file.as_str(), default.key_file.as_str()),
        (CERT, KEY)
    );
    assert_eq!(tls.stores.len(), 1);
    let modern = &tls.options["default-modern"];
    assert_eq!(modern.min_version, "VersionTLS13");
    assert!(modern.sni_strict);
    assert_eq!(modern.alpn_protocols, ["h2", "http/1.1", "acme-tls/1"]);
    assert_eq!(tls.options.len(), 1);
}

#[test]
fn servers_transport_from_its_object_and_secrets() {
    let http = translate(&objects(), &strict())
        .configuration
        .http
        .expect("an http section");
    let t = &http.servers_transports["default-transport"];
    assert_eq!(t.server_name.as_deref(), Some("backend.internal"));
    assert!(t.insecure_skip_verify);
    assert_eq!(t.max_idle_conns_per_host, 7);
    assert_eq!(t.root_cas, [CA]);
    let timeouts = t.forwarding_timeouts.as_ref().expect("timeouts");
    assert_eq!(timeouts.dial_timeout.to_string(), "5s");
    assert_eq!(timeouts.response_header_timeout.to_string(), "10s");
    assert_eq!(timeouts.idle_conn_timeout.to_string(), "1m30s");
    assert_eq!(http.servers_transports.len(), 1);
}

/// Small objects for what the captured ones do not show.
fn with(extra: Value) -> Objects {
    let mut o = objects();
    let (more, _) = Objects::from_list(extra.as_array().cloned().unwrap_or_default());
    o.ingress_routes.extend(more.ingress_routes);
    o.traefik_services.extend(more.traefik_services);
    o.services.extend(more.services);
    o.endpoint_slices.extend(more.endpoint_slices);
    o.middlewares.extend(more.middlewares);
    o.nodes.extend(more.nodes);
    o
}

fn route(name: &str, rule: &str, services: Value) -> Value {
    json!({"kind": "IngressRoute", "metadata": {"name": name, "namespace": "default"},
        "spec": {"routes": [{"match": rule, "services": services}]}})
}

#[test]
fn servers_by_endpoint_conditions_and_modes() {
    let terminating = json!([
        {"kind": "Service", "metadata": {"name": "np", "namespace": "default"},
         "spec": {"type": "NodePort", "clusterIP": "None", "ports": [{"name": "https", "port": 8443, "nodePort": 30443}]}},
        {"kind": "EndpointSlice", "metadata": {"name": "np-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "np"}},
         "ports": [{"name": "https", "port": 9443}],
         "endpoints": [
            {"addresses": ["fd00::1"], "conditions": {"ready": true}},
            {"addresses": ["10.2.0.2"], "conditions": {"ready": false, "serving": true, "terminating": true}}]},
        {"kind": "Node", "metadata": {"name": "n1"}, "status": {"addresses": [
            {"type": "InternalIP", "address": "192.168.0.5"}, {"type": "Hostname", "address": "n1"}]}},
        route("eps", "Host(`eps.test`)", json!([{"name": "np", "port": "https"}])),
        route("nodes", "Host(`nodes.test`)", json!([{"name": "np", "port": 8443, "nodePortLB": true}])),
        route("headless", "Host(`headless.test`)", json!([{"name": "np", "port": 8443, "nativeLB": true}])),
        route("scheme", "Host(`scheme.test`)", json!([{"name": "np", "port": 8443, "scheme": "ftp"}])),
    ]);
    let t = translate(&with(terminating), &strict());
    let http = t.configuration.http.expect("http");
    let urls = |name: &str, rule: &str| -> Vec<String> {
        let s = &http.services[&router_key("default", name, rule)];
        s.load_balancer
            .as_ref()
            .expect("lb")
            .servers
            .iter()
            .map(|s| s.url.clone())
            .collect()
    };
    // Port name `https...` gives https; IPv6 in brackets; the terminating
    // endpoint left out.
    assert_eq!(urls("eps", "Host(`eps.test`)"), ["https://[fd00::1]:9443"]);
    assert_eq!(
        urls("nodes", "Host(`nodes.test`)"),
        ["https://192.168.0.5:30443"]
    );
    let messages: Vec<&str> = t.errors.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("no clusterIP on headless service: default/np")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("invalid scheme \"ftp\" specified")),
        "{messages:?}"
    );
}

#[test]
fn traefik_service_kinds_and_route_fields() {
    let extra = json!([
        {"kind": "TraefikService", "metadata": {"name": "hrw", "namespace": "default"},
         "spec": {"highestRandomWeight": {"services": [{"name": "web", "port": 80, "weight": 2}, {"name": "x@file", "kind": "TraefikService"}]}}},
        {"kind": "TraefikService", "metadata": {"name": "fo", "namespace": "default"},
         "spec": {"failover": {"service": {"name": "hrw", "kind": "TraefikService"}, "fallback": {"name": "web", "port": "http"},
                               "errors": {"status": ["500-599"]}}}},
        {"kind": "TraefikService", "metadata": {"name": "none", "namespace": "default"}, "spec": {}},
        {"kind": "IngressRoute", "metadata": {"name": "fields", "namespace": "default"},
         "spec": {"routes": [
            {"match": "Host(`a.test`)", "syntax": "v2", "priority": 7, "services": [{"name": "fo", "kind": "TraefikService"}]},
            {"match": "Host(`b.test`)", "kind": "Other", "services": [{"name": "web", "port": 80}]},
            {"match": "", "services": [{"name": "web", "port": 80}]},
            {"match": "Host(`c.test`)", "services": [{"name": "web", "port": 80, "strategy": "random"}]},
            {"match": "Host(`d.test`)", "services": [{"name": "web", "port": 80, "middlewares": [{"name": "strip"}]}]}]}},
    ]);
    let t = translate(&with(extra), &strict());
    let http = t.configuration.http.expect("http");
    assert_eq!(
        http.services["default-hrw"]
            .highest_random_weight
            .as_ref()
            .map(|n| n.to_json()),
        Some(
            json!({"services": [{"name": "default-web-80", "weight": 2}, {"name": "x@file", "weight": 1}]})
        )
    );
    assert_eq!(
        http.services["default-fo"]
            .failover
            .as_ref()
            .map(|n| n.to_json()),
        Some(
            json!({"service": "default-hrw", "fallback": "default-web-http", "errors": {"status": ["500-599"]}})
        )
    );
    let a = &http.routers[&router_key("default", "fields", "Host(`a.test`)")];
    assert_eq!(
        (a.service.as_str(), a.priority, a.rule_syntax.as_deref()),
        ("default-fo", Some(7), Some("v2"))
    );
    let d = &http.services[&router_key("default", "fields", "Host(`d.test`)")];
    assert_eq!(d.middlewares, ["default-strip"]);
    let messages: Vec<String> = t.errors.iter().map(ToString::to_string).collect();
    for want in [
        "TraefikService default/none: unspecified service type",
        "unsupported match kind \"Other\"",
        "empty match rule",
        "load-balancer strategy random is not supported",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(want)),
            "{want}: {messages:#?}"
        );
    }
    assert_eq!(
        http.routers
            .keys()
            .filter(|k| k.starts_with("default-fields-"))
            .count(),
        2
    );
}

#[test]
fn parent_routers_as_traefik_lists_them() {
    let objects = more();
    let index = Index::new(&objects);
    let child = index.ingress_route("default", "child").expect("child");
    let want = traefik(include_str!("fixtures/rawdata-more.json"));
    let want = &want["routers"]["default-child-f97b5a26fa6894ee2825"]["parentRefs"];
    let parents = parent_routers(&index, child, false).expect("parents");
    assert_eq!(json!(parents), *want);
    let elsewhere = json!({"metadata": {"name": "c", "namespace": "other"},
        "spec": {"parentRefs": [{"name": "more", "namespace": "default"}]}});
    assert!(parent_routers(&Index::new(&objects), &elsewhere, false).is_err());
    assert!(parent_routers(&Index::new(&objects), &elsewhere, true).is_ok());
    let missing = json!({"metadata": {"name": "c", "namespace": "default"},
        "spec": {"parentRefs": [{"name": "nope"}]}});
    assert!(parent_routers(&Index::new(&objects), &missing, false).is_err());
}

#[test]
fn plugin_values_from_secrets() {
    let objects = more();
    let mut v = json!({"demo": {"token": "urn:k8s:secret:plugin:token",
        "list": ["a", "urn:k8s:secret:plugin:token"], "n": 1}});
    middlewares::plugin_secrets(&Index::new(&objects), "default", &mut v).expect("resolved");
    // As Traefik showed it (rawdata-more.json, default-plugin).
    let want = traefik(include_str!("fixtures/rawdata-more.json"));
    let mut want = want["middlewares"]["default-plugin"]["plugin"].clone();
    want["demo"]["n"] = json!(1);
    assert_eq!(v, want);
    for (urn, error) in [
        ("urn:k8s:secret:plugin", "malformed secret URN"),
        (
            "urn:k8s:secret:nope:token",
            "secret default/nope is not found",
        ),
        ("urn:k8s:secret:plugin:other", "key \"other\" not found"),
    ] {
        let mut v = json!({"x": [urn]});
        let e =
            middlewares::plugin_secrets(&Index::new(&objects), "default", &mut v).expect_err(urn);
        assert!(e.contains(error), "{e}");
    }
}

#[test]
fn protocols() {
    for (scheme, name, port, want) in [
        ("", "http", 80, Ok("http")),
        ("", "web", 443, Ok("https")),
        ("", "https-alt", 8443, Ok("https")),
        ("", "httpsx", 80, Ok("https")),
        ("", "web-https", 80, Ok("http")),
        ("http", "https", 443, Ok("http")),
        ("h2c", "", 80, Ok("h2c")),
        ("https", "", 80, Ok("https")),
        ("HTTP", "", 80, Err(())),
    ] {
        assert_eq!(
            services::protocol(scheme, name, port).map_err(|_| ()),
            want,
            "{scheme} {name} {port}"
        );
    }
}

/// The translation is a configuration Switchyard reads as it reads a
/// file's: the whole of it passes Traefik's keys and decodes back to the
/// same elements, and every middleware decodes to its type.
#[test]
fn the_configuration_reads_back_as_a_files_would() {
    for (capture, objects, options, _) in captures() {
        let configuration = translate(&objects, &options).configuration;
        let tree: switchyard_config::Node =
            serde_json::from_value(json!(&configuration)).expect("a tree");
        let back = switchyard_config::dynamic_schema::decode(&tree)
            .unwrap_or_else(|e| panic!("{capture}: {e}"));
        let (http, back_http) = (
            configuration.http.expect("http"),
            back.http.expect("http back"),
        );
        // All but the parentRefs refusal, which is kept out of the tree.
        for (name, router) in &http.routers {
            let mut r = (**router).clone();
            r.unsupported = Default::default();
            assert_eq!(
                Some(&r),
                back_http.routers.get(name).map(|b| &**b),
                "{capture}"
            );
        }
        assert_eq!(http.routers.len(), back_http.routers.len(), "{capture}");
        assert_eq!(http.services, back_http.services, "{capture}: services");
        assert_eq!(configuration.tls, back.tls, "{capture}: tls");
        for (name, m) in &http.middlewares {
            if m.1.refused.is_empty() {
                switchyard_config::middlewares::decode_middleware(m)
                    .unwrap_or_else(|e| panic!("{capture}: middleware {name}: {e}"));
            }
        }
        assert!(!http.middlewares.is_empty(), "{capture}");
    }
}

fn secret(name: &str, namespace: &str, data: Value) -> Value {
    json!({"kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data})
}

/// TLS from objects Traefik's rawdata does not show: by its source.
#[test]
fn tls_from_objects() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let items = json!([
        secret("pair", "a", json!({"tls.crt": b64("CRT"), "tls.key": b64("KEY")})),
        secret("half", "a", json!({"tls.crt": b64("CRT")})),
        secret("empty", "a", json!({"tls.crt": b64(""), "tls.key": b64("KEY")})),
        secret("cas", "a", json!({"tls.ca": b64("CA1")})),
        secret("cas2", "a", json!({"ca.crt": b64("CA2"), "other": b64("x")})),
        {"kind": "TLSOption", "metadata": {"name": "mtls", "namespace": "a"},
         "spec": {"clientAuth": {"secretNames": ["cas", "cas2", "nope"], "clientAuthType": "RequireAndVerifyClientCert"},
                  "cipherSuites": ["TLS_AES_128_GCM_SHA256"], "alpnProtocols": ["h2"], "maxVersion": "VersionTLS12"}},
        {"kind": "TLSOption", "metadata": {"name": "default", "namespace": "a"}, "spec": {}},
        {"kind": "TLSOption", "metadata": {"name": "default", "namespace": "b"}, "spec": {}},
        {"kind": "TLSStore", "metadata": {"name": "default", "namespace": "a"},
         "spec": {"certificates": [{"secretName": "pair"}, {"secretName": "half"}],
                  "defaultGeneratedCert": {"resolver": "le", "domain": {"main": "a.test"}}}},
        {"kind": "TLSStore", "metadata": {"name": "broken", "namespace": "a"},
         "spec": {"defaultCertificate": {"secretName": "empty"}}},
        {"kind": "IngressRoute", "metadata": {"name": "r", "namespace": "a"},
         "spec": {"tls": {"secretName": "pair", "options": {"name": "mtls"}},
                  "routes": [{"match": "Host(`r.test`)"}]}},
        {"kind": "IngressRoute", "metadata": {"name": "s", "namespace": "a"},
         "spec": {"tls": {"secretName": "missing"}, "routes": [{"match": "Host(`s.test`)"}]}},
        {"kind": "IngressRoute", "metadata": {"name": "t", "namespace": "a"},
         "spec": {"tls": {"options": {"name": "mtls", "namespace": "b"}}, "routes": [{"match": "Host(`t.test`)"}]}},
    ]);
    let (objects, _) = Objects::from_list(items.as_array().cloned().unwrap_or_default());
    let t = translate(&objects, &CrdOptions::default());
    let tls = t.configuration.tls.expect("tls");
    // The store's certificate, once, in its store; the route's is the same
    // Secret so the store's wins.
    assert_eq!(tls.certificates.len(), 1);
    assert_eq!(
        (
            tls.certificates[0].cert_file.as_str(),
            tls.certificates[0].stores.clone()
        ),
        ("CRT", vec!["default".to_string()])
    );
    let store = &tls.stores["default"];
    assert_eq!(
        store
            .default_generated_cert
            .as_ref()
            .map(|g| g.resolver.as_str()),
        Some("le")
    );
    assert!(!tls.stores.contains_key("a-broken"));
    let o = &tls.options["a-mtls"];
    assert_eq!(o.client_auth.ca_files, ["CA1", "CA2"]);
    assert_eq!(o.client_auth.client_auth_type, "RequireAndVerifyClientCert");
    assert_eq!(
        (o.cipher_suites.len(), o.alpn_protocols.clone()),
        (1, vec!["h2".to_string()])
    );
    assert_eq!(o.max_version, "VersionTLS12");
    // `default` in two namespaces: neither.
    assert!(!tls.options.contains_key("default"));
    let http = t.configuration.http.expect("http");
    let r = &http.routers[&router_key("a", "r", "Host(`r.test`)")];
    assert_eq!(r.tls.as_ref().map(|t| t.options.as_str()), Some("a-mtls"));
    // A missing Secret is reported, the route kept.
    assert!(http
        .routers
        .contains_key(&router_key("a", "s", "Host(`s.test`)")));
    // A TLSOption in another namespace: the route is left out.
    assert!(!http
        .routers
        .contains_key(&router_key("a", "t", "Host(`t.test`)")));
    let messages: Vec<String> = t.errors.iter().map(ToString::to_string).collect();
    for want in [
        "TLSStore a/default: certificate half: secret a/half is missing the following TLS data entries: tls.key",
        "TLSStore a/broken: default certificate: secret a/empty contains the following empty TLS data entries: tls.crt",
        "TLSOption a/mtls: secret a/nope does not exist",
        "TLSOption a,b/default: default TLS options defined in multiple namespaces",
        "IngressRoute a/s: TLS: secret a/missing does not exist",
        "IngressRoute a/t: route \"Host(`t.test`)\": invalid reference to TLSOption \"mtls\"",
    ] {
        assert!(messages.iter().any(|m| m.contains(want)), "{want}: {messages:#?}");
    }
    assert_eq!(messages.len(), 6, "{messages:#?}");
}

#[test]
fn servers_transport_versions_and_certificates() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for (min, max, want_min, want_max, errors) in [
        (
            "VersionTLS12",
            "VersionTLS13",
            Some("VersionTLS12"),
            Some("VersionTLS13"),
            0,
        ),
        (
            "VersionTLS13",
            "VersionTLS12",
            Some("VersionTLS12"),
            None,
            1,
        ),
        ("TLS9", "", None, None, 1),
        ("", "VersionTLS11", None, Some("VersionTLS11"), 0),
    ] {
        let items = json!([
            secret("client", "a", json!({"tls.crt": b64("CRT"), "tls.key": b64("KEY")})),
            {"kind": "ConfigMap", "metadata": {"name": "ca", "namespace": "a"}, "data": {"ca.crt": "CA"}},
            {"kind": "ServersTransport", "metadata": {"name": "st", "namespace": "a"},
             "spec": {"minVersion": min, "maxVersion": max, "certificatesSecrets": ["client"],
                      "rootCAs": [{"configMap": "ca"}], "disableHTTP2": true, "spiffe": {"ids": ["x"]}}},
        ]);
        let (objects, _) = Objects::from_list(items.as_array().cloned().unwrap_or_default());
        let t = translate(&objects, &CrdOptions::default());
        let http = t.configuration.http.expect("http");
        let st = &http.servers_transports["a-st"];
        assert_eq!(st.min_version.as_deref(), want_min, "{min} {max}");
        assert_eq!(st.max_version.as_deref(), want_max, "{min} {max}");
        assert_eq!(t.errors.len(), errors, "{min} {max}: {:?}", t.errors);
        assert_eq!(st.certificates.len(), 1);
        assert_eq!(st.root_cas, ["CA"]);
        assert!(st.disable_http2);
        assert_eq!(st.unsupported.refused, ["spiffe"]);
        assert_eq!(st.max_idle_conns_per_host, 0);
    }
}

#[test]
fn servers_transport_cipher_suites() {
    for (suites, want, errors) in [
        (
            json!(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]),
            vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
            0,
        ),
        // Known to Go though not to rustls: kept (the builder refuses it).
        (
            json!(["TLS_RSA_WITH_AES_128_CBC_SHA"]),
            vec!["TLS_RSA_WITH_AES_128_CBC_SHA"],
            0,
        ),
        (
            json!(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_MADE_UP"]),
            vec![],
            1,
        ),
    ] {
        let items = json!([{"kind": "ServersTransport", "metadata": {"name": "st", "namespace": "a"},
            "spec": {"cipherSuites": suites}}]);
        let (objects, _) = Objects::from_list(items.as_array().cloned().unwrap_or_default());
        let t = translate(&objects, &CrdOptions::default());
        let http = t.configuration.http.expect("http");
        assert_eq!(http.servers_transports["a-st"].cipher_suites, want);
        assert_eq!(t.errors.len(), errors, "{:?}", t.errors);
    }
}

#[test]
fn node_port_lookup_can_be_disabled() {
    let options = CrdOptions {
        disable_cluster_scope_resources: true,
        ..strict()
    };
    let t = translate(&more(), &options);
    let http = t.configuration.http.expect("http");
    assert!(!http
        .routers
        .contains_key(&router_key("default", "more", "Host(`np.test`)")));
    assert!(t
        .errors
        .iter()
        .any(|e| e.message.contains("nodes lookup is disabled")));
}

/// `n` IngressRoutes, each to its own Service with one EndpointSlice, and
/// a Middleware each.
fn many(n: usize) -> Objects {
    Objects::from_list(many_items(n)).0
}

fn many_items(n: usize) -> Vec<Value> {
    let mut items = Vec::new();
    for i in 0..n {
        let name = format!("app-{i}");
        items.push(
            json!({"kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"name": "web", "port": 80}]}}),
        );
        items.push(json!({"kind": "EndpointSlice",
            "metadata": {"name": format!("{name}-1"), "namespace": "default",
                         "labels": {"kubernetes.io/service-name": name}},
            "ports": [{"name": "web", "port": 8080}],
            "endpoints": [{"addresses": [format!("10.{}.{}.1", i / 256, i % 256)]}]}));
        items.push(
            json!({"kind": "Middleware", "metadata": {"name": name, "namespace": "default"},
            "spec": {"headers": {"customRequestHeaders": {"X-App": name}}}}),
        );
        items.push(
            json!({"kind": "IngressRoute", "metadata": {"name": name, "namespace": "default"},
            "spec": {"entryPoints": ["web"], "routes": [{"match": format!("Host(`{name}.test`)"),
                "middlewares": [{"name": name}], "services": [{"name": name, "port": 80}]}]}}),
        );
    }
    items
}

/// The item of `kind` named `name` in `items`.
fn item<'a>(items: &'a mut [Value], kind: &str, name: &str) -> &'a mut Value {
    items
        .iter_mut()
        .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
        .expect("item")
}

/// Changes an item as the API server would: a new resource version.
fn change(items: &mut [Value], kind: &str, name: &str, f: impl FnOnce(&mut Value)) {
    let i = item(items, kind, name);
    f(i);
    let rv: u64 = i["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    i["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
}

#[test]
fn cached_translation_is_a_fresh_one_and_translates_only_what_changed() {
    let mut items = many_items(20);
    items.push(json!({"kind": "Node", "metadata": {"name": "n1"},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.9.0.1"}]}}));
    items.push(
        json!({"kind": "Service", "metadata": {"name": "np", "namespace": "default"},
        "spec": {"type": "NodePort", "ports": [{"name": "web", "port": 80, "nodePort": 30080}]}}),
    );
    items.push(
        json!({"kind": "IngressRoute", "metadata": {"name": "np", "namespace": "default"},
        "spec": {"routes": [{"match": "Host(`np.test`)",
            "services": [{"name": "np", "port": 80, "nodePortLB": true}]}]}}),
    );
    for i in &mut items {
        i["metadata"]["resourceVersion"] = json!("1");
    }
    let options = CrdOptions::default();
    let mut cache = Cache::default();
    // (IngressRoutes, Middlewares) translated.
    let mut check = |items: &[Value], translated: (usize, usize), what: &str| {
        let (objects, _) = Objects::from_list(items.to_vec());
        let warm = translate_with(&objects, &options, &mut cache);
        let fresh = translate(&objects, &options);
        assert!(
            warm.configuration == fresh.configuration,
            "{what}: configurations differ"
        );
        assert_eq!(warm.errors, fresh.errors, "{what}");
        assert_eq!(
            (cache.translated, cache.translated_middlewares),
            translated,
            "{what}: translated"
        );
        fresh.configuration.http.expect("http")
    };
    let servers = |http: &HttpConfiguration, key: &str| -> Vec<String> {
        http.services
            .get(key)
            .and_then(|s| s.load_balancer.as_ref())
            .map(|lb| lb.servers.iter().map(|s| s.url.clone()).collect())
            .unwrap_or_default()
    };
    let app3 = router_key("default", "app-3", "Host(`app-3.test`)");
    let app7 = router_key("default", "app-7", "Host(`app-7.test`)");
    let np = router_key("default", "np", "Host(`np.test`)");

    check(&items, (21, 20), "first");
    check(&items, (0, 0), "nothing changed");
    change(&mut items, "EndpointSlice", "app-3-1", |s| {
        s["endpoints"][0]["addresses"][0] = json!("10.3.3.3");
    });
    let http = check(&items, (1, 0), "a slice changed");
    assert_eq!(servers(&http, &app3), ["http://10.3.3.3:8080"]);
    change(&mut items, "IngressRoute", "app-5", |r| {
        r["spec"]["routes"][0]["match"] = json!("Host(`five.test`)");
    });
    let http = check(&items, (1, 0), "a rule changed");
    assert!(http
        .routers
        .contains_key(&router_key("default", "app-5", "Host(`five.test`)")));
    items.retain(|i| !(i["kind"] == "Service" && i["metadata"]["name"] == "app-7"));
    let http = check(&items, (1, 0), "a service deleted");
    assert!(!http.routers.contains_key(&app7));
    change(&mut items, "Node", "n1", |n| {
        n["status"]["addresses"][0]["address"] = json!("10.9.0.2");
    });
    let http = check(&items, (1, 0), "a node changed");
    assert_eq!(servers(&http, &np), ["http://10.9.0.2:30080"]);
    items.push(
        json!({"kind": "Service", "metadata": {"name": "app-7", "namespace": "default",
        "resourceVersion": "9"}, "spec": {"ports": [{"name": "web", "port": 80}]}}),
    );
    let http = check(&items, (1, 0), "the service back");
    assert!(http.routers.contains_key(&app7));
    change(&mut items, "Middleware", "app-9", |m| {
        m["spec"]["headers"]["customRequestHeaders"]["X-App"] = json!("nine");
    });
    check(&items, (0, 1), "a middleware changed (translated apart)");
    let mut unversioned = items.clone();
    item(&mut unversioned, "IngressRoute", "app-1")["metadata"]
        .as_object_mut()
        .map(|m| m.remove("resourceVersion"));
    check(
        &unversioned,
        (1, 0),
        "an object without a version is not cached",
    );
    check(&unversioned, (1, 0), "nor the next time");
}

/// Run by hand for figures:
/// `cargo test -p switchyard-providers --lib crd::tests::translation_time -- --ignored --nocapture`.
#[test]
#[ignore]
fn translation_time() {
    for n in [1_000, 4_000, 10_000] {
        let mut items = many_items(n);
        for i in &mut items {
            i["metadata"]["resourceVersion"] = json!("1");
        }
        let objects = Objects::from_list(items.clone()).0;
        let mut cache = Cache::default();
        let start = std::time::Instant::now();
        let t = translate_with(&objects, &CrdOptions::default(), &mut cache);
        let took = start.elapsed();
        let http = t.configuration.http.expect("http");
        assert_eq!(
            (http.routers.len(), http.services.len(), t.errors.len()),
            (n, n, 0)
        );
        // One more IngressRoute: the others come from the cache.
        items.push(json!({"kind": "IngressRoute",
            "metadata": {"name": "extra", "namespace": "default", "resourceVersion": "2"},
            "spec": {"routes": [{"match": "Host(`extra.test`)",
                "services": [{"name": "app-0", "port": 80}]}]}}));
        let objects = Objects::from_list(items).0;
        let start = std::time::Instant::now();
        let t = translate_with(&objects, &CrdOptions::default(), &mut cache);
        let again = start.elapsed();
        assert_eq!(cache.translated, 1);
        assert_eq!(t.configuration.http.expect("http").routers.len(), n + 1);
        println!("{n} IngressRoutes: {took:?}; one added, with the cache: {again:?}");
    }
}

#[test]
fn many_routes_each_to_its_own_service() {
    let t = translate(&many(50), &CrdOptions::default());
    let http = t.configuration.http.expect("http");
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let key = router_key("default", "app-42", "Host(`app-42.test`)");
    let lb = http.services[&key].load_balancer.as_ref().expect("lb");
    assert_eq!(lb.servers[0].url, "http://10.0.42.1:8080");
    assert_eq!(http.routers[&key].middlewares, ["default-app-42"]);
    assert_eq!(http.middlewares.len(), 50);
}

/// What the translation made of `fixtures/tcp.yml` (with
/// `allowExternalNameServices`), and what Traefik made of it.
fn tcp_capture() -> (Translation, Value) {
    let objects = load(include_str!("fixtures/tcp-objects.json"));
    let t = translate(&objects, &strict());
    (t, traefik(include_str!("fixtures/tcp-rawdata.json")))
}

/// Both captures of `fixtures/tcp.yml`: the strict one above, and one
/// with `allowCrossNamespace`, `nativeLBByDefault` and
/// `allowEmptyServices` (`tcp-open-rawdata.json`).
fn tcp_captures() -> Vec<(&'static str, Translation, Value)> {
    let (t, want) = tcp_capture();
    let objects = load(include_str!("fixtures/tcp-objects.json"));
    let open = CrdOptions {
        allow_cross_namespace: true,
        native_lb_by_default: true,
        allow_empty_services: true,
        ..CrdOptions::default()
    };
    vec![
        ("strict", t, want),
        (
            "open",
            translate(&objects, &open),
            traefik(include_str!("fixtures/tcp-open-rawdata.json")),
        ),
    ]
}

/// A section's elements as JSON, checked to decode as a file's would.
fn section_json(node: Option<&switchyard_config::Node>, part: &str) -> Value {
    node.and_then(|n| n.get(part))
        .map(switchyard_config::Node::to_json)
        .unwrap_or(json!({}))
}

/// TCP or UDP servers in address order (Traefik's follows its informer's).
fn sort_addresses(v: &mut Value) {
    if let Some(l) = v
        .pointer_mut("/loadBalancer/servers")
        .and_then(Value::as_array_mut)
    {
        l.sort_by_key(|s| s["address"].as_str().unwrap_or_default().to_string());
    }
}

#[test]
fn tcp_section_decodes_element_by_element() {
    let (t, _) = tcp_capture();
    let tcp = t.configuration.tcp.as_ref().expect("a tcp section");
    let decoded = switchyard_config::tcp::decode(tcp);
    let bad: Vec<String> = decoded
        .routers
        .iter()
        .filter_map(|(k, r)| r.as_ref().err().map(|e| format!("router {k}: {e}")))
        .chain(
            decoded
                .services
                .iter()
                .filter_map(|(k, r)| r.as_ref().err().map(|e| format!("service {k}: {e}"))),
        )
        .chain(
            decoded
                .middlewares
                .iter()
                .filter_map(|(k, r)| r.as_ref().err().map(|e| format!("middleware {k}: {e}"))),
        )
        .chain(
            decoded
                .servers_transports
                .iter()
                .filter_map(|(k, r)| r.as_ref().err().map(|e| format!("transport {k}: {e}"))),
        )
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(decoded.routers.len(), 5);
    let udp = t.configuration.udp.as_ref().expect("a udp section");
    let decoded = switchyard_config::udp::decode(udp).expect("the udp section decodes");
    assert_eq!(decoded.routers.len(), 2);
    assert_eq!(decoded.services.len(), 4);
}

#[test]
fn tcp_routers_as_traefik_names_and_values_them() {
    for (capture, t, want) in tcp_captures() {
        let got = section_json(t.configuration.tcp.as_ref(), "routers");
        assert_eq!(
            keys(&got),
            keys(&want["tcpRouters"]),
            "{capture}: router names"
        );
        for (name, router) in got.as_object().into_iter().flatten() {
            let mut router = router.clone();
            let w = &want["tcpRouters"][name];
            // Traefik shows an unset priority as the rule's length, and no
            // entry points as every TCP one.
            if router.get("priority").is_none() {
                let len = router["rule"].as_str().unwrap_or_default().len();
                router["priority"] = json!(len);
            }
            if router.get("entryPoints").is_none() {
                router["entryPoints"] = json!(["tcp", "web", "websecure"]);
            }
            assert_eq!(&router, w, "{capture}: router {name}");
        }
    }
}

#[test]
fn tcp_services_and_middlewares_as_traefik_makes_them() {
    for (capture, t, want) in tcp_captures() {
        let tcp = t.configuration.tcp.as_ref();
        let got = section_json(tcp, "services");
        assert_eq!(
            keys(&got),
            keys(&want["tcpServices"]),
            "{capture}: service names"
        );
        for (name, service) in got.as_object().into_iter().flatten() {
            let mut service = service.clone();
            let mut w = want["tcpServices"][name].clone();
            sort_addresses(&mut service);
            sort_addresses(&mut w);
            assert_eq!(service, w, "{capture}: service {name}");
        }
        let got = section_json(tcp, "middlewares");
        assert_eq!(got, want["tcpMiddlewares"], "{capture}");
    }
}

#[test]
fn udp_routers_and_services_as_traefik_makes_them() {
    for (capture, t, want) in tcp_captures() {
        let udp = t.configuration.udp.as_ref();
        assert_eq!(
            section_json(udp, "routers"),
            want["udpRouters"],
            "{capture}"
        );
        let got = section_json(udp, "services");
        assert_eq!(
            keys(&got),
            keys(&want["udpServices"]),
            "{capture}: service names"
        );
        for (name, service) in got.as_object().into_iter().flatten() {
            let mut service = service.clone();
            let mut w = want["udpServices"][name].clone();
            sort_addresses(&mut service);
            sort_addresses(&mut w);
            assert_eq!(service, w, "{capture}: service {name}");
        }
    }
}

#[test]
fn tcp_routes_that_fail_are_reported_and_their_certificate_kept() {
    let (t, _) = tcp_capture();
    let errors: Vec<String> = t.errors.iter().map(ToString::to_string).collect();
    let expected = [
        "IngressRouteTCP default/db: route \"HostSNI(`a.test`)\": service missing:1: service not found",
        "IngressRouteTCP default/ext: route \"HostSNI(`x.test`)\": service echo:9000: tcp service other/echo is not in the parent resource namespace default",
        "IngressRouteTCP default/ext: route \"HostSNI(`m.test`)\": invalid reference to middleware ips: allowCrossNamespace is disabled, cross-namespace are disallowed",
        "IngressRouteTCP default/ext: empty match rule",
    ];
    assert_eq!(errors, expected);
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    // The db route's `tls.secretName` (the passthrough one reads none).
    let tls = t.configuration.tls.as_ref().expect("tls");
    assert_eq!(tls.certificates.len(), 1);
}

#[test]
fn servers_transport_tcp_with_traefik_defaults() {
    let (t, _) = tcp_capture();
    let got = section_json(t.configuration.tcp.as_ref(), "serversTransports");
    assert_eq!(
        got,
        json!({
            "default-st": {
                "dialTimeout": "5s", "dialKeepAlive": "15s", "terminationDelay": "100ms",
                "tls": {"serverName": "backend.test", "insecureSkipVerify": true}
            },
            "default-plain": {
                "dialTimeout": "30s", "dialKeepAlive": "15s", "terminationDelay": "50ms",
                "proxyProtocol": {"version": 1}
            },
        })
    );
    // CA or client certificates are not translated yet: the transport is
    // left out, with an error, rather than built without them.
    let items = json!([{
        "kind": "ServersTransportTCP",
        "metadata": {"name": "ca", "namespace": "a"},
        "spec": {"tls": {"rootCAsSecrets": ["x"]}},
    }]);
    let (objects, _) = Objects::from_list(items.as_array().cloned().unwrap_or_default());
    let t = translate(&objects, &CrdOptions::default());
    assert!(t.configuration.tcp.is_none());
    assert_eq!(t.errors.len(), 1, "{:?}", t.errors);
    assert!(
        t.errors[0].message.contains("rootCAsSecrets"),
        "{:?}",
        t.errors
    );
}

#[test]
fn tcp_options_change_what_is_made() {
    let objects = load(include_str!("fixtures/tcp-objects.json"));
    // Cross namespace allowed: the x.test route reaches other/echo, and
    // the m.test route is made.
    let t = translate(
        &objects,
        &CrdOptions {
            allow_cross_namespace: true,
            allow_external_name_services: true,
            ..CrdOptions::default()
        },
    );
    let tcp = t.configuration.tcp.as_ref();
    let x = tcp_udp::tcp_router_key("default", "ext", "HostSNI(`x.test`)");
    let services = section_json(tcp, "services");
    assert_eq!(
        services[&x],
        json!({"loadBalancer": {"servers": [{"address": "10.0.3.1:7100"}]}})
    );
    assert_eq!(keys(&section_json(tcp, "routers")).len(), 6);
    // nativeLBByDefault: the cluster IP at the service port.
    let t = translate(
        &objects,
        &CrdOptions {
            native_lb_by_default: true,
            allow_external_name_services: true,
            ..CrdOptions::default()
        },
    );
    let star = tcp_udp::tcp_router_key("default", "db", "HostSNI(`*`)");
    let services = section_json(t.configuration.tcp.as_ref(), "services");
    assert_eq!(
        services[&star]["loadBalancer"]["servers"],
        json!([{"address": "10.96.0.5:9000"}])
    );
    // ExternalName refused by default: the e.test route has no service.
    let t = translate(&objects, &CrdOptions::default());
    let e = tcp_udp::tcp_router_key("default", "ext", "HostSNI(`e.test`)");
    let services = section_json(t.configuration.tcp.as_ref(), "services");
    assert!(services.get(&e).is_none(), "{services}");
    // Another class: only the classed route.
    let t = translate(
        &objects,
        &CrdOptions {
            ingress_class: "other".into(),
            ..CrdOptions::default()
        },
    );
    let routers = section_json(t.configuration.tcp.as_ref(), "routers");
    assert_eq!(
        keys(&routers),
        [tcp_udp::tcp_router_key(
            "default",
            "classed",
            "HostSNI(`c.test`)"
        )]
    );
    assert!(t.configuration.udp.is_none());
}

#[test]
fn ingress_class_selection() {
    // (provider's ingressClass, spec.ingressClassName, annotation, kept)
    for (provider, spec, annotation, kept) in [
        ("", None, None, true),
        ("", Some("traefik"), None, true),
        ("", None, Some("traefik"), true),
        ("", Some("other"), None, false),
        ("", None, Some("other"), false),
        ("other", None, None, false),
        ("other", Some("other"), None, true),
        ("other", None, Some("other"), true),
        // The spec field wins over the annotation.
        ("other", Some("traefik"), Some("other"), false),
        ("", Some(""), Some("other"), true),
    ] {
        let mut ir = route("c", "Host(`c.test`)", json!([]));
        if let Some(c) = spec {
            ir["spec"]["ingressClassName"] = json!(c);
        }
        if let Some(a) = annotation {
            ir["metadata"]["annotations"] = json!({"kubernetes.io/ingress.class": a});
        }
        let (objects, _) = Objects::from_list([ir]);
        let options = CrdOptions {
            ingress_class: provider.into(),
            ..CrdOptions::default()
        };
        let http = translate(&objects, &options)
            .configuration
            .http
            .expect("http");
        assert_eq!(
            http.routers.len(),
            usize::from(kept),
            "{provider:?} {spec:?} {annotation:?}"
        );
    }
}

#[test]
fn walking_a_pointer_is_what_serde_json_finds() {
    let v = json!({"metadata": {"name": "n", "labels": {"kubernetes.io/service-name": "s", "a~b": 1}},
        "spec": {"routes": [{"match": "m"}, {"match": "n"}]}, "": {"": 2}});
    for pointer in [
        "",
        "/",
        "/metadata",
        "/metadata/name",
        "/metadata/labels/kubernetes.io~1service-name",
        "/metadata/labels/a~0b",
        "/spec/routes/0/match",
        "/spec/routes/1",
        "/spec/routes/2",
        "/spec/routes/01",
        "/spec/routes/+1",
        "/spec/routes/x",
        "/metadata/name/x",
        "metadata",
        "//",
        "/nothing/here",
    ] {
        assert_eq!(v.at(pointer), v.pointer(pointer), "{pointer:?}");
    }
}

#[test]
fn tcp_and_udp_node_port_services_go_to_the_nodes_internal_ips() {
    let items = json!([
        {"kind": "Service", "metadata": {"name": "np", "namespace": "a"},
         "spec": {"type": "NodePort", "ports": [{"name": "p", "port": 80, "nodePort": 30080}]}},
        {"kind": "Node", "metadata": {"name": "n1"},
         "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.1"},
                                  {"type": "ExternalIP", "address": "1.2.3.4"},
                                  {"type": "InternalIP", "address": "fd00::1"}]}},
        {"kind": "IngressRouteTCP", "metadata": {"name": "t", "namespace": "a"},
         "spec": {"routes": [{"match": "HostSNI(`*`)",
                              "services": [{"name": "np", "port": 80, "nodePortLB": true}]}]}},
        {"kind": "IngressRouteUDP", "metadata": {"name": "u", "namespace": "a"},
         "spec": {"routes": [{"services": [{"name": "np", "port": "p", "nodePortLB": true}]}]}},
    ]);
    let (objects, unknown) = Objects::from_list(items.as_array().cloned().unwrap_or_default());
    assert!(unknown.is_empty(), "{unknown:?}");
    let t = translate(&objects, &CrdOptions::default());
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let servers = json!({"loadBalancer": {"servers": [
        {"address": "192.168.0.1:30080"}, {"address": "[fd00::1]:30080"}
    ]}});
    let key = tcp_udp::tcp_router_key("a", "t", "HostSNI(`*`)");
    assert_eq!(
        section_json(t.configuration.tcp.as_ref(), "services")[&key],
        servers
    );
    assert_eq!(
        section_json(t.configuration.udp.as_ref(), "services")["a-u-0"],
        servers
    );
    // Without the Node lookup: refused, reported for both.
    let t = translate(
        &objects,
        &CrdOptions {
            disable_cluster_scope_resources: true,
            ..CrdOptions::default()
        },
    );
    let errors: Vec<String> = t.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| e.ends_with("nodes lookup is disabled")),
        "{errors:?}"
    );
}
