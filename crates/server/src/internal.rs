//! The internal provider: the routers Traefik creates for its own features
//! (`api@internal`, `dashboard@internal`, `ping@internal`,
//! `prometheus@internal`, entrypoint redirections), as a dynamic configuration like any provider's.

use std::fmt::Write;

use switchyard_config::dynamic::Configuration;

/// Traefik's `math.MaxInt`, the base of internal router priorities.
pub const MAX_PRIORITY: i64 = i64::MAX;

/// What the internal provider needs to know.
#[derive(Debug, Clone, Default)]
pub struct InternalSettings {
    /// `api` is enabled with `insecure`: routers on the `traefik` entrypoint.
    pub api_insecure: bool,
    pub dashboard: bool,
    /// `ping`'s entrypoint, when ping is enabled and not manually routed.
    pub ping_entrypoint: Option<String>,
    /// `metrics.prometheus.entryPoint`, when Prometheus is on and not
    /// manually routed.
    pub prometheus_entrypoint: Option<String>,
    /// `(from, to entrypoint, scheme, port of to, permanent, priority)`.
    pub redirections: Vec<Redirection>,
}

#[derive(Debug, Clone)]
pub struct Redirection {
    pub from: String,
    pub to: String,
    pub scheme: String,
    pub port: u16,
    pub permanent: bool,
    pub priority: i64,
    /// The entrypoint's `allowACMEByPass`: ACME HTTP-01 paths are not
    /// redirected.
    pub allow_acme_by_pass: bool,
}

/// The dashboard router's middlewares: a redirection of the bare root to
/// the page (a single-quoted YAML string keeps the regex's backslashes) and
/// the page's prefix taken off.
const DASHBOARD_MIDDLEWARES: &str = r#"    dashboard_redirect:
      redirectRegex:
        regex: '^(http:\/\/(\[[\w:.]+\]|[\w\._-]+)(:\d+)?)\/$'
        replacement: '${1}/dashboard/'
        permanent: true
    dashboard_stripprefix:
      stripPrefix:
        prefixes: ["/dashboard/", "/dashboard"]
"#;

/// The internal provider's configuration, as YAML parsed like a file.
pub fn configuration(
    s: &InternalSettings,
) -> Result<Configuration, switchyard_config::ConfigError> {
    let mut routers = String::new();
    let mut middlewares = String::new();
    if s.api_insecure {
        let _ = write!(
            routers,
            "    api:\n      entryPoints: [traefik]\n      rule: \"PathPrefix(`/api`)\"\n      ruleSyntax: default\n      service: api@internal\n      priority: {}\n",
            MAX_PRIORITY - 1
        );
        if s.dashboard {
            // `/` redirects to `/dashboard/`; the page sees paths below it.
            let _ = write!(
                routers,
                "    dashboard:\n      entryPoints: [traefik]\n      rule: \"PathPrefix(`/`)\"\n      ruleSyntax: default\n      middlewares: [dashboard_redirect@internal, dashboard_stripprefix@internal]\n      service: dashboard@internal\n      priority: {}\n",
                MAX_PRIORITY - 2
            );
            middlewares.push_str(DASHBOARD_MIDDLEWARES);
        }
    }
    if let Some(ep) = &s.ping_entrypoint {
        let _ = write!(
            routers,
            "    ping:\n      entryPoints: [{ep:?}]\n      rule: \"PathPrefix(`/ping`)\"\n      ruleSyntax: default\n      service: ping@internal\n      priority: {}\n",
            MAX_PRIORITY
        );
    }
    if let Some(ep) = &s.prometheus_entrypoint {
        let _ = write!(
            routers,
            "    prometheus:\n      entryPoints: [{ep:?}]\n      rule: \"PathPrefix(`/metrics`)\"\n      ruleSyntax: default\n      service: prometheus@internal\n      priority: {}\n",
            MAX_PRIORITY
        );
    }
    for r in &s.redirections {
        let name = normalize_name(&format!("{}-to-{}", r.from, r.to));
        let rule = if r.allow_acme_by_pass {
            "HostRegexp(`^.+$`) && !PathPrefix(`/.well-known/acme-challenge/`)"
        } else {
            "HostRegexp(`^.+$`)"
        };
        let _ = write!(
            routers,
            "    {name:?}:\n      entryPoints: [{:?}]\n      rule: \"{rule}\"\n      ruleSyntax: default\n      middlewares: [\"redirect-{name}\"]\n      service: noop@internal\n      priority: {}\n",
            r.from, r.priority
        );
        let _ = write!(
            middlewares,
            "    \"redirect-{name}\":\n      redirectScheme:\n        scheme: {:?}\n        port: \"{}\"\n        permanent: {}\n",
            r.scheme, r.port, r.permanent
        );
    }
    let mut yaml = String::from("http:\n");
    if !routers.is_empty() {
        yaml.push_str("  routers:\n");
        yaml.push_str(&routers);
    }
    if !middlewares.is_empty() {
        yaml.push_str("  middlewares:\n");
        yaml.push_str(&middlewares);
    }
    switchyard_config::loader::parse_dynamic(std::path::Path::new("internal.yml"), &yaml)
}

/// A name as Traefik's providers normalise it: runs of characters other
/// than letters and digits become one `-`, none at either end.
pub fn normalize_name(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::normalize_name;

    #[test]
    fn normalize_name_table() {
        let cases = [
            ("web-to-websecure", "web-to-websecure"),
            ("web-to-:443", "web-to-443"),
            ("a_b.c", "a-b-c"),
            ("--x--", "x"),
            ("été:8443", "été-8443"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_name(input), want, "{input}");
        }
    }
}
