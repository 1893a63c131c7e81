//! Flat keys (`http.routers.r.rule=...`) → the dynamic configuration: the
//! builder Docker labels and KV keys go through (`flat::split_key`,
//! `flat::build`), then the decode.
//!
//! Input: one `key=value` a line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_config::dynamic::Configuration;
use switchyard_config::{decode, flat, Location};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs = switchyard_fuzz::key_values(text);
    for (k, _) in &pairs {
        let _ = flat::split_key(k);
    }
    let tree = flat::build(
        pairs
            .iter()
            .map(|(k, v)| (*k, *v, Location::named("label"))),
    );
    let _ = decode::from_node::<Configuration>(&tree);
});
