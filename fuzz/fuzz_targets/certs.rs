//! Certificates and keys as the configuration gives them inline (PEM text
//! holding `-----BEGIN`), and DER certificates as the certificate store
//! reads their names and validity.
//!
//! Input: PEM text (it holds `-----BEGIN`), or DER bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustls::pki_types::CertificateDer;
use switchyard_proxy::certs;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if !text.contains("-----BEGIN") {
        // Not PEM: a DER certificate. (Text without `-----BEGIN` would be
        // read as a file path.)
        let der = CertificateDer::from(data);
        let _ = certs::names(&der);
        let _ = certs::validity(&der);
        return;
    }
    if let Ok(chain) = certs::load_chain(&text) {
        for der in &chain {
            let _ = certs::names(der);
            let _ = certs::validity(der);
        }
    }
    // The same text as certificate and as key: a file may hold both.
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let _ = certs::certified_key(&text, &text, &provider);
});
