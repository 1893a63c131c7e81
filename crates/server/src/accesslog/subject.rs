//! `TLSClientSubject`: a client certificate's subject as Go's
//! `pkix.Name.String` writes it: the RDNs last to first, `,` between them,
//! `+` between the values of one (Go groups each list field into one RDN),
//! the usual short names, other attributes as `OID=#<DER hex>`.

use x509_parser::prelude::{FromDer, X509Certificate};

/// (OID, Go's short name, a list field (else Go keeps the last value)),
/// in the order Go's `ToRDNSequence` puts them.
const FIELDS: [(&str, &str, bool); 9] = [
    ("2.5.4.6", "C", true),
    ("2.5.4.8", "ST", true),
    ("2.5.4.7", "L", true),
    ("2.5.4.9", "STREET", true),
    ("2.5.4.17", "POSTALCODE", true),
    ("2.5.4.10", "O", true),
    ("2.5.4.11", "OU", true),
    ("2.5.4.3", "CN", false),
    ("2.5.4.5", "SERIALNUMBER", false),
];

/// Escapes a value as Go's `RDNSequence.String` does.
fn escape(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    let mut out = String::with_capacity(v.len());
    for (i, c) in chars.iter().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i + 1 == chars.len() && *c == ' ');
        if special {
            out.push('\\');
        }
        out.push(*c);
    }
    out
}

/// The DER encoding of a short tag-length-value, hex.
fn der_hex(tag: u8, content: &[u8]) -> String {
    let mut der = vec![tag];
    let len = content.len();
    if len < 0x80 {
        der.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        der.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        der.extend(bytes);
    }
    der.extend_from_slice(content);
    der.iter().map(|b| format!("{b:02x}")).collect()
}

/// The subject of the DER certificate `der`, or `None` when it does not
/// parse.
pub fn subject(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let name = cert.subject();
    let mut rdns: Vec<String> = Vec::new();
    // Attributes Go has no field for come first (so they print last).
    for attr in name.iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        if FIELDS.iter().any(|(o, _, _)| *o == oid) {
            continue;
        }
        let value = attr.attr_value();
        let tag = u8::try_from(value.header.tag().0).unwrap_or(0);
        rdns.push(format!("{oid}=#{}", der_hex(tag, value.data)));
    }
    for (oid, short, list) in FIELDS {
        let values: Vec<String> = name
            .iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == oid)
            .filter_map(|a| a.as_str().ok())
            .map(|v| format!("{short}={}", escape(v)))
            .collect();
        match (list, values.last()) {
            (_, None) => {}
            (true, Some(_)) => rdns.push(values.join("+")),
            (false, Some(last)) => rdns.push(last.clone()),
        }
    }
    rdns.reverse();
    Some(rdns.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_go() {
        let cases = [
            ("plain", "plain"),
            ("a,b", "a\\,b"),
            (" lead", "\\ lead"),
            ("trail ", "trail\\ "),
            ("#x", "\\#x"),
            ("q\"+;<>", "q\\\"\\+\\;\\<\\>"),
        ];
        for (v, want) in cases {
            assert_eq!(escape(v), want, "{v}");
        }
    }

    #[test]
    fn the_fixture_client_certificate() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/fixtures/client.pem");
        let der = switchyard_proxy::certs::load_chain(&path.to_string_lossy()).expect("pem");
        // As `openssl x509 -subject -nameopt RFC2253` (and Go) write it.
        assert_eq!(
            subject(der[0].as_ref()).as_deref(),
            Some("CN=switchyard-client,O=Switchyard,C=FR")
        );
    }
}
