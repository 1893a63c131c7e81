//! The Docker provider against the real engine: containers of the static
//! demo-backend (`FROM scratch`), reached on their bridge addresses.
//!
//! Each test labels its containers `sytest=<unique>` and sets
//! `constraints` to that label, so that tests running side by side on the
//! same engine never see each other's containers.

mod common;

use std::time::Duration;

use common::*;
use switchyard_testkit::docker::{unique_name, Container, DemoImage};

const WAIT: Duration = Duration::from_secs(20);

/// A proxy whose Docker provider sees only containers labelled
/// `sytest=<tag>`; `extra` (YAML at the provider's indentation) is added.
async fn proxy(tag: &str, dynamic: &str, extra: &str) -> Proxy {
    let docker = format!("  docker:\n    constraints: \"Label(`sytest`, `{tag}`)\"\n{extra}");
    Proxy::start(tag, dynamic, &docker).await
}

/// The backend that answers `host` on `/`, once it is routed.
async fn routed_to(p: &Proxy, host: &str) -> String {
    let reply = p.wait_status(host, "/", 200).await;
    reply.json()["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until `host` is no longer routed (404).
async fn unrouted(p: &Proxy, host: &str) {
    p.wait_status(host, "/", 404).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labelled_container_is_routed_and_follows_its_lifecycle() {
    let image = DemoImage::build("EXPOSE 80");
    let tag = unique_name("life");
    let p = proxy(&tag, "", "").await;
    let c = Container::run(
        &image,
        &[
            ("sytest", &tag),
            (
                "traefik.http.routers.x.rule",
                &format!("Host(`{tag}.test`)"),
            ),
        ],
        &[],
        &["one=0.0.0.0:80"],
    );
    // Started while the proxy runs: routed from the start event.
    assert_eq!(routed_to(&p, &format!("{tag}.test")).await, "one");
    // A labelled rule is not a default rule: no loop guard.
    let reply = p.wait_status(&format!("{tag}.test"), "/", 200).await;
    assert_eq!(reply.seen_header("x-traefik-router"), None);
    // Stopped: gone.
    c.stop();
    unrouted(&p, &format!("{tag}.test")).await;
    // Started again: back.
    c.start();
    assert_eq!(routed_to(&p, &format!("{tag}.test")).await, "one");
    // The API shows the router under the docker provider.
    let routers = p.api("/api/http/routers").await;
    let names: Vec<&str> = routers
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.contains(&"x@docker"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_rule_from_the_container_name() {
    let image = DemoImage::build("EXPOSE 80");
    let tag = unique_name("dflt");
    // The container exists before the proxy starts: found by the listing.
    let name = format!("{tag}_web.one");
    let _c = Container::run_named(
        &name,
        &image,
        &[("sytest", &tag)],
        &[],
        &["dflt=0.0.0.0:80"],
    );
    let p = proxy(&tag, "", "").await;
    // Host(`{{ normalize .Name }}`): `_` and `.` become `-`.
    let host = name.replace(['_', '.'], "-");
    assert_eq!(routed_to(&p, &host).await, "dflt");
    // As Traefik, a default-rule router marks what it forwards (its name's
    // FNV-64 hash) and refuses a request already so marked (a loop).
    let reply = p.wait_status(&host, "/", 200).await;
    let hash = switchyard_proxy::middlewares::deny_router_recursion::router_hash(&format!(
        "{host}@docker"
    ));
    assert_eq!(
        reply.seen_header("x-traefik-router").as_deref(),
        Some(hash.as_str())
    );
    let looped = request(
        p.web,
        http::Method::GET,
        &host,
        "/",
        &[("X-Traefik-Router", hash.as_str())],
        Default::default(),
    )
    .await
    .expect("answer");
    assert_eq!(looped.status.as_u16(), 400);
    // A custom template with labels.
    let tag2 = unique_name("tmpl");
    let p2 = proxy(
        &tag2,
        "",
        "    defaultRule: \"Host(`{{ index .Labels \\\"app\\\" }}.{{ normalize .Name }}.test`)\"\n",
    )
    .await;
    let c2 = Container::run(
        &image,
        &[("sytest", &tag2), ("app", "shop")],
        &[],
        &["tmpl=0.0.0.0:80"],
    );
    let host2 = format!("shop.{}.test", c2.name.replace(['_', '.'], "-"));
    assert_eq!(routed_to(&p2, &host2).await, "tmpl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_selection() {
    let image = DemoImage::build("");
    let tag = unique_name("ports");
    let p = proxy(&tag, "", "").await;
    // One exposed port (not 80): that one.
    let _single = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.single.rule", "Host(`single.test`)"),
        ],
        &["--expose", "8081"],
        &["single=0.0.0.0:8081"],
    );
    assert_eq!(routed_to(&p, "single.test").await, "single");
    // Two exposed ports, the label picks the higher one.
    let _chosen = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.chosen.rule", "Host(`chosen.test`)"),
            (
                "traefik.http.services.chosen.loadbalancer.server.port",
                "9002",
            ),
        ],
        &["--expose", "9001", "--expose", "9002"],
        &["low=0.0.0.0:9001", "high=0.0.0.0:9002"],
    );
    assert_eq!(routed_to(&p, "chosen.test").await, "high");
    // Two exposed ports, no label: the lowest, as Traefik.
    let _lowest = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.lowest.rule", "Host(`lowest.test`)"),
        ],
        &["--expose", "9101", "--expose", "9102"],
        &["low=0.0.0.0:9101", "high=0.0.0.0:9102"],
    );
    assert_eq!(routed_to(&p, "lowest.test").await, "low");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_and_starting_containers_are_left_out() {
    // An exec-form HEALTHCHECK that fails (demo-backend without arguments
    // exits 2), and one that has not run yet (an hour's interval).
    let failing = DemoImage::build(
        "EXPOSE 80\nHEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD [\"/demo-backend\"]",
    );
    let slow = DemoImage::build(
        "EXPOSE 80\nHEALTHCHECK --interval=1h --start-period=1h CMD [\"/demo-backend\"]",
    );
    let plain = DemoImage::build("EXPOSE 80");
    let tag = unique_name("health");
    let p = proxy(&tag, "", "").await;
    let sick = Container::run(
        &failing,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.sick.rule", "Host(`sick.test`)"),
        ],
        &[],
        &["sick=0.0.0.0:80"],
    );
    let young = Container::run(
        &slow,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.young.rule", "Host(`young.test`)"),
        ],
        &[],
        &["young=0.0.0.0:80"],
    );
    sick.wait_inspect("{{.State.Health.Status}}", "unhealthy", WAIT);
    assert_eq!(young.inspect("{{.State.Health.Status}}"), "starting");
    // A healthy neighbour started after them is routed: the configuration
    // was rebuilt after the others' events, and still leaves them out.
    let _ok = Container::run(
        &plain,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.ok.rule", "Host(`ok.test`)"),
        ],
        &[],
        &["ok=0.0.0.0:80"],
    );
    assert_eq!(routed_to(&p, "ok.test").await, "ok");
    for host in ["sick.test", "young.test"] {
        let r = get(p.web, host, "/").await.expect("answer");
        assert_eq!(r.status.as_u16(), 404, "{host} must not be routed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposed_by_default_false_needs_traefik_enable() {
    let image = DemoImage::build("EXPOSE 80");
    let tag = unique_name("enable");
    let p = proxy(&tag, "", "    exposedByDefault: false\n").await;
    let _hidden = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.hidden.rule", "Host(`hidden.test`)"),
        ],
        &[],
        &["hidden=0.0.0.0:80"],
    );
    let _shown = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.enable", "true"),
            ("traefik.http.routers.shown.rule", "Host(`shown.test`)"),
        ],
        &[],
        &["shown=0.0.0.0:80"],
    );
    assert_eq!(routed_to(&p, "shown.test").await, "shown");
    let r = get(p.web, "hidden.test", "/").await.expect("answer");
    assert_eq!(r.status.as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraints_select_containers() {
    let image = DemoImage::build("EXPOSE 80");
    let tag = unique_name("cons");
    let p = proxy(&tag, "", "").await;
    // Same sytest label; the tag constraint plus nothing else lets both in,
    // so a second proxy with a stricter constraint shows the selection.
    let tag2 = unique_name("cons2");
    let strict = Proxy::start(
        &tag2,
        "",
        &format!("  docker:\n    constraints: \"Label(`sytest`, `{tag}`) && !LabelRegex(`tier`, `^db`)\"\n"),
    )
    .await;
    let _web = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("tier", "web"),
            ("traefik.http.routers.cweb.rule", "Host(`cweb.test`)"),
        ],
        &[],
        &["cweb=0.0.0.0:80"],
    );
    let _db = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("tier", "db-main"),
            ("traefik.http.routers.cdb.rule", "Host(`cdb.test`)"),
        ],
        &[],
        &["cdb=0.0.0.0:80"],
    );
    assert_eq!(routed_to(&p, "cdb.test").await, "cdb");
    assert_eq!(routed_to(&strict, "cweb.test").await, "cweb");
    let r = get(strict.web, "cdb.test", "/").await.expect("answer");
    assert_eq!(r.status.as_u16(), 404, "the constraint leaves the db out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_references_a_file_service_and_a_malformed_label_is_that_containers_error() {
    let image = DemoImage::build("EXPOSE 80");
    let tag = unique_name("xref");
    let backend = Backend::start("from-file").await;
    let dynamic = format!(
        "http:\n  services:\n    shared:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        backend.url()
    );
    let p = proxy(&tag, &dynamic, "").await;
    let _x = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.xref.rule", "Host(`xref.test`)"),
            ("traefik.http.routers.xref.service", "shared@file"),
        ],
        &[],
        &["unused=0.0.0.0:80"],
    );
    let _bad = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.bad.rule", "Host(`bad.test`)"),
            ("traefik.http.routers.bad.priority", "very-high"),
        ],
        &[],
        &["bad=0.0.0.0:80"],
    );
    let _good = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.good.rule", "Host(`good.test`)"),
        ],
        &[],
        &["good=0.0.0.0:80"],
    );
    assert_eq!(routed_to(&p, "xref.test").await, "from-file");
    assert_eq!(routed_to(&p, "good.test").await, "good");
    let r = get(p.web, "bad.test", "/").await.expect("answer");
    assert_eq!(
        r.status.as_u16(),
        404,
        "the malformed container is left out"
    );
    wait_until("the error naming the label", WAIT, || async {
        p.sy.logged("traefik.http.routers.bad.priority")
            .then_some(())
    })
    .await;
}

/// A relay from a socket of the test's own to the engine's, that the test
/// can cut (the engine "goes away") and bring back.
struct Relay {
    path: std::path::PathBuf,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    fn start(path: &std::path::Path) -> Relay {
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path).expect("bind relay socket");
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                conns.spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::UnixStream::connect("/var/run/docker.sock").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay {
            path: path.to_path_buf(),
            task: Some(task),
        }
    }

    /// Cuts every connection and stops accepting.
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_going_away_keeps_the_last_configuration_and_reconnects() {
    let image = DemoImage::build("EXPOSE 80");
    let tag = unique_name("away");
    let socket = std::env::temp_dir().join(format!("{tag}.sock"));
    let mut relay = Relay::start(&socket);
    let p = proxy(
        &tag,
        "",
        &format!("    endpoint: \"unix://{}\"\n", socket.display()),
    )
    .await;
    let _one = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.one.rule", "Host(`one.test`)"),
        ],
        &[],
        &["one=0.0.0.0:80"],
    );
    assert_eq!(routed_to(&p, "one.test").await, "one");
    // The engine goes away: what was routed stays routed.
    relay.cut();
    wait_until("the outage logged", WAIT, || async {
        p.sy.logged("Docker engine unreachable").then_some(())
    })
    .await;
    let two = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.two.rule", "Host(`two.test`)"),
        ],
        &[],
        &["two=0.0.0.0:80"],
    );
    assert_eq!(routed_to(&p, "one.test").await, "one");
    // Retries are logged at debug level only, not as new outages.
    wait_until("two failed retries", WAIT, || async {
        let retries =
            p.sy.log()
                .iter()
                .filter(|l| l.contains("still unreachable"))
                .count();
        (retries >= 2).then_some(())
    })
    .await;
    let outages =
        p.sy.log()
            .iter()
            .filter(|l| l.contains("Docker engine unreachable"))
            .count();
    assert_eq!(outages, 1, "the outage is logged once");
    // Back: the listing after reconnecting finds what started meanwhile.
    let _relay = Relay::start(&socket);
    assert_eq!(routed_to(&p, "two.test").await, "two");
    drop(two);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_endpoint_with_basic_authentication() {
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // A TCP front for the engine's socket that records each connection's
    // first bytes (the request head).
    let heads: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = heads.clone();
    let relay = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            let seen = seen.clone();
            conns.spawn(async move {
                let mut buf = vec![0u8; 8192];
                let Ok(n) = inbound.read(&mut buf).await else {
                    return;
                };
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let Ok(mut outbound) =
                    tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    return;
                };
                if outbound.write_all(&buf[..n]).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let image = DemoImage::build("EXPOSE 80");
    let tag = unique_name("tcp");
    let p = proxy(
        &tag,
        "",
        &format!("    endpoint: \"tcp://{addr}\"\n    username: u\n    password: p\n"),
    )
    .await;
    let _c = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.tcp.rule", "Host(`tcp.test`)"),
        ],
        &[],
        &["tcp=0.0.0.0:80"],
    );
    assert_eq!(routed_to(&p, "tcp.test").await, "tcp");
    let heads = heads.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(!heads.is_empty());
    for h in &heads {
        // base64("u:p")
        assert!(
            h.to_ascii_lowercase().contains("authorization: basic dtpw"),
            "{h}"
        );
    }
    relay.abort();
}

/// A TLS front for the engine's socket (the fixture server certificate for
/// 127.0.0.1, client certificates of the test CA required); returns its
/// address.
async fn tls_engine_front() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use switchyard_testkit::tls::{acceptor_with, TlsOptions};
    let acceptor = acceptor_with(&TlsOptions {
        require_client_cert: true,
        ..TlsOptions::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((inbound, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            conns.spawn(async move {
                let Ok(mut tls) = acceptor.accept(inbound).await else {
                    return;
                };
                let Ok(mut outbound) =
                    tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut outbound).await;
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_endpoint_with_client_certificate() {
    use switchyard_testkit::tls::fixture_path;
    let (addr, front) = tls_engine_front().await;
    let image = DemoImage::build("EXPOSE 80");
    let tls = format!(
        "    tls:\n      cert: \"{}\"\n      key: \"{}\"\n",
        fixture_path("client.pem").display(),
        fixture_path("client.key").display()
    );
    // Verified against the test CA.
    let tag = unique_name("tls");
    let verified = proxy(
        &tag,
        "",
        &format!(
            "    endpoint: \"tcp://{addr}\"\n{tls}      ca: \"{}\"\n",
            fixture_path("ca.pem").display()
        ),
    )
    .await;
    // insecureSkipVerify, no CA.
    let insecure = Proxy::start(
        &unique_name("tls-insecure"),
        "",
        &format!(
            "  docker:\n    constraints: \"Label(`sytest`, `{tag}`)\"\n    endpoint: \"tcp://{addr}\"\n{tls}      insecureSkipVerify: true\n"
        ),
    )
    .await;
    // Without the CA, the fixture certificate is refused.
    let refused = Proxy::start(
        &unique_name("tls-refused"),
        "",
        &format!(
            "  docker:\n    constraints: \"Label(`sytest`, `{tag}`)\"\n    endpoint: \"tcp://{addr}\"\n{tls}"
        ),
    )
    .await;
    let _c = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.tls.rule", "Host(`tls.test`)"),
        ],
        &[],
        &["tls=0.0.0.0:80"],
    );
    assert_eq!(routed_to(&verified, "tls.test").await, "tls");
    assert_eq!(routed_to(&insecure, "tls.test").await, "tls");
    wait_until("the refused certificate logged", WAIT, || async {
        refused.sy.logged("Docker engine unreachable").then_some(())
    })
    .await;
    let r = get(refused.web, "tls.test", "/").await.expect("answer");
    assert_eq!(r.status.as_u16(), 404);
    front.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switchyard_image_routes_a_labelled_container() {
    use switchyard_testkit::docker::{docker_ok, static_binary, Image};
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dockerfile = std::fs::read_to_string(repo.join("Dockerfile")).expect("read Dockerfile");
    let binary = static_binary("switchyard", "switchyard");
    let image = Image::build(
        &dockerfile,
        &[("switchyard", &binary)],
        &["BINARY=switchyard"],
    );
    let backend_image = DemoImage::build("EXPOSE 80");
    let tag = unique_name("image");
    let dir = TestDir::new(&tag);
    dir.write(
        "switchyard.yml",
        &format!(
            "entryPoints:\n  web:\n    address: \":80\"\n  traefik:\n    address: \":8080\"\n\
             ping: {{}}\napi:\n  insecure: true\nproviders:\n  providersThrottleDuration: 0s\n  docker:\n\
             \x20   exposedByDefault: false\n    constraints: \"Label(`sytest`, `{tag}`)\"\n"
        ),
    );
    let proxy = Container::run(
        &image,
        &[],
        &[
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock:ro",
            "-v",
            &format!(
                "{}:/etc/switchyard/switchyard.yml:ro",
                dir.join("switchyard.yml").display()
            ),
            "-p",
            "127.0.0.1::80",
        ],
        &[],
    );
    let _app = Container::run(
        &backend_image,
        &[
            ("sytest", &tag),
            ("traefik.enable", "true"),
            ("traefik.http.routers.app.rule", "Host(`app.test`)"),
        ],
        &[],
        &["inside=0.0.0.0:80"],
    );
    // `switchyard healthcheck` (the image's HEALTHCHECK) finds the ping.
    proxy.wait_inspect(
        "{{.State.Health.Status}}",
        "healthy",
        Duration::from_secs(60),
    );
    let published = docker_ok(&["port", &proxy.name, "80/tcp"]);
    let web: std::net::SocketAddr = published
        .lines()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("published address: {published:?}"));
    let reply = wait_until("app.test through the image", WAIT, || async {
        get(web, "app.test", "/")
            .await
            .ok()
            .filter(|r| r.status.as_u16() == 200)
    })
    .await;
    assert_eq!(reply.json()["name"], "inside");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_label_picks_the_address_and_a_network_connection_is_an_event() {
    use switchyard_testkit::docker::Network;
    let image = DemoImage::build("EXPOSE 80");
    let front = Network::create();
    let back = Network::create();
    let tag = unique_name("net");
    let p = proxy(&tag, "", "").await;
    let c = Container::run(
        &image,
        &[
            ("sytest", &tag),
            ("traefik.http.routers.net.rule", "Host(`net.test`)"),
            ("traefik.docker.network", &back.name),
        ],
        &["--network", &front.name],
        &["net=0.0.0.0:80"],
    );
    let front_ip = c.inspect(&format!(
        "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
        front.name
    ));
    // Not on `back` yet: the first network it has.
    assert_eq!(routed_to(&p, "net.test").await, "net");
    let url = |p: &Proxy| {
        let admin = p.admin;
        async move {
            let all = get(admin, "localhost", "/api/http/services").await.ok()?;
            let list: serde_json::Value = serde_json::from_slice(&all.body).ok()?;
            list.as_array()?
                .iter()
                .find(|s| s["provider"] == "docker")
                .and_then(|s| {
                    s["loadBalancer"]["servers"][0]["url"]
                        .as_str()
                        .map(str::to_string)
                })
        }
    };
    let first = wait_until("the service's server", WAIT, || url(&p)).await;
    assert_eq!(first, format!("http://{front_ip}:80"));
    // Connected to `back`: a network event, and the labelled network wins.
    docker_connect(&back.name, &c.name);
    let back_ip = c.inspect(&format!(
        "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
        back.name
    ));
    let want = format!("http://{back_ip}:80");
    wait_until("the server on the labelled network", WAIT, || {
        let want = want.clone();
        let fut = url(&p);
        async move { fut.await.filter(|u| *u == want) }
    })
    .await;
    assert_eq!(routed_to(&p, "net.test").await, "net");
    drop(c);
}

fn docker_connect(network: &str, container: &str) {
    switchyard_testkit::docker::docker_ok(&["network", "connect", network, container]);
}
