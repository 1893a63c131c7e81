use super::*;

fn fixture(name: &str) -> String {
    format!(
        "{}/fixtures/certificates/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// What Traefik 3.7 answered for the fixtures, by name.
fn expected() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("expected.json");
    let list: Vec<Value> = serde_json::from_str(&text).expect("JSON");
    list.into_iter()
        .map(|v| (text_of(&v, "commonName"), v))
        .collect()
}

fn text_of(v: &Value, key: &str) -> String {
    text(v, key).to_string()
}

#[test]
fn same_description_as_traefik() {
    let want = expected();
    let cases = [
        ("ECDSA P-256, subject and issuer names, IP SANs", "ec"),
        ("RSA, expiring in 10 days", "rsa"),
        ("Ed25519: Unknown key, no size, no SANs", "ed"),
        ("P-384, first organisation, IPv4-mapped SAN", "p384"),
        ("RSA-PSS with a salt Go does not name", "pss"),
        ("RSA-PSS SHA-256", "pss32"),
    ];
    for (desc, file) in cases {
        let chain = switchyard_proxy::certs::load_chain(&fixture(&format!("{file}.pem")))
            .unwrap_or_else(|e| panic!("{desc}: {e}"));
        let der = chain[0].as_ref();
        let (_, parsed) = X509Certificate::from_der(der).expect("certificate");
        // The statuses Traefik gave were as of a minute after creation.
        let now = parsed.validity().not_before.timestamp() + 60;
        let got = describe(der, now).unwrap_or_else(|| panic!("{desc}: no description"));
        let cn = format!("{file}.test");
        assert_eq!(Some(&got.json), want.get(&cn), "{desc}");
    }
}

#[test]
fn status_by_time_left() {
    let day = 24 * 3600;
    let cases = [
        ("far from the end", 100 * day, "enabled"),
        ("exactly 30 days left", 30 * day, "enabled"),
        ("just under 30 days", 30 * day - 1, "warning"),
        ("the last second", 0, "warning"),
        ("a second late", -1, "expired"),
    ];
    for (desc, left, want) in cases {
        assert_eq!(status(1_000_000 + left, 1_000_000), want, "{desc}");
    }
}

#[test]
fn go_names_and_sizes() {
    let cases: &[(&str, &[u8], usize)] = &[
        ("empty", &[], 0),
        ("leading zero byte", &[0x00, 0x80, 0x00], 16),
        ("short top byte", &[0x01, 0xff], 9),
        ("all zero", &[0, 0], 0),
    ];
    for (desc, bytes, want) in cases {
        assert_eq!(bit_length(bytes), *want, "{desc}");
    }
    assert_eq!(signature_name("1.2.840.113549.1.1.11", &[]), "SHA256-RSA");
    assert_eq!(signature_name("1.2.840.10045.4.3.4", &[]), "ECDSA-SHA512");
    assert_eq!(signature_name("1.2.3.4", &[]), "0", "unknown is Go's 0");
    assert_eq!(time_text(0), "1970-01-01T00:00:00Z");
    assert_eq!(time_text(4_102_444_800), "2100-01-01T00:00:00Z");
}
