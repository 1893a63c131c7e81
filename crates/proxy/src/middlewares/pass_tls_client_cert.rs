//! `passTLSClientCert`: hands the client certificates of a mutual-TLS
//! connection to the backend, as Traefik does: `X-Forwarded-Tls-Client-Cert`
//! (each certificate's DER in base64, comma-separated) and
//! `X-Forwarded-Tls-Client-Cert-Info` (the chosen fields, URL-query-escaped).
//! Unlike Traefik, headers of those names sent by the client are always
//! removed, so a backend cannot be fooled by a client without a certificate.

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine;
use http::HeaderValue;
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use crate::{BoxHandler, Handler, HandlerFuture, Request, RequestContext};

pub const CERT_HEADER: &str = "x-forwarded-tls-client-cert";
pub const INFO_HEADER: &str = "x-forwarded-tls-client-cert-info";

/// Which parts of a distinguished name to pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnFields {
    pub country: bool,
    pub province: bool,
    pub locality: bool,
    pub organization: bool,
    /// Subjects only (Traefik ignores it for issuers).
    pub organizational_unit: bool,
    pub common_name: bool,
    pub serial_number: bool,
    pub domain_component: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoFields {
    pub not_after: bool,
    pub not_before: bool,
    pub sans: bool,
    pub serial_number: bool,
    pub subject: Option<DnFields>,
    pub issuer: Option<DnFields>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub pem: bool,
    pub info: Option<InfoFields>,
}

/// `X-Forwarded-Tls-Client-Cert`'s value.
pub fn pem_header(certs: &[CertificateDer<'_>]) -> String {
    certs
        .iter()
        .map(|c| base64::engine::general_purpose::STANDARD.encode(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

const OID_CN: &str = "2.5.4.3";
const OID_SERIAL: &str = "2.5.4.5";
const OID_C: &str = "2.5.4.6";
const OID_L: &str = "2.5.4.7";
const OID_ST: &str = "2.5.4.8";
const OID_O: &str = "2.5.4.10";
const OID_OU: &str = "2.5.4.11";
const OID_DC: &str = "0.9.2342.19200300.100.1.25";

/// The name's values for `oid`, in order.
fn values<'a>(name: &'a X509Name<'_>, oid: &str) -> Vec<&'a str> {
    name.iter_attributes()
        .filter(|a| a.attr_type().to_id_string() == oid)
        .filter_map(|a| a.as_str().ok())
        .collect()
}

/// `DC=…,C=…,ST=…,L=…,O=…,OU=…,SN=…,CN=…` in Traefik's order (the last
/// CN and serial number only, as Go keeps them).
fn dn(name: &X509Name<'_>, f: &DnFields, subject: bool) -> String {
    let mut out = String::new();
    let mut put = |prefix: &str, v: &str| {
        if !v.is_empty() {
            let _ = write!(out, "{prefix}={v},");
        }
    };
    if f.domain_component {
        for v in values(name, OID_DC) {
            put("DC", v);
        }
    }
    let lists: [(bool, &str, &str); 5] = [
        (f.country, OID_C, "C"),
        (f.province, OID_ST, "ST"),
        (f.locality, OID_L, "L"),
        (f.organization, OID_O, "O"),
        (f.organizational_unit && subject, OID_OU, "OU"),
    ];
    for (on, oid, prefix) in lists {
        if on {
            for v in values(name, oid) {
                put(prefix, v);
            }
        }
    }
    if f.serial_number {
        if let Some(v) = values(name, OID_SERIAL).last() {
            put("SN", v);
        }
    }
    if f.common_name {
        if let Some(v) = values(name, OID_CN).last() {
            put("CN", v);
        }
    }
    out.trim_end_matches(',').to_string()
}

/// A big-endian unsigned integer in decimal.
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0];
    for b in bytes {
        let mut carry = u32::from(*b);
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

/// One certificate's fields, `;`-separated.
fn cert_info(cert: &X509Certificate<'_>, f: &InfoFields) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(s) = &f.subject {
        let v = dn(cert.subject(), s, true);
        if !v.is_empty() {
            parts.push(format!("Subject=\"{v}\""));
        }
    }
    if let Some(i) = &f.issuer {
        let v = dn(cert.issuer(), i, false);
        if !v.is_empty() {
            parts.push(format!("Issuer=\"{v}\""));
        }
    }
    if f.serial_number {
        parts.push(format!("SerialNumber=\"{}\"", decimal(cert.raw_serial())));
    }
    if f.not_before {
        parts.push(format!("NB=\"{}\"", cert.validity().not_before.timestamp()));
    }
    if f.not_after {
        parts.push(format!("NA=\"{}\"", cert.validity().not_after.timestamp()));
    }
    if f.sans {
        let mut dns = Vec::new();
        let mut emails = Vec::new();
        let mut ips = Vec::new();
        let mut uris = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns.push(d.to_string()),
                    GeneralName::RFC822Name(e) => emails.push(e.to_string()),
                    GeneralName::IPAddress(ip) => ips.extend(crate::certs::ip_text(ip)),
                    GeneralName::URI(u) => uris.push(u.to_string()),
                    _ => {}
                }
            }
        }
        let all: Vec<String> = dns
            .into_iter()
            .chain(emails)
            .chain(ips)
            .chain(uris)
            .collect();
        if !all.is_empty() {
            parts.push(format!("SAN=\"{}\"", all.join(",")));
        }
    }
    parts.join(";")
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `X-Forwarded-Tls-Client-Cert-Info`'s value; certificates that do not
/// parse are skipped.
pub fn info_header(certs: &[CertificateDer<'_>], f: &InfoFields) -> String {
    let infos: Vec<String> = certs
        .iter()
        .filter_map(|c| X509Certificate::from_der(c.as_ref()).ok())
        .map(|(_, cert)| cert_info(&cert, f))
        .collect();
    query_escape(&infos.join(","))
}

pub struct PassTlsClientCert {
    settings: Arc<Settings>,
    next: BoxHandler,
}

impl PassTlsClientCert {
    pub fn new(settings: Arc<Settings>, next: BoxHandler) -> PassTlsClientCert {
        PassTlsClientCert { settings, next }
    }
}

impl Handler for PassTlsClientCert {
    fn call(&self, mut req: Request) -> HandlerFuture {
        let s = &self.settings;
        req.headers_mut().remove(CERT_HEADER);
        req.headers_mut().remove(INFO_HEADER);
        let certs = RequestContext::of(&req).peer_certificates;
        match certs.filter(|c| !c.is_empty()) {
            Some(certs) => {
                if s.pem {
                    if let Ok(v) = HeaderValue::from_str(&pem_header(&certs)) {
                        req.headers_mut().insert(CERT_HEADER, v);
                    }
                }
                if let Some(info) = &s.info {
                    if let Ok(v) = HeaderValue::from_str(&info_header(&certs, info)) {
                        req.headers_mut().insert(INFO_HEADER, v);
                    }
                }
            }
            None => tracing::debug!("passTLSClientCert: no client certificate on this request"),
        }
        self.next.call(req)
    }
}

/// Translates a `passTLSClientCert` definition.
pub fn from_config(
    c: switchyard_config::middlewares::PassTlsClientCert,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let dn = |d: &Option<switchyard_config::middlewares::CertDn>| {
        d.as_ref().map(|d| DnFields {
            country: d.country,
            province: d.province,
            locality: d.locality,
            organization: d.organization,
            organizational_unit: d.organizational_unit,
            common_name: d.common_name,
            serial_number: d.serial_number,
            domain_component: d.domain_component,
        })
    };
    let settings = Arc::new(Settings {
        pem: c.pem,
        info: c.info.as_ref().map(|i| InfoFields {
            not_after: i.not_after,
            not_before: i.not_before,
            sans: i.sans,
            serial_number: i.serial_number,
            subject: dn(&i.subject),
            issuer: dn(&i.issuer),
        }),
    });
    Ok(Arc::new(move |next| {
        Arc::new(PassTlsClientCert::new(settings.clone(), next)) as BoxHandler
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    fn fixture_chain() -> Vec<CertificateDer<'static>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/fixtures");
        ["client.pem", "ca.pem"]
            .iter()
            .map(|f| CertificateDer::from_pem_file(dir.join(f)).unwrap())
            .collect()
    }

    fn everything() -> InfoFields {
        let all = DnFields {
            country: true,
            province: true,
            locality: true,
            organization: true,
            organizational_unit: true,
            common_name: true,
            serial_number: true,
            domain_component: true,
        };
        InfoFields {
            not_after: true,
            not_before: true,
            sans: true,
            serial_number: true,
            subject: Some(all),
            issuer: Some(all),
        }
    }

    #[test]
    fn info_matches_traefik_for_the_fixture_chain() {
        // What Traefik 3.7 sent its backend for a client presenting
        // fixtures/client.pem (and the CA) with every field enabled.
        let want = "Subject%3D%22C%3DFR%2CO%3DSwitchyard%2CCN%3Dswitchyard-client%22%3BIssuer%3D%22CN%3DSwitchyard+Test+CA%22%3BSerialNumber%3D%22122079845100314102189733648316388647402312162142%22%3BNB%3D%221795578430%22%3BNA%3D%224949178430%22%3BSAN%3D%22client.test%2Cclient%40switchyard.test%2Cspiffe%3A%2F%2Fswitchyard.test%2Fclient%22%2CSubject%3D%22CN%3DSwitchyard+Test+CA%22%3BIssuer%3D%22CN%3DSwitchyard+Test+CA%22%3BSerialNumber%3D%22565515822419101282052832887543999997498963094176%22%3BNB%3D%221795563399%22%3BNA%3D%224949163399%22";
        assert_eq!(info_header(&fixture_chain(), &everything()), want);
    }

    #[test]
    fn selected_fields_only() {
        let chain = fixture_chain();
        let leaf = &chain[..1];
        let only = |f: InfoFields| percent_decode(&info_header(leaf, &f));
        assert_eq!(
            only(InfoFields {
                subject: Some(DnFields {
                    common_name: true,
                    ..DnFields::default()
                }),
                ..InfoFields::default()
            }),
            "Subject=\"CN=switchyard-client\""
        );
        assert_eq!(
            only(InfoFields {
                sans: true,
                not_after: true,
                ..InfoFields::default()
            }),
            "NA=\"4949178430\";SAN=\"client.test,client@switchyard.test,spiffe://switchyard.test/client\""
        );
        assert_eq!(only(InfoFields::default()), "");
    }

    #[test]
    fn pem_is_base64_der_per_certificate() {
        let chain = fixture_chain();
        let h = pem_header(&chain);
        let parts: Vec<&str> = h.split(',').collect();
        assert_eq!(parts.len(), 2);
        assert!(
            parts[0].starts_with("MIICIzCCAcqgAwIBAgIUFWI/5KllB9aFxtyxYtxNFb8h214wCgYIKoZIzj0E")
        );
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(parts[1])
                .unwrap(),
            chain[1].as_ref()
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(decimal(&[0]), "0");
        assert_eq!(decimal(&[1, 0]), "256");
        assert_eq!(decimal(&[0xff, 0xff, 0xff, 0xff]), "4294967295");
        assert_eq!(query_escape("a b=c/d~e"), "a+b%3Dc%2Fd~e");
        use crate::certs::ip_text;
        assert_eq!(ip_text(&[127, 0, 0, 1]).as_deref(), Some("127.0.0.1"));
        assert_eq!(
            ip_text(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]).as_deref(),
            Some("::1")
        );
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
}
