//! `/api/certificates`: the default store's certificates described as
//! Traefik describes them, with the list parameters, the overview's
//! counts, and a certificate added by a reload.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_testkit::rustls::pki_types::{pem::PemObject, CertificateDer};
use switchyard_testkit::tls::write_cert_until;

const DAY: Duration = Duration::from_secs(86_400);

fn tls_section(entries: &[(&std::path::Path, &std::path::Path)]) -> String {
    let mut out = String::from("tls:\n  certificates:\n");
    for (cert, key) in entries {
        out.push_str(&format!(
            "    - certFile: \"{}\"\n      keyFile: \"{}\"\n",
            cert.display(),
            key.display()
        ));
    }
    out
}

/// The `commonName`s of a list, in its order.
fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|c| c["commonName"].as_str().unwrap_or(""))
        .collect()
}

fn sha256_hex(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn admin(p: &Proxy, path: &str) -> Reply {
    get(p.admin, "localhost", path).await.expect("api request")
}

/// Starts a proxy and waits until its API answers (the socket listens
/// before the first configuration is applied).
async fn start(name: &str) -> Proxy {
    let p = Proxy::start(name, "{}\n", "").await;
    let addr = p.admin;
    wait_until("the API", Duration::from_secs(10), || async move {
        let r = get(addr, "localhost", "/api/version").await.ok()?;
        (r.status.as_u16() == 200).then_some(())
    })
    .await;
    p
}

/// Waits until the API lists `count` certificates.
async fn wait_count(p: &Proxy, count: usize) {
    let addr = p.admin;
    wait_until(
        &format!("{count} certificates listed"),
        Duration::from_secs(10),
        || async move {
            let r = get(addr, "localhost", "/api/certificates").await.ok()?;
            let listed =
                r.status.as_u16() == 200 && r.json().as_array().map(Vec::len) == Some(count);
            listed.then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn certificates_listed_filtered_sorted_and_reloaded() {
    let p = start("api-certificates").await;
    let dir = p.dir.path().to_path_buf();
    let now = SystemTime::now();
    let fresh = write_cert_until(
        &dir,
        "fresh",
        &["fresh.test", "alt.fresh.test", "127.0.0.9"],
        "Fresh Org",
        now + 300 * DAY,
    );
    let soon = write_cert_until(&dir, "soon", &["soon.test"], "", now + 8 * DAY);
    let old = write_cert_until(&dir, "old", &["old.test"], "", now - 40 * DAY);

    // Before any certificate: none listed (the generated default is not).
    let r = admin(&p, "/api/certificates").await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "[]\n".to_string()));

    p.rewrite(&tls_section(&[
        (&fresh.0, &fresh.1),
        (&old.0, &old.1),
        (&old.0, &old.1),
    ]));
    wait_count(&p, 2).await;

    let r = admin(&p, "/api/certificates").await;
    assert_eq!(r.header("x-next-page"), Some("1"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let list = r.json();
    assert_eq!(names(&list), ["fresh.test", "old.test"], "by common name");
    let f = &list[0];
    let der = CertificateDer::from_pem_file(&fresh.0).expect("fresh PEM");
    assert_eq!(f["name"], sha256_hex(der.as_ref()), "the DER's SHA-256");
    assert_eq!(f["certFingerprint"], f["name"]);
    assert_eq!(
        f["sans"],
        serde_json::json!(["127.0.0.9", "alt.fresh.test", "fresh.test"]),
        "DNS names and IPs, sorted"
    );
    assert_eq!(f["issuerOrg"], "Fresh Org");
    assert_eq!(f["organization"], "Fresh Org");
    assert_eq!(f["issuerCN"], "fresh.test");
    assert!(f.get("country").is_none(), "an empty country is left out");
    assert_eq!(
        (&f["keyType"], &f["keySize"], &f["signatureAlgorithm"]),
        (
            &Value::from("ECDSA"),
            &Value::from(256),
            &Value::from("ECDSA-SHA256")
        )
    );
    assert_eq!(f["version"], "v3");
    assert_eq!(f["status"], "enabled");
    assert_eq!(list[1]["status"], "expired");
    let serial = f["serialNumber"].as_str().expect("serial");
    assert!(
        serial.bytes().all(|b| b.is_ascii_digit()),
        "decimal: {serial}"
    );
    let not_after = f["notAfter"].as_str().expect("notAfter");
    assert!(
        not_after.len() == 20 && not_after.ends_with('Z'),
        "RFC 3339 in UTC: {not_after}"
    );

    // One certificate by its id; an unknown id.
    let id = f["name"].as_str().expect("id");
    let r = admin(&p, &format!("/api/certificates/{id}")).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, f.clone()));
    let r = admin(&p, "/api/certificates/nope").await;
    assert_eq!(
        (r.status.as_u16(), r.text()),
        (
            404,
            "{\"message\":\"certificate not found: nope\"}\n".to_string()
        )
    );

    // A reload adds the soon-expiring one.
    p.rewrite(&tls_section(&[
        (&fresh.0, &fresh.1),
        (&old.0, &old.1),
        (&soon.0, &soon.1),
    ]));
    wait_count(&p, 3).await;
    let o = p.api("/api/overview").await;
    assert_eq!(
        o["certificates"],
        serde_json::json!({"total": 3, "warnings": 1, "errors": 1})
    );

    let cases: &[(&str, &str, &[&str])] = &[
        ("everything", "", &["fresh.test", "old.test", "soon.test"]),
        ("status warning", "status=warning", &["soon.test"]),
        ("status in any case", "status=EXPIRED", &["old.test"]),
        (
            "search the issuer organisation",
            "search=fresh%20org",
            &["fresh.test"],
        ),
        ("search the SANs", "search=ALT.FRESH", &["fresh.test"]),
        ("search an IP SAN", "search=127.0.0", &["fresh.test"]),
        (
            "search and status",
            "search=test&status=enabled",
            &["fresh.test"],
        ),
        ("search nothing", "search=nowhere", &[]),
        (
            "by expiry",
            "sortBy=validUntil",
            &["old.test", "soon.test", "fresh.test"],
        ),
        (
            "by expiry, descending",
            "sortBy=validUntil&direction=desc",
            &["fresh.test", "soon.test", "old.test"],
        ),
        (
            "by status",
            "sortBy=status",
            &["fresh.test", "old.test", "soon.test"],
        ),
        (
            "by issuer (organisation, else common name)",
            "sortBy=issuer&direction=desc",
            &["soon.test", "old.test", "fresh.test"],
        ),
        (
            "by name, descending",
            "sortBy=name&direction=desc",
            &["soon.test", "old.test", "fresh.test"],
        ),
        ("first page", "per_page=2", &["fresh.test", "old.test"]),
        ("second page", "per_page=2&page=2", &["soon.test"]),
    ];
    for (desc, query, want) in cases {
        let r = admin(&p, &format!("/api/certificates?{query}")).await;
        assert_eq!(r.status.as_u16(), 200, "{desc}");
        assert_eq!(names(&r.json()), *want, "{desc}");
    }
    let r = admin(&p, "/api/certificates?per_page=2").await;
    assert_eq!(r.header("x-next-page"), Some("2"));
    let r = admin(&p, "/api/certificates?per_page=2&page=3").await;
    assert_eq!(
        (r.status.as_u16(), r.text()),
        (
            400,
            "{\"message\":\"invalid request: page: 3, per_page: 2\"}\n".to_string()
        )
    );
    let r = request(
        p.admin,
        http::Method::POST,
        "localhost",
        "/api/certificates",
        &[],
        Default::default(),
    )
    .await
    .expect("post");
    assert_eq!(r.status.as_u16(), 405);
}

#[tokio::test]
async fn a_configured_default_certificate_is_listed() {
    let p = start("api-certificates-default").await;
    let dir = p.dir.path().to_path_buf();
    let def = write_cert_until(
        &dir,
        "default",
        &["default.test"],
        "",
        SystemTime::now() + 100 * DAY,
    );
    p.rewrite(&format!(
        "tls:\n  stores:\n    default:\n      defaultCertificate:\n        certFile: \"{}\"\n        keyFile: \"{}\"\n",
        def.0.display(),
        def.1.display()
    ));
    wait_count(&p, 1).await;
    let list = p.api("/api/certificates").await;
    assert_eq!(names(&list), ["default.test"]);
}
