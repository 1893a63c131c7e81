//! The PROXY protocol header (versions 1 and 2) a connection may open
//! with, parsed as the entrypoint parses it: again on every read, on what
//! has arrived so far.
//!
//! Checked: no panic; the answer does not depend on how the bytes were
//! split into reads (once a prefix decides, the whole input decides the
//! same); a header never claims more bytes than it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_server::proxy_protocol::{parse, Parsed};

fuzz_target!(|data: &[u8]| {
    let whole = parse(data);
    if let Ok(Parsed::Done(_, used)) = &whole {
        assert!(*used <= data.len(), "used {used} of {} bytes", data.len());
    }
    // The shortest prefix that decides, as the first read that decides.
    for end in 1..data.len() {
        match parse(&data[..end]) {
            Ok(Parsed::Incomplete) => continue,
            Ok(decided) => {
                assert_eq!(
                    whole.as_ref().ok(),
                    Some(&decided),
                    "decided on {end} bytes, differently on {}",
                    data.len()
                );
                break;
            }
            Err(e) => {
                assert!(
                    whole.is_err(),
                    "refused on {end} bytes ({e}), not on {}: {whole:?}",
                    data.len()
                );
                break;
            }
        }
    }
});
