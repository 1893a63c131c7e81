//! forwardAuth through the real binary: allowed, denied, what the
//! authentication server is told, bodies, sign-in redirects, cookies, and
//! TLS (with a client certificate) to the authentication server.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;

#[tokio::test]
async fn forward_auth() {
    let (app, auth) = (Backend::start("app").await, Backend::start("auth").await);
    let dynamic = format!(
        r#"
http:
  routers:
    allowed:
      rule: "Host(`allowed.test`)"
      service: app
      middlewares: [allow]
    denied:
      rule: "Host(`denied.test`)"
      service: app
      middlewares: [deny]
  middlewares:
    allow:
      forwardAuth:
        address: "{auth}/check"
        authResponseHeadersRegex: "^X-Back"
    deny:
      forwardAuth:
        address: "{auth}/status/401"
  services:
    app:
      loadBalancer:
        servers: [{{url: "{app}"}}]
"#,
        auth = auth.url(),
        app = app.url()
    );
    let p = Proxy::start("forwardauth", &dynamic, "").await;
    let r = p.wait_status("allowed.test", "/page?x=1", 200).await;
    assert_eq!(r.header("x-backend"), Some("app"));
    assert_eq!(
        r.seen_header("x-backend").as_deref(),
        Some("auth"),
        "authResponseHeadersRegex copied the header"
    );

    let r = get(p.web, "denied.test", "/secret?y=2").await.unwrap();
    assert_eq!(r.status.as_u16(), 401);
    assert_eq!(
        r.header("x-backend"),
        Some("auth"),
        "the auth answer is passed on"
    );
    let seen = r.json();
    assert_eq!(seen["method"], "GET");
    assert_eq!(
        r.seen_header("x-forwarded-uri").as_deref(),
        Some("/secret?y=2")
    );
    assert_eq!(
        r.seen_header("x-forwarded-host").as_deref(),
        Some("denied.test")
    );
    assert_eq!(r.seen_header("x-forwarded-method").as_deref(), Some("GET"));
    assert_eq!(r.seen_header("host"), Some(auth.addr().to_string()));
    assert_eq!(app.hits(), 1, "the denied request never reached the app");
}

#[tokio::test]
async fn forward_auth_trust_forward_header() {
    let (app, auth) = (Backend::start("app").await, Backend::start("auth").await);
    let dynamic = format!(
        r#"
http:
  routers:
    trusting:
      rule: "Host(`t.test`)"
      service: app
      middlewares: [trusting]
    distrusting:
      rule: "Host(`f.test`)"
      service: app
      middlewares: [distrusting]
  middlewares:
    trusting:
      forwardAuth: {{address: "{auth}/status/401", trustForwardHeader: true}}
    distrusting:
      forwardAuth: {{address: "{auth}/status/401", trustForwardHeader: false}}
  services:
    app:
      loadBalancer:
        servers: [{{url: "{app}"}}]
"#,
        auth = auth.url(),
        app = app.url()
    );
    // The client is trusted, so what it sends reaches forwardAuth.
    let p = Proxy::start_with(
        "forwardauth-trust",
        &dynamic,
        "    forwardedHeaders: {insecure: true}\n",
        "",
    )
    .await;
    p.wait_status("t.test", "/", 401).await;
    let spoofed: &[(&str, &str)] = &[
        ("x-forwarded-for", "203.0.113.9"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-port", "1234"),
        ("x-forwarded-host", "xfh.test"),
        ("x-forwarded-prefix", "/pre"),
        ("x-real-ip", "203.0.113.9"),
        ("x_forwarded_port", "9"),
    ];
    let ask = |host: &'static str| {
        request(
            p.web,
            http::Method::GET,
            host,
            "/p?q=1",
            spoofed,
            bytes::Bytes::new(),
        )
    };
    // true: the request's headers stand, the client's address is appended.
    let r = ask("t.test:8080").await.unwrap();
    assert_eq!(r.status.as_u16(), 401);
    let seen = |h: &str| r.seen_header(h);
    assert_eq!(
        seen("x-forwarded-for").as_deref(),
        Some("203.0.113.9, 127.0.0.1")
    );
    assert_eq!(seen("x-forwarded-port").as_deref(), Some("1234"));
    assert_eq!(seen("x-forwarded-proto").as_deref(), Some("https"));
    assert_eq!(seen("x-forwarded-prefix").as_deref(), Some("/pre"));
    assert_eq!(seen("x_forwarded_port").as_deref(), Some("9"));
    // false: all of them go, `_` spellings too, and are set anew, the port
    // from the Host.
    let r = ask("f.test:8080").await.unwrap();
    assert_eq!(r.status.as_u16(), 401);
    let seen = |h: &str| r.seen_header(h);
    assert_eq!(seen("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(seen("x-forwarded-port").as_deref(), Some("8080"));
    assert_eq!(seen("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(seen("x-forwarded-host").as_deref(), Some("f.test:8080"));
    assert_eq!(seen("x-forwarded-uri").as_deref(), Some("/p?q=1"));
    for gone in [
        "x-forwarded-prefix",
        "x-real-ip",
        "x-forwarded-server",
        "x_forwarded_port",
    ] {
        assert_eq!(seen(gone), None, "{gone} is dropped");
    }
    // Without a port in the Host: 80 over plain HTTP.
    let r = ask("f.test").await.unwrap();
    assert_eq!(r.seen_header("x-forwarded-port").as_deref(), Some("80"));
    assert_eq!(app.hits(), 0);
}

#[tokio::test]
async fn forward_auth_bodies_signin_cookies_and_tls() {
    use switchyard_testkit::tls::{ca_path, fixture_path, TlsOptions};
    let (app, auth) = (Backend::start("app").await, Backend::start("auth").await);
    let mtls_auth = Backend::start_tls_with(
        "mtls-auth",
        &TlsOptions {
            require_client_cert: true,
            ..TlsOptions::default()
        },
    )
    .await;
    let dynamic = format!(
        r#"
http:
  routers:
    body:
      rule: "Host(`body.test`)"
      service: app
      middlewares: [body]
    signin:
      rule: "Host(`signin.test`)"
      service: app
      middlewares: [signin]
    cookies:
      rule: "Host(`cookies.test`)"
      service: app-cookie
      middlewares: [cookies]
    cookies-direct:
      rule: "Host(`cookies-direct.test`)"
      service: app-cookie
    mtls:
      rule: "Host(`mtls.test`)"
      service: app
      middlewares: [mtls]
    no-cert:
      rule: "Host(`no-cert.test`)"
      service: app
      middlewares: [no-cert]
  middlewares:
    body:
      forwardAuth:
        address: "{auth}/check"
        forwardBody: true
        maxBodySize: 10
        authResponseHeaders: [X-Backend]
    signin:
      forwardAuth:
        address: "{auth}/status/401"
        authSigninURL: "https://login.example/?next=1&a=<b>"
    cookies:
      forwardAuth:
        address: "{auth}/cookie/session/from-auth"
        addAuthCookiesToResponse: [session]
    mtls:
      forwardAuth:
        address: "{mtls}/check"
        tls:
          ca: "{ca}"
          cert: "{cert}"
          key: "{key}"
    no-cert:
      forwardAuth:
        address: "{mtls}/check"
        tls:
          ca: "{ca}"
  services:
    app: {{loadBalancer: {{servers: [{{url: "{app}"}}]}}}}
    app-cookie: {{loadBalancer: {{servers: [{{url: "{app}/cookie/session/from-app", preservePath: true}}]}}}}
"#,
        auth = auth.url(),
        app = app.url(),
        mtls = mtls_auth.https_url(),
        ca = ca_path().display(),
        cert = fixture_path("client.pem").display(),
        key = fixture_path("client.key").display(),
    );
    let p = Proxy::start("forwardauth-more", &dynamic, "").await;
    p.wait_status("body.test", "/", 200).await;
    // forwardBody: the authentication server sees the body, and so does the app.
    let post = |host: &'static str, body: &'static str| {
        let web = p.web;
        async move {
            request(
                web,
                http::Method::POST,
                host,
                "/submit",
                &[],
                bytes::Bytes::from_static(body.as_bytes()),
            )
            .await
            .unwrap()
        }
    };
    let auth_hits = auth.hits();
    let r = post("body.test", "0123456789").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"], "0123456789", "the app got the body");
    assert_eq!(r.json()["body_len"], 10);
    assert_eq!(auth.hits(), auth_hits + 1);
    // Over maxBodySize: 401, and nobody is asked.
    let r = post("body.test", "0123456789A").await;
    assert_eq!(r.status, 401);
    assert_eq!(auth.hits(), auth_hits + 1);

    // authSigninURL: a 401 becomes a redirect to the sign-in page.
    let r = get(p.web, "signin.test", "/private").await.unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("https://login.example/?next=1&a=<b>")
    );
    assert_eq!(r.body, "");

    // addAuthCookiesToResponse: the auth server's cookie replaces the app's.
    let direct = get(p.web, "cookies-direct.test", "/").await.unwrap();
    assert_eq!(
        direct.header("set-cookie"),
        Some("session=from-app; Path=/"),
        "the app sets its own cookie"
    );
    let r = get(p.web, "cookies.test", "/").await.unwrap();
    assert_eq!(r.status, 200);
    let cookies: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["session=from-auth; Path=/"]);

    // TLS to the authentication server, with a client certificate.
    let r = p.wait_status("mtls.test", "/", 200).await;
    assert_eq!(r.header("x-backend"), Some("app"));
    let r = get(p.web, "no-cert.test", "/").await.unwrap();
    assert_eq!(r.status, 500, "the handshake without a certificate fails");
}
