//! Router rules, v3 and v2: parsing, the canonical form, the host index,
//! and matching against a fuzzed request.
//!
//! Input: the rule, then optionally a NUL byte and a request in
//! [`RawRequest`]'s line format.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::{Prepared, RawRequest};
use switchyard_rules::{default_priority, parse_with, Entry, RouterTable, Syntax};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (rule_text, request) = text.split_once('\0').unwrap_or((text, ""));
    let raw = RawRequest::parse(request);
    let prepared = [true, false].map(|sanitize| Prepared::from_raw(&raw, sanitize));
    let _ = switchyard_rules::host_values(rule_text);
    for syntax in [Syntax::V3, Syntax::V2] {
        let Ok(rule) = parse_with(rule_text, syntax) else {
            continue;
        };
        // The canonical form reads back as the same rule (lib.rs promises it).
        let canonical = rule.to_string();
        match parse_with(&canonical, syntax) {
            Ok(again) => assert!(
                again == rule,
                "{syntax:?}: {rule_text:?} prints as {canonical:?}, which reads back differently"
            ),
            Err(e) => panic!("{syntax:?}: {rule_text:?} prints as {canonical:?}, which fails: {e}"),
        }
        let _ = rule.host_values();
        let exact = rule.exact_hosts();
        let rule = Arc::new(rule);
        let table = RouterTable::new(vec![Entry {
            name: "fuzz@file".to_string(),
            rule: rule.clone(),
            priority: default_priority(rule_text),
            value: (),
        }]);
        for p in prepared.iter().flatten() {
            let info = p.info();
            let matched = rule.matches(&info);
            // The host index may skip a rule only when it cannot match.
            assert_eq!(
                table.find(&info).is_some(),
                matched,
                "{syntax:?}: {rule_text:?} on host {:?}: the table and the rule disagree",
                p.host
            );
            if let (true, Some(hosts)) = (matched, &exact) {
                assert!(
                    hosts.contains(&p.host),
                    "{syntax:?}: {rule_text:?} matched host {:?} outside its exact hosts {hosts:?}",
                    p.host
                );
            }
        }
    }
});
