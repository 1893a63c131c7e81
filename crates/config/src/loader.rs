//! Loading configuration: the static configuration from the first source
//! that has anything (file, then CLI flags, then environment variables, as
//! Traefik does), and dynamic configuration files.

use std::path::{Path, PathBuf};

use crate::decode::from_node;
use crate::dynamic::Configuration;
use crate::node::{Location, Node, Value};
use crate::static_config::StaticConfiguration;
use crate::{flat, toml_source, yaml_source, ConfigError};

/// Where the static configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Flags,
    Env,
    Defaults,
}

#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: StaticConfiguration,
    pub source: Source,
    /// Keys Traefik knows that Switchyard does not implement yet, as the
    /// source spells them (for the one start-up warning).
    pub not_implemented: Vec<String>,
}

/// Checks a static tree against Traefik's keys, then decodes what
/// Switchyard implements.
fn decode_static(tree: &Node, source: Source) -> Result<Loaded, ConfigError> {
    let checked = crate::schema::check_static(tree)?;
    let config: StaticConfiguration = from_node(&checked.tree)?;
    Ok(Loaded {
        config: config.with_defaults(),
        source,
        not_implemented: checked.not_implemented,
    })
}

/// The file names searched, in order, in each search directory.
pub const FILE_NAMES: [&str; 6] = [
    "switchyard.toml",
    "switchyard.yaml",
    "switchyard.yml",
    "traefik.toml",
    "traefik.yaml",
    "traefik.yml",
];

/// The directories searched for a configuration file, in order.
pub fn search_dirs(env: &[(String, String)]) -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/etc/switchyard"),
        PathBuf::from("/etc/traefik"),
    ];
    if let Some((_, home)) = env.iter().find(|(k, _)| k == "HOME") {
        dirs.push(Path::new(home).join(".config"));
    }
    dirs.push(PathBuf::from("."));
    dirs
}

/// Parses a YAML or TOML file's text into a tree, by extension.
pub fn parse_tree(path: &Path, text: &str) -> Result<Node, ConfigError> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("yml" | "yaml") => yaml_source::parse(path, text),
        Some("toml") => toml_source::parse(path, text),
        _ => Err(ConfigError::at(
            Location::in_file(path, 0, 0),
            "unsupported file extension: expected .yml, .yaml or .toml",
        )),
    }
}

/// A static tree (from text a program hands over) decoded as a file's is.
pub(crate) fn decode_static_tree(tree: &Node) -> Result<StaticConfiguration, ConfigError> {
    decode_static(tree, Source::Defaults).map(|l| l.config)
}

fn read_static_file(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at(Location::in_file(path, 0, 0), format!("cannot read: {e}")))?;
    let tree = parse_tree(path, &text)?;
    decode_static(&tree, Source::File(path.to_path_buf()))
}

/// Loads the static configuration as Traefik does, searching `dirs` for a
/// file when `--configFile` is not given.
pub fn load_static_from(
    args: &[String],
    env: &[(String, String)],
    dirs: &[PathBuf],
) -> Result<Loaded, ConfigError> {
    let (pairs, _positional) = flat::parse_args(args);
    let config_file = pairs
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("configFile"))
        .map(|(_, v)| PathBuf::from(v));
    let env_file = env
        .iter()
        .find(|(k, _)| k == "SWITCHYARD_CONFIGFILE" || k == "TRAEFIK_CONFIGFILE")
        .map(|(_, v)| PathBuf::from(v));
    let file = config_file.or(env_file).or_else(|| {
        dirs.iter()
            .flat_map(|d| FILE_NAMES.iter().map(move |n| d.join(n)))
            .find(|p| p.is_file())
    });
    if let Some(path) = file {
        return read_static_file(&path);
    }

    let flags: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("configFile"))
        .collect();
    if !flags.is_empty() {
        let labels: Vec<Location> = flags
            .iter()
            .map(|(k, _)| Location::named(&format!("flag --{k}")))
            .collect();
        let tree = flat::build(
            flags
                .iter()
                .zip(labels)
                .map(|((k, v), l)| (k.as_str(), v.as_str(), l)),
        );
        return decode_static(&tree, Source::Flags);
    }

    let vars: Vec<(String, String, String)> = flat::env_pairs(env, &["SWITCHYARD_", "TRAEFIK_"])
        .into_iter()
        .filter(|(k, _, _)| k != "configfile")
        .collect();
    if !vars.is_empty() {
        let tree = flat::build(vars.iter().map(|(k, v, name)| {
            (
                k.as_str(),
                v.as_str(),
                Location::named(&format!("environment variable {name}")),
            )
        }));
        return decode_static(&tree, Source::Env);
    }

    Ok(Loaded {
        config: StaticConfiguration::default().with_defaults(),
        source: Source::Defaults,
        not_implemented: Vec::new(),
    })
}

/// [`load_static_from`] with the standard search directories.
pub fn load_static(args: &[String], env: &[(String, String)]) -> Result<Loaded, ConfigError> {
    load_static_from(args, env, &search_dirs(env))
}

/// Parses a dynamic configuration read as YAML (JSON is YAML) whatever
/// `name` says: the HTTP provider's answers. Errors are located in `name`.
pub fn parse_dynamic_yaml(name: &Path, text: &str) -> Result<Configuration, ConfigError> {
    let tree = yaml_source::parse(name, text)?;
    if matches!(&tree.value, Value::Map(m) if m.is_empty()) {
        return Ok(Configuration::default());
    }
    crate::dynamic_schema::decode(&tree)
}

/// Parses one dynamic configuration file (YAML or TOML by extension),
/// checked against Traefik's keys (see [`crate::dynamic_schema`]). An
/// empty file, or one with only comments, is an empty configuration.
pub fn parse_dynamic(path: &Path, text: &str) -> Result<Configuration, ConfigError> {
    let tree = parse_tree(path, text)?;
    if matches!(&tree.value, Value::Map(m) if m.is_empty()) {
        return Ok(Configuration::default());
    }
    crate::dynamic_schema::decode(&tree)
}
