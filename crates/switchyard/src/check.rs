//! `switchyard check`: the static configuration and every dynamic file the
//! file provider would read, checked offline — nothing is bound, no
//! provider is started, no certificate is ordered. Each error and warning is
//! printed with its file, line and field where it has one; the exit status
//! is 1 when anything would stop an element (or the start), else 0.
//!
//! It runs the same code a start runs: the static loader and its checks,
//! the entrypoints' settings (certificate files read), the file provider's
//! reading (templates rendered), the merge with the internal routers and
//! the builder, whose per-element errors are what the API would show.
//! Sources only a running instance can read (Docker, KV stores, HTTP) are
//! named as not checked.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::ExitCode;

use switchyard_config::loader::{Loaded, Source};
use switchyard_config::node::Node;
use switchyard_config::static_config::StaticConfiguration;
use switchyard_config::template::Rendered;
use switchyard_server::static_translation as translate;

pub const USAGE: &str = "\
switchyard check — checks a configuration offline, without starting

Usage:
  switchyard check [--configFile=PATH] [--<static.option>=VALUE ...]

Reads the static configuration from the same sources as a start, then every
dynamic file of providers.file (templates rendered), and builds the routing
as a start would, without binding a port or reaching any provider. Prints
each error and warning with its file, line and field; exits 1 when there is
an error, else 0. Providers that need a live source (Docker, Redis, etcd,
HTTP, ...) are named as not checked.";

/// What the check found.
#[derive(Default)]
struct Report {
    errors: usize,
    warnings: usize,
}

impl Report {
    fn error(&mut self, text: impl std::fmt::Display) {
        self.errors += 1;
        println!("error: {text}");
    }

    fn warning(&mut self, text: impl std::fmt::Display) {
        self.warnings += 1;
        println!("warning: {text}");
    }

    fn note(&self, text: impl std::fmt::Display) {
        println!("note: {text}");
    }

    fn finish(self) -> ExitCode {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        println!(
            "{}, {}",
            plural(self.errors, "error"),
            plural(self.warnings, "warning")
        );
        if self.errors > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

pub fn run(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut report = Report::default();
    let loaded = match switchyard_config::loader::load_static(args, &env) {
        Ok(l) => l,
        Err(e) => {
            report.error(format!("static configuration: {e}"));
            return report.finish();
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            report.error(format!("cannot start the async runtime: {e}"));
            return report.finish();
        }
    };
    runtime.block_on(check(loaded, &mut report));
    report.finish()
}

async fn check(loaded: Loaded, report: &mut Report) {
    match &loaded.source {
        Source::File(p) => println!("static configuration: {}", p.display()),
        Source::Flags => println!("static configuration: command-line flags"),
        Source::Env => println!("static configuration: environment variables"),
        Source::Defaults => println!("static configuration: none found, defaults"),
    }
    if let Err(e) = translate::check(&loaded.config) {
        report.error(e);
    }
    let (config, unsupported) = translate::not_implemented(loaded.config, loaded.not_implemented);
    for key in &unsupported {
        report.warning(format!("{key}: not implemented by Switchyard yet, ignored"));
    }
    let challenges = acme_challenges(&config);
    if let Err(e) = translate::entrypoint_settings(&config, "check", &challenges) {
        report.error(e);
    }
    if let Err(e) = translate::udp_entrypoint_settings(&config) {
        report.error(e);
    }
    let internal = match translate::internal_settings(&config)
        .map_err(|e| e.to_string())
        .and_then(|s| switchyard_server::internal::configuration(&s).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            report.error(e);
            return;
        }
    };
    for (name, resolver) in &config.certificates_resolvers {
        let Some(acme) = &resolver.acme else { continue };
        if acme.shared_storage.is_none() {
            if let Err(e) = switchyard_server::acme::read_storage(Path::new(&acme.storage)) {
                report.error(format!("certificatesResolvers.{name}.acme.storage: {e}"));
            }
        }
    }
    for name in live_providers(&config) {
        report.note(format!(
            "providers.{name}: not checked (its configuration comes from a live source)"
        ));
    }

    let mut configs = BTreeMap::from([("internal".to_string(), internal)]);
    let mut files = Vec::new();
    if let Some(file) = config.providers.as_ref().and_then(|p| p.file.as_ref()) {
        let provider = switchyard_providers::file::FileProvider::from_config(file);
        let read = provider.read_once();
        for e in &read.errors {
            report.error(e);
        }
        println!("dynamic files read: {}", read.files.len());
        files = read.files;
        configs.insert(
            switchyard_providers::file::FileProvider::NAME.to_string(),
            read.config,
        );
    }
    let merged = switchyard_server::merge::merge(&configs);
    let builder = switchyard_server::Builder::new(
        translate::static_view(&config),
        internal_services(&config),
    );
    let mut builder = match builder {
        Ok(b) => b,
        Err(e) => {
            report.error(format!("serversTransport: {e}"));
            return;
        }
    };
    let (runtime, _) = builder.build(std::sync::Arc::new(merged));
    let info = &runtime.info;
    let trees: Vec<(&Rendered, Node)> = files
        .iter()
        .filter_map(|(path, rendered)| {
            let tree = switchyard_config::loader::parse_tree(path, &rendered.text).ok()?;
            Some((rendered, tree))
        })
        .collect();
    for (kind, section, elements) in [
        ("router", "routers", &info.routers),
        ("service", "services", &info.services),
        ("middleware", "middlewares", &info.middlewares),
    ] {
        for el in elements.values() {
            if el.errors.is_empty() {
                continue;
            }
            let place = locate(&trees, section, &el.name)
                .map(|l| format!("{l}: "))
                .unwrap_or_default();
            for e in &el.errors {
                let text = format!("{place}{kind} {:?}: {e}", el.name);
                match el.status {
                    switchyard_server::runtime::Status::Disabled => report.error(text),
                    _ => report.warning(text),
                }
            }
        }
    }
    for (kind, elements) in [
        ("UDP router", &runtime.udp.routers),
        ("UDP service", &runtime.udp.services),
    ] {
        for el in elements.values() {
            for e in &el.errors {
                let text = format!("{kind} {:?}: {e}", el.name);
                match el.status {
                    switchyard_server::runtime::Status::Disabled => report.error(text),
                    _ => report.warning(text),
                }
            }
        }
    }
    for e in &info.tls_errors {
        report.error(format!("tls: {e}"));
    }
    for (kind, elements) in [
        ("TCP router", &info.tcp_routers),
        ("TCP service", &info.tcp_services),
        ("TCP middleware", &info.tcp_middlewares),
    ] {
        for el in elements.values() {
            for e in &el.errors {
                let text = format!("{kind} {:?}: {e}", el.name);
                match el.status {
                    switchyard_server::runtime::Status::Disabled => report.error(text),
                    _ => report.warning(text),
                }
            }
        }
    }
}

/// The HTTP-01 table a start would make, when a resolver exists.
fn acme_challenges(config: &StaticConfiguration) -> Option<switchyard_server::acme::Challenges> {
    config
        .certificates_resolvers
        .values()
        .any(|r| r.acme.is_some())
        .then(Default::default)
}

/// The internal services a start would register (their handlers are never
/// called here).
fn internal_services(
    config: &StaticConfiguration,
) -> HashMap<String, switchyard_proxy::BoxHandler> {
    let mut names = vec!["noop@internal"];
    if let Some(api) = &config.api {
        names.push("api@internal");
        if api.dashboard {
            names.push("dashboard@internal");
        }
    }
    if config.ping.is_some() {
        names.push("ping@internal");
    }
    if config
        .metrics
        .as_ref()
        .is_some_and(|m| m.prometheus.is_some())
    {
        names.push("prometheus@internal");
    }
    names
        .into_iter()
        .map(|n| (n.to_string(), switchyard_api::noop()))
        .collect()
}

/// The providers of `config` whose configuration only a running instance
/// can read.
fn live_providers(config: &StaticConfiguration) -> Vec<&'static str> {
    let Some(p) = config.providers.as_ref() else {
        return Vec::new();
    };
    let json = serde_json::to_value(p).unwrap_or_default();
    let mut out = Vec::new();
    for (key, name) in [
        ("docker", "docker"),
        ("swarm", "swarm"),
        ("redis", "redis"),
        ("etcd", "etcd"),
        ("zooKeeper", "zooKeeper"),
        ("consul", "consul"),
        ("http", "http"),
    ] {
        if json.get(key).is_some_and(|v| !v.is_null()) {
            out.push(name);
        }
    }
    out
}

/// Where `http.<section>.<name>` is defined among the files read
/// (`file:line:column`, the line of the template that wrote it), for a
/// qualified `name@file`.
fn locate(trees: &[(&Rendered, Node)], section: &str, qualified: &str) -> Option<String> {
    let name = qualified.strip_suffix("@file")?;
    trees.iter().find_map(|(rendered, tree)| {
        let mut at = tree.get("http")?.get(section)?.get(name)?.location.clone();
        if let Some(line) = usize::try_from(at.line)
            .ok()
            .and_then(|l| rendered.source_line(l))
            .and_then(|l| u32::try_from(l).ok())
        {
            if line != at.line {
                at.line = line;
                at.column = 0;
            }
        }
        Some(at.to_string())
    })
}
