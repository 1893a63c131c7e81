//! Where the API server is and how to prove who we are, as Traefik's
//! Kubernetes providers decide it: in a pod (`KUBERNETES_SERVICE_HOST` and
//! `KUBERNETES_SERVICE_PORT` set) the service account's token and CA from
//! their standard paths, with `endpoint` replacing the address when given;
//! outside, `endpoint` with the optional `token` and `certAuthFilePath`.

use std::path::{Path, PathBuf};

use super::KubeError;

/// The service account files a pod has.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// For tests only: a directory standing for [`SERVICE_ACCOUNT_DIR`], which
/// a test cannot write. Not a setting: Traefik has no such thing, and a
/// deployment never needs it (the kubelet mounts the standard path).
pub const TEST_SERVICE_ACCOUNT_DIR_ENV: &str = "SWITCHYARD_TEST_SERVICE_ACCOUNT_DIR";

/// The provider's connection options (Traefik's spelling in comments).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionSettings {
    /// `endpoint`
    pub endpoint: String,
    /// `token`: the bearer token, inline.
    pub token: String,
    /// `certAuthFilePath`: a PEM file of the CA the API server's
    /// certificate chains to.
    pub cert_auth_file_path: String,
}

/// Where the bearer token comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    None,
    Inline(String),
    /// Read again for every request (client-go re-reads it at most a
    /// minute apart): projected service account tokens rotate, and a list
    /// or watch after the rotation carries the new one.
    File(PathBuf),
}

impl Token {
    /// The token now (an unreadable file is an error: requests would be
    /// refused anyway).
    pub fn current(&self) -> Result<Option<String>, KubeError> {
        match self {
            Token::None => Ok(None),
            Token::Inline(t) => Ok(Some(t.clone())),
            Token::File(path) => std::fs::read_to_string(path)
                .map(|t| Some(t.trim().to_string()))
                .map_err(|e| KubeError::Config(format!("reading token {}: {e}", path.display()))),
        }
    }
}

/// A resolved connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// `http://host:port` or `https://host:port`, no trailing slash.
    pub base: String,
    pub token: Token,
    /// A CA file to trust (None: the system's roots).
    pub ca_file: Option<PathBuf>,
}

impl Connection {
    /// Resolves `settings` against the process environment.
    pub fn resolve(settings: &ConnectionSettings) -> Result<Connection, KubeError> {
        let account = std::env::var_os(TEST_SERVICE_ACCOUNT_DIR_ENV)
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR), PathBuf::from);
        Connection::resolve_with(settings, |k| std::env::var(k).ok(), &account)
    }

    /// Resolves with `env` for the environment and `account` for the
    /// service account directory.
    pub fn resolve_with(
        settings: &ConnectionSettings,
        env: impl Fn(&str) -> Option<String>,
        account: &Path,
    ) -> Result<Connection, KubeError> {
        let host = env("KUBERNETES_SERVICE_HOST").filter(|h| !h.is_empty());
        let port = env("KUBERNETES_SERVICE_PORT").filter(|p| !p.is_empty());
        let endpoint = settings.endpoint.trim_end_matches('/');
        if let (Some(host), Some(port)) = (host, port) {
            let base = if endpoint.is_empty() {
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                format!("https://{host}:{port}")
            } else {
                with_scheme(endpoint)
            };
            let token = if settings.token.is_empty() {
                Token::File(account.join("token"))
            } else {
                Token::Inline(settings.token.clone())
            };
            let ca = if settings.cert_auth_file_path.is_empty() {
                account.join("ca.crt")
            } else {
                PathBuf::from(&settings.cert_auth_file_path)
            };
            return Ok(Connection {
                base,
                token,
                ca_file: Some(ca),
            });
        }
        if endpoint.is_empty() {
            return Err(KubeError::Config(
                "not running in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset) and no endpoint given".to_string(),
            ));
        }
        Ok(Connection {
            base: with_scheme(endpoint),
            token: if settings.token.is_empty() {
                Token::None
            } else {
                Token::Inline(settings.token.clone())
            },
            ca_file: (!settings.cert_auth_file_path.is_empty())
                .then(|| PathBuf::from(&settings.cert_auth_file_path)),
        })
    }
}

/// client-go takes a bare `host:port` as HTTPS.
fn with_scheme(endpoint: &str) -> String {
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.to_string()
    } else {
        format!("https://{endpoint}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (description, environment, settings, expected connection).
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        ConnectionSettings,
        Option<Connection>,
    );

    #[test]
    fn resolution() {
        let account = Path::new("/sa");
        let settings = |endpoint: &str, token: &str, ca: &str| ConnectionSettings {
            endpoint: endpoint.to_string(),
            token: token.to_string(),
            cert_auth_file_path: ca.to_string(),
        };
        let pod = [
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
        ];
        let pod6 = [
            ("KUBERNETES_SERVICE_HOST", "fd00::1"),
            ("KUBERNETES_SERVICE_PORT", "6443"),
        ];
        let outside: [(&str, &str); 0] = [];
        let cases: Vec<Case> = vec![
            (
                "in a pod",
                &pod,
                settings("", "", ""),
                Some(Connection {
                    base: "https://10.0.0.1:443".into(),
                    token: Token::File("/sa/token".into()),
                    ca_file: Some("/sa/ca.crt".into()),
                }),
            ),
            (
                "in a pod, IPv6",
                &pod6,
                settings("", "", ""),
                Some(Connection {
                    base: "https://[fd00::1]:6443".into(),
                    token: Token::File("/sa/token".into()),
                    ca_file: Some("/sa/ca.crt".into()),
                }),
            ),
            (
                "in a pod, endpoint and token given",
                &pod,
                settings("http://127.0.0.1:8001/", "t", "/ca.pem"),
                Some(Connection {
                    base: "http://127.0.0.1:8001".into(),
                    token: Token::Inline("t".into()),
                    ca_file: Some("/ca.pem".into()),
                }),
            ),
            (
                "outside, endpoint only",
                &outside,
                settings("http://127.0.0.1:8001", "", ""),
                Some(Connection {
                    base: "http://127.0.0.1:8001".into(),
                    token: Token::None,
                    ca_file: None,
                }),
            ),
            (
                "outside, bare host is HTTPS",
                &outside,
                settings("k8s.example:6443", "t", "/ca.pem"),
                Some(Connection {
                    base: "https://k8s.example:6443".into(),
                    token: Token::Inline("t".into()),
                    ca_file: Some("/ca.pem".into()),
                }),
            ),
            ("outside, nothing", &outside, settings("", "t", ""), None),
        ];
        for (what, env, settings, want) in cases {
            let got = Connection::resolve_with(
                &settings,
                |k| {
                    env.iter()
                        .find(|(n, _)| *n == k)
                        .map(|(_, v)| v.to_string())
                },
                account,
            );
            assert_eq!(got.ok(), want, "{what}");
        }
    }

    #[test]
    fn token_file_is_read_each_time() {
        let path = std::env::temp_dir().join(format!("sy-kube-token-{}", std::process::id()));
        std::fs::write(&path, "one\n").expect("write");
        let token = Token::File(path.clone());
        assert_eq!(token.current().ok().flatten().as_deref(), Some("one"));
        std::fs::write(&path, "two").expect("write");
        assert_eq!(token.current().ok().flatten().as_deref(), Some("two"));
        std::fs::remove_file(&path).ok();
        assert!(token.current().is_err());
    }
}
