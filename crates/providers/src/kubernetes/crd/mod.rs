//! The `kubernetesCRD` provider's translation: the objects it watches
//! (IngressRoute, Middleware, TraefikService, TLSOption, TLSStore,
//! ServersTransport in `traefik.io/v1alpha1`; Services, EndpointSlices,
//! Secrets, ConfigMaps and Nodes) to a dynamic [`Configuration`], named and
//! valued as Traefik 3.7 names and values them.
//!
//! Pure: no I/O, the objects are the JSON the API server sent. An object
//! (or one route of an IngressRoute) that cannot be translated is left out
//! and reported in [`Translation::errors`]; the rest is kept, as Traefik
//! logs and skips.
//!
//! IngressRouteTCP, IngressRouteUDP, MiddlewareTCP and ServersTransportTCP
//! (kept together in [`Objects::tcp_udp`]) become the `tcp` and `udp`
//! sections (see `tcp_udp`). Not here: the watching itself.
//!
//! Where Switchyard differs, knowingly:
//! - a terminating but still serving endpoint, which Traefik keeps as a
//!   "fenced" server (sticky sessions only), is left out: Switchyard has no
//!   fenced servers;
//! - a router with `parentRefs` is refused (the element's `unsupported`),
//!   as the file provider refuses one: Switchyard has no child routers;
//! - middlewares are checked against Traefik's keys as a file's are, so a
//!   plugin middleware is refused there.

mod middlewares;
mod names;
mod services;
mod tcp_udp;
#[cfg(test)]
mod tests;
mod tls;

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use switchyard_config::dynamic::{Configuration, HttpConfiguration, Router, Service};
use switchyard_config::tls::{RouterTls, TlsConfiguration};

pub use names::{make_id, normalize, router_key};

/// The provider's name, the suffix of what it configures.
pub const PROVIDER_NAME: &str = "kubernetescrd";

/// The provider options that shape the translation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrdOptions {
    pub allow_cross_namespace: bool,
    pub allow_external_name_services: bool,
    pub allow_empty_services: bool,
    pub native_lb_by_default: bool,
    /// Only objects of this class (empty: objects of no class or `traefik`).
    pub ingress_class: String,
    /// Namespaces allowed to refer to other providers' objects (`x@file`);
    /// `None`: all.
    pub cross_provider_namespaces: Option<Vec<String>>,
    /// No Node lookup: `nodePortLB` services are refused.
    pub disable_cluster_scope_resources: bool,
}

/// One object as the API server sent it, shared with the local copies
/// (a translation copies no object).
pub type Object = Arc<Value>;

/// The objects the provider watches.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub ingress_routes: Vec<Object>,
    pub middlewares: Vec<Object>,
    pub traefik_services: Vec<Object>,
    pub tls_options: Vec<Object>,
    pub tls_stores: Vec<Object>,
    pub servers_transports: Vec<Object>,
    pub services: Vec<Object>,
    pub endpoint_slices: Vec<Object>,
    pub secrets: Vec<Object>,
    pub config_maps: Vec<Object>,
    pub nodes: Vec<Object>,
    /// IngressRouteTCP, IngressRouteUDP, MiddlewareTCP and
    /// ServersTransportTCP (each with its `kind`).
    pub tcp_udp: Vec<Object>,
}

impl Objects {
    /// Sorts a list of objects of any of the kinds above by `kind`.
    /// Returns the kinds it does not know (`IngressRouteTCP` ...).
    pub fn from_list(items: impl IntoIterator<Item = Value>) -> (Objects, Vec<String>) {
        let mut o = Objects::default();
        let mut unknown = Vec::new();
        for item in items {
            let kind = text(&item, "/kind");
            let list = match kind.as_str() {
                "IngressRoute" => &mut o.ingress_routes,
                "Middleware" => &mut o.middlewares,
                "TraefikService" => &mut o.traefik_services,
                "TLSOption" => &mut o.tls_options,
                "TLSStore" => &mut o.tls_stores,
                "ServersTransport" => &mut o.servers_transports,
                "Service" => &mut o.services,
                "EndpointSlice" => &mut o.endpoint_slices,
                "Secret" => &mut o.secrets,
                "ConfigMap" => &mut o.config_maps,
                "Node" => &mut o.nodes,
                "IngressRouteTCP" | "IngressRouteUDP" | "MiddlewareTCP" | "ServersTransportTCP" => {
                    &mut o.tcp_udp
                }
                _ => {
                    unknown.push(kind);
                    continue;
                }
            };
            list.push(Arc::new(item));
        }
        (o, unknown)
    }
}

/// The objects with their lookups by namespace and name (the first of a
/// name wins, as a linear search would find it).
pub(crate) struct Index<'a> {
    objects: &'a Objects,
    services_by_name: HashMap<String, &'a Value>,
    secrets_by_name: HashMap<String, &'a Value>,
    config_maps_by_name: HashMap<String, &'a Value>,
    /// Made at the first lookup (a parent reference): most translations
    /// make none.
    ingress_routes_by_name: OnceCell<HashMap<String, &'a Value>>,
    /// A service's EndpointSlices (by the `kubernetes.io/service-name`
    /// label), by slice name.
    slices_by_service: HashMap<String, Vec<&'a Value>>,
    /// While recording ([`Index::record`]), every lookup made.
    reads: RefCell<Option<Vec<Read>>>,
}

/// A lookup a translation made, by its `<namespace>/<name>` key: what an
/// object's translation depends on besides the object itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Read {
    Service(String),
    /// The EndpointSlices of a service.
    Slices(String),
    Secret(String),
    ConfigMap(String),
    IngressRoute(String),
    Nodes,
}

/// The resource version of `o`; None when it has none (a cache cannot
/// tell whether it changed).
fn version(o: &Value) -> Option<&str> {
    o.at("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

/// The versions of a list of objects, in order, as one string.
fn versions<'v>(list: impl IntoIterator<Item = &'v Value>) -> Option<String> {
    let mut out = String::from("+");
    for o in list {
        out.push_str(version(o)?);
        out.push(',');
    }
    Some(out)
}

/// `<namespace>/<name>`, the lookup key (neither may contain `/`).
fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn by_name(list: &[Object]) -> HashMap<String, &Value> {
    let mut out = HashMap::with_capacity(list.len());
    for o in list {
        let k = key(&text(o, "/metadata/namespace"), &text(o, "/metadata/name"));
        out.entry(k).or_insert(&**o);
    }
    out
}

impl<'a> Index<'a> {
    pub(crate) fn new(objects: &'a Objects) -> Index<'a> {
        let mut slices: HashMap<String, Vec<&Value>> = HashMap::new();
        for s in &objects.endpoint_slices {
            if let Some(service) = s
                .at("/metadata/labels/kubernetes.io~1service-name")
                .and_then(Value::as_str)
            {
                let k = key(&text(s, "/metadata/namespace"), service);
                slices.entry(k).or_default().push(&**s);
            }
        }
        for list in slices.values_mut() {
            list.sort_by_key(|s| text(s, "/metadata/name"));
        }
        Index {
            objects,
            services_by_name: by_name(&objects.services),
            secrets_by_name: by_name(&objects.secrets),
            config_maps_by_name: by_name(&objects.config_maps),
            ingress_routes_by_name: OnceCell::new(),
            slices_by_service: slices,
            reads: RefCell::new(None),
        }
    }

    /// Notes `read` when recording.
    fn note(&self, read: impl FnOnce() -> Read) {
        if let Some(reads) = self.reads.borrow_mut().as_mut() {
            reads.push(read());
        }
    }

    /// Starts recording the lookups made.
    fn record(&self) {
        *self.reads.borrow_mut() = Some(Vec::new());
    }

    /// Stops recording: the lookups made since [`Index::record`], each once.
    fn recorded(&self) -> Vec<Read> {
        let mut reads = self.reads.borrow_mut().take().unwrap_or_default();
        reads.sort();
        reads.dedup();
        reads
    }

    fn ingress_routes_by_name(&self) -> &HashMap<String, &'a Value> {
        self.ingress_routes_by_name
            .get_or_init(|| by_name(&self.objects.ingress_routes))
    }

    /// What `read` finds now, as versions: equal before and after only if
    /// nothing it found changed. None: an object without a version.
    fn version_of(&self, read: &Read) -> Option<String> {
        fn one(o: Option<&&Value>) -> Option<String> {
            match o {
                None => Some("-".to_string()),
                Some(o) => version(o).map(|v| format!("+{v}")),
            }
        }
        match read {
            Read::Service(k) => one(self.services_by_name.get(k)),
            Read::Secret(k) => one(self.secrets_by_name.get(k)),
            Read::ConfigMap(k) => one(self.config_maps_by_name.get(k)),
            Read::IngressRoute(k) => one(self.ingress_routes_by_name().get(k)),
            Read::Slices(k) => match self.slices_by_service.get(k) {
                None => Some("-".to_string()),
                Some(list) => versions(list.iter().copied()),
            },
            Read::Nodes => versions(self.objects.nodes.iter().map(|n| &**n)),
        }
    }

    /// Whether `read` finds what [`Index::version_of`] said was `was`
    /// (the same answer, without making the string: every kept piece's
    /// reads are checked on every change).
    fn finds(&self, read: &Read, was: &str) -> bool {
        fn one(o: Option<&&Value>, was: &str) -> bool {
            match o {
                None => was == "-",
                Some(o) => version(o).is_some_and(|v| was.strip_prefix('+') == Some(v)),
            }
        }
        fn all<'v>(list: impl IntoIterator<Item = &'v Value>, was: &str) -> bool {
            let Some(mut rest) = was.strip_prefix('+') else {
                return false;
            };
            for o in list {
                let next = version(o)
                    .and_then(|v| rest.strip_prefix(v))
                    .and_then(|r| r.strip_prefix(','));
                match next {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            rest.is_empty()
        }
        match read {
            Read::Service(k) => one(self.services_by_name.get(k), was),
            Read::Secret(k) => one(self.secrets_by_name.get(k), was),
            Read::ConfigMap(k) => one(self.config_maps_by_name.get(k), was),
            Read::IngressRoute(k) => one(self.ingress_routes_by_name().get(k), was),
            Read::Slices(k) => match self.slices_by_service.get(k) {
                None => was == "-",
                Some(list) => all(list.iter().copied(), was),
            },
            Read::Nodes => all(self.objects.nodes.iter().map(|n| &**n), was),
        }
    }

    fn service(&self, namespace: &str, name: &str) -> Option<&'a Value> {
        let k = key(namespace, name);
        let found = self.services_by_name.get(&k).copied();
        self.note(|| Read::Service(k));
        found
    }

    fn secret(&self, namespace: &str, name: &str) -> Option<&'a Value> {
        let k = key(namespace, name);
        let found = self.secrets_by_name.get(&k).copied();
        self.note(|| Read::Secret(k));
        found
    }

    fn config_map(&self, namespace: &str, name: &str) -> Option<&'a Value> {
        let k = key(namespace, name);
        let found = self.config_maps_by_name.get(&k).copied();
        self.note(|| Read::ConfigMap(k));
        found
    }

    fn ingress_route(&self, namespace: &str, name: &str) -> Option<&'a Value> {
        let k = key(namespace, name);
        let found = self.ingress_routes_by_name().get(&k).copied();
        self.note(|| Read::IngressRoute(k));
        found
    }

    fn slices_of(&self, namespace: &str, service: &str) -> &[&'a Value] {
        let k = key(namespace, service);
        self.note(|| Read::Slices(k.clone()));
        self.slices_by_service
            .get(&k)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Every Node.
    fn nodes(&self) -> &'a [Object] {
        self.note(|| Read::Nodes);
        &self.objects.nodes
    }
}

impl std::ops::Deref for Index<'_> {
    type Target = Objects;

    fn deref(&self) -> &Objects {
        self.objects
    }
}

/// What could not be translated, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectError {
    /// `IngressRoute`, `Middleware`, ...
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub message: String,
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}/{}: {}",
            self.kind, self.namespace, self.name, self.message
        )
    }
}

/// The translation's result: the configuration, what was left out, and
/// what Switchyard does not translate yet.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    pub configuration: Configuration,
    pub errors: Vec<ObjectError>,
    pub warnings: Vec<ObjectError>,
}

/// Collects the per-object errors while translating.
pub(crate) struct Report<'a> {
    errors: &'a mut Vec<ObjectError>,
    kind: &'static str,
    namespace: String,
    name: String,
}

impl Report<'_> {
    fn error(&mut self, message: impl Into<String>) {
        self.errors.push(ObjectError {
            kind: self.kind.to_string(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            message: message.into(),
        });
    }
}

fn report<'a>(errors: &'a mut Vec<ObjectError>, kind: &'static str, object: &Value) -> Report<'a> {
    Report {
        errors,
        kind,
        namespace: text(object, "/metadata/namespace"),
        name: text(object, "/metadata/name"),
    }
}

/// `Value::pointer` without its copy of every token (it allocates two
/// strings per token; the translation walks pointers for every object on
/// every change).
pub(crate) trait Walk {
    fn at(&self, pointer: &str) -> Option<&Value>;
}

impl Walk for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        let Some(rest) = pointer.strip_prefix('/') else {
            return pointer.is_empty().then_some(self);
        };
        let mut here = self;
        for token in rest.split('/') {
            let unescaped;
            let token = if token.contains('~') {
                unescaped = token.replace("~1", "/").replace("~0", "~");
                unescaped.as_str()
            } else {
                token
            };
            here = match here {
                Value::Object(map) => map.get(token)?,
                Value::Array(list) => {
                    if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) {
                        return None;
                    }
                    list.get(token.parse::<usize>().ok()?)?
                }
                _ => return None,
            };
        }
        Some(here)
    }
}

/// The string at `pointer` (empty when absent or not a string).
pub(crate) fn text(v: &Value, pointer: &str) -> String {
    v.at(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The strings of the list at `pointer`.
pub(crate) fn texts(v: &Value, pointer: &str) -> Vec<String> {
    v.at(pointer)
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What each IngressRoute and Middleware translated to, kept from one
/// translation to the next: an object whose resource version is the same,
/// and whose every lookup (Services, their EndpointSlices, Nodes, Secrets,
/// ConfigMaps, parent IngressRoutes) finds the same versions, is not
/// translated again. So one changed object re-translates only itself and
/// the objects that read it.
#[derive(Debug, Default)]
pub struct Cache {
    options: Option<CrdOptions>,
    routes: Pieces,
    middlewares: Pieces,
    /// How many IngressRoutes the last translation translated (the others
    /// came from the cache).
    pub translated: usize,
    /// Likewise for Middlewares.
    pub translated_middlewares: usize,
}

/// The pieces of one kind by `(namespace, name)`.
type Pieces = HashMap<(String, String), Piece>;

/// What one object translated to, with what it was made from.
#[derive(Debug, Default)]
struct Piece {
    version: String,
    reads: Vec<(Read, String)>,
    routers: Vec<(String, Arc<Router>)>,
    services: Vec<(String, Arc<Service>)>,
    middlewares: Vec<(String, Arc<switchyard_config::dynamic::Middleware>)>,
    errors: Vec<ObjectError>,
}

impl Piece {
    /// Into the elements being gathered.
    fn add_to(&self, gathered: &mut Gathered, errors: &mut Vec<ObjectError>) {
        gathered.routers.extend(self.routers.iter().cloned());
        gathered.services.extend(self.services.iter().cloned());
        gathered
            .middlewares
            .extend(self.middlewares.iter().cloned());
        errors.extend(self.errors.iter().cloned());
    }
}

/// The elements of the pieces of one kind, in order, put into the
/// configuration in one go: a map built from sorted entries costs a
/// fraction of inserting 10,000 one by one. A name given twice keeps the
/// last element, as inserting would.
#[derive(Default)]
struct Gathered {
    routers: Vec<(String, Arc<Router>)>,
    services: Vec<(String, Arc<Service>)>,
    middlewares: Vec<(String, Arc<switchyard_config::dynamic::Middleware>)>,
}

impl Gathered {
    fn put_into(self, http: &mut HttpConfiguration) {
        fn put<T>(map: &mut BTreeMap<String, T>, items: Vec<(String, T)>) {
            if map.is_empty() {
                *map = items.into_iter().collect();
            } else {
                map.extend(items);
            }
        }
        put(&mut http.routers, self.routers);
        put(&mut http.services, self.services);
        put(&mut http.middlewares, self.middlewares);
    }
}

/// `object`'s piece: from `previous` when neither it nor what it read
/// changed, else made by `build` (counted in `translated`). Kept in `next`
/// when it has a version.
fn piece(
    objects: &Index<'_>,
    object: &Value,
    (previous, next): (&mut Pieces, &mut Pieces),
    translated: &mut usize,
    build: impl FnOnce(&mut HttpConfiguration, &mut Vec<ObjectError>),
    gathered: &mut Gathered,
    errors: &mut Vec<ObjectError>,
) {
    let id = (
        text(object, "/metadata/namespace"),
        text(object, "/metadata/name"),
    );
    let version = version(object).unwrap_or_default();
    let kept = previous.remove(&id).filter(|c| {
        !version.is_empty()
            && c.version == version
            && c.reads.iter().all(|(read, was)| objects.finds(read, was))
    });
    let done = match kept {
        Some(c) => c,
        None => {
            *translated += 1;
            objects.record();
            let mut scratch = HttpConfiguration::default();
            let mut own_errors = Vec::new();
            build(&mut scratch, &mut own_errors);
            let reads: Option<Vec<(Read, String)>> = objects
                .recorded()
                .into_iter()
                .map(|r| objects.version_of(&r).map(|v| (r, v)))
                .collect();
            Piece {
                // Without every version, it cannot be reused.
                version: if reads.is_some() {
                    version.to_string()
                } else {
                    String::new()
                },
                reads: reads.unwrap_or_default(),
                routers: scratch.routers.into_iter().collect(),
                services: scratch.services.into_iter().collect(),
                middlewares: scratch.middlewares.into_iter().collect(),
                errors: own_errors,
            }
        }
    };
    done.add_to(gathered, errors);
    if !done.version.is_empty() {
        next.insert(id, done);
    }
}

/// Translates the objects as Traefik's CRD provider does.
pub fn translate(objects: &Objects, options: &CrdOptions) -> Translation {
    translate_with(objects, options, &mut Cache::default())
}

/// [`translate`], reusing what `cache` kept of the last translation of an
/// IngressRoute that did not change (and whose lookups find what they
/// found), and keeping this one's for the next. The result is the same as
/// [`translate`]'s.
pub fn translate_with(objects: &Objects, options: &CrdOptions, cache: &mut Cache) -> Translation {
    if cache.options.as_ref() != Some(options) {
        cache.routes.clear();
        cache.options = Some(options.clone());
    }
    let index = Index::new(objects);
    let objects = &index;
    let mut errors = Vec::new();
    let mut http = HttpConfiguration::default();

    // Stores first: their certificates win over an IngressRoute's for the
    // same Secret.
    let (stores, mut certificates) = tls::stores(objects, &mut errors);
    let routes_builder = services::Builder {
        objects,
        options,
        native_lb_by_default: options.native_lb_by_default,
    };
    let mut previous = std::mem::take(&mut cache.routes);
    cache.translated = 0;
    let mut gathered = Gathered::default();
    ingress_routes(
        objects,
        options,
        &routes_builder,
        &mut certificates,
        &mut gathered,
        &mut errors,
        (&mut previous, cache),
    );
    gathered.put_into(&mut http);
    // Traefik's other builders leave `nativeLBByDefault` out.
    let builder = services::Builder {
        native_lb_by_default: false,
        ..routes_builder
    };
    let mut previous = std::mem::take(&mut cache.middlewares);
    cache.translated_middlewares = 0;
    let mut gathered = Gathered::default();
    for object in &objects.middlewares {
        piece(
            objects,
            object,
            (&mut previous, &mut cache.middlewares),
            &mut cache.translated_middlewares,
            |http, errors| middlewares::one(objects, options, &builder, object, http, errors),
            &mut gathered,
            &mut errors,
        );
    }
    gathered.put_into(&mut http);
    for ts in &objects.traefik_services {
        // As Traefik, what was built before an error stays.
        if let Err(e) = builder.traefik_service(ts, &mut http.services) {
            report(&mut errors, "TraefikService", ts).error(e);
        }
    }
    for st in &objects.servers_transports {
        let mut r = report(&mut errors, "ServersTransport", st);
        let (id, transport) = tls::servers_transport(objects, st, &mut r);
        http.servers_transports.insert(id, transport);
    }

    // After the IngressRoutes, as in Traefik: their certificates win.
    let mut sections = tcp_udp::Sections::default();
    tcp_udp::translate(
        objects,
        options,
        &mut certificates,
        &mut sections,
        &mut errors,
    );
    // The sections are JSON maps made here: they always convert; if one
    // did not, it is left out and said.
    let mut section = |made: Result<Option<switchyard_config::Node>, String>| {
        made.unwrap_or_else(|e| {
            errors.push(ObjectError {
                kind: "section".into(),
                namespace: String::new(),
                name: String::new(),
                message: e,
            });
            None
        })
    };
    let tcp = section(sections.tcp());
    let udp = section(sections.udp());

    let tls_options = tls::options(objects, &mut errors);
    let configuration = Configuration {
        http: Some(http),
        tcp,
        udp,
        tls: Some(TlsConfiguration {
            certificates: certificates.into_values().collect(),
            options: tls_options,
            stores,
        }),
        ..Configuration::default()
    };
    let warnings = Vec::new();
    Translation {
        configuration,
        errors,
        warnings,
    }
}

/// The class an IngressRoute asks for: `spec.ingressClassName`, else the
/// deprecated annotation.
fn ingress_class(ir: &Value) -> String {
    if let Some(c) = ir.at("/spec/ingressClassName").and_then(Value::as_str) {
        return c.to_string();
    }
    text(ir, "/metadata/annotations/kubernetes.io~1ingress.class")
}

fn ingress_routes(
    objects: &Index<'_>,
    options: &CrdOptions,
    builder: &services::Builder<'_>,
    certificates: &mut BTreeMap<String, switchyard_config::tls::CertificateEntry>,
    gathered: &mut Gathered,
    errors: &mut Vec<ObjectError>,
    (previous, cache): (&mut Pieces, &mut Cache),
) {
    for ir in &objects.ingress_routes {
        let class = ingress_class(ir);
        let wanted = class == options.ingress_class
            || (options.ingress_class.is_empty() && class == "traefik");
        if !wanted {
            continue;
        }
        let namespace = text(ir, "/metadata/namespace");

        // Not cached: which IngressRoute's certificate wins depends on all.
        if let Some(secret) = ir.at("/spec/tls/secretName").and_then(Value::as_str) {
            if !secret.is_empty() {
                let key = format!("{namespace}/{secret}");
                if let std::collections::btree_map::Entry::Vacant(slot) = certificates.entry(key) {
                    match tls::certificate(objects, &namespace, secret) {
                        Ok(c) => {
                            slot.insert(c);
                        }
                        Err(e) => report(errors, "IngressRoute", ir).error(format!("TLS: {e}")),
                    }
                }
            }
        }

        piece(
            objects,
            ir,
            (&mut *previous, &mut cache.routes),
            &mut cache.translated,
            |http, errors| ingress_route(objects, options, builder, ir, &namespace, http, errors),
            gathered,
            errors,
        );
    }
}

/// One IngressRoute's routers (and their services) into `http`.
fn ingress_route(
    objects: &Index<'_>,
    options: &CrdOptions,
    builder: &services::Builder<'_>,
    ir: &Value,
    namespace: &str,
    http: &mut HttpConfiguration,
    errors: &mut Vec<ObjectError>,
) {
    let mut r = report(errors, "IngressRoute", ir);
    let mut name = text(ir, "/metadata/name");
    if name.is_empty() {
        name = text(ir, "/metadata/generateName");
    }
    let parents = match parent_routers(objects, ir, options.allow_cross_namespace) {
        Ok(p) => p,
        Err(e) => {
            r.error(format!("parent routers: {e}"));
            return;
        }
    };
    let routes = ir
        .at("/spec/routes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for route in routes {
        match ingress_route_rule(ir, route, namespace, &name, options, builder, http) {
            Ok((key, mut router)) => {
                if !parents.is_empty() {
                    router.unsupported.refused.push("parentRefs".into());
                }
                http.routers.insert(key, Arc::new(router));
            }
            Err(e) => r.error(format!("route {:?}: {e}", text(route, "/match"))),
        }
    }
}

/// One route of an IngressRoute: its router (and its services into `http`).
fn ingress_route_rule(
    ir: &Value,
    route: &Value,
    namespace: &str,
    name: &str,
    options: &CrdOptions,
    builder: &services::Builder<'_>,
    http: &mut HttpConfiguration,
) -> Result<(String, Router), String> {
    let kind = text(route, "/kind");
    if !kind.is_empty() && kind != "Rule" {
        return Err(format!(
            "unsupported match kind {kind:?}: only \"Rule\" is supported"
        ));
    }
    let rule = text(route, "/match");
    if rule.is_empty() {
        return Err("empty match rule".into());
    }
    let key = router_key(namespace, name, &rule);
    let middlewares = names::middleware_refs(route.get("middlewares"), namespace, options)?;

    let refs = route
        .get("services")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let service = match refs.len() {
        0 => String::new(),
        1 => {
            let (full, lb) = builder.name_and_service(namespace, &refs[0])?;
            match lb {
                Some(s) => {
                    http.services.insert(key.clone(), Arc::new(s));
                    key.clone()
                }
                None => full,
            }
        }
        // As Traefik, the services built before an error stay.
        _ => {
            builder.weighted(namespace, &refs, None, &key, &mut http.services)?;
            key.clone()
        }
    };

    let mut router = Router {
        entry_points: texts(ir, "/spec/entryPoints"),
        middlewares,
        service,
        rule,
        rule_syntax: route
            .get("syntax")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        priority: route
            .get("priority")
            .and_then(Value::as_i64)
            .filter(|p| *p != 0),
        ..Router::default()
    };
    if let Some(o) = route.get("observability").filter(|o| !o.is_null()) {
        router.observability = serde_json::from_value(o.clone()).ok().map(Box::new);
    }
    if let Some(t) = ir.at("/spec/tls").filter(|t| !t.is_null()) {
        let mut tls = RouterTls {
            cert_resolver: text(t, "/certResolver"),
            domains: t
                .get("domains")
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| format!("tls.domains: {e}"))?
                .unwrap_or_default(),
            ..RouterTls::default()
        };
        let option = text(t, "/options/name");
        if !option.is_empty() {
            tls.options = names::resolve_reference(
                namespace,
                &text(t, "/options/namespace"),
                &option,
                options,
            )
            .map_err(|e| format!("invalid reference to TLSOption {option:?}: {e}"))?;
        }
        router.tls = Some(Box::new(tls));
    }
    Ok((key, router))
}

/// The router names of the IngressRoutes named in `spec.parentRefs`.
fn parent_routers(
    objects: &Index<'_>,
    ir: &Value,
    allow_cross_namespace: bool,
) -> Result<Vec<String>, String> {
    let namespace = text(ir, "/metadata/namespace");
    let mut out = Vec::new();
    let refs = ir
        .at("/spec/parentRefs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for parent in &refs {
        let mut ns = text(parent, "/namespace");
        if ns.is_empty() {
            ns = namespace.clone();
        }
        let name = text(parent, "/name");
        if !allow_cross_namespace && ns != namespace {
            return Err(format!(
                "cross-namespace reference to parent IngressRoute {ns}/{name} not allowed"
            ));
        }
        let Some(p) = objects.ingress_route(&ns, &name) else {
            return Err(format!("parent IngressRoute {ns}/{name} does not exist"));
        };
        for route in p
            .at("/spec/routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(router_key(&ns, &name, &text(route, "/match")));
        }
    }
    Ok(out)
}
