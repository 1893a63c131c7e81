//! From the static configuration to the server's settings: the
//! entrypoints' settings, the builder's [`StaticView`], the internal
//! provider's [`InternalSettings`], and the checks that stop a start.
//!
//! Plain functions of a [`StaticConfiguration`]; the binary calls them at
//! start-up. Every error names the static key it comes from
//! (`entryPoints.web.proxyProtocol.trustedIPs: ...`).

use std::fmt;
use std::time::Duration;

use switchyard_config::static_config::StaticConfiguration;
use switchyard_proxy::forwarded::{AliasHeaders, ForwardedHeaders};
use switchyard_proxy::middlewares::encoded_characters::Allowed;
use switchyard_proxy::upstream::TransportSettings;
use switchyard_rules::Syntax;

use crate::acme::Challenges;
use crate::entrypoint::{parse_address, EntryPointSettings};
use crate::internal::{InternalSettings, Redirection, MAX_PRIORITY};
use crate::protocols::Http2Limits;
use crate::proxy_protocol::ProxyProtocol;
use crate::StaticView;

#[cfg(test)]
mod tests;

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A static configuration value Switchyard cannot start with, named by its
/// key (and, when known, where it was written).
#[derive(Debug)]
pub struct StaticError {
    /// Where the value was written (`file:line:col`, `flag --x`), when known.
    pub location: Option<String>,
    /// The static key, e.g. `entryPoints.web.http2`.
    pub key: String,
    cause: Cause,
}

impl StaticError {
    fn new(key: impl Into<String>, cause: impl Into<Cause>) -> StaticError {
        StaticError {
            location: None,
            key: key.into(),
            cause: cause.into(),
        }
    }
}

impl fmt::Display for StaticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.location {
            write!(f, "{at}: ")?;
        }
        write!(f, "{}: {}", self.key, self.cause)
    }
}

impl std::error::Error for StaticError {
    // The cause is already in the message; what lies below it comes next.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.source()
    }
}

fn non_zero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// Idle connections kept per server for a `maxIdleConnsPerHost` as Go's
/// HTTP transport reads it (Traefik hands the value to it unchanged): 0
/// is Go's default of 2, a negative value keeps none.
pub(crate) fn idle_per_host(max_idle_conns_per_host: i64) -> usize {
    match max_idle_conns_per_host {
        0 => 2,
        n => usize::try_from(n).unwrap_or(0),
    }
}

/// The checks that stop a start before anything is bound:
/// `core.defaultRuleSyntax` and `providers.precedence`.
pub fn check(config: &StaticConfiguration) -> Result<(), StaticError> {
    default_rule_syntax(config)?;
    check_precedence(config)
}

/// The settings of every TCP entrypoint of `config` (the UDP ones are
/// [`udp_entrypoint_settings`]). `host` is this machine's name (the
/// `X-Forwarded-Server` value); `challenges` the ACME HTTP-01 answers the
/// entrypoints serve, when a resolver exists.
pub fn entrypoint_settings(
    config: &StaticConfiguration,
    host: &str,
    challenges: &Option<Challenges>,
) -> Result<Vec<EntryPointSettings>, StaticError> {
    let global_not_append = config
        .global
        .as_ref()
        .is_some_and(|g| g.not_append_x_forwarded_for);
    let mut out = Vec::with_capacity(config.entry_points.len());
    for (name, ep) in config.entry_points.iter().filter(|(_, ep)| !is_udp(ep)) {
        let key = |sub: &str| format!("entryPoints.{name}.{sub}");
        let fh = &ep.forwarded_headers;
        let aliases = AliasHeaders::from_config(
            &ep.http.underscore_headers_strategy,
            &ep.http.alias_headers_strategy,
        )
        .map_err(|e| StaticError::new(key("http"), e))?;
        let forwarded = ForwardedHeaders::new(fh.insecure, &fh.trusted_ips, host)
            .map_err(|e| StaticError::new(key("forwardedHeaders.trustedIPs"), e))?
            .with_alias_headers(aliases)
            .with_connection(&fh.connection)
            .map_err(|e| StaticError::new(key("forwardedHeaders.connection"), e))?
            .with_not_append_forwarded_for(fh.not_append_x_forwarded_for || global_not_append);
        let proxy_protocol = match &ep.proxy_protocol {
            Some(pp) => Some(
                ProxyProtocol::new(pp.insecure, &pp.trusted_ips)
                    .map_err(|e| StaticError::new(key("proxyProtocol.trustedIPs"), e))?,
            ),
            None => None,
        };
        let t = &ep.transport;
        let keep_alive_max_requests = match t.keep_alive_max_requests {
            Some(n) if n < 0 => {
                return Err(StaticError::new(
                    key("transport.keepAliveMaxRequests"),
                    format!("{n} is negative"),
                ))
            }
            Some(n) => u64::try_from(n).unwrap_or(0),
            None => 0,
        };
        let http3 = match &ep.http3 {
            Some(h3) => Some(u16::try_from(h3.advertised_port).map_err(|_| {
                StaticError::new(
                    key("http3.advertisedPort"),
                    format!("{} is not a port (0-65535)", h3.advertised_port),
                )
            })?),
            None => None,
        };
        let http2 = Http2Limits::new(
            ep.http2.max_concurrent_streams,
            ep.http2.max_decoder_header_table_size,
            ep.http2.max_encoder_header_table_size,
        )
        .map_err(|e| StaticError::new(key("http2"), e))?;
        out.push(EntryPointSettings {
            name: name.clone(),
            address: ep.address.clone(),
            forwarded,
            read_timeout: non_zero(t.responding_timeouts.read_timeout.into()),
            write_timeout: non_zero(t.responding_timeouts.write_timeout.into()),
            idle_timeout: non_zero(t.responding_timeouts.idle_timeout.into()),
            grace_timeout: t.life_cycle.grace_time_out.into(),
            request_accept_grace_timeout: t.life_cycle.request_accept_grace_timeout.into(),
            sanitize_path: ep.http.sanitize_path,
            max_header_bytes: usize::try_from(ep.http.max_header_bytes).unwrap_or(1 << 20),
            acme_challenges: challenges.clone(),
            http3,
            alt_svc: None,
            proxy_protocol,
            keep_alive_max_requests,
            keep_alive_max_time: t.keep_alive_max_time.map(Into::into).and_then(non_zero),
            reuse_port: ep.reuse_port,
            encode_query_semicolons: ep.http.encode_query_semicolons,
            allow_acme_by_pass: ep.allow_acme_by_pass,
            http2,
            access_log: None,
            log_unrouted: ep
                .observability
                .as_ref()
                .and_then(|o| o.access_logs)
                .unwrap_or(true),
            tracer: None,
            trace_unrouted: switchyard_proxy::trace::Verbosity::of_router_on(
                None,
                ep.observability.as_ref(),
            ),
            metrics: None,
        });
    }
    Ok(out)
}

/// What the builder needs of the static configuration.
pub fn static_view(config: &StaticConfiguration) -> StaticView {
    let (udp, tcp): (Vec<_>, Vec<_>) = config.entry_points.iter().partition(|(_, e)| is_udp(e));
    let entrypoints: Vec<String> = tcp.iter().map(|(n, _)| (*n).clone()).collect();
    let udp_entrypoints = udp.iter().map(|(n, _)| (*n).clone()).collect();
    let as_default: Vec<String> = tcp
        .iter()
        .filter(|(_, e)| e.as_default)
        .map(|(n, _)| (*n).clone())
        .collect();
    // Without asDefault, routers that name no entrypoint attach to all of
    // them but the internal `traefik` one, as in Traefik.
    let default_entrypoints = if as_default.is_empty() {
        entrypoints
            .iter()
            .filter(|n| n.as_str() != "traefik" || entrypoints.len() == 1)
            .cloned()
            .collect()
    } else {
        as_default
    };
    let entrypoint_middlewares = config
        .entry_points
        .iter()
        .map(|(n, e)| (n.clone(), e.http.middlewares.clone()))
        .collect();
    let entrypoint_encoded = config
        .entry_points
        .iter()
        .filter_map(|(n, e)| {
            let c = e.http.encoded_characters.as_ref()?;
            let allowed = Allowed {
                slash: c.allow_encoded_slash,
                back_slash: c.allow_encoded_back_slash,
                null: c.allow_encoded_null_character,
                semicolon: c.allow_encoded_semicolon,
                percent: c.allow_encoded_percent,
                question_mark: c.allow_encoded_question_mark,
                hash: c.allow_encoded_hash,
            };
            (allowed != Allowed::ALL).then(|| (n.clone(), allowed))
        })
        .collect();
    let entrypoint_observability = config
        .entry_points
        .iter()
        .filter_map(|(n, e)| e.observability.clone().map(|o| (n.clone(), o)))
        .collect();
    let entrypoint_tls = config
        .entry_points
        .iter()
        .filter_map(|(n, e)| e.http.tls.clone().map(|t| (n.clone(), t)))
        .collect();
    let provider_precedence = config
        .providers
        .as_ref()
        .filter(|p| !p.precedence.is_empty())
        .map(|p| {
            p.precedence
                .iter()
                .map(|name| name.trim().to_string())
                .collect()
        });
    StaticView {
        provider_precedence,
        entrypoint_tls,
        entrypoint_encoded,
        entrypoints,
        udp_entrypoints,
        default_entrypoints,
        entrypoint_middlewares,
        entrypoint_observability,
        default_transport: default_transport(config),
        default_tcp_transport: config.tcp_servers_transport.clone().unwrap_or_default(),
        default_rule_syntax: default_rule_syntax(config).ok().flatten(),
        tracing: config.tracing.is_some(),
        entrypoint_configs: std::sync::Arc::new(config.entry_points.clone()),
    }
}

/// The static `serversTransport`: the transport of services that name none.
pub fn default_transport(config: &StaticConfiguration) -> TransportSettings {
    let st = config.servers_transport.clone().unwrap_or_default();
    let ft = st.forwarding_timeouts.clone().unwrap_or_default();
    TransportSettings {
        max_idle_conns_per_host: idle_per_host(st.max_idle()),
        dial_timeout: non_zero(ft.dial_timeout.into()),
        response_header_timeout: non_zero(ft.response_header_timeout.into()),
        idle_conn_timeout: non_zero(ft.idle_conn_timeout.into()),
        insecure_skip_verify: st.insecure_skip_verify,
        root_cas: st.root_cas.clone(),
        ..TransportSettings::default()
    }
}

/// The static `core.defaultRuleSyntax` (the key in any case): None when not
/// given, else `v2` or `v3`; any other value stops the start, as in Traefik.
pub fn default_rule_syntax(config: &StaticConfiguration) -> Result<Option<Syntax>, StaticError> {
    let Some(node) = config
        .core
        .as_ref()
        .and_then(|c| c.get("defaultRuleSyntax"))
    else {
        return Ok(None);
    };
    let text = match node.to_json() {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    Syntax::from_name(&text)
        .map(Some)
        .ok_or_else(|| StaticError {
            location: Some(node.location.to_string()),
            key: "core.defaultRuleSyntax".into(),
            cause: format!("unsupported default rule syntax configuration: {text:?} (v2 or v3)")
                .into(),
        })
}

/// `providers.precedence` names only Traefik's providers, as Traefik
/// requires.
pub fn check_precedence(config: &StaticConfiguration) -> Result<(), StaticError> {
    let known = switchyard_rules::DEFAULT_PROVIDER_PRECEDENCE;
    for name in config.providers.iter().flat_map(|p| p.precedence.iter()) {
        if !known.contains(&name.as_str()) {
            return Err(StaticError::new(
                "providers.precedence",
                format!(
                    "provider {name:?} is not a valid provider name (one of {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// `providers.providersThrottleDuration` when written; else none (Traefik's
/// default is 2s: Switchyard differs on purpose).
pub fn providers_throttle(config: &StaticConfiguration) -> Duration {
    config
        .providers
        .as_ref()
        .map(|p| p.providers_throttle_duration.into())
        .unwrap_or(Duration::ZERO)
}

/// What the internal provider serves: API, dashboard, ping and the
/// entrypoints' redirections.
pub fn internal_settings(config: &StaticConfiguration) -> Result<InternalSettings, StaticError> {
    let api = config.api.as_ref();
    let mut s = InternalSettings {
        api_insecure: api.is_some_and(|a| a.insecure),
        dashboard: api.is_some_and(|a| a.dashboard),
        ping_entrypoint: config
            .ping
            .as_ref()
            .filter(|p| !p.manual_routing)
            .map(|p| p.entry_point.clone()),
        prometheus_entrypoint: config
            .metrics
            .as_ref()
            .and_then(|m| m.prometheus.as_ref())
            .filter(|p| !p.manual_routing)
            .map(|p| p.entry_point.clone()),
        redirections: Vec::new(),
    };
    for (name, ep) in &config.entry_points {
        let Some(r) = ep
            .http
            .redirections
            .as_ref()
            .and_then(|r| r.entry_point.as_ref())
        else {
            continue;
        };
        let port = redirect_port(config, &r.to).map_err(|cause| StaticError {
            location: None,
            key: format!("entryPoints.{name}.http.redirections.entryPoint.to"),
            cause,
        })?;
        s.redirections.push(Redirection {
            from: name.clone(),
            to: r.to.clone(),
            scheme: r.scheme.clone(),
            port,
            permanent: r.permanent,
            allow_acme_by_pass: ep.allow_acme_by_pass,
            priority: if r.priority == 0 {
                MAX_PRIORITY - 1
            } else {
                r.priority
            },
        });
    }
    Ok(s)
}

/// The port a redirection's `to` names: `:443` itself, or the port of the
/// entrypoint called so (as Traefik reads it).
fn redirect_port(config: &StaticConfiguration, to: &str) -> Result<u16, Cause> {
    if let Some(digits) = to.strip_prefix(':') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return digits
                .parse()
                .map_err(|_| format!("{to:?} is not a port (0-65535)").into());
        }
    }
    let Some(target) = config.entry_points.get(to) else {
        return Err(
            format!("{to:?} is neither a port (\":443\") nor an existing entrypoint").into(),
        );
    };
    Ok(parse_address(to, &target.address)?.port())
}

/// Completes the list of what the configuration asks for and Switchyard
/// does not do yet (the keys the schema check took out) with what depends
/// on values.
pub fn not_implemented(
    config: StaticConfiguration,
    #[cfg_attr(feature = "http3", allow(unused_mut))] mut keys: Vec<String>,
) -> (StaticConfiguration, Vec<String>) {
    #[cfg(not(feature = "http3"))]
    for (name, ep) in &config.entry_points {
        if ep.http3.is_some() {
            keys.push(format!(
                "entryPoints.{name}.http3 (this build has no HTTP/3)"
            ));
        }
    }
    (config, keys)
}

/// Whether `ep` is a UDP entrypoint (`address: ":53/udp"`, any case).
pub fn is_udp(ep: &switchyard_config::static_config::EntryPoint) -> bool {
    ep.address
        .rsplit_once('/')
        .is_some_and(|(_, proto)| proto.eq_ignore_ascii_case("udp"))
}

/// The settings of every UDP entrypoint of `config`; a `udp.timeout` of 0
/// stops the start, as in Traefik.
pub fn udp_entrypoint_settings(
    config: &StaticConfiguration,
) -> Result<Vec<crate::udp::UdpSettings>, StaticError> {
    let mut out = Vec::new();
    for (name, ep) in config.entry_points.iter().filter(|(_, ep)| is_udp(ep)) {
        let timeout: Duration = ep.udp.clone().unwrap_or_default().timeout.into();
        if timeout.is_zero() {
            return Err(StaticError::new(
                format!("entryPoints.{name}.udp.timeout"),
                "timeout should be greater than zero",
            ));
        }
        let address = ep
            .address
            .rsplit_once('/')
            .map_or(ep.address.as_str(), |(a, _)| a);
        let life = &ep.transport.life_cycle;
        out.push(crate::udp::UdpSettings {
            name: name.clone(),
            address: address.to_string(),
            timeout,
            reuse_port: ep.reuse_port,
            request_accept_grace_timeout: life.request_accept_grace_timeout.into(),
            grace_timeout: life.grace_time_out.into(),
            max_sessions: crate::udp::MAX_SESSIONS,
        });
    }
    Ok(out)
}
