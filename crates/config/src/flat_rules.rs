//! What Traefik's struct tags change when labels and KV keys decode into
//! the dynamic configuration, as one table: sections that a bare value may
//! switch on or off (`label:"allowEmpty"`, `kv:"allowEmpty"`), fields that
//! one source never reads (`label:"-"`, `kv:"-"`), and the elements of maps
//! of sections, which a bare value leaves empty. Learnt from
//! `pkg/config/dynamic/*.go` of Traefik v3.7 (the comments name the
//! structs).
//!
//! Paths are the dynamic configuration's, below the root (`traefik`), with
//! `*` standing for one name (a router, a service, a list element). A
//! label's one `server` is already the list `servers` when the table
//! applies.

use crate::dynamic::Configuration;
use crate::flat::FlatNode;
use crate::{ConfigError, Node};

/// Which flat source is decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Label,
    Kv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// `x=true` (or empty) alone is the section with its defaults; any
    /// other value switches the section off, children and all.
    AllowEmpty,
    /// Traefik never reads it from this source: dropped and reported.
    Ignored,
    /// An element of a map of sections (a router, a service, ...): a value
    /// alone makes it an empty element, as in Traefik.
    Element,
}

const LABEL: u8 = 1;
const KV: u8 = 2;
const BOTH: u8 = LABEL | KV;

/// `(path, rule, sources)`.
const RULES: &[(&str, Rule, u8)] = &[
    // map elements
    ("http.routers.*", Rule::Element, BOTH),
    ("http.services.*", Rule::Element, BOTH),
    ("http.middlewares.*", Rule::Element, BOTH),
    ("http.serverstransports.*", Rule::Element, BOTH),
    ("http.models.*", Rule::Element, BOTH),
    ("tcp.routers.*", Rule::Element, BOTH),
    ("tcp.services.*", Rule::Element, BOTH),
    ("tcp.middlewares.*", Rule::Element, BOTH),
    ("tcp.serverstransports.*", Rule::Element, BOTH),
    ("udp.routers.*", Rule::Element, BOTH),
    ("udp.services.*", Rule::Element, BOTH),
    ("tls.options.*", Rule::Element, BOTH),
    ("tls.stores.*", Rule::Element, BOTH),
    // allowEmpty
    ("http.routers.*.tls", Rule::AllowEmpty, BOTH),
    ("http.models.*.tls", Rule::AllowEmpty, BOTH),
    (
        "http.services.*.loadbalancer.sticky",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "http.services.*.loadbalancer.sticky.cookie",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "http.services.*.weighted.sticky.cookie",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "http.services.*.weighted.healthcheck",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "http.services.*.highestrandomweight.healthcheck",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "http.services.*.mirroring.healthcheck",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "http.services.*.failover.healthcheck",
        Rule::AllowEmpty,
        LABEL,
    ),
    ("http.serverstransports.*.spiffe", Rule::AllowEmpty, LABEL),
    ("http.middlewares.*.compress", Rule::AllowEmpty, BOTH),
    ("http.middlewares.*.contenttype", Rule::AllowEmpty, BOTH),
    (
        "http.middlewares.*.ipallowlist.ipstrategy",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "http.middlewares.*.ipwhitelist.ipstrategy",
        Rule::AllowEmpty,
        BOTH,
    ),
    ("tcp.routers.*.tls", Rule::AllowEmpty, BOTH),
    (
        "tcp.services.*.loadbalancer.proxyprotocol",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "tcp.services.*.loadbalancer.healthcheck",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "tcp.services.*.weighted.healthcheck",
        Rule::AllowEmpty,
        BOTH,
    ),
    (
        "tcp.serverstransports.*.proxyprotocol",
        Rule::AllowEmpty,
        BOTH,
    ),
    ("tcp.serverstransports.*.tls", Rule::AllowEmpty, BOTH),
    (
        "tcp.serverstransports.*.tls.spiffe",
        Rule::AllowEmpty,
        LABEL,
    ),
    // TLSConfiguration, Store
    ("tls.certificates", Rule::Ignored, LABEL),
    ("tls.options", Rule::Ignored, LABEL),
    ("tls.stores.*.defaultcertificate", Rule::Ignored, LABEL),
    // HTTPConfiguration, TCPConfiguration, Model, TCPModel
    ("http.serverstransports", Rule::Ignored, LABEL),
    ("tcp.serverstransports", Rule::Ignored, LABEL),
    ("tcp.models", Rule::Ignored, BOTH),
    (
        "http.models.*.deniedencodedpathcharacters",
        Rule::Ignored,
        BOTH,
    ),
    ("http.models.*.defaultrulesyntax", Rule::Ignored, BOTH),
    ("http.models.*.tls.resolvedoptions", Rule::Ignored, BOTH),
    // Router, RouterTLSConfig, RouterObservabilityConfig
    ("http.routers.*.parentrefs", Rule::Ignored, LABEL),
    ("http.routers.*.defaultrule", Rule::Ignored, LABEL),
    (
        "http.routers.*.deniedencodedpathcharacters",
        Rule::Ignored,
        BOTH,
    ),
    ("http.routers.*.tls.resolvedoptions", Rule::Ignored, BOTH),
    ("http.routers.*.observability.metadata", Rule::Ignored, BOTH),
    // Service, ServersLoadBalancer, Server, Cookie
    ("http.services.*.highestrandomweight", Rule::Ignored, LABEL),
    ("http.services.*.weighted", Rule::Ignored, LABEL),
    ("http.services.*.mirroring", Rule::Ignored, LABEL),
    ("http.services.*.failover", Rule::Ignored, LABEL),
    (
        "http.services.*.loadbalancer.nginxupstreamhashby",
        Rule::Ignored,
        BOTH,
    ),
    (
        "http.services.*.loadbalancer.sticky.cookie.expires",
        Rule::Ignored,
        BOTH,
    ),
    (
        "http.services.*.weighted.sticky.cookie.expires",
        Rule::Ignored,
        KV,
    ),
    (
        "http.services.*.loadbalancer.servers.*.fenced",
        Rule::Ignored,
        BOTH,
    ),
    (
        "http.services.*.loadbalancer.servers.*.scheme",
        Rule::Ignored,
        KV,
    ),
    (
        "http.services.*.loadbalancer.servers.*.port",
        Rule::Ignored,
        KV,
    ),
    // TCPService, UDPService, TCPServer, UDPServer
    ("tcp.services.*.weighted", Rule::Ignored, LABEL),
    ("udp.services.*.weighted", Rule::Ignored, LABEL),
    (
        "tcp.services.*.loadbalancer.servers.*.address",
        Rule::Ignored,
        LABEL,
    ),
    (
        "udp.services.*.loadbalancer.servers.*.address",
        Rule::Ignored,
        LABEL,
    ),
    // Middleware: the Gateway API and ingress-nginx kinds, internal fields
    (
        "http.middlewares.*.requestheadermodifier",
        Rule::Ignored,
        BOTH,
    ),
    (
        "http.middlewares.*.responseheadermodifier",
        Rule::Ignored,
        BOTH,
    ),
    ("http.middlewares.*.requestredirect", Rule::Ignored, BOTH),
    ("http.middlewares.*.urlrewrite", Rule::Ignored, BOTH),
    (
        "http.middlewares.*.authtlspasscertificatetoupstream",
        Rule::Ignored,
        BOTH,
    ),
    ("http.middlewares.*.snippet", Rule::Ignored, BOTH),
    ("http.middlewares.*.rewritetarget", Rule::Ignored, BOTH),
    ("http.middlewares.*.upstreamvhost", Rule::Ignored, BOTH),
    ("http.middlewares.*.approot", Rule::Ignored, BOTH),
    (
        "http.middlewares.*.buffering.disablerequestbuffer",
        Rule::Ignored,
        BOTH,
    ),
    (
        "http.middlewares.*.buffering.disableresponsebuffer",
        Rule::Ignored,
        BOTH,
    ),
    (
        "http.middlewares.*.errors.nginxheaders",
        Rule::Ignored,
        BOTH,
    ),
    (
        "http.middlewares.*.redirectregex.statuscode",
        Rule::Ignored,
        BOTH,
    ),
    (
        "http.middlewares.*.redirectscheme.forcepermanentredirect",
        Rule::Ignored,
        BOTH,
    ),
];

/// The HTTP middleware types a label or key may declare (Traefik's
/// `Middleware` fields that both sources read).
pub(crate) const MIDDLEWARE_TYPES: &[&str] = &[
    "addPrefix",
    "stripPrefix",
    "stripPrefixRegex",
    "replacePath",
    "replacePathRegex",
    "chain",
    "ipWhiteList",
    "ipAllowList",
    "headers",
    "encodedCharacters",
    "errors",
    "rateLimit",
    "redirectRegex",
    "redirectScheme",
    "basicAuth",
    "digestAuth",
    "forwardAuth",
    "inFlightReq",
    "buffering",
    "circuitBreaker",
    "compress",
    "passTLSClientCert",
    "retry",
    "contentType",
    "grpcWeb",
    "plugin",
];

fn rule_for(path: &[&str], source: Source) -> Option<Rule> {
    let bit = match source {
        Source::Label => LABEL,
        Source::Kv => KV,
    };
    RULES.iter().find_map(|(pattern, rule, sources)| {
        let matches = sources & bit != 0
            && pattern.split('.').count() == path.len()
            && pattern
                .split('.')
                .zip(path)
                .all(|(p, seg)| p == "*" || p.eq_ignore_ascii_case(seg));
        matches.then_some(*rule)
    })
}

/// Applies the table to the configuration tree below `root` (whose
/// children are `http`, `tcp`, ...): drops what the source never reads
/// (its keys are added to `ignored`) and what a bare value switched off,
/// and marks bare-value sections. For labels, a value set on a list element
/// itself (`entrypoints[0]=web`) is dropped and reported too, as Traefik
/// reads lists of values from one comma-separated label.
pub(crate) fn apply(root: &mut FlatNode, source: Source, ignored: &mut Vec<String>) {
    let mut path = Vec::new();
    apply_below(root, source, &mut path, ignored);
}

fn apply_below(
    node: &mut FlatNode,
    source: Source,
    path: &mut Vec<String>,
    ignored: &mut Vec<String>,
) {
    let mut kept = Vec::with_capacity(node.children.len());
    for mut child in std::mem::take(&mut node.children) {
        path.push(child.name.clone());
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        let keep = match rule_for(&segs, source) {
            Some(Rule::Ignored) => {
                ignored.extend(child.keys());
                false
            }
            Some(Rule::AllowEmpty) => match &child.value {
                Some(v) if !(v.is_empty() || v.eq_ignore_ascii_case("true")) => false,
                Some(_) => {
                    child.section = child.children.is_empty();
                    true
                }
                None => true,
            },
            Some(Rule::Element) => {
                child.section = child.children.is_empty();
                true
            }
            None if source == Source::Label
                && child.is_index()
                && child.children.is_empty()
                && child.value.is_some() =>
            {
                ignored.extend(child.keys());
                false
            }
            None => true,
        };
        if keep {
            apply_below(&mut child, source, path, ignored);
            kept.push(child);
        }
        path.pop();
    }
    node.children = kept;
}

/// Decodes a lowered label or KV tree into the dynamic configuration,
/// checking its keys as files' are, and each HTTP middleware's type names
/// against Traefik's (the
/// settings of each type are checked where every middleware is, when the
/// runtime is built).
pub(crate) fn decode_configuration(tree: &Node) -> Result<Configuration, ConfigError> {
    // The same key check as files: a key Traefik knows but Switchyard does
    // not act on is a warning on its element, not an error.
    let configuration = crate::dynamic_schema::decode(tree)?;
    if let Some(http) = &configuration.http {
        for (name, middleware) in &http.middlewares {
            for (kind, node) in &middleware.0 {
                if !MIDDLEWARE_TYPES
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(kind))
                {
                    return Err(ConfigError {
                        location: Some(node.location.clone()),
                        path: vec![
                            "http".into(),
                            "middlewares".into(),
                            name.clone(),
                            kind.clone(),
                        ],
                        message: format!("field not found: {kind:?} is not a middleware type"),
                    });
                }
            }
        }
    }
    Ok(configuration)
}
