//! Certificates shared by replicas (`certificatesResolvers.<name>.acme.
//! sharedStorage`): two Switchyard processes, one real pebble and one real
//! redis-server. Pebble validates HTTP-01 through one instance's port only,
//! as a load balancer would reach either: whichever instance orders, the
//! other must answer its challenge.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use switchyard_testkit::tls::{ca_path, cert_issuer};
use switchyard_testkit::tls_client::TlsClient;
use switchyard_testkit::{Pebble, RedisServer};

/// A replica: its own entrypoints, the shared resolver, and a router for
/// `site.test` when `wants` is set.
fn replica(
    dir: &TestDir,
    pebble: &Pebble,
    redis: &RedisServer,
    web: u16,
    secure: u16,
    wants: bool,
    backend: &Backend,
) -> Switchyard {
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
  le:
    acme:
      email: fleet@switchyard.test
      caServer: "{ca_server}"
      keyType: EC256
      caCertificates: ["{ca}"]
      httpChallenge:
        entryPoint: web
      sharedStorage:
        redis:
          endpoints: ["{redis}"]
          rootKey: fleet
providers:
  providersThrottleDuration: 0s
  file:
    directory: "{dynamic}"
"#,
            ca_server = pebble.directory(),
            ca = ca_path().display(),
            redis = redis.endpoint(),
            dynamic = dir.join("dynamic").display(),
        ),
    );
    let router = if wants {
        "  routers:\n    site:\n      rule: \"Host(`site.test`)\"\n      service: app\n      tls: {certResolver: le}\n"
    } else {
        ""
    };
    dir.write(
        "dynamic/site.yml",
        &format!(
            "http:\n{router}  services:\n    app:\n      loadBalancer:\n        servers: [{{url: \"{}\"}}]\n",
            backend.url()
        ),
    );
    Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"])
}

/// The leaf certificate `secure` serves for `site.test`, once it is one
/// of pebble's other than `not`.
async fn served(secure: u16, not: Option<&[u8]>) -> Vec<u8> {
    let addr = SocketAddr::from(([127, 0, 0, 1], secure));
    wait_until(
        "a certificate from pebble",
        Duration::from_secs(40),
        || async {
            let tls = TlsClient {
                sni: Some("site.test".into()),
                ..TlsClient::default()
            }
            .handshake(addr)
            .await
            .ok()?;
            let der = tls.get_ref().1.peer_certificates()?.first()?.to_vec();
            (cert_issuer(&der).contains("Pebble") && Some(der.as_slice()) != not).then_some(der)
        },
    )
    .await
}

fn orders(sy: &Switchyard) -> usize {
    sy.log()
        .iter()
        .filter(|l| l.contains("certificate obtained"))
        .count()
}

#[tokio::test]
async fn the_replica_the_ca_reaches_answers_the_challenge_of_the_one_that_orders() {
    let mut redis = RedisServer::start();
    let backend = Backend::start("app").await;
    let (web_a, secure_a, web_b, secure_b) = (free_port(), free_port(), free_port(), free_port());
    // Pebble validates through A only; only B wants the certificate.
    let pebble = Pebble::start(web_a, secure_a);
    let (dir_a, dir_b) = (TestDir::new("acme-shared-a"), TestDir::new("acme-shared-b"));
    let a = replica(&dir_a, &pebble, &redis, web_a, secure_a, false, &backend);
    a.wait_listening(SocketAddr::from(([127, 0, 0, 1], web_a)))
        .await;
    let b = replica(&dir_b, &pebble, &redis, web_b, secure_b, true, &backend);
    let from_b = served(secure_b, None).await;
    // A ordered nothing, and serves what B stored.
    assert_eq!(served(secure_a, None).await, from_b);
    assert_eq!((orders(&a), orders(&b)), (0, 1));
    assert!(b.logged("ordering the certificate for every instance"));
    // The store holds it, in acme.json's spelling, and no lock is left.
    let stored = redis.cli(&["HKEYS", "fleet/acme/le/certificates"]).unwrap();
    assert!(stored.contains("site.test"), "{stored}");
    let account = redis.cli(&["GET", "fleet/acme/le/account"]).unwrap();
    assert!(account.contains("\"PrivateKey\""), "{account}");
    assert_eq!(
        redis
            .cli(&["EXISTS", "fleet/acme/le/lock/site.test"])
            .unwrap()
            .trim(),
        "0"
    );

    // The store goes away: both keep serving, and say so once.
    redis.stop();
    wait_until(
        "the store's loss logged",
        Duration::from_secs(20),
        || async { a.logged("retrying with backoff").then_some(()) },
    )
    .await;
    assert_eq!(served(secure_a, None).await, from_b);
    assert_eq!(served(secure_b, None).await, from_b);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let said = a
        .log()
        .iter()
        .filter(|l| l.contains("retrying with backoff"))
        .count();
    assert_eq!(said, 1, "logged once, not per retry");
}

#[tokio::test]
async fn replicas_order_a_certificate_once_and_a_renewal_reaches_both() {
    let redis = RedisServer::start();
    let backend = Backend::start("app").await;
    let (web_a, secure_a, web_b, secure_b) = (free_port(), free_port(), free_port(), free_port());
    // Twelve-second certificates: due for renewal after eight.
    let pebble = Pebble::start_with_validity(web_a, secure_a, 12);
    let (dir_a, dir_b) = (TestDir::new("acme-fleet-a"), TestDir::new("acme-fleet-b"));
    let a = replica(&dir_a, &pebble, &redis, web_a, secure_a, true, &backend);
    let b = replica(&dir_b, &pebble, &redis, web_b, secure_b, true, &backend);
    let first = served(secure_a, None).await;
    assert_eq!(
        served(secure_b, None).await,
        first,
        "both serve the one certificate"
    );
    assert_eq!(orders(&a) + orders(&b), 1, "one order for the pair");
    // Renewed by whichever instance takes the lock; the other serves it.
    let renewed = served(secure_a, Some(&first)).await;
    let on_b = wait_until(
        "B serves the renewed certificate",
        Duration::from_secs(20),
        || async {
            let der = served(secure_b, Some(&first)).await;
            (der == renewed).then_some(der)
        },
    )
    .await;
    assert_eq!(on_b, renewed);
    assert!(orders(&a) + orders(&b) >= 2, "a renewal is a new order");
}

#[tokio::test]
async fn shared_storage_without_redis_is_an_error_of_its_resolver() {
    // sharedStorage without redis: the resolver says why it orders nothing.
    let dir = TestDir::new("acme-shared-misconfigured");
    let port = free_port();
    dir.write(
        "switchyard.yml",
        &format!(
            "entryPoints:\n  web:\n    address: \"127.0.0.1:{port}\"\ncertificatesResolvers:\n  le:\n    acme:\n      httpChallenge: {{entryPoint: web}}\n      sharedStorage: {{}}\n"
        ),
    );
    let sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    wait_until("the resolver's error", Duration::from_secs(10), || async {
        sy.logged("sharedStorage needs redis").then_some(())
    })
    .await;
}
