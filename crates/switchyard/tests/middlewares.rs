//! The middlewares of the core: path rewriting, custom headers, chains,
//! entrypoint middlewares and redirections, and cycle detection.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;

fn routes(backend: &Backend) -> String {
    format!(
        r#"
http:
  routers:
    strip:
      rule: "PathPrefix(`/strip`)"
      service: svc
      middlewares: [strip]
    strip-regex:
      rule: "PathPrefix(`/v`)"
      service: svc
      middlewares: [strip-regex]
    add:
      rule: "PathPrefix(`/add`)"
      service: svc
      middlewares: [add]
    replace:
      rule: "PathPrefix(`/replace`)"
      service: svc
      middlewares: [replace]
    replace-regex:
      rule: "PathPrefix(`/old`)"
      service: svc
      middlewares: [replace-regex]
    headers:
      rule: "PathPrefix(`/headers`)"
      service: svc
      middlewares: [both]
    loop:
      rule: "PathPrefix(`/loop`)"
      service: svc
      middlewares: [loop-a]
  middlewares:
    strip:
      stripPrefix:
        prefixes: ["/strip"]
    strip-regex:
      stripPrefixRegex:
        regex: ["/v[0-9]+"]
    add:
      addPrefix:
        prefix: "/prefixed"
    replace:
      replacePath:
        path: "/replaced"
    replace-regex:
      replacePathRegex:
        regex: "^/old/(.*)"
        replacement: "/new/$1"
    custom:
      headers:
        customRequestHeaders:
          X-Added: "yes"
          X-Remove-Me: ""
        customResponseHeaders:
          X-Response: "added"
          X-Backend: ""
    both:
      chain:
        middlewares: [custom, add]
    loop-a:
      chain:
        middlewares: [loop-b]
    loop-b:
      chain:
        middlewares: [loop-a]
  services:
    svc:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        backend.url()
    )
}

#[tokio::test]
async fn path_middlewares_rewrite_what_the_backend_sees() {
    let b = Backend::start("b").await;
    let p = Proxy::start("mw-paths", &routes(&b), "").await;
    p.wait_status("x.test", "/strip/a", 200).await;

    type Case<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        (
            "stripPrefix",
            "/strip/a/b?q=1",
            "/a/b?q=1",
            &[("x-forwarded-prefix", "/strip")],
        ),
        (
            "stripPrefix to root",
            "/strip",
            "/",
            &[("x-forwarded-prefix", "/strip")],
        ),
        (
            "stripPrefixRegex",
            "/v12/users",
            "/users",
            &[("x-forwarded-prefix", "/v12")],
        ),
        ("addPrefix", "/add/x", "/prefixed/add/x", &[]),
        (
            "replacePath",
            "/replace/me?k=v",
            "/replaced?k=v",
            &[("x-replaced-path", "/replace/me")],
        ),
        (
            "replacePathRegex",
            "/old/thing",
            "/new/thing",
            &[("x-replaced-path", "/old/thing")],
        ),
    ];
    for (what, path, want_uri, want_headers) in cases {
        let r = get(p.web, "x.test", path).await.expect(what);
        assert_eq!(r.status.as_u16(), 200, "{what}: {}", r.text());
        assert_eq!(r.json()["uri"], *want_uri, "{what}");
        for (h, v) in *want_headers {
            assert_eq!(r.seen_header(h).as_deref(), Some(*v), "{what}: header {h}");
        }
    }
}

#[tokio::test]
async fn headers_chain_and_cycles() {
    let b = Backend::start("b").await;
    let p = Proxy::start("mw-headers", &routes(&b), "").await;
    p.wait_status("x.test", "/strip/a", 200).await;

    let r = request(
        p.web,
        http::Method::GET,
        "x.test",
        "/headers",
        &[("x-remove-me", "1")],
        bytes::Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.seen_header("x-added").as_deref(), Some("yes"));
    assert_eq!(
        r.seen_header("x-remove-me"),
        None,
        "empty value removes the request header"
    );
    assert_eq!(r.header("x-response"), Some("added"));
    assert_eq!(
        r.header("x-backend"),
        None,
        "empty value removes the response header"
    );
    assert_eq!(
        r.json()["uri"],
        "/prefixed/headers",
        "the chain ran its second middleware too"
    );

    assert_eq!(
        get(p.web, "x.test", "/loop").await.unwrap().status.as_u16(),
        404
    );
    let router = p.api("/api/http/routers/loop@file").await;
    assert_eq!(router["status"], "disabled");
    assert!(
        router["error"].to_string().contains("recursion"),
        "{router}"
    );
}

#[tokio::test]
async fn entrypoint_middlewares_and_redirections() {
    let b = Backend::start("b").await;
    let dynamic = format!(
        "http:\n  routers:\n    r:\n      rule: \"PathPrefix(`/`)\"\n      service: svc\n  middlewares:\n    tag:\n      headers:\n        customRequestHeaders:\n          X-Entrypoint: web\n  services:\n    svc:\n      loadBalancer:\n        servers: [{{url: \"{}\"}}]\n",
        b.url()
    );
    let secure = free_port();
    let p = Proxy::start_with(
        "mw-entrypoint",
        &dynamic,
        "    http:\n      middlewares: [\"tag@file\"]\n",
        "",
    )
    .await;
    let r = p.wait_status("x.test", "/", 200).await;
    assert_eq!(r.seen_header("x-entrypoint").as_deref(), Some("web"));
    drop(p);

    // A second proxy whose `web` redirects to `websecure`.
    let p = Proxy::start_with(
        "mw-redirect",
        &dynamic,
        &format!("    http:\n      redirections:\n        entryPoint:\n          to: websecure\n          scheme: https\n  websecure:\n    address: \"127.0.0.1:{secure}\"\n"),
        "",
    )
    .await;
    let r = p.wait_status("x.test", "/path?q=1", 301).await;
    assert_eq!(
        r.header("location"),
        Some(format!("https://x.test:{secure}/path?q=1").as_str())
    );
    let r = request(
        p.web,
        http::Method::POST,
        "x.test",
        "/form",
        &[],
        bytes::Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.status.as_u16(), 308, "non-GET redirects keep the method");
}

#[tokio::test]
async fn headers_cors_and_security() {
    let b = Backend::start("b").await;
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: svc
      middlewares: [policy]
    legacy:
      rule: "Host(`legacy.test`)"
      service: svc
      middlewares: [legacy]
    empty:
      rule: "Host(`empty.test`)"
      service: svc
      middlewares: [empty]
  middlewares:
    policy:
      headers:
        accessControlAllowOriginList: ["https://ok.example"]
        accessControlAllowMethods: [GET, POST]
        accessControlMaxAge: 60
        addVaryHeader: true
        frameDeny: true
        contentTypeNosniff: true
        stsSeconds: 300
        forceSTSHeader: true
        customRequestHeaders:
          X-Forwarded-For: ""
    legacy:
      headers:
        sslRedirect: true
        frameDeny: true
    empty:
      headers: {{}}
  services:
    svc:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        b.url()
    );
    let p = Proxy::start("mw-cors", &dynamic, "").await;
    p.wait_status("app.test", "/", 200).await;
    let before = b.hits();
    let pre = request(
        p.web,
        http::Method::OPTIONS,
        "app.test",
        "/",
        &[
            ("origin", "https://ok.example"),
            ("access-control-request-method", "POST"),
        ],
        bytes::Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(pre.status.as_u16(), 200);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://ok.example")
    );
    assert_eq!(pre.header("access-control-allow-methods"), Some("GET,POST"));
    assert_eq!(pre.header("access-control-max-age"), Some("60"));
    assert_eq!(b.hits(), before, "a preflight is answered by the proxy");

    let r = request(
        p.web,
        http::Method::GET,
        "app.test",
        "/",
        &[("origin", "https://ok.example")],
        bytes::Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://ok.example")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("strict-transport-security"), Some("max-age=300"));
    assert_eq!(
        r.seen_header("x-forwarded-for"),
        None,
        "an empty X-Forwarded-For drops it entirely"
    );

    // Deprecated fields: a warning, and the middleware still serves.
    let r = p.wait_status("legacy.test", "/", 200).await;
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    let mw = p.api("/api/http/middlewares/legacy@file").await;
    assert_eq!(mw["status"], "warning", "{mw}");
    assert!(mw["error"].to_string().contains("sslRedirect"), "{mw}");
    // A headers middleware with nothing in it is an error, as in Traefik.
    let mw = p.api("/api/http/middlewares/empty@file").await;
    assert_eq!(mw["status"], "disabled", "{mw}");
}
