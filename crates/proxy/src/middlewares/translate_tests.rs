//! The translators (`from_config` beside each middleware): the messages a
//! bad definition gets, and the warnings that leave a good one serving.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::json;

use super::{Factory, TranslateCtx};
use crate::BoxHandler;

type Translator<T> = fn(T, &mut TranslateCtx<'_>) -> Result<Factory, String>;
/// A translation's warnings, or its error.
type Outcome = Result<Vec<String>, String>;

/// Decodes `settings` as Traefik spells them and translates them: the
/// warnings if it built, the error if not.
fn translate_one<T: DeserializeOwned>(
    translator: Translator<T>,
    settings: serde_json::Value,
) -> Outcome {
    let config: T = serde_json::from_value(settings).map_err(|e| format!("test decode: {e}"))?;
    let mut ctx = TranslateCtx::new("m@file");
    translator(config, &mut ctx).map(|_| ctx.warnings)
}

enum Expect {
    /// Builds, with exactly these warnings.
    Builds(&'static [&'static str]),
    /// Fails with a message that starts so.
    Fails(&'static str),
}

#[test]
fn translators_answer_as_before() {
    use super::*;
    use Expect::*;
    let cases: Vec<(&str, Outcome, Expect)> = vec![
        (
            "addPrefix without a prefix",
            translate_one(add_prefix::from_config, json!({})),
            Fails("addPrefix: prefix cannot be empty"),
        ),
        (
            "addPrefix with one",
            translate_one(add_prefix::from_config, json!({"prefix": "/api"})),
            Builds(&[]),
        ),
        (
            "stripPrefixRegex with a bad regex",
            translate_one(strip_prefix_regex::from_config, json!({"regex": ["/ok", "("]})),
            Fails("stripPrefixRegex: invalid regex \"(\": "),
        ),
        (
            "replacePathRegex with a bad regex",
            translate_one(replace_path_regex::from_config, json!({"regex": "[", "replacement": "/"})),
            Fails("replacePathRegex: invalid regex \"[\": "),
        ),
        (
            "headers that define nothing",
            translate_one(headers::from_config, json!({})),
            Fails("headers configuration not valid"),
        ),
        (
            "headers with a deprecated field",
            translate_one(
                headers::from_config,
                json!({"frameDeny": true, "sslRedirect": true}),
            ),
            Builds(&["headers.sslRedirect is deprecated in Traefik v3 and has no effect"]),
        ),
        (
            "inFlightReq without an amount",
            translate_one(in_flight_req::from_config, json!({})),
            Fails("inFlightReq: amount must be greater than 0"),
        ),
        (
            "inFlightReq by a header that is no header name",
            translate_one(
                in_flight_req::from_config,
                json!({"amount": 1, "sourceCriterion": {"requestHeaderName": "a b"}}),
            ),
            Fails("sourceCriterion.requestHeaderName: invalid header \"a b\""),
        ),
        (
            "rateLimit on redis without endpoints",
            translate_one(rate_limit::from_config, json!({"average": 5, "redis": {"endpoints": []}})),
            Fails("rateLimit.redis.endpoints is empty"),
        ),
        (
            "retry without attempts",
            translate_one(retry::from_config, json!({})),
            Fails("retry: attempts must be greater than 0"),
        ),
        (
            "retry with attempts",
            translate_one(retry::from_config, json!({"attempts": 2})),
            Builds(&[]),
        ),
        (
            "buffering with a negative limit",
            translate_one(buffering::from_config, json!({"maxRequestBodyBytes": -1})),
            Fails("buffering.maxRequestBodyBytes must not be negative"),
        ),
        (
            "circuitBreaker answering with no status",
            translate_one(
                circuit_breaker::from_config,
                json!({"expression": "NetworkErrorRatio() > 0.5", "responseCode": 1000}),
            ),
            Fails("circuitBreaker.responseCode 1000 is not a status"),
        ),
        (
            "contentType with the deprecated autoDetect",
            translate_one(content_type::from_config, json!({"autoDetect": true})),
            Builds(&["contentType.autoDetect is deprecated: the middleware only enables detection; remove the option"]),
        ),
        (
            "contentType as written today",
            translate_one(content_type::from_config, json!({})),
            Builds(&[]),
        ),
    ];
    for (what, got, expect) in cases {
        match (got, expect) {
            (Ok(warnings), Builds(want)) => assert_eq!(warnings, want, "{what}"),
            (Err(e), Fails(want)) => assert!(e.starts_with(want), "{what}: got {e:?}"),
            (Ok(w), Fails(want)) => panic!("{what}: built (warnings {w:?}), expected {want:?}"),
            (Err(e), Builds(_)) => panic!("{what}: failed with {e:?}"),
        }
    }
}

#[test]
fn content_type_auto_detect_off_leaves_the_chain_as_it_was() {
    let next: BoxHandler = super::noop();
    for (auto_detect, wraps) in [(false, false), (true, true)] {
        let config = serde_json::from_value(json!({"autoDetect": auto_detect}))
            .expect("contentType settings decode");
        let factory = super::content_type::from_config(config, &mut TranslateCtx::new("m@file"))
            .expect("contentType builds");
        let built = factory(next.clone());
        assert_eq!(
            !Arc::ptr_eq(&built, &next),
            wraps,
            "autoDetect {auto_detect}"
        );
    }
}
