//! The API on the `traefik` entrypoint: Traefik's paths and JSON shapes.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;
use std::time::Duration;

#[tokio::test]
async fn api_shapes() {
    let b = Backend::start("b").await;
    let dynamic = format!(
        r#"
http:
  routers:
    web-router:
      entryPoints: [web]
      rule: "Host(`api.test`)"
      service: svc
      middlewares: [strip]
  middlewares:
    strip:
      stripPrefix:
        prefixes: ["/x"]
  services:
    svc:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        b.url()
    );
    let p = Proxy::start("api", &dynamic, "").await;
    p.wait_status("api.test", "/", 200).await;

    let r = p.api("/api/http/routers/web-router@file").await;
    assert_eq!(r["name"], "web-router@file");
    assert_eq!(r["provider"], "file");
    assert_eq!(r["status"], "enabled");
    assert_eq!(r["rule"], "Host(`api.test`)");
    assert_eq!(r["service"], "svc");
    assert_eq!(r["using"], serde_json::json!(["web"]));
    assert_eq!(r["entryPoints"], serde_json::json!(["web"]));

    let s = p.api("/api/http/services/svc@file").await;
    assert_eq!(s["type"], "loadbalancer");
    assert_eq!(s["usedBy"], serde_json::json!(["web-router@file"]));
    assert_eq!(s["serverStatus"][&b.url()], "UP");
    assert_eq!(s["loadBalancer"]["servers"][0]["url"], b.url());

    let m = p.api("/api/http/middlewares/strip@file").await;
    assert_eq!(m["type"], "stripprefix");
    assert_eq!(m["stripPrefix"]["prefixes"], serde_json::json!(["/x"]));
    assert_eq!(m["usedBy"], serde_json::json!(["web-router@file"]));

    let list = p.api("/api/http/routers").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"api@internal"), "{names:?}");
    assert!(names.contains(&"web-router@file"), "{names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "routers are listed by name");

    let overview = p.api("/api/overview").await;
    assert!(overview["http"]["routers"]["total"].as_u64().unwrap() >= 2);
    let raw = p.api("/api/rawdata").await;
    assert!(raw["routers"]["web-router@file"].is_object());
    let eps = p.api("/api/entrypoints").await;
    assert!(eps.as_array().unwrap().iter().any(|e| e["name"] == "web"));
    let v = p.api("/api/version").await;
    assert!(v["Version"].is_string());

    // Pagination.
    let r = get(p.admin, "localhost", "/api/http/routers?per_page=1&page=1")
        .await
        .unwrap();
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(r.header("x-next-page"), Some("2"));

    // Unknown names are 404.
    let r = get(p.admin, "localhost", "/api/http/routers/nope@file")
        .await
        .unwrap();
    assert_eq!(r.status.as_u16(), 404);

    // Ping.
    let r = get(p.admin, "localhost", "/ping").await.unwrap();
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.text(), "OK");
}

/// Waits until the API answers on the admin entrypoint (the socket listens
/// before the first configuration is applied).
async fn api_ready(p: Proxy) -> Proxy {
    let addr = p.admin;
    wait_until("the API", Duration::from_secs(10), || async move {
        let r = get(addr, "localhost", "/api/version").await.ok()?;
        (r.status.as_u16() == 200).then_some(())
    })
    .await;
    p
}

/// GET `path` on the admin entrypoint.
async fn admin(p: &Proxy, path: &str) -> Reply {
    get(p.admin, "localhost", path).await.unwrap()
}

/// The names in a list answer, in order.
fn names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect()
}

/// A configuration with routers of every status and the elements the list
/// parameters pick among.
fn listed(b: &Backend) -> String {
    format!(
        r#"
http:
  routers:
    alpha:
      rule: "Host(`alpha.test`)"
      service: svc
      middlewares: [strip, add]
    beta:
      rule: "Host(`beta.test`) && PathPrefix(`/b`)"
      service: other
      priority: 5
      entryPoints: [web]
    gamma:
      rule: "Path(`/g`)"
      service: missing
      middlewares: [add]
  middlewares:
    strip: {{stripPrefix: {{prefixes: ["/x"]}}}}
    add: {{addPrefix: {{prefix: "/p"}}}}
  services:
    svc: {{loadBalancer: {{servers: [{{url: "{0}"}}, {{url: "{0}/two"}}]}}}}
    other: {{loadBalancer: {{servers: [{{url: "{0}"}}]}}}}
"#,
        b.url()
    )
}

#[tokio::test]
async fn tcp_and_udp_lists_are_empty_and_names_unknown() {
    let p = api_ready(Proxy::start("api-tcp-udp", "", "").await).await;
    for path in [
        "/api/tcp/routers",
        "/api/tcp/services",
        "/api/tcp/middlewares",
        "/api/udp/routers",
        "/api/udp/services",
    ] {
        let r = admin(&p, path).await;
        assert_eq!(r.status.as_u16(), 200, "{path}");
        assert_eq!(r.json(), serde_json::json!([]), "{path}");
        assert_eq!(r.header("x-next-page"), Some("1"), "{path}");
    }
    for (path, message) in [
        ("/api/tcp/routers/r@file", "router not found: r@file"),
        ("/api/tcp/services/s%40file", "service not found: s@file"),
        (
            "/api/tcp/middlewares/m@file",
            "middleware not found: m@file",
        ),
        ("/api/udp/routers/r@file", "router not found: r@file"),
        ("/api/udp/services/s@file", "service not found: s@file"),
    ] {
        let r = admin(&p, path).await;
        assert_eq!(r.status.as_u16(), 404, "{path}");
        assert_eq!(r.json()["message"], message, "{path}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    // UDP has no middlewares; a page past an empty list is an error.
    assert_eq!(
        admin(&p, "/api/udp/middlewares").await.text(),
        "404 page not found\n"
    );
    let r = admin(&p, "/api/tcp/routers?page=2").await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(
        r.json()["message"],
        "invalid request: page: 2, per_page: 100"
    );
}

#[tokio::test]
async fn entrypoints_show_traefik_defaults() {
    let p = api_ready(
        Proxy::start_with(
            "api-entrypoints",
            "",
            "    http2:\n      maxConcurrentStreams: 10\n    observability:\n      tracing: false\n",
            "",
        )
        .await,
    )
    .await;
    let list = admin(&p, "/api/entrypoints").await;
    assert_eq!(list.header("x-next-page"), Some("1"));
    assert_eq!(names(&list.json()), ["traefik", "web"], "sorted by name");

    let web = p.api("/api/entrypoints/web").await;
    assert_eq!(web["address"], p.web.to_string());
    assert_eq!(
        web["http2"],
        serde_json::json!({"maxConcurrentStreams": 10, "maxDecoderHeaderTableSize": 4096, "maxEncoderHeaderTableSize": 4096})
    );
    assert_eq!(web["udp"], serde_json::json!({"timeout": "3s"}));
    assert_eq!(
        web["observability"],
        serde_json::json!({"accessLogs": true, "metrics": true, "tracing": false, "traceVerbosity": "minimal"})
    );
    assert_eq!(
        web["transport"]["respondingTimeouts"]["readTimeout"],
        "1m0s"
    );
    assert_eq!(web["http"]["sanitizePath"], true);

    let admin_ep = p.api("/api/entrypoints/traefik").await;
    assert_eq!(admin_ep["http2"]["maxConcurrentStreams"], 250);
    assert!(admin_ep.get("observability").is_none(), "{admin_ep}");

    let r = admin(&p, "/api/entrypoints/nope").await;
    assert_eq!(r.status.as_u16(), 404);
    assert_eq!(r.json()["message"], "entry point not found: nope");
}

#[tokio::test]
async fn overview_counts_follow_the_configuration() {
    let b = Backend::start("b").await;
    let p = Proxy::start("api-overview", &listed(&b), "accessLog: {}\n").await;
    p.wait_status("alpha.test", "/", 200).await;

    let o = p.api("/api/overview").await;
    // alpha, beta, gamma (disabled) + api, dashboard and ping @internal.
    assert_eq!(
        o["http"]["routers"],
        serde_json::json!({"total": 6, "warnings": 0, "errors": 1})
    );
    // strip, add + the dashboard's redirect and strip-prefix.
    assert_eq!(o["http"]["middlewares"]["total"], 4);
    // svc, other + api, dashboard, ping, noop @internal.
    assert_eq!(o["http"]["services"]["total"], 6);
    assert_eq!(o["tcp"]["routers"]["total"], 0);
    assert_eq!(o["udp"]["services"]["total"], 0);
    assert_eq!(
        o["features"],
        serde_json::json!({"tracing": "", "metrics": "", "accessLog": true})
    );
    assert_eq!(o["providers"], serde_json::json!(["File"]));

    // The disabled router fixed: the counts follow.
    p.rewrite(&listed(&b).replace("service: missing", "service: svc"));
    let admin_addr = p.admin;
    wait_until("no router errors", Duration::from_secs(10), || async move {
        let o = get(admin_addr, "localhost", "/api/overview")
            .await
            .ok()?
            .json();
        (o["http"]["routers"]["errors"] == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn rawdata_is_the_runtime_without_list_fields() {
    let b = Backend::start("b").await;
    let p = Proxy::start("api-rawdata", &listed(&b), "").await;
    p.wait_status("alpha.test", "/", 200).await;

    let raw = p.api("/api/rawdata").await;
    let alpha = &raw["routers"]["alpha@file"];
    assert_eq!(alpha["status"], "enabled");
    assert_eq!(alpha["using"], serde_json::json!(["web"]));
    assert_eq!(
        alpha["middlewares"],
        serde_json::json!(["strip@file", "add@file"])
    );
    for key in ["name", "provider", "priorityStr"] {
        assert!(alpha.get(key).is_none(), "{key} in {alpha}");
    }
    let gamma = &raw["routers"]["gamma@file"];
    assert_eq!(gamma["status"], "disabled");
    assert_eq!(
        gamma["error"][0],
        "the service \"missing@file\" does not exist"
    );

    let svc = &raw["services"]["svc@file"];
    assert_eq!(svc["serverStatus"][&b.url()], "UP");
    assert!(svc.get("type").is_none(), "{svc}");
    assert_eq!(
        raw["middlewares"]["add@file"]["usedBy"],
        serde_json::json!(["alpha@file", "gamma@file"])
    );
    assert!(raw.get("tcpRouters").is_none(), "no empty kinds: {raw}");
}

#[tokio::test]
async fn version_reports_the_start_date() {
    let p = api_ready(Proxy::start("api-version", "", "").await).await;
    let r = admin(&p, "/api/version").await;
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let v = r.json();
    assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
    assert!(v["Codename"].is_string());
    // RFC 3339 in UTC, as Go prints a time: 2026-12-07T02:18:54.431308176Z.
    let date = v["startDate"].as_str().unwrap();
    let (day, time) = date.split_once('T').unwrap();
    assert_eq!(day.len(), 10, "{date}");
    assert!(time.ends_with('Z') && time.len() >= 9, "{date}");
    assert!(day.starts_with("20"), "{date}");
    assert!(v.get("disableDashboardAd").is_none());
}

#[tokio::test]
async fn list_parameters_filter_sort_and_page() {
    let b = Backend::start("b").await;
    let p = Proxy::start("api-lists", &listed(&b), "").await;
    p.wait_status("alpha.test", "/", 200).await;
    let file_only = |path: &'static str| {
        let p = &p;
        async move {
            let list = p.api(path).await;
            names(&list)
                .into_iter()
                .filter(|n| n.ends_with("@file"))
                .collect::<Vec<_>>()
        }
    };
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "search in names",
            "/api/http/routers?search=ALPHA",
            &["alpha@file"],
        ),
        (
            "search in rules",
            "/api/http/routers?search=pathprefix(`/b",
            &["beta@file"],
        ),
        (
            "status",
            "/api/http/routers?status=Disabled",
            &["gamma@file"],
        ),
        (
            "service, bare filter",
            "/api/http/routers?serviceName=svc",
            &["alpha@file"],
        ),
        (
            "service, qualified",
            "/api/http/routers?serviceName=other@file",
            &["beta@file"],
        ),
        (
            "middleware",
            "/api/http/routers?middlewareName=add@file",
            &["alpha@file", "gamma@file"],
        ),
        (
            "middleware must be qualified",
            "/api/http/routers?middlewareName=add",
            &[],
        ),
        (
            "by priority",
            "/api/http/routers?sortBy=priority",
            &["beta@file", "gamma@file", "alpha@file"],
        ),
        (
            "by name, descending",
            "/api/http/routers?direction=desc",
            &["gamma@file", "beta@file", "alpha@file"],
        ),
        (
            "anything but asc descends",
            "/api/http/routers?sortBy=name&direction=down",
            &["gamma@file", "beta@file", "alpha@file"],
        ),
        (
            "services by servers",
            "/api/http/services?sortBy=servers&direction=desc&search=@file",
            &["svc@file", "other@file"],
        ),
        (
            "middlewares by type",
            "/api/http/middlewares?sortBy=type&search=@file",
            &["add@file", "strip@file"],
        ),
    ];
    for (desc, path, want) in cases {
        assert_eq!(file_only(path).await, *want, "{desc}: {path}");
    }

    // Pages: six routers (three internal), two a page.
    let r = admin(&p, "/api/http/routers?per_page=2&page=2").await;
    assert_eq!(names(&r.json()), ["beta@file", "dashboard@internal"]);
    assert_eq!(r.header("x-next-page"), Some("3"));
    let r = admin(&p, "/api/http/routers?per_page=2&page=3").await;
    assert_eq!(r.header("x-next-page"), Some("1"), "last page");
}

#[tokio::test]
async fn list_errors_are_traefiks() {
    let p = api_ready(Proxy::start("api-list-errors", "", "").await).await;
    let cases: &[(&str, u16, &str)] = &[
        (
            "/api/http/routers?page=9",
            400,
            "{\"message\":\"invalid request: page: 9, per_page: 100\"}\n",
        ),
        (
            "/api/http/routers?per_page=abc",
            400,
            "{\"message\":\"invalid request: per_page: 0\"}\n",
        ),
        (
            "/api/http/routers?page=-2",
            400,
            "{\"message\":\"invalid request: page: -2\"}\n",
        ),
        (
            "/api/http/routers/nope@file",
            404,
            "{\"message\":\"router not found: nope@file\"}\n",
        ),
        ("/api/http/routers/", 404, "404 page not found\n"),
        ("/api/nothing", 404, "404 page not found\n"),
        ("/api", 404, "404 page not found\n"),
    ];
    for (path, status, body) in cases {
        let r = admin(&p, path).await;
        assert_eq!(r.status.as_u16(), *status, "{path}");
        assert_eq!(r.text(), *body, "{path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{path}"
        );
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-next-page"), None, "{path}");
    }
    let r = request(
        p.admin,
        http::Method::POST,
        "localhost",
        "/api/rawdata",
        &[],
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(r.status.as_u16(), 405);
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn dashboard_router_redirects_and_serves_the_page() {
    let p = api_ready(Proxy::start("api-dashboard", "", "").await).await;
    let r = admin(&p, "/").await;
    assert_eq!(r.status.as_u16(), 301);
    assert_eq!(r.header("location"), Some("http://localhost/dashboard/"));
    for path in ["/dashboard/", "/dashboard"] {
        let r = admin(&p, path).await;
        assert_eq!(r.status.as_u16(), 200, "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(r.text().contains("window.APIUrl = \"/api/\""), "{path}");
    }
    let r = admin(&p, "/dashboard/index.html").await;
    assert_eq!((r.status.as_u16(), r.header("location")), (301, Some("./")));
    assert_eq!(admin(&p, "/elsewhere").await.status.as_u16(), 404);

    let raw = p.api("/api/rawdata").await;
    assert_eq!(
        raw["routers"]["dashboard@internal"]["middlewares"],
        serde_json::json!([
            "dashboard_redirect@internal",
            "dashboard_stripprefix@internal"
        ])
    );
    assert_eq!(raw["routers"]["ping@internal"]["priority"], i64::MAX);

    // Ping: the status text, no content type.
    let r = admin(&p, "/ping").await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "OK"));
    assert_eq!(r.header("content-type"), None);
}

/// Starts switchyard on `static_yaml` (with `{web}`, `{admin}` and
/// `{dynamic}` filled in) and `dynamic`.
async fn start_custom(name: &str, static_yaml: &str, dynamic: &str) -> Proxy {
    let dir = TestDir::new(name);
    let (web, admin) = (free_port(), free_port());
    dir.write("dynamic/config.yml", dynamic);
    let yaml = static_yaml
        .replace("{web}", &web.to_string())
        .replace("{admin}", &admin.to_string())
        .replace("{dynamic}", &dir.join("dynamic").display().to_string());
    dir.write("switchyard.yml", &yaml);
    let sy = Switchyard::start(
        std::path::Path::new(BIN),
        dir.path(),
        &["--configFile=switchyard.yml"],
    );
    let web: std::net::SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    let admin: std::net::SocketAddr = format!("127.0.0.1:{admin}").parse().unwrap();
    sy.wait_listening(admin).await;
    Proxy {
        sy,
        dir,
        web,
        admin,
    }
}

#[tokio::test]
async fn base_path_moves_api_and_dashboard() {
    let p = start_custom(
        "api-base-path",
        "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n  traefik:\n    address: \"127.0.0.1:{admin}\"\n    forwardedHeaders:\n      insecure: true\n\
         api:\n  basePath: /edge\nproviders:\n  providersThrottleDuration: 0s\n  file:\n    directory: \"{dynamic}\"\n",
        "http:\n  routers:\n    mine:\n      entryPoints: [traefik]\n      rule: \"PathPrefix(`/edge`)\"\n      service: api@internal\n",
    )
    .await;
    let addr = p.admin;
    let v = wait_until(
        "the API under /edge",
        Duration::from_secs(10),
        || async move {
            let r = get(addr, "localhost", "/edge/api/version").await.ok()?;
            (r.status.as_u16() == 200).then(|| r.json())
        },
    )
    .await;
    assert!(v["Version"].is_string());
    let r = admin(&p, "/edge/api/http/routers/mine@file").await;
    assert_eq!(r.json()["service"], "api@internal");
    assert_eq!(
        admin(&p, "/api/version").await.status.as_u16(),
        404,
        "not at the root"
    );
    assert_eq!(admin(&p, "/edge/api/").await.status.as_u16(), 404);
    let r = admin(&p, "/edge/api/certificates").await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "[]\n".to_string()));
    assert_eq!(admin(&p, "/api/certificates").await.status.as_u16(), 404);

    let r = admin(&p, "/edge").await;
    assert_eq!(
        (r.status.as_u16(), r.header("location")),
        (302, Some("/edge/dashboard/"))
    );
    let r = request(
        p.admin,
        http::Method::GET,
        "localhost",
        "/edge",
        &[("x-forwarded-prefix", "/outer/")],
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(r.header("location"), Some("/outer/edge/dashboard/"));
    let page = admin(&p, "/edge/dashboard/").await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text().contains("window.APIUrl = \"/edge/api/\""));
    assert_eq!(admin(&p, "/edge/dashboard").await.status.as_u16(), 404);
}

#[tokio::test]
async fn a_bad_base_path_stops_the_start() {
    let dir = TestDir::new("api-bad-base");
    let port = free_port();
    dir.write(
        "switchyard.yml",
        &format!(
            "entryPoints:\n  web:\n    address: \"127.0.0.1:{port}\"\napi:\n  basePath: \"edge\"\n"
        ),
    );
    let mut sy = Switchyard::start(
        std::path::Path::new(BIN),
        dir.path(),
        &["--configFile=switchyard.yml"],
    );
    let code = sy.wait_exit(Duration::from_secs(10));
    assert!(matches!(code, Some(c) if c != 0), "exit code {code:?}");
    assert!(
        sy.logged("API basePath must be a valid absolute URL path"),
        "{:?}",
        sy.log()
    );
}

#[tokio::test]
async fn internal_services_exist_only_when_enabled() {
    let b = Backend::start("b").await;
    let p = start_custom(
        "api-disabled",
        "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n  traefik:\n    address: \"127.0.0.1:{admin}\"\n\
         providers:\n  providersThrottleDuration: 0s\n  file:\n    directory: \"{dynamic}\"\n",
        &format!(
            "http:\n  routers:\n    api:\n      rule: \"PathPrefix(`/api`)\"\n      service: api@internal\n\
             \x20   ping:\n      rule: \"PathPrefix(`/ping`)\"\n      service: ping@internal\n\
             \x20   ok:\n      rule: \"Host(`ok.test`)\"\n      service: ok\n\
             \x20 services:\n    ok:\n      loadBalancer:\n        servers: [{{url: \"{}\"}}]\n",
            b.url()
        ),
    )
    .await;
    p.wait_status("ok.test", "/", 200).await;
    // With no `api` or `ping` section, routers naming their services serve
    // nothing, as in Traefik.
    for path in ["/api/rawdata", "/ping"] {
        let r = get(p.web, "localhost", path).await.unwrap();
        assert_eq!(r.status.as_u16(), 404, "{path}");
    }
}
