//! `providers.consul`: the keys below `rootKey` in Consul's KV store, read
//! with `GET /v1/kv/<rootKey>?recurse`, changes pushed by blocking queries
//! (`?index=<X-Consul-Index>&wait=`), over HTTP/1.1 with hyper.
//!
//! As in Traefik (kvtools/consul): one endpoint (several are refused),
//! `token` sent as `X-Consul-Token`, `tls` switches to HTTPS; with
//! `namespaces`, one provider per namespace, named `consul-<namespace>`
//! (`?ns=`), and the wildcard namespace is refused. Folder keys (no value)
//! and the root key itself are skipped.
//!
//! Where Switchyard differs: `tls.insecureSkipVerify` is not supported
//! (the certificate is always verified; a warning at start).

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use switchyard_config::static_config::ConsulProvider;

use super::{host_port, KvError, Store};

pub const NAME: &str = "consul";

const DIAL_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a blocking query waits on the server before answering anyway.
const WAIT: Duration = Duration::from_secs(300);
/// The most a reply may take past [`WAIT`] (Consul adds up to 1/16).
const SLACK: Duration = Duration::from_secs(30);
/// The largest KV answer read (Consul values are at most 512 KiB each).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One Consul namespace (or the default one), connected or not.
pub struct Consul {
    name: &'static str,
    root_key: String,
    base: String,
    token: String,
    namespace: Option<String>,
    client: Option<Client<HttpsConnector<HttpConnector>, Empty<Bytes>>>,
    tls: Option<rustls::ClientConfig>,
    /// `X-Consul-Index` of the last read.
    index: u64,
}

/// The providers `settings` describe: one, or one per namespace.
pub fn providers(settings: &ConsulProvider) -> Result<Vec<Consul>, KvError> {
    let namespaces: Vec<Option<&str>> = if settings.namespaces.is_empty() {
        vec![None]
    } else {
        settings
            .namespaces
            .iter()
            .map(|n| Some(n.as_str()))
            .collect()
    };
    namespaces
        .into_iter()
        .map(|ns| Consul::new(settings, ns))
        .collect()
}

impl Consul {
    fn new(settings: &ConsulProvider, namespace: Option<&str>) -> Result<Consul, KvError> {
        let endpoint = match settings.endpoints.as_slice() {
            [one] => one,
            [] => return Err(KvError::new("providers.consul.endpoints", "none given")),
            _ => {
                return Err(KvError::new(
                    "providers.consul.endpoints",
                    "only one endpoint is supported (as in Traefik)",
                ))
            }
        };
        if namespace == Some("*") {
            return Err(KvError::new(
                "providers.consul.namespaces",
                "the wildcard namespace is not supported",
            ));
        }
        let (host, port) = host_port(endpoint, 8500)?;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let scheme = if settings.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let tls = match &settings.tls {
            Some(t) => {
                if t.insecure_skip_verify {
                    tracing::warn!(
                        provider = NAME,
                        "tls.insecureSkipVerify is not supported for consul: the server's certificate is verified"
                    );
                }
                Some(tls_config(t)?)
            }
            None => None,
        };
        let name: &'static str = match namespace {
            // A provider's name lives as long as the process.
            Some(ns) => Box::leak(format!("{NAME}-{ns}").into_boxed_str()),
            None => NAME,
        };
        Ok(Consul {
            name,
            root_key: settings.root_key.trim_start_matches('/').to_string(),
            base: format!("{scheme}://{host}:{port}"),
            token: settings.token.clone(),
            namespace: namespace.map(str::to_string),
            client: None,
            tls,
            index: 0,
        })
    }

    /// The provider's name: `consul`, or `consul-<namespace>`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// One KV read; with `index`, a blocking query. Returns the pairs and
    /// the new `X-Consul-Index`.
    async fn read(&self, index: Option<u64>) -> Result<(Vec<(String, String)>, u64), KvError> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| KvError::new("consul", "not connected"))?;
        let mut uri = format!("{}/v1/kv/{}?recurse=", self.base, self.root_key);
        if let Some(ns) = &self.namespace {
            uri.push_str(&format!("&ns={ns}"));
        }
        let limit = match index {
            Some(i) => {
                uri.push_str(&format!("&index={i}&wait={}s", WAIT.as_secs()));
                WAIT + SLACK
            }
            None => DIAL_TIMEOUT * 10,
        };
        let mut request = http::Request::get(&uri);
        if !self.token.is_empty() {
            request = request.header("X-Consul-Token", &self.token);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| KvError::new(format!("GET {uri}"), e))?;
        let answer = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| KvError::new(format!("GET {uri}"), e))?;
            let status = response.status();
            let index = response
                .headers()
                .get("x-consul-index")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| KvError::new(format!("reading the answer of GET {uri}"), e))?
                .to_bytes();
            Ok::<_, KvError>((status, index, body))
        };
        let (status, new_index, body) = tokio::time::timeout(limit, answer)
            .await
            .map_err(|_| KvError::new(format!("GET {uri}"), "timed out"))??;
        match status.as_u16() {
            200 => Ok((self.pairs(&body)?, new_index)),
            // No key below the root (yet).
            404 => Ok((Vec::new(), new_index)),
            _ => Err(KvError::new(
                format!("GET {uri}"),
                format!("{status}: {}", String::from_utf8_lossy(&body).trim()),
            )),
        }
    }

    fn pairs(&self, body: &[u8]) -> Result<Vec<(String, String)>, KvError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            key: String,
            value: Option<String>,
        }
        let entries: Vec<Entry> =
            serde_json::from_slice(body).map_err(|e| KvError::new("consul's KV answer", e))?;
        let mut pairs = Vec::with_capacity(entries.len());
        for entry in entries {
            // A folder (no value) or the root itself.
            let Some(value) = entry.value else { continue };
            if entry.key == self.root_key {
                continue;
            }
            let value = base64::engine::general_purpose::STANDARD
                .decode(value.as_bytes())
                .map_err(|e| KvError::new(format!("the value of {}", entry.key), e))?;
            pairs.push((entry.key, String::from_utf8_lossy(&value).into_owned()));
        }
        Ok(pairs)
    }
}

/// rustls settings from `tls`: its CA (else the system's roots) and client
/// certificate.
fn tls_config(
    tls: &switchyard_config::static_config::KvTls,
) -> Result<rustls::ClientConfig, KvError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let context = |what: &str, path: &str| format!("providers.consul.tls.{what} {path:?}");
    let mut roots = rustls::RootCertStore::empty();
    if tls.ca.is_empty() {
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    } else {
        for cert in CertificateDer::pem_file_iter(&tls.ca)
            .map_err(|e| KvError::new(context("ca", &tls.ca), e))?
        {
            let cert = cert.map_err(|e| KvError::new(context("ca", &tls.ca), e))?;
            roots
                .add(cert)
                .map_err(|e| KvError::new(context("ca", &tls.ca), e))?;
        }
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    if tls.cert.is_empty() || tls.key.is_empty() {
        return Ok(builder.with_no_client_auth());
    }
    let chain = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| KvError::new(context("cert", &tls.cert), e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KvError::new(context("cert", &tls.cert), e))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| KvError::new(context("key", &tls.key), e))?;
    builder
        .with_client_auth_cert(chain, key)
        .map_err(|e| KvError::new(context("cert", &tls.cert), e))
}

impl Store for Consul {
    fn root_key(&self) -> &str {
        &self.root_key
    }

    async fn connect(&mut self) -> Result<(), KvError> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(DIAL_TIMEOUT));
        http.enforce_http(false);
        let tls = match &self.tls {
            Some(t) => t.clone(),
            None => rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        self.client = Some(Client::builder(TokioExecutor::new()).build(https));
        self.index = 0;
        Ok(())
    }

    async fn list(&mut self) -> Result<Vec<(String, String)>, KvError> {
        let (pairs, index) = self.read(None).await?;
        self.index = index;
        Ok(pairs)
    }

    async fn changed(&mut self) -> Result<(), KvError> {
        // Each blocking query returns when the index moves or the wait
        // ends; a wait that ends with the same index is asked again.
        for _ in 0..1_000_000u32 {
            let (_, index) = self.read(Some(self.index)).await?;
            if index != self.index {
                // Consul's index may go back (a restored snapshot): start
                // over from it.
                self.index = index;
                return Ok(());
            }
        }
        Err(KvError::new("consul", "no change in a million waits"))
    }
}
