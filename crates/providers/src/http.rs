//! The HTTP provider (`providers.http`), as Traefik's: GET `endpoint` every
//! `pollInterval` with `headers` (a `Host` entry sets the Host header), each
//! exchange bounded by `pollTimeout`, over the upstream client of the proxy
//! (hyper and rustls; `tls` gives the CA, a client certificate and
//! `insecureSkipVerify`). A 200 whose body (YAML or JSON) differs from the
//! last one is decoded and sent; the same body again sends nothing.
//!
//! A failing endpoint (connection error, timeout, a status other than 200,
//! a body over `maxResponseBodySize`) keeps the last good configuration
//! serving: it is logged once, retried after 0.5 s, doubling up to
//! `pollInterval`, and its recovery is logged. A body that does not decode
//! is logged once (until the body changes) and keeps the last good
//! configuration too.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use switchyard_config::dynamic::Configuration;
use switchyard_config::loader::parse_dynamic_yaml;
use switchyard_proxy::upstream::{Protocol, TransportSettings, Upstream};

use crate::{Message, Sender};

/// The first retry after a failure; then doubling up to `pollInterval`.
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// `providers.http.tls`.
#[derive(Debug, Clone, Default)]
pub struct EndpointTls {
    /// CA certificate (file path or PEM); empty: the system's roots.
    pub ca: String,
    /// Client certificate and key (file paths or PEM); both or neither.
    pub cert: String,
    pub key: String,
    pub insecure_skip_verify: bool,
}

/// `providers.http`.
#[derive(Debug, Clone)]
pub struct HttpProvider {
    pub endpoint: String,
    pub poll_interval: Duration,
    /// Zero: no limit.
    pub poll_timeout: Duration,
    pub headers: BTreeMap<String, String>,
    pub tls: Option<EndpointTls>,
    /// Negative: no limit.
    pub max_response_body_size: i64,
}

impl HttpProvider {
    pub const NAME: &'static str = "http";

    /// The endpoint's client, or why the settings cannot work (Traefik
    /// refuses to start the provider then, and so do we).
    fn client(&self) -> Result<(Upstream, http::Uri), String> {
        if self.endpoint.is_empty() {
            return Err("non-empty endpoint is required".to_string());
        }
        if self.poll_interval.is_zero() {
            return Err("poll interval must be greater than 0".to_string());
        }
        let uri: http::Uri = self
            .endpoint
            .parse()
            .map_err(|e| format!("endpoint {:?}: {e}", self.endpoint))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!(
                "endpoint {:?}: an http:// or https:// URL is required",
                self.endpoint
            ));
        }
        let mut settings = TransportSettings::default();
        if let Some(tls) = &self.tls {
            settings.insecure_skip_verify = tls.insecure_skip_verify;
            if !tls.ca.is_empty() {
                settings.root_cas = vec![tls.ca.clone()];
            }
            match (tls.cert.is_empty(), tls.key.is_empty()) {
                (false, false) => settings.certificates = vec![(tls.cert.clone(), tls.key.clone())],
                (true, true) => {}
                _ => return Err("tls: cert and key must be given together".to_string()),
            }
        }
        let upstream = Upstream::new(settings)
            .map_err(|e| format!("unable to create client TLS configuration: {e}"))?;
        Ok((upstream, uri))
    }

    /// Runs until `tx` closes.
    pub async fn run(self, tx: Sender) {
        let (client, uri) = match self.client() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(provider = Self::NAME, error = %e, "cannot start the HTTP provider");
                return;
            }
        };
        let mut last_body: Option<Bytes> = None;
        let mut failing = false;
        let mut retry = FIRST_RETRY.min(self.poll_interval);
        loop {
            let wait = match self.fetch(&client, &uri).await {
                Ok(body) => {
                    if failing {
                        failing = false;
                        tracing::info!(provider = Self::NAME, endpoint = %self.endpoint, "endpoint answers again");
                    }
                    retry = FIRST_RETRY.min(self.poll_interval);
                    if last_body.as_ref() != Some(&body) {
                        let decoded = self.decode(&body);
                        last_body = Some(body);
                        match decoded {
                            Ok(config) => {
                                tracing::info!(provider = Self::NAME, endpoint = %self.endpoint, "configuration change detected");
                                let message = Message {
                                    provider: Self::NAME.to_string(),
                                    config,
                                };
                                if tx.send(message).await.is_err() {
                                    return;
                                }
                            }
                            Err(e) => {
                                tracing::error!(provider = Self::NAME, endpoint = %self.endpoint, error = %e, "cannot decode configuration data; keeping the last good configuration");
                            }
                        }
                    }
                    self.poll_interval
                }
                Err(e) => {
                    if !failing {
                        failing = true;
                        tracing::error!(provider = Self::NAME, endpoint = %self.endpoint, error = %e, "cannot fetch configuration data; keeping the last good configuration and retrying");
                    } else {
                        tracing::debug!(provider = Self::NAME, endpoint = %self.endpoint, error = %e, "endpoint still failing");
                    }
                    let wait = retry;
                    retry = (retry * 2).min(self.poll_interval);
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = tx.closed() => return,
            }
        }
    }

    /// One GET of the endpoint: the body of a 200, within `pollTimeout`.
    async fn fetch(&self, client: &Upstream, uri: &http::Uri) -> Result<Bytes, String> {
        let exchange = async {
            let mut req = http::Request::builder()
                .method(http::Method::GET)
                .uri(uri.clone());
            let mut host = uri.authority().map(|a| a.as_str().to_string());
            for (name, value) in &self.headers {
                if name.eq_ignore_ascii_case("host") {
                    host = Some(value.clone());
                } else {
                    req = req.header(name.as_str(), value.as_str());
                }
            }
            if let Some(host) = host {
                req = req.header(http::header::HOST, host);
            }
            let req = req
                .body(switchyard_proxy::body::empty())
                .map_err(|e| format!("create fetch request: {e}"))?;
            let resp = client
                .send(req, &self.endpoint, Protocol::Auto)
                .await
                .map_err(|e| format!("do fetch request: {}", error_chain(&e)))?;
            if resp.status() != http::StatusCode::OK {
                return Err(format!(
                    "received non-ok response code: {}",
                    resp.status().as_u16()
                ));
            }
            let mut body = resp.into_body();
            let mut data = BytesMut::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| format!("reading response body: {e}"))?;
                if let Ok(chunk) = frame.into_data() {
                    data.extend_from_slice(&chunk);
                    if self.max_response_body_size >= 0
                        && data.len() as u64 > self.max_response_body_size as u64
                    {
                        return Err("response body too large".to_string());
                    }
                }
            }
            Ok(data.freeze())
        };
        if self.poll_timeout.is_zero() {
            return exchange.await;
        }
        match tokio::time::timeout(self.poll_timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "do fetch request: no answer within pollTimeout ({:?})",
                self.poll_timeout
            )),
        }
    }

    fn decode(&self, body: &[u8]) -> Result<Configuration, String> {
        let text = std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
        parse_dynamic_yaml(Path::new(&self.endpoint), text).map_err(|e| e.to_string())
    }
}

/// An error and its causes, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    // Bounded: error chains are short, but never trust a cycle.
    for _ in 0..8 {
        let Some(c) = cause else { break };
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}
