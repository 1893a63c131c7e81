//! Comparing configurations pointer-first: routers, services and
//! middlewares shared between two configurations (one `Arc`) are equal
//! without a look inside, so comparing a configuration with one made from
//! it costs a walk of the names, not of every element.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Configuration, HttpConfiguration};

impl Configuration {
    /// Whether `self` equals `other` (as `==` would say), looking inside
    /// only the elements they do not share.
    pub fn same(&self, other: &Configuration) -> bool {
        // Destructured so that a field added later is not forgotten here.
        let Configuration {
            http,
            tcp,
            udp,
            tls,
            file_stamps,
        } = self;
        let same_http = match (http, &other.http) {
            (Some(x), Some(y)) => same_http(x, y),
            (x, y) => x.is_none() && y.is_none(),
        };
        same_http
            && *tcp == other.tcp
            && *udp == other.udp
            && *tls == other.tls
            && *file_stamps == other.file_stamps
    }
}

fn same_http(a: &HttpConfiguration, b: &HttpConfiguration) -> bool {
    let HttpConfiguration {
        routers,
        services,
        middlewares,
        servers_transports,
        models,
    } = a;
    same_shared(routers, &b.routers)
        && same_shared(services, &b.services)
        && same_shared(middlewares, &b.middlewares)
        && *servers_transports == b.servers_transports
        && *models == b.models
}

fn same_shared<T: PartialEq>(a: &BTreeMap<String, Arc<T>>, b: &BTreeMap<String, Arc<T>>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && (Arc::ptr_eq(va, vb) || va == vb))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn same_is_equality() {
        let parse = |yaml: &str| {
            crate::loader::parse_dynamic(Path::new("d.yml"), yaml)
                .unwrap_or_else(|e| panic!("fixture: {e}"))
        };
        let base = "http:\n  routers:\n    r:\n      rule: Host(`a`)\n      service: s\n  middlewares:\n    m:\n      addPrefix: {prefix: /a}\n";
        let a = parse(base);
        let copy = a.clone();
        assert!(a.same(&copy) && a == copy, "shared elements");
        assert!(a.same(&parse(base)), "equal elements, not shared");
        for other in [
            base.replace("/a}", "/b}"),
            base.replace("Host(`a`)", "Host(`b`)"),
            base.replace("    m:", "    n:"),
            format!("{base}tls:\n  options:\n    o: {{minVersion: VersionTLS12}}\n"),
        ] {
            let b = parse(&other);
            assert!(!a.same(&b) && a != b, "{other}");
        }
    }
}
