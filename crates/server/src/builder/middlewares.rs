//! Compiling middlewares: each definition becomes a factory that wraps a
//! router's next handler. A definition that does not decode or compile is
//! that middleware's error; unchanged definitions keep their factory.

use std::sync::Arc;

use regex::Regex;
use switchyard_config::dynamic::{
    decode_middleware, HttpConfiguration, Middleware, MiddlewareKind,
};
use switchyard_proxy::middlewares::{
    basic_auth, compress, in_flight_req, rate_limit, retry, AddPrefix, BasicAuth, Compress,
    CompressSettings, ErrorPages, Errors, Headers, HeadersSettings, InFlightReq, IpAllowList,
    IpStrategy, RateLimit, Redirect, ReplacePath, ReplacePathRegex, Retry, RetrySettings,
    StripPrefix, StripPrefixRegex,
};
use switchyard_proxy::middlewares::{
    buffering, circuit_breaker, digest_auth, encoded_characters, Buffering, CircuitBreaker,
    ContentType, DigestAuth, EncodedCharacters, ForwardAuth, ForwardAuthSettings, GrpcWeb,
};
use switchyard_proxy::BoxHandler;

use super::services::BuiltService;
use super::Builder;
use crate::merge::{provider_of, qualify};
use crate::runtime::{ElementInfo, RuntimeInfo};
use std::collections::HashMap;

/// Wraps the next handler of a chain.
pub type Wrap = Arc<dyn Fn(BoxHandler) -> BoxHandler + Send + Sync>;

/// A compiled middleware.
#[derive(Clone)]
pub enum CompiledMiddleware {
    Wrap(Wrap),
    /// A `chain`: the referenced names, as written.
    Chain(Vec<String>),
}

/// Compiles one middleware: its type name, the factory, and warnings that
/// leave it serving.
fn compile(
    m: &Middleware,
    name: &str,
    services: &HashMap<String, BuiltService>,
    upstream: &Arc<switchyard_proxy::upstream::Upstream>,
) -> Result<(String, CompiledMiddleware, Vec<String>), String> {
    let kind = decode_middleware(m).map_err(|e| e.to_string())?;
    let mut warnings = Vec::new();
    let wrap = CompiledMiddleware::Wrap;
    let (name, compiled) = match kind {
        MiddlewareKind::StripPrefix(c) => {
            let (prefixes, force) = (c.prefixes.clone(), c.force_slash.unwrap_or(false));
            (
                "stripprefix",
                wrap(Arc::new(move |next| {
                    Arc::new(StripPrefix::new(prefixes.clone(), force, next))
                })),
            )
        }
        MiddlewareKind::StripPrefixRegex(c) => {
            for r in &c.regex {
                Regex::new(r).map_err(|e| format!("stripPrefixRegex: invalid regex {r:?}: {e}"))?;
            }
            let regexes = c.regex.clone();
            (
                "stripprefixregex",
                wrap(Arc::new(move |next| {
                    match StripPrefixRegex::new(&regexes, next.clone()) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::AddPrefix(c) => {
            let prefix = c.prefix.clone();
            if prefix.is_empty() {
                return Err("addPrefix: prefix cannot be empty".into());
            }
            (
                "addprefix",
                wrap(Arc::new(move |next| {
                    Arc::new(AddPrefix::new(prefix.clone(), next))
                })),
            )
        }
        MiddlewareKind::ReplacePath(c) => {
            let path = c.path.clone();
            (
                "replacepath",
                wrap(Arc::new(move |next| {
                    Arc::new(ReplacePath::new(path.clone(), next))
                })),
            )
        }
        MiddlewareKind::ReplacePathRegex(c) => {
            let regex = Regex::new(&c.regex)
                .map_err(|e| format!("replacePathRegex: invalid regex {:?}: {e}", c.regex))?;
            let (pattern, replacement) = (regex.as_str().to_string(), c.replacement.clone());
            (
                "replacepathregex",
                wrap(Arc::new(move |next| {
                    match ReplacePathRegex::new(&pattern, replacement.clone(), next.clone()) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::Headers(c) => {
            for field in c.deprecated_fields() {
                warnings.push(format!(
                    "headers.{field} is deprecated in Traefik v3 and has no effect"
                ));
            }
            let settings = headers_settings(&c);
            let defined = !settings.custom_request_headers.is_empty()
                || !settings.custom_response_headers.is_empty()
                || Headers::new(settings.clone(), Arc::new(NoopHandler))
                    .is_ok_and(|h| h.defines_anything());
            if !defined {
                return Err("headers configuration not valid".into());
            }
            Headers::new(settings.clone(), Arc::new(NoopHandler))
                .map_err(|e| format!("headers: {e}"))?;
            (
                "headers",
                wrap(Arc::new(move |next| {
                    match Headers::new(settings.clone(), next.clone()) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::Chain(c) => ("chain", CompiledMiddleware::Chain(c.middlewares.clone())),
        MiddlewareKind::RedirectScheme(c) => {
            Redirect::scheme(&c.scheme, &c.port, c.permanent, Arc::new(NoopHandler))?;
            (
                "redirectscheme",
                wrap(Arc::new(move |next| {
                    match Redirect::scheme(&c.scheme, &c.port, c.permanent, next.clone()) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::RedirectRegex(c) => {
            Redirect::regex(&c.regex, &c.replacement, c.permanent, Arc::new(NoopHandler))?;
            (
                "redirectregex",
                wrap(Arc::new(move |next| {
                    match Redirect::regex(&c.regex, &c.replacement, c.permanent, next.clone()) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::IpAllowList(c) => {
            let strategy = ip_strategy(c.ip_strategy.as_ref())?;
            IpAllowList::new(
                &c.source_range,
                strategy.clone(),
                c.reject_status_code,
                Arc::new(NoopHandler),
            )?;
            (
                // The deprecated name keeps its own type in the API.
                if m.0.keys().any(|k| k.eq_ignore_ascii_case("ipwhitelist")) {
                    "ipwhitelist"
                } else {
                    "ipallowlist"
                },
                wrap(Arc::new(move |next| {
                    match IpAllowList::new(
                        &c.source_range,
                        strategy.clone(),
                        c.reject_status_code,
                        next.clone(),
                    ) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::InFlightReq(c) => {
            let limit = u64::try_from(c.amount)
                .ok()
                .filter(|a| *a > 0)
                .ok_or("inFlightReq: amount must be greater than 0")?;
            let source = source_criterion(c.source_criterion.as_ref())?;
            let counters = Arc::new(in_flight_req::Counters::default());
            (
                "inflightreq",
                wrap(Arc::new(move |next| {
                    Arc::new(InFlightReq::new(
                        limit,
                        source.clone(),
                        counters.clone(),
                        next,
                    )) as BoxHandler
                })),
            )
        }
        MiddlewareKind::RateLimit(c) => {
            let buckets = Arc::new(rate_limit::Buckets::new(
                c.average,
                c.period.into(),
                c.burst,
            )?);
            let limiter = match &c.redis {
                None => rate_limit::Limiter::Memory(buckets),
                Some(r) => {
                    // `redis.tls` is refused before this (see dynamic_keys.txt).
                    let timeout = |d: Option<switchyard_config::Duration>| {
                        d.map(std::time::Duration::from).filter(|d| !d.is_zero())
                    };
                    let settings = switchyard_proxy::redis::Settings {
                        endpoints: r.endpoints.clone(),
                        username: r.username.clone(),
                        password: r.password.clone(),
                        db: r.db,
                        pool_size: usize::try_from(r.pool_size)
                            .ok()
                            .filter(|n| *n > 0)
                            .unwrap_or(10),
                        dial_timeout: timeout(r.dial_timeout)
                            .unwrap_or(std::time::Duration::from_secs(5)),
                        read_timeout: timeout(r.read_timeout),
                        write_timeout: timeout(r.write_timeout),
                    };
                    if settings.endpoints.is_empty() {
                        return Err("rateLimit.redis.endpoints is empty".into());
                    }
                    rate_limit::Limiter::Redis(Arc::new(rate_limit::RedisBuckets::new(
                        name,
                        settings,
                        buckets,
                        r.fail_open.unwrap_or(true),
                    )))
                }
            };
            let source = source_criterion(c.source_criterion.as_ref())?;
            (
                "ratelimit",
                wrap(Arc::new(move |next| {
                    Arc::new(RateLimit::new(limiter.clone(), source.clone(), next)) as BoxHandler
                })),
            )
        }
        MiddlewareKind::Compress(c) => {
            let settings = CompressSettings {
                encodings: c.encodings.clone(),
                default_encoding: c.default_encoding.clone().filter(|d| !d.is_empty()),
                excluded_content_types: c.excluded_content_types.clone(),
                included_content_types: c.included_content_types.clone(),
                min_response_body_bytes: usize::try_from(c.min_response_body_bytes)
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or(1024),
            };
            Compress::new(settings.clone(), Arc::new(NoopHandler))
                .map_err(|e| format!("compress: {e}"))?;
            // One pool of compressors for every chain of this definition.
            let pool = Arc::new(compress::DeflatePool::default());
            (
                "compress",
                wrap(Arc::new(move |next| {
                    match Compress::new(settings.clone(), next.clone()) {
                        Ok(m) => Arc::new(m.with_pool(pool.clone())) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::Retry(c) => {
            let settings = RetrySettings {
                attempts: u32::try_from(c.attempts)
                    .ok()
                    .filter(|a| *a > 0)
                    .ok_or("retry: attempts must be greater than 0")?,
                initial_interval: c.initial_interval.into(),
                timeout: (!c.timeout.is_zero()).then(|| c.timeout.into()),
                status: retry::parse_status_ranges(&c.status).map_err(|e| format!("retry: {e}"))?,
                disable_on_network_error: c.disable_retry_on_network_error,
                retry_non_idempotent: c.retry_non_idempotent_method,
                // Negative: no limit.
                max_body_bytes: match c.max_request_body_bytes {
                    Some(n) if n < 0 => usize::MAX,
                    Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                    None => 2 * 1024 * 1024,
                },
            };
            (
                "retry",
                wrap(Arc::new(move |next| {
                    match Retry::new(settings.clone(), next.clone()) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::Errors(c) => {
            if c.status.is_empty() {
                return Err("errors: status is required".into());
            }
            let status =
                retry::parse_status_ranges(&c.status).map_err(|e| format!("errors: {e}"))?;
            let mut rewrites = Vec::new();
            for (from, to) in &c.status_rewrites {
                let ranges = retry::parse_status_ranges(std::slice::from_ref(from))
                    .map_err(|e| format!("errors.statusRewrites: {e}"))?;
                let to = u16::try_from(*to)
                    .ok()
                    .filter(|t| (100..=599).contains(t))
                    .ok_or_else(|| format!("errors.statusRewrites: invalid status {to}"))?;
                rewrites.push((ranges, to));
            }
            let service_name = qualify(&c.service, provider_of(name));
            let service = services
                .get(&service_name)
                .ok_or_else(|| format!("errors: the service \"{service_name}\" does not exist"))?
                .handler
                .clone();
            let request_headers = c
                .error_request_headers
                .as_ref()
                .map(|names| {
                    names
                        .iter()
                        .map(|n| {
                            http::HeaderName::from_bytes(n.as_bytes()).map_err(|_| {
                                format!("errors.errorRequestHeaders: invalid header {n:?}")
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            let pages = ErrorPages {
                status,
                rewrites,
                service,
                query: c.query.clone(),
                request_headers,
            };
            (
                "customerrors",
                wrap(Arc::new(move |next| {
                    Arc::new(Errors::new(pages.clone(), next)) as BoxHandler
                })),
            )
        }
        MiddlewareKind::ForwardAuth(c) => {
            let address: http::Uri = c
                .address
                .parse()
                .map_err(|e| format!("forwardAuth.address {:?}: {e}", c.address))?;
            if address.scheme_str() != Some("http") && address.scheme_str() != Some("https") {
                return Err(format!(
                    "forwardAuth.address {:?}: expected an http:// or https:// URL",
                    c.address
                ));
            }
            let names = |list: &[String], field: &str| -> Result<Vec<http::HeaderName>, String> {
                list.iter()
                    .map(|n| {
                        http::HeaderName::from_bytes(n.as_bytes())
                            .map_err(|_| format!("forwardAuth.{field}: invalid header {n:?}"))
                    })
                    .collect()
            };
            let regex = (!c.auth_response_headers_regex.is_empty())
                .then(|| Regex::new(&format!("(?i){}", c.auth_response_headers_regex)))
                .transpose()
                .map_err(|e| format!("forwardAuth.authResponseHeadersRegex: {e}"))?;
            let settings = ForwardAuthSettings {
                address,
                trust_forward_header: c.trust_forward_header,
                auth_response_headers: names(&c.auth_response_headers, "authResponseHeaders")?,
                auth_response_headers_regex: regex,
                auth_request_headers: names(&c.auth_request_headers, "authRequestHeaders")?,
                add_auth_cookies_to_response: c.add_auth_cookies_to_response.clone(),
                preserve_location_header: c.preserve_location_header,
                preserve_request_method: c.preserve_request_method,
                forward_body: c.forward_body,
                max_body_size: c.max_body_size.and_then(|n| usize::try_from(n).ok()),
                auth_signin_url: c.auth_signin_url.clone().filter(|u| !u.is_empty()),
            };
            if c.forward_body && c.max_body_size.is_none_or(|n| n < 0) {
                warnings.push("forwardAuth.forwardBody without maxBodySize: request bodies of any size are read into memory".into());
            }
            let client = match &c.tls {
                None => upstream.clone(),
                Some(tls) => Arc::new(forward_auth_client(tls, &mut warnings)?),
            };
            (
                "forwardauth",
                wrap(Arc::new(move |next| {
                    Arc::new(ForwardAuth::new(settings.clone(), client.clone(), next)) as BoxHandler
                })),
            )
        }
        MiddlewareKind::BasicAuth(c) => {
            let users = Arc::new(
                basic_auth::Users::parse(&c.users, c.users_file.as_deref())
                    .map_err(|e| format!("basicAuth: {e}"))?,
            );
            BasicAuth::new(
                users.clone(),
                c.realm.as_deref(),
                c.header_field.as_deref(),
                c.remove_header,
                Arc::new(NoopHandler),
            )?;
            (
                "basicauth",
                wrap(Arc::new(move |next| {
                    match BasicAuth::new(
                        users.clone(),
                        c.realm.as_deref(),
                        c.header_field.as_deref(),
                        c.remove_header,
                        next.clone(),
                    ) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::DigestAuth(c) => {
            let digest = Arc::new(digest_auth::Digest::new(
                digest_auth::DigestUsers::parse(&c.users, c.users_file.as_deref())
                    .map_err(|e| format!("digestAuth: {e}"))?,
                c.realm.as_deref(),
            ));
            DigestAuth::new(
                digest.clone(),
                c.header_field.as_deref(),
                c.remove_header,
                Arc::new(NoopHandler),
            )?;
            (
                "digestauth",
                wrap(Arc::new(move |next| {
                    match DigestAuth::new(
                        digest.clone(),
                        c.header_field.as_deref(),
                        c.remove_header,
                        next.clone(),
                    ) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::ContentType(c) => {
            let enabled = match c.auto_detect {
                Some(on) => {
                    warnings.push("contentType.autoDetect is deprecated: the middleware only enables detection; remove the option".to_string());
                    on
                }
                None => true,
            };
            (
                "contenttype",
                wrap(Arc::new(move |next| {
                    if enabled {
                        Arc::new(ContentType::new(next)) as BoxHandler
                    } else {
                        next
                    }
                })),
            )
        }
        MiddlewareKind::EncodedCharacters(c) => {
            let allowed = encoded_characters::Allowed {
                slash: c.allow_encoded_slash,
                back_slash: c.allow_encoded_back_slash,
                null: c.allow_encoded_null_character,
                semicolon: c.allow_encoded_semicolon,
                percent: c.allow_encoded_percent,
                question_mark: c.allow_encoded_question_mark,
                hash: c.allow_encoded_hash,
            };
            (
                "encodedcharacters",
                wrap(Arc::new(move |next| {
                    Arc::new(EncodedCharacters::new(allowed, next)) as BoxHandler
                })),
            )
        }
        MiddlewareKind::Buffering(c) => {
            let size = |n: i64, what: &str| {
                u64::try_from(n).map_err(|_| format!("buffering.{what} must not be negative"))
            };
            let mem =
                |n: i64, what: &str| size(n, what).map(|n| if n == 0 { 1024 * 1024 } else { n });
            let settings = buffering::Settings {
                max_request_body_bytes: size(c.max_request_body_bytes, "maxRequestBodyBytes")?,
                mem_request_body_bytes: mem(c.mem_request_body_bytes, "memRequestBodyBytes")?,
                max_response_body_bytes: size(c.max_response_body_bytes, "maxResponseBodyBytes")?,
                mem_response_body_bytes: mem(c.mem_response_body_bytes, "memResponseBodyBytes")?,
                retry_expression: c.retry_expression.clone(),
            };
            Buffering::new(settings.clone(), Arc::new(NoopHandler))?;
            (
                "buffering",
                wrap(Arc::new(move |next| {
                    match Buffering::new(settings.clone(), next.clone()) {
                        Ok(m) => Arc::new(m) as BoxHandler,
                        Err(_) => next,
                    }
                })),
            )
        }
        MiddlewareKind::CircuitBreaker(c) => {
            let response_code = u16::try_from(c.response_code)
                .ok()
                .and_then(|s| http::StatusCode::from_u16(s).ok())
                .ok_or_else(|| {
                    format!(
                        "circuitBreaker.responseCode {} is not a status",
                        c.response_code
                    )
                })?;
            let breaker = Arc::new(circuit_breaker::Breaker::new(circuit_breaker::Settings {
                expression: c.expression.clone(),
                check_period: c.check_period.into(),
                fallback_duration: c.fallback_duration.into(),
                recovery_duration: c.recovery_duration.into(),
                response_code,
            })?);
            (
                "circuitbreaker",
                wrap(Arc::new(move |next| {
                    Arc::new(CircuitBreaker::new(breaker.clone(), next)) as BoxHandler
                })),
            )
        }
        MiddlewareKind::GrpcWeb(c) => {
            let origins = c.allow_origins.clone();
            (
                "grpcweb",
                wrap(Arc::new(move |next| {
                    Arc::new(GrpcWeb::new(origins.clone(), next)) as BoxHandler
                })),
            )
        }
        MiddlewareKind::PassTlsClientCert(c) => {
            use switchyard_proxy::middlewares::pass_tls_client_cert as p;
            let dn = |d: &Option<switchyard_config::middlewares::CertDn>| {
                d.as_ref().map(|d| p::DnFields {
                    country: d.country,
                    province: d.province,
                    locality: d.locality,
                    organization: d.organization,
                    organizational_unit: d.organizational_unit,
                    common_name: d.common_name,
                    serial_number: d.serial_number,
                    domain_component: d.domain_component,
                })
            };
            let settings = Arc::new(p::Settings {
                pem: c.pem,
                info: c.info.as_ref().map(|i| p::InfoFields {
                    not_after: i.not_after,
                    not_before: i.not_before,
                    sans: i.sans,
                    serial_number: i.serial_number,
                    subject: dn(&i.subject),
                    issuer: dn(&i.issuer),
                }),
            });
            (
                "passtlsclientcert",
                wrap(Arc::new(move |next| {
                    Arc::new(p::PassTlsClientCert::new(settings.clone(), next)) as BoxHandler
                })),
            )
        }
        MiddlewareKind::Other { kind, .. } => {
            return Err(format!(
                "middleware type {kind:?} is not supported yet by Switchyard"
            ));
        }
    };
    Ok((name.to_string(), compiled, warnings))
}

/// The client of a `forwardAuth` with a `tls` section (`ca`, `cert`,
/// `key`, `insecureSkipVerify`; `caOptional` is deprecated and ignored).
fn forward_auth_client(
    tls: &switchyard_config::Node,
    warnings: &mut Vec<String>,
) -> Result<switchyard_proxy::upstream::Upstream, String> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct ClientTls {
        ca: String,
        cert: String,
        key: String,
        insecure_skip_verify: bool,
        ca_optional: Option<bool>,
    }
    let c: ClientTls =
        switchyard_config::decode::from_node(tls).map_err(|e| format!("forwardAuth.tls: {e}"))?;
    if c.ca_optional.is_some() {
        warnings.push("forwardAuth.tls.caOptional is deprecated and has no effect".into());
    }
    if c.cert.is_empty() != c.key.is_empty() {
        return Err("forwardAuth.tls: cert and key go together".into());
    }
    let settings = switchyard_proxy::upstream::TransportSettings {
        insecure_skip_verify: c.insecure_skip_verify,
        root_cas: if c.ca.is_empty() {
            Vec::new()
        } else {
            vec![c.ca]
        },
        certificates: if c.cert.is_empty() {
            Vec::new()
        } else {
            vec![(c.cert, c.key)]
        },
        ..switchyard_proxy::upstream::TransportSettings::default()
    };
    switchyard_proxy::upstream::Upstream::new(settings).map_err(|e| format!("forwardAuth.tls: {e}"))
}

/// The identity of the service an `errors` middleware calls, if any.
fn error_service(
    m: &Middleware,
    name: &str,
    services: &HashMap<String, BuiltService>,
) -> Option<usize> {
    let node =
        m.0.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("errors"))
            .map(|(_, n)| n)?;
    let target = node.get("service")?.to_json();
    let target = qualify(target.as_str()?, provider_of(name));
    services
        .get(&target)
        .map(|s| Arc::as_ptr(&s.handler) as *const () as usize)
}

fn headers_settings(c: &switchyard_config::middlewares::Headers) -> HeadersSettings {
    let pairs = |m: &std::collections::BTreeMap<String, String>| {
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    HeadersSettings {
        custom_request_headers: pairs(&c.custom_request_headers),
        custom_response_headers: pairs(&c.custom_response_headers),
        allow_credentials: c.access_control_allow_credentials,
        allow_headers: c.access_control_allow_headers.clone(),
        allow_methods: c.access_control_allow_methods.clone(),
        allow_origin_list: c.access_control_allow_origin_list.clone(),
        allow_origin_list_regex: c.access_control_allow_origin_list_regex.clone(),
        expose_headers: c.access_control_expose_headers.clone(),
        max_age: c.access_control_max_age,
        add_vary_header: c.add_vary_header,
        allowed_hosts: c.allowed_hosts.clone(),
        hosts_proxy_headers: c.hosts_proxy_headers.clone(),
        ssl_proxy_headers: pairs(&c.ssl_proxy_headers),
        sts_seconds: c.sts_seconds,
        sts_include_subdomains: c.sts_include_subdomains,
        sts_preload: c.sts_preload,
        force_sts_header: c.force_sts_header,
        frame_deny: c.frame_deny,
        custom_frame_options_value: c.custom_frame_options_value.clone(),
        content_type_nosniff: c.content_type_nosniff,
        browser_xss_filter: c.browser_xss_filter,
        custom_browser_xss_value: c.custom_browser_xss_value.clone(),
        content_security_policy: c.content_security_policy.clone(),
        content_security_policy_report_only: c.content_security_policy_report_only.clone(),
        public_key: c.public_key.clone(),
        referrer_policy: c.referrer_policy.clone(),
        permissions_policy: c.permissions_policy.clone(),
        is_development: c.is_development,
    }
}

fn ip_strategy(
    s: Option<&switchyard_config::middlewares::IpStrategy>,
) -> Result<IpStrategy, String> {
    match s {
        Some(s) => IpStrategy::new(s.depth, &s.excluded_ips, s.ipv6_subnet),
        None => Ok(IpStrategy::default()),
    }
}

fn source_criterion(
    c: Option<&switchyard_config::middlewares::SourceCriterion>,
) -> Result<in_flight_req::Source, String> {
    let Some(c) = c else {
        return Ok(in_flight_req::Source::Ip(IpStrategy::default()));
    };
    if let Some(h) = c.request_header_name.as_deref().filter(|h| !h.is_empty()) {
        let name = http::HeaderName::from_bytes(h.as_bytes())
            .map_err(|_| format!("sourceCriterion.requestHeaderName: invalid header {h:?}"))?;
        return Ok(in_flight_req::Source::Header(name));
    }
    if c.request_host {
        return Ok(in_flight_req::Source::Host);
    }
    Ok(in_flight_req::Source::Ip(ip_strategy(
        c.ip_strategy.as_ref(),
    )?))
}

/// A middleware as the API shows it: Traefik's field names with defaults
/// filled in, zero values left out unless they were written.
fn api_json(m: &Middleware) -> serde_json::Value {
    let raw = m.to_json();
    let Ok(kind) = decode_middleware(m) else {
        return raw;
    };
    let Some((mut key, typed)) = kind.settings_json() else {
        return raw;
    };
    let Some((raw_key, raw_section)) = raw.as_object().and_then(|o| o.iter().next()) else {
        return raw;
    };
    if raw_key.eq_ignore_ascii_case("ipwhitelist") {
        key = "ipWhiteList".into();
    }
    let mut out = serde_json::Map::new();
    out.insert(key, prune(typed, Some(raw_section)));
    serde_json::Value::Object(out)
}

fn is_zero(v: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match v {
        Null => true,
        Bool(b) => !b,
        Number(n) => n.as_f64() == Some(0.0),
        String(s) => s.is_empty(),
        Array(a) => a.is_empty(),
        Object(o) => o.is_empty(),
    }
}

fn prune(typed: serde_json::Value, raw: Option<&serde_json::Value>) -> serde_json::Value {
    let serde_json::Value::Object(fields) = typed else {
        return typed;
    };
    let raw_fields = raw.and_then(|r| r.as_object());
    let mut out = serde_json::Map::new();
    for (k, v) in fields {
        let written = raw_fields.and_then(|r| {
            r.iter()
                .find(|(rk, _)| rk.eq_ignore_ascii_case(&k))
                .map(|(_, rv)| rv)
        });
        let v = prune(v, written);
        if written.is_none() && is_zero(&v) {
            continue;
        }
        out.insert(k, v);
    }
    serde_json::Value::Object(out)
}

/// Stands in for `next` while validating a middleware's settings.
struct NoopHandler;

impl switchyard_proxy::Handler for NoopHandler {
    fn call(&self, _req: switchyard_proxy::Request) -> switchyard_proxy::HandlerFuture {
        Box::pin(async { Err(switchyard_proxy::ProxyError::NotFound) })
    }
}

/// A compiled middleware with the definition it came from.
pub struct Cached {
    config: Middleware,
    /// The service it calls (errors pages), by handler identity: a new
    /// instance of that service means a new middleware.
    service: Option<usize>,
    kind: String,
    compiled: CompiledMiddleware,
    warnings: Vec<String>,
}

impl Builder {
    pub(super) fn compile_middlewares(
        &mut self,
        http: &HttpConfiguration,
        services: &HashMap<String, BuiltService>,
        info: &mut RuntimeInfo,
    ) {
        let mut previous = std::mem::take(&mut self.middlewares);
        for (name, m) in &http.middlewares {
            let mut el = ElementInfo::new(name, api_json(m));
            for w in m.1.warnings() {
                tracing::warn!(middleware = %name, "{w}");
                el.warn(w);
            }
            if let Some(e) = m.1.error() {
                tracing::error!(middleware = %name, "{e}");
                el.fail(e);
                previous.remove(name);
                info.middlewares.insert(name.clone(), el);
                continue;
            }
            let service = error_service(m, name, services);
            // An unchanged definition keeps its instance, and so its state.
            let cached = match previous
                .remove(name)
                .filter(|c| c.config == *m && c.service == service)
            {
                Some(c) => Ok(c),
                None => compile(m, name, services, &self.default_upstream).map(
                    |(kind, compiled, warnings)| Cached {
                        config: m.clone(),
                        service,
                        kind,
                        compiled,
                        warnings,
                    },
                ),
            };
            match cached {
                Ok(c) => {
                    for w in &c.warnings {
                        tracing::warn!(middleware = %name, "{w}");
                        el.warn(w.clone());
                    }
                    el.kind = Some(c.kind.clone());
                    self.middlewares.insert(name.clone(), c);
                }
                Err(e) => el.fail(e),
            }
            info.middlewares.insert(name.clone(), el);
        }
    }

    /// The compiled middleware `name` (qualified), if it built.
    pub(super) fn middleware(&self, name: &str) -> Option<&CompiledMiddleware> {
        self.middlewares.get(name).map(|c| &c.compiled)
    }
}
