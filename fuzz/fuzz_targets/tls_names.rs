//! Go's names for TLS versions and cipher suites (TLS options'
//! `minVersion`, `maxVersion`, `cipherSuites`), and the ChaCha20
//! preference read from a client's offered suites.
//!
//! Input: the first line is `minVersion`, the second `maxVersion`, every
//! other line a cipher suite name; the raw bytes, two by two, are the
//! suites a client offers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_proxy::tls_names;

fuzz_target!(|data: &[u8]| {
    let offered: Vec<rustls::CipherSuite> = data
        .chunks_exact(2)
        .map(|c| rustls::CipherSuite::from(u16::from_be_bytes([c[0], c[1]])))
        .collect();
    let _ = tls_names::prefers_chacha(&offered);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let (min, max) = (lines.next(), lines.next());
    let _ = tls_names::versions(min, max);
    let names: Vec<String> = lines.map(str::to_string).collect();
    for name in [min, max].into_iter().flatten() {
        let _ = tls_names::Version::parse(name);
    }
    if let Ok(Some(mut suites)) = tls_names::cipher_suites(&names) {
        tls_names::server_order(&mut suites, true);
        tls_names::server_order(&mut suites, false);
    }
    let _ = tls_names::provider(&names);
});
