//! A YAML configuration file → the dynamic configuration, and → the static
//! one (`parse_tree`, `check_static`, `from_node`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Files are read as UTF-8 (`read_to_string`); other bytes never get here.
    if let Ok(text) = std::str::from_utf8(data) {
        switchyard_fuzz::config_file("fuzz.yml", text);
    }
});
