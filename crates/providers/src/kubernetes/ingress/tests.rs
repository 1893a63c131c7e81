//! The translation against what the real Traefik 3.7 made of the same
//! objects: `fixtures/objects.yml` was served by the testkit's kube-double
//! to Traefik's kubernetesIngress provider (`fixtures/capture.py`);
//! `fixtures/objects.json` is the objects as the double served them and
//! `fixtures/<capture>-rawdata.json` the routers and services Traefik's
//! `/api/rawdata` showed with the options of each capture below.

use serde_json::{json, Value};

use super::*;

fn objects() -> Objects {
    load(include_str!("fixtures/objects.json"))
}

/// The "more" capture's objects: annotation edge cases, default backends.
fn more() -> Objects {
    load(include_str!("fixtures/more-objects.json"))
}

fn load(fixture: &str) -> Objects {
    let all: Value = serde_json::from_str(fixture).expect("objects fixture");
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

/// Traefik's rawdata with `@kubernetes` taken off the element names.
fn traefik(fixture: &str) -> Value {
    let v: Value = serde_json::from_str(fixture).expect("rawdata fixture");
    let mut out = json!({});
    for section in ["routers", "services"] {
        let mut m = serde_json::Map::new();
        for (k, e) in v[section].as_object().into_iter().flatten() {
            let k = k.strip_suffix("@kubernetes").unwrap_or(k);
            m.insert(k.to_string(), e.clone());
        }
        out[section] = Value::Object(m);
    }
    out
}

fn captures() -> Vec<(&'static str, Objects, IngressOptions, Value)> {
    vec![
        (
            "more",
            more(),
            IngressOptions::default(),
            traefik(include_str!("fixtures/more-rawdata.json")),
        ),
        (
            "strict",
            objects(),
            IngressOptions::default(),
            traefik(include_str!("fixtures/strict-rawdata.json")),
        ),
        (
            "open",
            objects(),
            IngressOptions {
                allow_empty_services: true,
                allow_external_name_services: true,
                strict_prefix_matching: true,
                native_lb_by_default: true,
                ..IngressOptions::default()
            },
            traefik(include_str!("fixtures/open-rawdata.json")),
        ),
        (
            "class",
            objects(),
            IngressOptions {
                ingress_class: "nginx".into(),
                disable_ingress_class_lookup: true,
                ..IngressOptions::default()
            },
            traefik(include_str!("fixtures/class-rawdata.json")),
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

#[test]
fn routers_as_traefik_names_and_values_them() {
    for (capture, objects, options, want) in captures() {
        let http = translate(&objects, &options)
            .configuration
            .http
            .expect("an http section");
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
            assert_eq!(
                json!(router.rule_syntax),
                w.get("ruleSyntax").cloned().unwrap_or(Value::Null),
                "{ctx}"
            );
            // Traefik shows an unset priority as the rule's length, and no
            // entry points as all of them (but its API's).
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
            // Traefik's runtime names a cookie left unnamed (`_<hash>`), as
            // Switchyard's builder does: the translation leaves it empty.
            if got.pointer("/loadBalancer/sticky/cookie/name").is_none() {
                if let Some(c) = w
                    .pointer_mut("/loadBalancer/sticky/cookie")
                    .and_then(Value::as_object_mut)
                {
                    assert!(c["name"].as_str().is_some_and(|n| n.starts_with('_')));
                    c.remove("name");
                }
            }
            for v in [&mut got, &mut w] {
                if let Some(l) = v
                    .pointer_mut("/loadBalancer/servers")
                    .and_then(Value::as_array_mut)
                {
                    l.sort_by_key(|s| s["url"].as_str().unwrap_or_default().to_string());
                }
            }
            assert_eq!(got, w, "{capture}: service {name}");
        }
    }
}

#[test]
fn errors_name_the_ingress_and_why() {
    let t = translate(&objects(), &IngressOptions::default());
    let lines: Vec<String> = t.errors.iter().map(ToString::to_string).collect();
    let expected = [
        "Ingress default/site: error configuring TLS: secret default/missing-cert does not exist",
        "Ingress default/site: skipping service empty port 80: no endpoints found",
        "Ingress default/site: cannot create service far port 80: externalName services not allowed: default/far",
        "Ingress default/site: cannot create service gone port 80: service not found",
        "Ingress default/site: cannot create service whoami port 81: service port not found",
        "Ingress default/broken: failed to parse annotations: router.priority: invalid integer \"high\"",
    ];
    for e in expected {
        assert!(lines.iter().any(|l| l == e), "{e} not in {lines:#?}");
    }
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    let more = translate(&more(), &IngressOptions::default());
    let lines: Vec<String> = more.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "Ingress default/fallback-b: the default backend already exists",
            "Ingress default/unknown: failed to parse annotations: router.foo: unknown annotation",
        ]
    );
    // The certificate of the Secret that exists.
    let tls = t.configuration.tls.expect("tls");
    assert_eq!(tls.certificates.len(), 1);
    assert!(tls.certificates[0].cert_file.contains("BEGIN CERTIFICATE"));
    assert!(tls.certificates[0].key_file.contains("PRIVATE KEY"));
}

#[test]
fn classes_decide_what_is_served() {
    let class = |name: &str| json!({"spec": {"ingressClassName": name}});
    let annotated =
        |name: &str| json!({"metadata": {"annotations": {"kubernetes.io/ingress.class": name}}});
    let plain = json!({"metadata": {"name": "x"}});
    let traefik_only = vec!["traefik".to_string()];
    let none: Vec<String> = Vec::new();
    let mine = IngressOptions {
        ingress_class: "edge".into(),
        ..IngressOptions::default()
    };
    let any = IngressOptions::default();
    let cases: Vec<(&str, Value, &Vec<String>, &IngressOptions, bool)> = vec![
        (
            "class of Traefik's",
            class("traefik"),
            &traefik_only,
            &any,
            true,
        ),
        (
            "class of another",
            class("nginx"),
            &traefik_only,
            &any,
            false,
        ),
        ("class, lookup off", class("traefik"), &none, &any, false),
        ("no class", plain.clone(), &none, &any, true),
        ("no class, provider has one", plain, &none, &mine, false),
        (
            "annotation traefik",
            annotated("traefik"),
            &none,
            &any,
            true,
        ),
        ("annotation other", annotated("nginx"), &none, &any, false),
        (
            "annotation = provider's",
            annotated("edge"),
            &none,
            &mine,
            true,
        ),
        (
            "annotation traefik, provider's edge",
            annotated("traefik"),
            &none,
            &mine,
            false,
        ),
    ];
    for (name, ingress, classes, options, want) in cases {
        assert_eq!(should_process(&ingress, classes, options), want, "{name}");
    }
    // Only classes of Traefik's controller count, narrowed by `ingressClass`.
    let o = objects();
    assert_eq!(traefik_classes(&o, &any), ["traefik"]);
    assert!(traefik_classes(&o, &mine).is_empty());
    let off = IngressOptions {
        disable_cluster_scope_resources: true,
        ..IngressOptions::default()
    };
    assert!(traefik_classes(&o, &off).is_empty());
}

#[test]
fn router_keys_and_cross_provider_namespaces() {
    assert_eq!(router_key("default", "site", "", "/"), "default-site");
    assert_eq!(router_key("", "site", "a.test", "/x"), "site-a-test-x");
    let limited = IngressOptions {
        cross_provider_namespaces: Some(vec!["apps".into()]),
        ..IngressOptions::default()
    };
    let t = translate(&objects(), &limited);
    let http = t.configuration.http.expect("http");
    // The annotated Ingress names middlewares of other providers from
    // `default`, which may not.
    assert!(!http
        .routers
        .keys()
        .any(|k| k.starts_with("default-annotated")));
    assert!(t.errors.iter().any(|e| e.name == "annotated"
        && e.message
            .contains("cross-provider middleware reference is not allowed")));
    // The Service with a `serverstransport` annotation likewise.
    assert!(!http.services.contains_key("default-tuned-80"));
}
