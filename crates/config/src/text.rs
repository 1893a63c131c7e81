//! Reading and writing Traefik's YAML and TOML text from code: the entry
//! points a program that embeds Switchyard (or only wants its types) uses
//! instead of the loaders, which read files.
//!
//! Text read here goes through the same checks as a file: keys Traefik
//! does not know are errors, keys Switchyard does not act on are recorded
//! on their element ([`crate::dynamic::Unsupported`]), and every error
//! names the line, column and field (the source is called `<yaml>` or
//! `<toml>`).

use std::path::Path;

use crate::dynamic::{Configuration, Middleware};
use crate::node::{Location, Node, Value};
use crate::static_config::StaticConfiguration;
use crate::{toml_source, yaml_source, ConfigError};

/// The name errors give text read as YAML.
const YAML: &str = "<yaml>";
/// The name errors give text read as TOML.
const TOML: &str = "<toml>";

/// The tree of `text` in `format`.
fn tree(format: Format, text: &str) -> Result<Node, ConfigError> {
    match format {
        Format::Yaml => yaml_source::parse(Path::new(YAML), text),
        Format::Toml => toml_source::parse(Path::new(TOML), text),
    }
}

#[derive(Clone, Copy)]
enum Format {
    Yaml,
    Toml,
}

fn is_empty_map(tree: &Node) -> bool {
    matches!(&tree.value, Value::Map(m) if m.is_empty())
}

fn dynamic(format: Format, text: &str) -> Result<Configuration, ConfigError> {
    let tree = tree(format, text)?;
    if is_empty_map(&tree) {
        return Ok(Configuration::default());
    }
    crate::dynamic_schema::decode(&tree)
}

/// Serialises through JSON, the data model every type here writes.
fn json_of<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ConfigError> {
    serde_json::to_value(value).map_err(|e| ConfigError::new(format!("cannot serialise: {e}")))
}

/// `value` as YAML text.
fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, ConfigError> {
    let yaml = yaml_of(&json_of(value)?);
    let mut out = String::new();
    yaml_rust2::YamlEmitter::new(&mut out)
        .dump(&yaml)
        .map_err(|e| ConfigError::new(format!("cannot write YAML: {e}")))?;
    // The emitter starts a document with `---`; a file does not need it.
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    Ok(format!("{body}\n"))
}

fn yaml_of(v: &serde_json::Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match v {
        serde_json::Value::Null => Yaml::Null,
        serde_json::Value::Bool(b) => Yaml::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        serde_json::Value::String(s) => Yaml::String(s.clone()),
        serde_json::Value::Array(a) => Yaml::Array(a.iter().map(yaml_of).collect()),
        serde_json::Value::Object(o) => Yaml::Hash(
            o.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), yaml_of(v)))
                .collect(),
        ),
    }
}

/// `value` as TOML text.
fn to_toml<T: serde::Serialize>(value: &T) -> Result<String, ConfigError> {
    toml::to_string(value).map_err(|e| ConfigError::new(format!("cannot write TOML: {e}")))
}

impl Configuration {
    /// Reads a dynamic configuration written in YAML (or JSON), as the file
    /// provider reads a `.yml` file.
    ///
    /// ```
    /// use switchyard_config::dynamic::Configuration;
    ///
    /// let config = Configuration::from_yaml(
    ///     "http:\n  routers:\n    api:\n      rule: Host(`example.com`)\n      service: app\n",
    /// )?;
    /// let http = config.http.as_ref().expect("an http section");
    /// assert_eq!(http.routers["api"].service, "app");
    ///
    /// // Errors name the line, column and field.
    /// let err = Configuration::from_yaml("http:\n  routers:\n    api:\n      priority: high\n")
    ///     .unwrap_err();
    /// assert_eq!(err.location.as_ref().map(|l| l.line), Some(4));
    /// assert!(err.field().contains("priority"), "{err}");
    /// # Ok::<(), switchyard_config::ConfigError>(())
    /// ```
    pub fn from_yaml(text: &str) -> Result<Configuration, ConfigError> {
        dynamic(Format::Yaml, text)
    }

    /// Reads a dynamic configuration written in TOML, as the file provider
    /// reads a `.toml` file.
    ///
    /// ```
    /// use switchyard_config::dynamic::Configuration;
    ///
    /// let config = Configuration::from_toml(
    ///     "[http.services.app.loadBalancer]\nservers = [{ url = \"http://127.0.0.1:8080\" }]\n",
    /// )?;
    /// assert!(config.http.as_ref().is_some_and(|h| h.services.contains_key("app")));
    /// # Ok::<(), switchyard_config::ConfigError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Configuration, ConfigError> {
        dynamic(Format::Toml, text)
    }

    /// Writes the configuration as YAML that [`Configuration::from_yaml`]
    /// (and Traefik) read back: fields spelled as Traefik spells them,
    /// those at their default left out where the types say so.
    ///
    /// ```
    /// use switchyard_config::dynamic::Configuration;
    ///
    /// let text = "http:\n  routers:\n    api:\n      rule: Path(`/`)\n      service: app\n";
    /// let config = Configuration::from_yaml(text)?;
    /// let written = config.to_yaml()?;
    /// assert_eq!(Configuration::from_yaml(&written)?, config);
    /// # Ok::<(), switchyard_config::ConfigError>(())
    /// ```
    pub fn to_yaml(&self) -> Result<String, ConfigError> {
        to_yaml(self)
    }

    /// Writes the configuration as TOML that [`Configuration::from_toml`]
    /// reads back. TOML has no null: a setting written as null (`~` in
    /// YAML) cannot be written, and is an error.
    ///
    /// ```
    /// use switchyard_config::dynamic::Configuration;
    ///
    /// let config = Configuration::from_yaml(
    ///     "http:\n  middlewares:\n    strip:\n      stripPrefix:\n        prefixes: [/api]\n",
    /// )?;
    /// let written = config.to_toml()?;
    /// assert_eq!(Configuration::from_toml(&written)?, config);
    /// # Ok::<(), switchyard_config::ConfigError>(())
    /// ```
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        to_toml(self)
    }
}

impl Middleware {
    /// Reads one middleware written in YAML, as it stands under
    /// `http.middlewares.<name>` in a dynamic file: its type and settings.
    /// The same keys are checked as in a file; errors name the line and
    /// field within the text.
    ///
    /// ```
    /// use switchyard_config::dynamic::{decode_middleware, Middleware, MiddlewareKind};
    ///
    /// let m = Middleware::from_yaml("rateLimit:\n  average: 100\n  burst: 50\n")?;
    /// assert_eq!(m.kinds(), ["rateLimit"]);
    /// match decode_middleware(&m)? {
    ///     MiddlewareKind::RateLimit(r) => assert_eq!(r.burst, 50),
    ///     _ => unreachable!(),
    /// }
    ///
    /// let err = Middleware::from_yaml("rateLimit:\n  avrage: 100\n").unwrap_err();
    /// assert_eq!(err.location.as_ref().map(|l| l.line), Some(2), "{err}");
    /// # Ok::<(), switchyard_config::ConfigError>(())
    /// ```
    pub fn from_yaml(text: &str) -> Result<Middleware, ConfigError> {
        middleware(Format::Yaml, text)
    }

    /// Reads one middleware written in TOML (`[rateLimit]` then its
    /// settings), as [`Middleware::from_yaml`] reads YAML.
    ///
    /// ```
    /// use switchyard_config::dynamic::Middleware;
    ///
    /// let m = Middleware::from_toml("[stripPrefix]\nprefixes = [\"/api\"]\n")?;
    /// assert_eq!(m.kinds(), ["stripPrefix"]);
    /// # Ok::<(), switchyard_config::ConfigError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Middleware, ConfigError> {
        middleware(Format::Toml, text)
    }
}

/// The name one middleware read from text has inside the configuration it
/// is checked as; errors have it taken out of their field path again.
const ONE: &str = "middleware";

/// Reads one middleware by checking it as the only middleware of a dynamic
/// configuration.
fn middleware(format: Format, text: &str) -> Result<Middleware, ConfigError> {
    let tree = tree(format, text)?;
    let here = tree.location.clone();
    let mut middlewares = Node::empty_map(here.clone());
    middlewares.insert(ONE, tree);
    let mut http = Node::empty_map(here.clone());
    http.insert("middlewares", middlewares);
    let mut root = Node::empty_map(here);
    root.insert("http", http);
    let within = ["http", "middlewares", ONE];
    let unwrap_path = |mut e: ConfigError| {
        if e.path.len() >= within.len() && e.path.iter().zip(within).all(|(a, b)| a == b) {
            e.path.drain(..within.len());
        }
        e
    };
    let config = crate::dynamic_schema::decode(&root).map_err(unwrap_path)?;
    config
        .http
        .and_then(|mut h| h.middlewares.remove(ONE))
        // The only holder of it: taken out of its Arc without a copy.
        .map(|m| std::sync::Arc::try_unwrap(m).unwrap_or_else(|shared| (*shared).clone()))
        .ok_or_else(|| ConfigError::at(Location::named(YAML), "no middleware in the text"))
}

impl StaticConfiguration {
    /// Reads a static configuration written in YAML, as Traefik reads
    /// `traefik.yml`, with Switchyard's defaults filled in.
    ///
    /// ```
    /// use switchyard_config::static_config::StaticConfiguration;
    ///
    /// let config = StaticConfiguration::from_yaml("entryPoints:\n  web:\n    address: :8080\n")?;
    /// assert_eq!(config.entry_points["web"].address, ":8080");
    /// # Ok::<(), switchyard_config::ConfigError>(())
    /// ```
    pub fn from_yaml(text: &str) -> Result<StaticConfiguration, ConfigError> {
        crate::loader::decode_static_tree(&tree(Format::Yaml, text)?)
    }

    /// Reads a static configuration written in TOML, as Traefik reads
    /// `traefik.toml`, with Switchyard's defaults filled in.
    ///
    /// ```
    /// use switchyard_config::static_config::StaticConfiguration;
    ///
    /// let config = StaticConfiguration::from_toml("[entryPoints.web]\naddress = \":8080\"\n")?;
    /// assert_eq!(config.entry_points["web"].address, ":8080");
    /// # Ok::<(), switchyard_config::ConfigError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<StaticConfiguration, ConfigError> {
        crate::loader::decode_static_tree(&tree(Format::Toml, text)?)
    }

    /// Writes the static configuration as YAML.
    ///
    /// ```
    /// use switchyard_config::static_config::StaticConfiguration;
    ///
    /// let config = StaticConfiguration::from_yaml("entryPoints:\n  web:\n    address: :8080\n")?;
    /// let again = StaticConfiguration::from_yaml(&config.to_yaml()?)?;
    /// assert_eq!(again.entry_points["web"].address, ":8080");
    /// # Ok::<(), switchyard_config::ConfigError>(())
    /// ```
    pub fn to_yaml(&self) -> Result<String, ConfigError> {
        to_yaml(self)
    }
}
