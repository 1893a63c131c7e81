//! CLI flags and environment variables → the static configuration, through
//! the loader the binary runs (`flat::parse_args` / `flat::env_pairs`,
//! `flat::build`, the schema check, the decode).
//!
//! Input: one item a line; a line starting with `$` is an environment
//! variable `NAME=value`, any other line is one command-line argument.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_config::{flat, loader};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut args: Vec<String> = Vec::new();
    let mut env: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        match line.strip_prefix('$') {
            Some(var) => {
                let (k, v) = var.split_once('=').unwrap_or((var, ""));
                env.push((k.to_string(), v.to_string()));
            }
            None => args.push(line.to_string()),
        }
    }
    // `--configFile` and `*_CONFIGFILE` name a file to read: the file
    // targets cover files; here they would make the target read the disk.
    let (pairs, _) = flat::parse_args(&args);
    if pairs
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("configFile"))
    {
        return;
    }
    env.retain(|(k, _)| k != "SWITCHYARD_CONFIGFILE" && k != "TRAEFIK_CONFIGFILE");
    // No search directories: no file is looked for. An error names the
    // flag or variable it is about.
    for (r, source) in [
        (loader::load_static_from(&args, &[], &[]), "flag --"),
        (
            loader::load_static_from(&[], &env, &[]),
            "environment variable ",
        ),
    ] {
        if let Err(e) = r {
            let named = e.location.as_ref().and_then(|l| l.source.as_deref());
            assert!(
                named.is_some_and(|n| n.starts_with(source)),
                "an error that names no {source:?}: {e}"
            );
        }
    }
});
