//! `/api/certificates[/{id}]` and the overview's `certificates` counts:
//! the certificates of the default TLS store (every one added, and the
//! default certificate unless it is the generated one), each described
//! with the fields and Go's names Traefik's API uses, identified by the
//! SHA-256 of its DER.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use switchyard_server::Runtime;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use crate::query::{self, Criterion, Query, SortKey};
use crate::version::rfc3339_nano;

/// Less time than this left before `notAfter` is a warning.
const WARNING_BEFORE: i64 = 30 * 24 * 3600;

/// One certificate: its JSON, and what lists filter and order it by.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub json: Value,
    common_name: String,
    status: &'static str,
    /// The issuer's organisation, else its common name.
    issuer: String,
    not_after: i64,
    /// Common name, issuer organisation and common name, SANs.
    searched: Vec<String>,
}

/// The certificates `runtime` serves, by id (no id twice).
pub fn all(runtime: &Runtime, now: SystemTime) -> BTreeMap<String, Certificate> {
    let now = seconds(now);
    runtime
        .tls
        .store
        .listed()
        .iter()
        .filter_map(|der| describe(der.as_ref(), now))
        .map(|c| (text(&c.json, "name").to_string(), c))
        .collect()
}

/// `/api/certificates`: those the query keeps, in its order (not yet
/// paginated).
pub fn list(runtime: &Runtime, q: &Query, now: SystemTime) -> Vec<Value> {
    let criterion = Criterion::from_query(q);
    let mut items: Vec<Certificate> = all(runtime, now)
        .into_values()
        .filter(|c| {
            criterion.as_ref().is_none_or(|k| {
                let searched: Vec<&str> = c.searched.iter().map(String::as_str).collect();
                k.with_status(c.status) && k.search_in(&searched)
            })
        })
        .collect();
    let key: Option<fn(&Certificate) -> SortKey> = match q.get("sortBy") {
        "status" => Some(|c| SortKey::Text(c.status.into())),
        "issuer" => Some(|c| SortKey::Text(c.issuer.clone())),
        "validUntil" => Some(|c| SortKey::Int(c.not_after)),
        _ => None,
    };
    query::sort(
        &mut items,
        q.get("direction"),
        |c| c.common_name.as_str(),
        key.as_ref().map(|f| f as &dyn Fn(&Certificate) -> SortKey),
    );
    items.into_iter().map(|c| c.json).collect()
}

/// The overview's `certificates`: expired ones count as errors, those
/// expiring soon as warnings.
pub fn section(runtime: &Runtime, now: SystemTime) -> Value {
    let certs = all(runtime, now);
    let count = |status: &str| certs.values().filter(|c| c.status == status).count();
    json!({
        "total": certs.len(),
        "warnings": count("warning"),
        "errors": count("expired"),
    })
}

fn seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Lower-case hex of the SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    switchyard_proxy::certs::hex(&Sha256::digest(bytes))
}

/// A time as Go's JSON writes a certificate's (UTC, whole seconds).
fn time_text(secs: i64) -> String {
    let t = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    rfc3339_nano(t)
}

/// The status of a certificate valid until `not_after` at `now`.
fn status(not_after: i64, now: i64) -> &'static str {
    let left = not_after.saturating_sub(now);
    if left < 0 {
        "expired"
    } else if left < WARNING_BEFORE {
        "warning"
    } else {
        "enabled"
    }
}

/// The first value of an attribute as Go reads a name (`Organization[0]`,
/// `Country[0]`), or the last common name (Go keeps the last one).
fn first<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values.into_iter().next().unwrap_or("").to_string()
}

fn name_parts(n: &X509Name<'_>) -> (String, String, String) {
    let cn = n
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .last()
        .unwrap_or("")
        .to_string();
    let org = first(n.iter_organization().filter_map(|a| a.as_str().ok()));
    let country = first(n.iter_country().filter_map(|a| a.as_str().ok()));
    (cn, org, country)
}

/// Go's `x509.SignatureAlgorithm` name for a signature algorithm OID
/// (RSA-PSS by the hash its parameters name); `"0"`, Go's name for an
/// unknown one, otherwise.
fn signature_name(oid: &str, params: &[u8]) -> &'static str {
    match oid {
        "1.2.840.113549.1.1.2" => "MD2-RSA",
        "1.2.840.113549.1.1.4" => "MD5-RSA",
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => "SHA1-RSA",
        "1.2.840.113549.1.1.11" => "SHA256-RSA",
        "1.2.840.113549.1.1.12" => "SHA384-RSA",
        "1.2.840.113549.1.1.13" => "SHA512-RSA",
        "1.2.840.113549.1.1.10" => {
            // Go names PSS only with SHA-256/384/512 (OIDs
            // 2.16.840.1.101.3.4.2.{1,2,3}) and a salt as long as the hash.
            let named = |last: u8, salt: u8| {
                let oid = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, last];
                let salt = [0xa2, 0x03, 0x02, 0x01, salt];
                let has = |pat: &[u8]| params.windows(pat.len()).any(|w| w == pat);
                has(&oid) && has(&salt)
            };
            if named(1, 32) {
                "SHA256-RSAPSS"
            } else if named(2, 48) {
                "SHA384-RSAPSS"
            } else if named(3, 64) {
                "SHA512-RSAPSS"
            } else {
                "0"
            }
        }
        "1.2.840.10040.4.3" => "DSA-SHA1",
        "2.16.840.1.101.3.4.3.2" => "DSA-SHA256",
        "1.2.840.10045.4.1" => "ECDSA-SHA1",
        "1.2.840.10045.4.3.2" => "ECDSA-SHA256",
        "1.2.840.10045.4.3.3" => "ECDSA-SHA384",
        "1.2.840.10045.4.3.4" => "ECDSA-SHA512",
        "1.3.101.112" => "Ed25519",
        _ => "0",
    }
}

/// Go's key type and size: RSA (the modulus's bit length), ECDSA (the
/// curve's size); anything else (Ed25519 included) is `Unknown`, size 0.
fn key_info(cert: &X509Certificate<'_>) -> (&'static str, usize) {
    let spki = cert.public_key();
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" => {
            let bits = match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => bit_length(rsa.modulus),
                _ => 0,
            };
            ("RSA", bits)
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            let bits = match curve.as_deref() {
                Some("1.3.132.0.33") => 224,
                Some("1.2.840.10045.3.1.7") => 256,
                Some("1.3.132.0.34") => 384,
                Some("1.3.132.0.35") => 521,
                _ => 0,
            };
            ("ECDSA", bits)
        }
        _ => ("Unknown", 0),
    }
}

/// The bit length of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let Some(pos) = bytes.iter().position(|&b| b != 0) else {
        return 0;
    };
    let rest = bytes.len() - pos - 1;
    rest * 8 + (8 - bytes[pos].leading_zeros() as usize)
}

/// SANs as Go lists them: DNS names as written, then IP addresses
/// (IPv4-mapped ones as IPv4), sorted.
fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push((*d).to_string()),
                GeneralName::IPAddress(b) => ips.extend(ip_text(b)),
                _ => {}
            }
        }
    }
    dns.extend(ips);
    dns.sort();
    dns
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match <[u8; 16]>::try_from(bytes) {
        Ok(a) => {
            let v6 = std::net::Ipv6Addr::from(a);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.to_string(),
            })
        }
        Err(_) => switchyard_proxy::certs::ip_text(bytes),
    }
}

/// The API's description of the DER certificate `der` at `now` (seconds
/// since the epoch); None when it does not parse.
pub fn describe(der: &[u8], now: i64) -> Option<Certificate> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let fingerprint = sha256_hex(der);
    let (common_name, organization, country) = name_parts(cert.subject());
    let (issuer_cn, issuer_org, issuer_country) = name_parts(cert.issuer());
    let (key_type, key_size) = key_info(&cert);
    let sig = &cert.signature_algorithm;
    let sig_params = sig.parameters.as_ref().map_or(&[][..], |p| p.data);
    let validity = cert.validity();
    let not_after = validity.not_after.timestamp();
    let status = status(not_after, now);
    let sans = sans(&cert);
    let mut v = Map::new();
    let mut put = |k: &str, value: Value| {
        v.insert(k.to_string(), value);
    };
    put("name", json!(fingerprint));
    put("sans", json!(sans));
    put("notAfter", json!(time_text(not_after)));
    put(
        "notBefore",
        json!(time_text(validity.not_before.timestamp())),
    );
    put(
        "serialNumber",
        json!(cert.tbs_certificate.serial.to_string()),
    );
    put("commonName", json!(common_name));
    // Go leaves these out when empty (`omitempty`).
    for (k, value) in [
        ("issuerOrg", &issuer_org),
        ("issuerCN", &issuer_cn),
        ("issuerCountry", &issuer_country),
        ("organization", &organization),
        ("country", &country),
    ] {
        if !value.is_empty() {
            put(k, json!(value));
        }
    }
    put("version", json!(format!("v{}", cert.version().0 + 1)));
    put("keyType", json!(key_type));
    if key_size != 0 {
        put("keySize", json!(key_size));
    }
    put(
        "signatureAlgorithm",
        json!(signature_name(&sig.algorithm.to_id_string(), sig_params)),
    );
    put("certFingerprint", json!(fingerprint));
    put(
        "publicKeyFingerprint",
        json!(sha256_hex(cert.public_key().raw)),
    );
    put("status", json!(status));
    let mut searched = vec![common_name.clone(), issuer_org.clone(), issuer_cn.clone()];
    searched.extend(sans.iter().cloned());
    Some(Certificate {
        json: Value::Object(v),
        issuer: if issuer_org.is_empty() {
            issuer_cn
        } else {
            issuer_org
        },
        common_name,
        status,
        not_after,
        searched,
    })
}

#[cfg(test)]
mod tests;
