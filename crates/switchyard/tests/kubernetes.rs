//! The `kubernetesCRD` provider of the real binary against the testkit's
//! Kubernetes API server double (no real API server can be installed
//! here): IngressRoutes with Middlewares routed to testkit backends through
//! their Services' EndpointSlices, live changes followed, and the last
//! configuration kept while the API server is away; an IngressRouteTCP on
//! its own entry point to a TCP echo backend (plain and TLS-terminated), and
//! an IngressRouteUDP to a UDP one.

mod common;

use std::time::Duration;

use common::*;
use switchyard_testkit::{KubeDouble, KubeOptions};

const TOKEN: &str = "sy-kube-test";

/// Services `whoami-a` and `whoami-b`, each with one ready endpoint: the
/// backends' ports on 127.0.0.1.
fn services(a: &Backend, b: &Backend) -> String {
    let mut out = String::new();
    for (name, backend) in [("whoami-a", a), ("whoami-b", b)] {
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default}}\n\
             spec:\n  ports: [{{name: web, port: 80, targetPort: 8080}}]\n\
             ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-1\n  namespace: default\n\
             \x20 labels: {{kubernetes.io/service-name: {name}}}\naddressType: IPv4\n\
             ports: [{{name: web, port: {}}}]\nendpoints:\n- addresses: [127.0.0.1]\n  conditions: {{ready: true}}\n",
            backend.addr().port()
        ));
    }
    out
}

/// An IngressRoute `name` routing `rule` to `service`, through the `tag`
/// Middleware.
fn ingress_route(name: &str, rule: &str, service: &str) -> String {
    format!(
        "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {{name: {name}, namespace: default}}\n\
         spec:\n  entryPoints: [web]\n  routes:\n  - match: \"{rule}\"\n    kind: Rule\n\
         \x20   middlewares: [{{name: tag}}]\n    services: [{{name: {service}, port: web}}]\n"
    )
}

const MIDDLEWARE: &str = "apiVersion: traefik.io/v1alpha1\nkind: Middleware\n\
    metadata: {name: tag, namespace: default}\nspec:\n  headers:\n    customRequestHeaders: {X-Kube: crd}\n";

async fn proxy(name: &str, double: &KubeDouble) -> Proxy {
    let provider = format!(
        "  kubernetesCRD:\n    endpoint: \"{}\"\n    token: \"{TOKEN}\"\n",
        double.endpoint()
    );
    Proxy::start(name, "", &provider).await
}

/// The backend that answered `host`, once it answers 200.
async fn routed_to(p: &Proxy, host: &str) -> Reply {
    p.wait_status(host, "/", 200).await
}

fn double() -> KubeDouble {
    KubeDouble::start_with(
        free_port(),
        KubeOptions {
            token: Some(TOKEN.into()),
            ..KubeOptions::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_route_with_a_middleware_follows_live_changes() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let double = double();
    double.apply(&services(&a, &b)).expect("services");
    double
        .apply(&format!(
            "{MIDDLEWARE}---\n{}",
            ingress_route("app", "Host(`crd.test`)", "whoami-a")
        ))
        .expect("route");
    let p = proxy("kube-live", &double).await;

    // Routed, through the Middleware, named as Traefik names it.
    let reply = routed_to(&p, "crd.test").await;
    assert_eq!(reply.json()["name"], "a");
    assert_eq!(reply.seen_header("x-kube").as_deref(), Some("crd"));
    let routers = p.api("/api/http/routers").await;
    let names: Vec<&str> = routers
        .as_array()
        .map(|l| l.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("default-app-") && n.ends_with("@kubernetescrd")),
        "{names:?}"
    );

    // The rule changed: the old host goes, the new one is routed.
    double
        .apply(&ingress_route("app", "Host(`moved.test`)", "whoami-b"))
        .expect("rule change");
    assert_eq!(routed_to(&p, "moved.test").await.json()["name"], "b");
    p.wait_status("crd.test", "/", 404).await;

    // The only endpoint not ready: no server, so (as Traefik, without
    // allowEmptyServices) no router: 404. Ready again: routed again.
    double
        .set_ready("default", "whoami-b-1", "127.0.0.1", false)
        .expect("not ready");
    p.wait_status("moved.test", "/", 404).await;
    double
        .set_ready("default", "whoami-b-1", "127.0.0.1", true)
        .expect("ready");
    assert_eq!(routed_to(&p, "moved.test").await.json()["name"], "b");

    // An IngressRoute naming a Service that does not exist: left out,
    // logged with its kind, namespace and name; the rest keeps serving.
    double
        .apply(&ingress_route("broken", "Host(`broken.test`)", "nope"))
        .expect("broken route");
    let sy = &p.sy;
    wait_until(
        "the broken route logged",
        Duration::from_secs(10),
        || async move {
            sy.log()
                .iter()
                .any(|l| {
                    l.contains("object left out")
                        && l.contains("kind=IngressRoute")
                        && l.contains("namespace=default")
                        && l.contains("name=broken")
                })
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        get(p.web, "broken.test", "/")
            .await
            .expect("request")
            .status
            .as_u16(),
        404
    );
    assert_eq!(routed_to(&p, "moved.test").await.json()["name"], "b");

    // Deleted: gone.
    double
        .delete("IngressRoute", "default", "app")
        .expect("delete");
    p.wait_status("moved.test", "/", 404).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_configuration_serves_while_the_api_server_is_away() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let mut double = double();
    double.apply(&services(&a, &b)).expect("services");
    double
        .apply(&format!(
            "{MIDDLEWARE}---\n{}",
            ingress_route("app", "Host(`crd.test`)", "whoami-a")
        ))
        .expect("route");
    let p = proxy("kube-outage", &double).await;
    assert_eq!(routed_to(&p, "crd.test").await.json()["name"], "a");

    // The API server goes away: every watch and connection closed.
    double.stop();
    // Long enough for the reflectors to fail several times over.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..5 {
        let reply = get(p.web, "crd.test", "/").await.expect("request");
        assert_eq!(reply.status.as_u16(), 200, "still served: {}", reply.text());
        assert_eq!(reply.json()["name"], "a");
    }

    // Back (same objects and versions), then changed: followed again.
    double.restart();
    double
        .apply(&ingress_route("late", "Host(`late.test`)", "whoami-b"))
        .expect("new route");
    let reply = wait_until(
        "late.test routed after the restart",
        Duration::from_secs(40),
        || {
            let web = p.web;
            async move {
                get(web, "late.test", "/")
                    .await
                    .ok()
                    .filter(|r| r.status.as_u16() == 200)
            }
        },
    )
    .await;
    assert_eq!(reply.json()["name"], "b");
    assert_eq!(routed_to(&p, "crd.test").await.json()["name"], "a");
}

/// An IngressRoute `name` routing `host` to `whoami-a`, no middleware.
fn plain_route(name: &str, host: &str) -> String {
    format!(
        "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {{name: {name}, namespace: default}}\n\
         spec:\n  entryPoints: [web]\n  routes:\n  - match: Host(`{host}`)\n    kind: Rule\n\
         \x20   services: [{{name: whoami-a, port: web}}]\n"
    )
}

/// Waits until a line of the log has every one of `parts`.
async fn logged(p: &Proxy, what: &str, parts: &[&str]) {
    let sy = &p.sy;
    wait_until(what, Duration::from_secs(15), || async move {
        sy.log()
            .iter()
            .any(|l| parts.iter().all(|part| l.contains(part)))
            .then_some(())
    })
    .await;
}

/// In a pod: no `endpoint`, the API server from `KUBERNETES_SERVICE_HOST`
/// and `_PORT` over HTTPS, the token and CA from the service account
/// directory (here a temp dir standing for
/// /var/run/secrets/kubernetes.io/serviceaccount, through the tests-only
/// variable). The token rotates: the file is read again, so the watches
/// started after the rotation are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_with_a_rotating_service_account_token() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let double = KubeDouble::start_with(
        free_port(),
        KubeOptions {
            token: Some("first-token".into()),
            tls: true,
            ..KubeOptions::default()
        },
    );
    double.apply(&services(&a, &b)).expect("services");
    double
        .apply(&plain_route("app", "pod.test"))
        .expect("route");
    let account = TestDir::new("kube-service-account");
    account.write("token", "first-token\n");
    let ca = std::fs::read_to_string(switchyard_testkit::tls::ca_path()).expect("fixture CA");
    account.write("ca.crt", &ca);
    let port = double.port.to_string();
    let dir = account.path().display().to_string();
    let p = Proxy::start_with_env(
        "kube-in-cluster",
        "",
        "",
        "  kubernetesCRD: {}\n",
        &[
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", &port),
            ("SWITCHYARD_TEST_SERVICE_ACCOUNT_DIR", &dir),
        ],
    )
    .await;
    assert_eq!(routed_to(&p, "pod.test").await.json()["name"], "a");
    logged(
        &p,
        "the in-cluster endpoint logged",
        &[
            "watching the Kubernetes API",
            &format!("https://127.0.0.1:{port}"),
        ],
    )
    .await;

    // The kubelet rotates the token: the API server takes only the new
    // one, and every watch ends (so each must be opened again with it).
    account.write_atomic("token", "second-token\n");
    double.set_token(Some("second-token"));
    double.close_watches();
    double
        .apply(&plain_route("late", "rotated.test"))
        .expect("route after the rotation");
    assert_eq!(routed_to(&p, "rotated.test").await.json()["name"], "a");
    assert_eq!(routed_to(&p, "pod.test").await.json()["name"], "a");
}

/// A kind the API server does not serve (a CRD not installed: 404) or the
/// service account may not list (RBAC: 403) is named in an error that says
/// what to do; the other kinds keep working, and the kind joins in when
/// it can be listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_kind_is_explained_and_the_others_keep_working() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let double = double();
    double.refuse("middlewares", Some(404));
    double.refuse("traefikservices", Some(403));
    double.apply(&services(&a, &b)).expect("services");
    double
        .apply(&format!(
            "{MIDDLEWARE}---\n{}---\n{}",
            ingress_route("app", "Host(`crd.test`)", "whoami-b"),
            plain_route("plain", "plain.test")
        ))
        .expect("routes");
    let p = proxy("kube-refused", &double).await;

    // Routed without the refused kinds.
    assert_eq!(routed_to(&p, "plain.test").await.json()["name"], "a");
    logged(
        &p,
        "the 404 explained",
        &[
            "middlewares",
            "the Traefik CRDs are not installed",
            "kubectl apply -f",
        ],
    )
    .await;
    logged(
        &p,
        "the 403 explained",
        &[
            "RBAC refused to list traefikservices",
            "get, list and watch",
            "traefik.io",
        ],
    )
    .await;
    // The route using the Middleware nobody could read is not served.
    assert_eq!(
        get(p.web, "crd.test", "/")
            .await
            .expect("request")
            .status
            .as_u16(),
        404
    );

    // The CRD installed: Middlewares are listed (after the backoff), and
    // the route using one is served through it.
    double.refuse("middlewares", None);
    let reply = wait_until(
        "crd.test routed once Middlewares can be listed",
        Duration::from_secs(40),
        || {
            let web = p.web;
            async move {
                get(web, "crd.test", "/")
                    .await
                    .ok()
                    .filter(|r| r.status.as_u16() == 200)
            }
        },
    )
    .await;
    assert_eq!(reply.json()["name"], "b");
    assert_eq!(reply.seen_header("x-kube").as_deref(), Some("crd"));
    assert_eq!(routed_to(&p, "plain.test").await.json()["name"], "a");
}

/// A TCP backend on 127.0.0.1 answering each read with `echo:` and the
/// bytes read.
async fn tcp_echo() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut out = b"echo:".to_vec();
                    out.extend_from_slice(&buf[..n]);
                    if stream.write_all(&out).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// What `addr` answers to `ping` within a second; None when the
/// connection is refused, closed or silent.
async fn tcp_answer(addr: std::net::SocketAddr) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"ping").await.ok()?;
        let mut buf = vec![0u8; 64];
        let n = s.read(&mut buf).await.ok()?;
        (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(1), exchange)
        .await
        .ok()
        .flatten()
}

/// An IngressRouteTCP `HostSNI(`*`)` on its own entry point, to a Service
/// whose EndpointSlice holds a TCP echo backend, with a MiddlewareTCP.
fn tcp_objects(backend: std::net::SocketAddr, allowed: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: echo, namespace: default}}\n\
         spec:\n  ports: [{{name: tcp, port: 9000}}]\n\
         ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: echo-1\n  namespace: default\n\
         \x20 labels: {{kubernetes.io/service-name: echo}}\naddressType: IPv4\n\
         ports: [{{name: tcp, port: {}}}]\nendpoints:\n- addresses: [127.0.0.1]\n  conditions: {{ready: true}}\n\
         ---\napiVersion: traefik.io/v1alpha1\nkind: MiddlewareTCP\nmetadata: {{name: only, namespace: default}}\n\
         spec:\n  ipAllowList: {{sourceRange: [\"{allowed}\"]}}\n\
         ---\napiVersion: traefik.io/v1alpha1\nkind: IngressRouteTCP\nmetadata: {{name: echo, namespace: default}}\n\
         spec:\n  entryPoints: [raw]\n  routes:\n  - match: HostSNI(`*`)\n    middlewares: [{{name: only}}]\n\
         \x20   services: [{{name: echo, port: 9000}}]\n",
        backend.port()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_route_tcp_reaches_an_echo_backend_on_its_entry_point() {
    let backend = tcp_echo().await;
    let double = double();
    double
        .apply(&tcp_objects(backend, "127.0.0.1/32"))
        .expect("tcp objects");
    let raw: std::net::SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("address");
    let provider = format!(
        "  kubernetesCRD:\n    endpoint: \"{}\"\n    token: \"{TOKEN}\"\n",
        double.endpoint()
    );
    let raw_entry = format!("  raw:\n    address: \"{raw}\"\n");
    let p = Proxy::start_with("kube-tcp", "", &raw_entry, &provider).await;

    // Routed through the MiddlewareTCP to the EndpointSlice's address.
    let answer = wait_until("the TCP route", Duration::from_secs(15), || async {
        tcp_answer(raw).await
    })
    .await;
    assert_eq!(answer, "echo:ping");
    let routers = p.api("/api/tcp/routers").await;
    let names: Vec<&str> = routers
        .as_array()
        .map(|l| l.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("default-echo-") && n.ends_with("@kubernetescrd")),
        "{names:?}"
    );

    // The MiddlewareTCP changed to leave 127.0.0.1 out: refused.
    double
        .apply(&tcp_objects(backend, "10.0.0.0/8"))
        .expect("allow list change");
    wait_until(
        "the connection refused",
        Duration::from_secs(15),
        || async { tcp_answer(raw).await.is_none().then_some(()) },
    )
    .await;
    assert_eq!(tcp_answer(raw).await, None);
}

/// Over TLS to `addr` with `sni`: the names of the certificate presented
/// and what the other end answers to `ping`; None when refused.
async fn tls_answer(addr: std::net::SocketAddr, sni: &str) -> Option<(Vec<String>, String)> {
    use switchyard_testkit::tls_client::{cert_names, TlsClient};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let client = TlsClient {
            sni: Some(sni.to_string()),
            ..Default::default()
        };
        let config = client.client_config().ok()?;
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        let name = rustls::pki_types::ServerName::try_from(sni.to_string()).ok()?;
        let mut tls = connector.connect(name, tcp).await.ok()?;
        let names = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| cert_names(c))
            .unwrap_or_default();
        tls.write_all(b"ping").await.ok()?;
        let mut buf = vec![0u8; 64];
        let n = tls.read(&mut buf).await.ok()?;
        (n > 0).then(|| (names, String::from_utf8_lossy(&buf[..n]).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_route_tcp_terminates_tls_with_its_secret() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let backend = tcp_echo().await;
    let double = double();
    let objects = format!(
        "{}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: cert, namespace: default}}\n\
         type: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n\
         ---\napiVersion: traefik.io/v1alpha1\nkind: IngressRouteTCP\nmetadata: {{name: secure, namespace: default}}\n\
         spec:\n  entryPoints: [raw]\n  routes:\n  - match: HostSNI(`backend.test`)\n\
         \x20   services: [{{name: echo, port: 9000}}]\n  tls: {{secretName: cert}}\n",
        tcp_objects(backend, "127.0.0.1/32"),
        b64(include_str!("../../testkit/fixtures/server.pem")),
        b64(include_str!("../../testkit/fixtures/server.key")),
    );
    double.apply(&objects).expect("objects");
    let raw: std::net::SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("address");
    let provider = format!(
        "  kubernetesCRD:\n    endpoint: \"{}\"\n    token: \"{TOKEN}\"\n",
        double.endpoint()
    );
    let raw_entry = format!("  raw:\n    address: \"{raw}\"\n");
    let _p = Proxy::start_with("kube-tcp-tls", "", &raw_entry, &provider).await;

    // Terminated with the Secret's certificate, the bytes in clear to the
    // backend (which echoes them).
    let (names, answer) = wait_until("the TLS route", Duration::from_secs(15), || async {
        tls_answer(raw, "backend.test").await
    })
    .await;
    assert_eq!(answer, "echo:ping");
    assert!(names.iter().any(|n| n == "backend.test"), "{names:?}");
}

/// A UDP backend on 127.0.0.1 answering each datagram with `udp:` and
/// its bytes.
async fn udp_echo() -> std::net::SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut out = b"udp:".to_vec();
            out.extend_from_slice(&buf[..n]);
            if socket.send_to(&out, from).await.is_err() {
                break;
            }
        }
    });
    addr
}

/// What `addr` answers to one datagram within 500 ms.
async fn udp_answer(addr: std::net::SocketAddr) -> Option<String> {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
    s.send_to(b"ping", addr).await.ok()?;
    let mut buf = vec![0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_millis(500), s.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_route_udp_reaches_a_udp_backend() {
    let backend = udp_echo().await;
    let double = double();
    let objects = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: dns, namespace: default}}\n\
         spec:\n  ports: [{{name: dns, port: 53, protocol: UDP}}]\n\
         ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: dns-1\n  namespace: default\n\
         \x20 labels: {{kubernetes.io/service-name: dns}}\naddressType: IPv4\n\
         ports: [{{name: dns, port: {}, protocol: UDP}}]\nendpoints:\n- addresses: [127.0.0.1]\n  conditions: {{ready: true}}\n\
         ---\napiVersion: traefik.io/v1alpha1\nkind: IngressRouteUDP\nmetadata: {{name: dns, namespace: default}}\n\
         spec:\n  entryPoints: [dns]\n  routes:\n  - services: [{{name: dns, port: 53}}]\n",
        backend.port()
    );
    double.apply(&objects).expect("objects");
    let port = free_port();
    let provider = format!(
        "  kubernetesCRD:\n    endpoint: \"{}\"\n    token: \"{TOKEN}\"\n",
        double.endpoint()
    );
    let dns_entry = format!("  dns:\n    address: \"127.0.0.1:{port}/udp\"\n");
    let p = Proxy::start_with("kube-udp", "", &dns_entry, &provider).await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let answer = wait_until("the UDP route", Duration::from_secs(15), || async {
        udp_answer(addr).await
    })
    .await;
    assert_eq!(answer, "udp:ping");
    let routers = p.api("/api/udp/routers").await;
    let names: Vec<&str> = routers
        .as_array()
        .map(|l| l.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["default-dns-0@kubernetescrd"]);
}

/// IngressRoute `bulk-<i>` for `bulk-<i>.test` to `whoami-a` through its
/// own Middleware `tag-<i>`, which sets `X-Kube: <value>`.
fn route_with_own_middleware(i: &str, value: &str) -> String {
    format!(
        "---\napiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {{name: tag-{i}, namespace: default}}\n\
         spec:\n  headers:\n    customRequestHeaders: {{X-Kube: \"{value}\"}}\n\
         ---\napiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {{name: bulk-{i}, namespace: default}}\n\
         spec:\n  entryPoints: [web]\n  routes:\n  - match: Host(`bulk-{i}.test`)\n    kind: Rule\n\
         \x20   middlewares: [{{name: tag-{i}}}]\n    services: [{{name: whoami-a, port: web}}]\n"
    )
}

/// The `X-Kube` header `host`'s request reached its backend with, once
/// it is `want`.
async fn tagged(p: &Proxy, host: &str, want: &str) {
    let web = p.web;
    wait_until(
        &format!("{host} tagged {want}"),
        Duration::from_secs(15),
        || async move {
            let r = get(web, host, "/").await.ok()?;
            (r.status.as_u16() == 200 && r.seen_header("x-kube").as_deref() == Some(want))
                .then_some(())
        },
    )
    .await;
}

/// The log lines of the configurations applied so far.
fn applies(p: &Proxy) -> Vec<String> {
    let log = p.sy.log();
    log.into_iter()
        .filter(|l| l.contains("configuration applied"))
        .collect()
}

/// Whether every configuration applied after the first `before` was
/// patched (only what changed built), as their log lines say; waits for
/// one at least (the line follows the switch a request may see first).
async fn patched_since(p: &Proxy, before: usize) -> bool {
    let lines = wait_until(
        "a configuration applied",
        Duration::from_secs(10),
        || async {
            let lines = applies(p);
            (lines.len() > before).then_some(lines)
        },
    )
    .await;
    lines[before..].iter().all(|l| l.contains("patched=true"))
}

/// The API's router of IngressRoute `name` (the one route it has).
async fn api_router(p: &Proxy, ingress_route: &str) -> serde_json::Value {
    let prefix = format!("default-{ingress_route}-");
    let routers = p.api(&format!("/api/http/routers?search={prefix}")).await;
    routers
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

/// One change among 2,000 IngressRoutes, each with a Middleware of its own:
/// a Middleware changed, an IngressRoute with its Middleware added, a
/// Middleware deleted. Each is routed as it should be and shown by the
/// API, and is applied by patching the last build (only the routers and
/// middlewares that changed are built again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_change_among_thousands_of_ingress_routes_is_patched_in() {
    const N: usize = 2000;
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let double = double();
    double.apply(&services(&a, &b)).expect("services");
    let bulk: String = (0..N)
        .map(|i| route_with_own_middleware(&i.to_string(), &format!("v{i}")))
        .collect();
    double.apply(&bulk).expect("bulk");
    let p = proxy("kube-scale", &double).await;
    tagged(&p, &format!("bulk-{}.test", N - 1), &format!("v{}", N - 1)).await;
    tagged(&p, "bulk-7.test", "v7").await;

    // The build of them all logged (after the switch requests see).
    let middlewares = |l: &String| -> usize {
        let count = l.split("middlewares=").nth(1).unwrap_or("");
        let digits: String = count.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap_or(0)
    };
    wait_until("the whole set applied", Duration::from_secs(10), || async {
        applies(&p)
            .iter()
            .any(|l| middlewares(l) >= N)
            .then_some(())
    })
    .await;

    // One Middleware changed: its router sends the new header, the others
    // theirs; the API shows the new definition.
    let before = applies(&p).len();
    double
        .apply(&route_with_own_middleware("7", "changed"))
        .expect("middleware change");
    tagged(&p, "bulk-7.test", "changed").await;
    tagged(&p, "bulk-8.test", "v8").await;
    let m = p
        .api("/api/http/middlewares/default-tag-7@kubernetescrd")
        .await;
    assert_eq!(
        m["headers"]["customRequestHeaders"]["X-Kube"], "changed",
        "{m}"
    );
    assert!(
        patched_since(&p, before).await,
        "the middleware change was built whole"
    );

    // One IngressRoute more, with a Middleware of its own.
    let before = applies(&p).len();
    double
        .apply(&route_with_own_middleware("extra", "new"))
        .expect("added");
    tagged(&p, "bulk-extra.test", "new").await;
    let router = api_router(&p, "bulk-extra").await;
    assert_eq!(router["status"], "enabled", "{router}");
    assert_eq!(
        router["middlewares"],
        serde_json::json!(["default-tag-extra@kubernetescrd"])
    );
    let m = p
        .api("/api/http/middlewares/default-tag-extra@kubernetescrd")
        .await;
    assert_eq!(m["usedBy"], serde_json::json!([router["name"]]), "{m}");
    assert!(
        patched_since(&p, before).await,
        "the added route was built whole"
    );

    // A Middleware deleted: its router fails (as in Traefik: the
    // middleware does not exist), the others serve.
    let before = applies(&p).len();
    double
        .delete("Middleware", "default", "tag-9")
        .expect("delete");
    p.wait_status("bulk-9.test", "/", 404).await;
    let router = api_router(&p, "bulk-9").await;
    assert_eq!(router["status"], "disabled", "{router}");
    let error = router["error"].to_string();
    assert!(error.contains("default-tag-9@kubernetescrd"), "{error}");
    tagged(&p, "bulk-10.test", "v10").await;
    assert!(
        patched_since(&p, before).await,
        "the deletion was built whole"
    );
}
