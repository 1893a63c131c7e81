//! `acme.json` as Traefik and Switchyard write it: the store parsed as at
//! start-up, and each stored certificate's PEM and validity read as the
//! renewal check reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_server::acme;

fuzz_target!(|data: &[u8]| {
    let Ok(store) = acme::parse_store(data) else {
        return;
    };
    for resolver in store.values() {
        for cert in resolver.certificates.iter().flatten() {
            let _ = cert.pem();
            let _ = cert.validity();
        }
    }
});
