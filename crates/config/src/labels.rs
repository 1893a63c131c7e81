//! Container and service labels (Docker, Swarm, Consul Catalog, Nomad, ECS)
//! → dynamic configuration, decoded as Traefik v3.7 decodes them.
//!
//! # The forms read
//!
//! - `traefik.http.routers.r.rule=Host(...)`: a key is split on `.`; field
//!   names match case-insensitively; names of routers, services,
//!   middlewares and map keys (`...customrequestheaders.X-Foo=bar`) keep
//!   their spelling. Labels are taken in byte order, so among names that
//!   differ only by case the first in that order gives the spelling and the
//!   last gives the value, as in Traefik.
//! - Lists: `...entrypoints=web,websecure` (split on `,`, each part trimmed)
//!   and, for lists of sections, indexed segments
//!   `...tls.domains[0].main=a.test`. Elements follow in the labels' byte
//!   order (`[0]`, `[1]`, `[10]`, `[2]`), as in Traefik. A value set on an
//!   element itself (`...entrypoints[0]=web`) is ignored, as Traefik ignores
//!   it, and reported in [`LabelConfiguration::ignored`].
//! - Sections switched by a value: `...routers.r.tls=true` (or empty) alone
//!   is TLS with its defaults, and any other value (`tls=false`) turns the
//!   section off even with settings below it. Only the sections Traefik
//!   tags so behave this way (see [`crate::flat_rules`]).
//! - The one server of a service: `...loadbalancer.server.url`, `.weight`,
//!   `.preservepath` go to `servers[0]`; the label-only `.port` and
//!   `.scheme` (TCP and UDP: `.port`) are returned apart in
//!   [`LabelConfiguration::servers`], for the provider to build the URL
//!   from the container's address. `loadbalancer.servers...` is an error,
//!   as in Traefik.
//! - Only labels under `traefik.http`, `traefik.tcp`, `traefik.udp` and
//!   `traefik.tls.stores.default` are configuration (prefixes compared
//!   case-insensitively); the root must then be spelled `traefik`. The
//!   provider's own labels (`traefik.enable`, `traefik.docker.network`, ...)
//!   are read by [`provider_labels`]. Fields Traefik never reads from labels
//!   (weighted, mirroring and failover services, servers transports, ...)
//!   are dropped and reported in [`LabelConfiguration::ignored`].
//! - Consul Catalog and Nomad tags (`<prefix>.http...=value`, prefix
//!   configurable, `traefik` by default) become labels through
//!   [`labels_from_tags`]. Docker has no configurable prefix in Traefik v3.
//!
//! Errors (an unknown field, a bad value, a malformed key) name the label.
//!
//! # Where Switchyard differs
//!
//! - Booleans read `true`/`false` in any case and an empty value as `true`;
//!   Traefik reads Go's forms (`1`, `t`, `TRUE`, ...) and refuses empty.
//! - `x=true` on a section Traefik does not tag `allowEmpty`
//!   (`...loadbalancer=true`) is that section with its defaults; Traefik
//!   refuses it ("cannot be a standalone element").
//! - An unknown or bad setting inside a middleware type
//!   (`...stripprefix.prefixs`) is that middleware's error when the runtime
//!   is built, and the rest serves; Traefik refuses the whole set. An
//!   unknown middleware type is an error here, as in Traefik.
//! - Numbers read with spaces around them; Traefik refuses them.
//! - Empty list elements (`a,,b`) are dropped; Traefik keeps `""`.
//! - A list of sections addressed by plain names (`tls.domains.x.main`) is
//!   an error; Traefik takes each name as one element. A value on an element
//!   of a list of sections (`tls.domains[0]=x`) is ignored; Traefik adds an
//!   empty element.
//! - The sections Switchyard keeps as written until it uses them (TCP, UDP,
//!   models) are not checked field by field here, so an unknown field there
//!   is not an error; Traefik refuses it.

use std::collections::BTreeMap;

use crate::dynamic::Configuration;
use crate::flat::{FlatNode, Overlap};
use crate::flat_rules::{self, Source};
use crate::node::Location;
use crate::ConfigError;

/// The root every label starts with.
pub const ROOT: &str = "traefik";

/// The label prefixes that hold dynamic configuration.
const CONFIGURATION_PREFIXES: [&str; 4] = [
    "traefik.http",
    "traefik.tcp",
    "traefik.udp",
    "traefik.tls.stores.default",
];

/// What a container's (or a catalog service's) labels configure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelConfiguration {
    pub configuration: Configuration,
    /// The label-only settings of each service's one server.
    pub servers: LabelServers,
    /// Labels Traefik never reads as configuration (to be logged), in
    /// byte order.
    pub ignored: Vec<String>,
}

/// Per protocol, per service name (as the configuration spells it): the
/// `loadbalancer.server.port` / `.scheme` labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelServers {
    pub http: BTreeMap<String, LabelServer>,
    pub tcp: BTreeMap<String, LabelServer>,
    pub udp: BTreeMap<String, LabelServer>,
}

/// One service's `server` labels that are not configuration fields: the
/// provider turns them into the server's URL (`scheme://ip:port`, scheme
/// `http` by default) or address, and refuses them next to a `url`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelServer {
    pub port: Option<String>,
    /// HTTP only.
    pub scheme: Option<String>,
    /// The first `server` label of the service, for the provider's errors.
    pub location: Location,
}

fn label_location(key: &str) -> Location {
    Location::named(&format!("label {key}"))
}

fn label_error(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::at(label_location(key), message)
}

/// Splits a label as Traefik does: on `.`, with `name[i]` giving `name`
/// and `[i]`. An empty segment, or one that starts with `[`, is an error.
pub fn split_label(key: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for segment in key.split('.') {
        if segment.is_empty() {
            return Err(label_error(key, "invalid element: empty segment"));
        }
        if segment.starts_with('[') {
            return Err(label_error(
                key,
                format!("invalid leading character '[' in field name {segment:?} (brackets address list elements)"),
            ));
        }
        match segment.find('[') {
            Some(i) if segment.ends_with(']') => {
                out.push(segment[..i].to_string());
                out.push(segment[i..].to_string());
            }
            None if segment.ends_with(']') => {
                return Err(label_error(
                    key,
                    format!("invalid element {segment:?}: ']' without '['"),
                ));
            }
            _ => out.push(segment.to_string()),
        }
    }
    Ok(out)
}

/// Sorts the labels that start (case-insensitively) with one of `prefixes`
/// and builds their tree below the root, checking the root's spelling.
fn label_tree<'a>(
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    prefixes: &[&str],
) -> Result<FlatNode, ConfigError> {
    let mut selected: Vec<(&str, &str)> = labels
        .into_iter()
        .filter(|(k, _)| {
            prefixes.iter().any(|p| {
                k.get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p))
            })
        })
        .collect();
    selected.sort();
    let mut root = FlatNode::root();
    for (key, value) in selected {
        let path = split_label(key)?;
        if path[0] != ROOT {
            return Err(label_error(
                key,
                format!("invalid label root {:?}: expected {ROOT:?}", path[0]),
            ));
        }
        root.insert(&path[1..], value, key, label_location(key), Overlap::Keep);
    }
    Ok(root)
}

/// Decodes the configuration labels of one container or service.
pub fn decode_labels<'a>(
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<LabelConfiguration, ConfigError> {
    let mut root = label_tree(labels, &CONFIGURATION_PREFIXES)?;
    let servers = LabelServers {
        http: take_servers(&mut root, "http", true)?,
        tcp: take_servers(&mut root, "tcp", false)?,
        udp: take_servers(&mut root, "udp", false)?,
    };
    let mut ignored = Vec::new();
    flat_rules::apply(&mut root, Source::Label, &mut ignored);
    ignored.sort();
    let configuration = flat_rules::decode_configuration(&root.to_node())?;
    Ok(LabelConfiguration {
        configuration,
        servers,
        ignored,
    })
}

/// Turns each `<protocol>.services.<name>.loadbalancer.server` into a
/// one-element `servers` list, taking out its label-only settings.
fn take_servers(
    root: &mut FlatNode,
    protocol: &str,
    with_scheme: bool,
) -> Result<BTreeMap<String, LabelServer>, ConfigError> {
    let mut out = BTreeMap::new();
    let Some(services) = root
        .child_mut(protocol)
        .and_then(|p| p.child_mut("services"))
    else {
        return Ok(out);
    };
    for service in &mut services.children {
        let Some(lb) = service.child_mut("loadbalancer") else {
            continue;
        };
        if let Some(servers) = lb.child("servers") {
            return Err(label_error(
                &servers.key,
                "field not found: \"servers\" (labels describe the one server as \"loadbalancer.server\")",
            ));
        }
        let Some(mut server) = lb.remove("server") else {
            continue;
        };
        if server.children.is_empty() {
            return Err(label_error(
                &server.key,
                "invalid slice: \"server\" needs settings below it (server.port, server.url, ...)",
            ));
        }
        let port = server.remove("port").and_then(|n| n.value);
        let scheme = if with_scheme {
            server.remove("scheme").and_then(|n| n.value)
        } else {
            None
        };
        let location = server.location.clone();
        let mut element = FlatNode::new("[0]", &server.key, location.clone());
        element.children = std::mem::take(&mut server.children);
        let mut list = FlatNode::new("servers", &server.key, location.clone());
        list.children.push(element);
        lb.children.push(list);
        out.insert(
            service.name.clone(),
            LabelServer {
                port,
                scheme,
                location,
            },
        );
    }
    Ok(out)
}

/// The provider whose own labels [`provider_labels`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelProvider {
    Docker,
    Swarm,
    ConsulCatalog,
    Nomad,
    Ecs,
}

/// The labels that steer a provider rather than configure routing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderLabels {
    /// `traefik.enable`; `None` leaves the provider's `exposedByDefault`.
    pub enable: Option<bool>,
    /// `traefik.docker.network` (Swarm: `traefik.swarm.network` too).
    pub network: Option<String>,
    /// `traefik.docker.lbswarm` / `traefik.swarm.lbswarm`.
    pub lb_swarm: bool,
    /// `traefik.docker.allownonrunning` (Docker).
    pub allow_non_running: bool,
    /// `traefik.consulcatalog.connect`; `None` leaves `connectByDefault`.
    pub connect: Option<bool>,
    /// `traefik.consulcatalog.canary` / `traefik.nomad.canary`.
    pub canary: bool,
    /// Deprecated labels that were read (Swarm reading `traefik.docker.*`).
    pub deprecated: Vec<String>,
}

/// Reads a provider's own labels as that provider of Traefik does: Nomad
/// by exact name (`true` in any case means true), the others as sections
/// where an unknown field or a bad boolean is an error naming the label.
pub fn provider_labels<'a>(
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    provider: LabelProvider,
) -> Result<ProviderLabels, ConfigError> {
    let mut out = ProviderLabels::default();
    if provider == LabelProvider::Nomad {
        for (key, value) in labels {
            match key {
                "traefik.enable" => out.enable = Some(value.eq_ignore_ascii_case("true")),
                "traefik.nomad.canary" => out.canary = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        return Ok(out);
    }
    let prefixes: &[&str] = match provider {
        LabelProvider::Docker => &["traefik.docker.", "traefik.enable"],
        LabelProvider::Swarm => &["traefik.enable", "traefik.docker.", "traefik.swarm."],
        LabelProvider::ConsulCatalog => &["traefik.consulcatalog.", "traefik.enable"],
        LabelProvider::Ecs | LabelProvider::Nomad => &["traefik.ecs.", "traefik.enable"],
    };
    let root = label_tree(labels, prefixes)?;
    let sections: &[(&str, &[&str])] = match provider {
        LabelProvider::Docker | LabelProvider::Swarm => &[
            ("docker", &["network", "lbswarm", "allownonrunning"]),
            ("swarm", &["network", "lbswarm"]),
        ],
        LabelProvider::ConsulCatalog => &[("consulcatalog", &["connect", "canary"])],
        LabelProvider::Ecs | LabelProvider::Nomad => &[],
    };
    let mut seen = Vec::new();
    for node in &root.children {
        if node.name.eq_ignore_ascii_case("enable") {
            out.enable = Some(scalar_bool(node)?);
            continue;
        }
        let Some((section, fields)) = sections
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(&node.name))
        else {
            return Err(field_not_found(node));
        };
        if node.children.is_empty() {
            return Err(label_error(
                &node.key,
                format!("{section} cannot be a standalone element: expected settings below it"),
            ));
        }
        seen.push(*section);
        for field in &node.children {
            let Some(name) = fields.iter().find(|f| f.eq_ignore_ascii_case(&field.name)) else {
                return Err(field_not_found(field));
            };
            match *name {
                "network" => out.network = Some(scalar(field)?.to_string()),
                "lbswarm" => out.lb_swarm = scalar_bool(field)?,
                "allownonrunning" => out.allow_non_running = scalar_bool(field)?,
                "connect" => out.connect = Some(scalar_bool(field)?),
                _ => out.canary = scalar_bool(field)?,
            }
        }
    }
    if provider == LabelProvider::Swarm && seen.contains(&"docker") {
        if seen.contains(&"swarm") {
            return Err(ConfigError::new("both Docker and Swarm labels are defined"));
        }
        out.deprecated = root.child("docker").map(FlatNode::keys).unwrap_or_default();
    }
    Ok(out)
}

fn field_not_found(node: &FlatNode) -> ConfigError {
    label_error(&node.key, format!("field not found: {:?}", node.name))
}

fn scalar(node: &FlatNode) -> Result<&str, ConfigError> {
    match (&node.value, node.children.is_empty()) {
        (Some(v), true) => Ok(v),
        _ => Err(label_error(
            &node.key,
            format!(
                "invalid node {:?}: expected a value, not settings below it",
                node.name
            ),
        )),
    }
}

/// A boolean as Go's `strconv.ParseBool` reads it.
fn scalar_bool(node: &FlatNode) -> Result<bool, ConfigError> {
    match scalar(node)? {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(label_error(
            &node.key,
            format!("invalid value {other:?}: expected true or false"),
        )),
    }
}

/// How a catalog turns its tags into labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagStyle {
    /// Consul Catalog: `<prefix>.a.b=value`, taken as written.
    ConsulCatalog,
    /// Nomad: the same, with spaces around the name and the value trimmed.
    Nomad,
}

/// Catalog tags → labels: each tag that starts with `prefix` and holds a
/// `=` becomes a label whose `<prefix>.` is replaced by `traefik.`; a later
/// tag wins over an earlier one with the same name.
pub fn labels_from_tags<'a>(
    tags: impl IntoIterator<Item = &'a str>,
    prefix: &str,
    style: TagStyle,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let dotted = format!("{prefix}.");
    for tag in tags {
        if !tag.starts_with(prefix) {
            continue;
        }
        let Some((name, value)) = tag.split_once('=') else {
            continue;
        };
        let (name, value) = match style {
            TagStyle::ConsulCatalog => (name, value),
            TagStyle::Nomad => (name.trim(), value.trim()),
        };
        let rest = name.strip_prefix(&dotted).unwrap_or(name);
        out.insert(format!("{ROOT}.{rest}"), value.to_string());
    }
    out
}
