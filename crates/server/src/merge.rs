//! Merging providers: every element name becomes `name@provider`.
//! References inside an element (a router's service and middlewares, a
//! chain's middlewares) stay as written and are resolved against the
//! referring element's provider by [`qualify`].

use std::collections::BTreeMap;

use switchyard_config::dynamic::{Configuration, HttpConfiguration};

/// `name` as seen from an element of `provider`: kept when already
/// qualified, else `name@provider`.
pub fn qualify(name: &str, provider: &str) -> String {
    if name.contains('@') {
        name.to_string()
    } else {
        format!("{name}@{provider}")
    }
}

/// The provider part of a qualified name.
pub fn provider_of(qualified: &str) -> &str {
    qualified.rsplit_once('@').map(|(_, p)| p).unwrap_or("")
}

/// Merges the latest configuration of each provider.
pub fn merge(configs: &BTreeMap<String, Configuration>) -> Configuration {
    let mut http = HttpConfiguration::default();
    let mut merged = Configuration::default();
    for (provider, config) in configs {
        if let Some(h) = &config.http {
            let rename = |name: &String| qualify(name, provider);
            http.routers
                .extend(h.routers.iter().map(|(k, v)| (rename(k), v.clone())));
            http.services
                .extend(h.services.iter().map(|(k, v)| (rename(k), v.clone())));
            http.middlewares
                .extend(h.middlewares.iter().map(|(k, v)| (rename(k), v.clone())));
            http.servers_transports.extend(
                h.servers_transports
                    .iter()
                    .map(|(k, v)| (rename(k), v.clone())),
            );
        }
        if merged.tls.is_none() {
            merged.tls.clone_from(&config.tls);
        }
        if merged.tcp.is_none() {
            merged.tcp.clone_from(&config.tcp);
        }
        if merged.udp.is_none() {
            merged.udp.clone_from(&config.udp);
        }
    }
    merged.http = Some(http);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualify_table() {
        let cases = [
            ("plain name gets the provider", "svc", "file", "svc@file"),
            ("qualified name is kept", "svc@docker", "file", "svc@docker"),
            ("internal service", "api@internal", "file", "api@internal"),
        ];
        for (what, name, provider, want) in cases {
            assert_eq!(qualify(name, provider), want, "{what}");
        }
        assert_eq!(provider_of("a@file"), "file");
        assert_eq!(provider_of("a"), "");
    }
}
