//! The `forwardAuth` translator: it shares the builder's default upstream
//! client, or builds its own when the definition has a `tls` section.

use std::sync::Arc;

use regex::Regex;
use switchyard_config::middlewares::ForwardAuth as Config;
use switchyard_proxy::middlewares::{Factory, ForwardAuth, ForwardAuthSettings, TranslateCtx};
use switchyard_proxy::upstream::{TransportSettings, Upstream};
use switchyard_proxy::BoxHandler;

/// Translates a `forwardAuth` definition.
pub(super) fn from_config(
    c: Config,
    ctx: &mut TranslateCtx<'_>,
    upstream: &Arc<Upstream>,
) -> Result<Factory, String> {
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
        ctx.warnings.push("forwardAuth.forwardBody without maxBodySize: request bodies of any size are read into memory".into());
    }
    let client = match &c.tls {
        None => upstream.clone(),
        Some(tls) => Arc::new(client(tls, &mut ctx.warnings)?),
    };
    Ok(Arc::new(move |next| {
        Arc::new(ForwardAuth::new(settings.clone(), client.clone(), next)) as BoxHandler
    }))
}

/// The client of a `forwardAuth` with a `tls` section (`ca`, `cert`,
/// `key`, `insecureSkipVerify`; `caOptional` is deprecated and ignored).
fn client(tls: &switchyard_config::Node, warnings: &mut Vec<String>) -> Result<Upstream, String> {
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
    let settings = TransportSettings {
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
        ..TransportSettings::default()
    };
    Upstream::new(settings).map_err(|e| format!("forwardAuth.tls: {e}"))
}
