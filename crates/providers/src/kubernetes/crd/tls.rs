//! TLSOption, TLSStore and ServersTransport objects, and certificates from
//! Secrets.

use std::collections::BTreeMap;

use serde_json::Value;
use switchyard_config::dynamic::{CertAndKey, ForwardingTimeouts, ServersTransport};
use switchyard_config::tls::{CertificateEntry, ClientAuth, GeneratedCert, Store, TlsOptions};
use switchyard_config::Duration;

use super::middlewares::{ca_secret, cert_and_key, secret_data};
use super::names::{make_id, normalize};
use super::{report, text, texts, Index, ObjectError, Report, Walk};

/// The certificate of a `kubernetes.io/tls`-shaped Secret, inline PEM.
pub(crate) fn certificate(
    objects: &Index<'_>,
    namespace: &str,
    secret: &str,
) -> Result<CertificateEntry, String> {
    if objects.secret(namespace, secret).is_none() {
        return Err(format!("secret {namespace}/{secret} does not exist"));
    }
    let (cert, key) = cert_and_key(objects, namespace, secret)?;
    Ok(CertificateEntry {
        cert_file: cert,
        key_file: key,
        stores: Vec::new(),
    })
}

/// The stores (`default` for one named so in exactly one namespace, else
/// `<namespace>-<name>`) and the certificates they list, by
/// `<namespace>/<secret>`.
pub(crate) fn stores(
    objects: &Index<'_>,
    errors: &mut Vec<ObjectError>,
) -> (BTreeMap<String, Store>, BTreeMap<String, CertificateEntry>) {
    let mut stores = BTreeMap::new();
    let mut certificates = BTreeMap::new();
    let mut default_namespaces = Vec::new();
    for object in &objects.tls_stores {
        let mut r = report(errors, "TLSStore", object);
        let namespace = text(object, "/metadata/namespace");
        let name = text(object, "/metadata/name");
        let id = if name == "default" {
            default_namespaces.push(namespace.clone());
            name.clone()
        } else {
            make_id(&namespace, &name)
        };
        let mut store = Store::default();
        let secret = text(object, "/spec/defaultCertificate/secretName");
        if object
            .at("/spec/defaultCertificate")
            .is_some_and(|d| !d.is_null())
        {
            match certificate(objects, &namespace, &secret) {
                Ok(c) => store.default_certificate = Some(c.pair()),
                Err(e) => {
                    r.error(format!("default certificate: {e}"));
                    continue;
                }
            }
        }
        if let Some(g) = object
            .at("/spec/defaultGeneratedCert")
            .filter(|g| !g.is_null())
        {
            store.default_generated_cert = Some(GeneratedCert {
                resolver: text(g, "/resolver"),
                domain: g
                    .get("domain")
                    .cloned()
                    .and_then(|d| serde_json::from_value(d).ok()),
            });
        }
        for c in object
            .at("/spec/certificates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let secret = text(c, "/secretName");
            let key = format!("{namespace}/{secret}");
            if certificates.contains_key(&key) {
                continue;
            }
            match certificate(objects, &namespace, &secret) {
                Ok(mut entry) => {
                    entry.stores = vec![id.clone()];
                    certificates.insert(key, entry);
                }
                Err(e) => r.error(format!("certificate {secret}: {e}")),
            }
        }
        stores.insert(id, store);
    }
    if default_namespaces.len() > 1 {
        stores.remove("default");
        errors.push(ObjectError {
            kind: "TLSStore".into(),
            namespace: default_namespaces.join(","),
            name: "default".into(),
            message: format!(
                "default TLS store defined in multiple namespaces: {default_namespaces:?}"
            ),
        });
    }
    (stores, certificates)
}

/// The TLS options (`default` for one named so in exactly one namespace,
/// else `<namespace>-<name>`).
pub(crate) fn options(
    objects: &Index<'_>,
    errors: &mut Vec<ObjectError>,
) -> BTreeMap<String, TlsOptions> {
    let mut out = BTreeMap::new();
    let mut default_namespaces = Vec::new();
    for object in &objects.tls_options {
        let mut r = report(errors, "TLSOption", object);
        let namespace = text(object, "/metadata/namespace");
        let name = text(object, "/metadata/name");
        let spec = object.get("spec").cloned().unwrap_or(Value::Null);
        let mut ca_files = Vec::new();
        for secret in texts(&spec, "/clientAuth/secretNames") {
            let Ok(data) = secret_data(objects, &namespace, &secret) else {
                r.error(format!("secret {namespace}/{secret} does not exist"));
                continue;
            };
            match data.get("tls.ca").or_else(|| data.get("ca.crt")) {
                Some(ca) => ca_files.push(String::from_utf8_lossy(ca).into_owned()),
                None => r.error(format!(
                    "failed to extract CA from secret {namespace}/{secret}: it contains neither tls.ca nor ca.crt"
                )),
            }
        }
        let id = if name == "default" {
            default_namespaces.push(namespace.clone());
            name.clone()
        } else {
            make_id(&namespace, &name)
        };
        let mut o = TlsOptions {
            min_version: text(&spec, "/minVersion"),
            max_version: text(&spec, "/maxVersion"),
            curve_preferences: texts(&spec, "/curvePreferences"),
            client_auth: ClientAuth {
                ca_files,
                client_auth_type: text(&spec, "/clientAuth/clientAuthType"),
            },
            sni_strict: spec.get("sniStrict").and_then(Value::as_bool) == Some(true),
            disable_session_tickets: spec.get("disableSessionTickets").and_then(Value::as_bool)
                == Some(true),
            ..TlsOptions::default()
        };
        if spec.get("cipherSuites").is_some_and(|c| !c.is_null()) {
            o.cipher_suites = texts(&spec, "/cipherSuites");
        }
        if spec.get("alpnProtocols").is_some_and(|c| !c.is_null()) {
            o.alpn_protocols = texts(&spec, "/alpnProtocols");
        }
        out.insert(id, o);
    }
    if default_namespaces.len() > 1 {
        out.remove("default");
        errors.push(ObjectError {
            kind: "TLSOption".into(),
            namespace: default_namespaces.join(","),
            name: "default".into(),
            message: format!(
                "default TLS options defined in multiple namespaces: {default_namespaces:?}"
            ),
        });
    }
    out
}

fn tls_version(v: &str) -> Option<u8> {
    match v {
        "VersionTLS10" => Some(10),
        "VersionTLS11" => Some(11),
        "VersionTLS12" => Some(12),
        "VersionTLS13" => Some(13),
        _ => None,
    }
}

/// A ServersTransport object: its name and transport. What Traefik logs
/// and leaves out (a missing CA, an invalid version) is reported and left
/// out likewise.
pub(crate) fn servers_transport(
    objects: &Index<'_>,
    object: &Value,
    r: &mut Report<'_>,
) -> (String, ServersTransport) {
    let namespace = text(object, "/metadata/namespace");
    let spec = object.get("spec").cloned().unwrap_or(Value::Null);
    let mut root_cas = Vec::new();
    for secret in texts(&spec, "/rootCAsSecrets") {
        match ca_secret(objects, &namespace, &secret) {
            Ok(ca) => root_cas.push(ca),
            Err(e) => r.error(format!("error while loading CA Secret: {e}")),
        }
    }
    for ca in spec
        .get("rootCAs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let secret = ca.get("secret").and_then(Value::as_str);
        let config_map = ca.get("configMap").and_then(Value::as_str);
        match (secret, config_map) {
            (Some(_), Some(_)) => {
                r.error("error while loading CA: both Secret and ConfigMap are defined");
            }
            (Some(s), None) => match ca_secret(objects, &namespace, s) {
                Ok(pem) => root_cas.push(pem),
                Err(e) => r.error(format!("error while loading CA Secret: {e}")),
            },
            (None, Some(c)) => {
                let data = objects
                    .config_map(&namespace, c)
                    .and_then(|m| m.get("data"))
                    .and_then(|d| d.get("tls.ca").or_else(|| d.get("ca.crt")))
                    .and_then(Value::as_str);
                match data {
                    Some(pem) => root_cas.push(pem.to_string()),
                    None => r.error(format!(
                        "error while loading CA ConfigMap: configMap '{namespace}/{c}' not found or without tls.ca nor ca.crt"
                    )),
                }
            }
            (None, None) => {}
        }
    }
    let mut certificates = Vec::new();
    for secret in texts(&spec, "/certificatesSecrets") {
        match cert_and_key(objects, &namespace, &secret) {
            Ok((cert, key)) => certificates.push(CertAndKey {
                cert_file: cert,
                key_file: key,
            }),
            Err(e) => r.error(format!("error while loading certificates {secret}: {e}")),
        }
    }

    // A name Go does not know drops the whole list (Traefik's default
    // suites then), as Traefik does.
    let mut cipher_suites = texts(&spec, "/cipherSuites");
    let unknown = cipher_suites.iter().find(|name| {
        switchyard_proxy::tls_names::cipher_suites(std::slice::from_ref(*name))
            .is_err_and(|e| e.contains("unknown cipher suite"))
    });
    if let Some(name) = unknown {
        r.error(format!(
            "cipher suite not supported: {name}, falling back to default CipherSuite"
        ));
        cipher_suites.clear();
    }

    let mut min_version = text(&spec, "/minVersion");
    let mut max_version = text(&spec, "/maxVersion");
    let min_id = tls_version(&min_version);
    let max_id = tls_version(&max_version);
    if !min_version.is_empty() && min_id.is_none() {
        r.error(format!("invalid TLS minimum version: {min_version}"));
    }
    if !max_version.is_empty() && max_id.is_none() {
        r.error(format!("invalid TLS maximum version: {max_version}"));
    }
    let both = !min_version.is_empty() && !max_version.is_empty();
    if min_id.is_none() {
        min_version.clear();
    }
    if max_id.is_none() {
        max_version.clear();
    }
    if both && min_id.unwrap_or(0) >= max_id.unwrap_or(0) {
        r.error(format!(
            "minVersion {min_version} above or equal to maxVersion {max_version}: falling back to defaults"
        ));
        min_version = "VersionTLS12".into();
        max_version.clear();
    }

    let mut timeouts = ForwardingTimeouts::default();
    if let Some(f) = spec.get("forwardingTimeouts").filter(|f| !f.is_null()) {
        let fields: [(&str, &mut Duration); 5] = [
            ("dialTimeout", &mut timeouts.dial_timeout),
            (
                "responseHeaderTimeout",
                &mut timeouts.response_header_timeout,
            ),
            ("idleConnTimeout", &mut timeouts.idle_conn_timeout),
            ("readIdleTimeout", &mut timeouts.read_idle_timeout),
            ("pingTimeout", &mut timeouts.ping_timeout),
        ];
        for (key, slot) in fields {
            if let Some(v) = f.get(key).filter(|v| !v.is_null()) {
                match serde_json::from_value::<Duration>(v.clone()) {
                    Ok(d) => *slot = d,
                    Err(e) => r.error(format!("error while reading {key}: {e}")),
                }
            }
        }
    }

    let mut transport = ServersTransport {
        server_name: Some(text(&spec, "/serverName")).filter(|s| !s.is_empty()),
        insecure_skip_verify: spec.get("insecureSkipVerify").and_then(Value::as_bool) == Some(true),
        root_cas,
        certificates,
        cipher_suites,
        min_version: Some(min_version).filter(|s| !s.is_empty()),
        max_version: Some(max_version).filter(|s| !s.is_empty()),
        // As the object says: 0 when it says nothing (not the file
        // provider's 200).
        max_idle_conns_per_host: spec
            .get("maxIdleConnsPerHost")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        forwarding_timeouts: Some(timeouts),
        disable_http2: spec.get("disableHTTP2").and_then(Value::as_bool) == Some(true),
        peer_cert_uri: Some(text(&spec, "/peerCertURI")).filter(|s| !s.is_empty()),
        ..ServersTransport::default()
    };
    if spec.get("spiffe").is_some_and(|s| !s.is_null()) {
        transport.unsupported.refused.push("spiffe".into());
    }
    if spec.get("peerCertSANs").is_some_and(|s| !s.is_null()) {
        transport.peer_cert_sans =
            serde_json::from_value(spec["peerCertSANs"].clone()).unwrap_or_default();
    }
    let id = normalize(&make_id(&namespace, &text(object, "/metadata/name")));
    (id, transport)
}
