//! `providers.etcd`: the keys with the prefix `rootKey` read with one range
//! request, changes pushed by an etcd v3 watch on that prefix.
//!
//! As Traefik (kvtools/etcdv3) does, keys holding `___lock` (etcd mutexes)
//! and the key equal to the root are skipped; empty values are kept.
//! `username`/`password` authenticate; `tls` uses `https://` with its CA
//! and client certificate.
//!
//! Where Switchyard differs: `tls.insecureSkipVerify` is not supported
//! (the gRPC client always verifies); it is logged at start.

use std::time::Duration;

use etcd_client::{
    Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions, WatchOptions,
    WatchStream,
};
use futures_util::FutureExt;
use switchyard_config::static_config::EtcdProvider;

use super::{host_port, KvError, Store};

pub const NAME: &str = "etcd";

/// Traefik's connection timeout for etcd.
const DIAL_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An etcd store, connected or not.
pub struct Etcd {
    settings: EtcdProvider,
    root_key: String,
    endpoints: Vec<String>,
    client: Option<Client>,
    watch: Option<WatchStream>,
}

impl Etcd {
    pub fn new(settings: EtcdProvider) -> Result<Etcd, KvError> {
        if settings.endpoints.is_empty() {
            return Err(KvError::new("providers.etcd.endpoints", "none given"));
        }
        let scheme = if settings.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let endpoints = settings
            .endpoints
            .iter()
            .map(|e| {
                let (host, port) = host_port(e, 2379)?;
                Ok(if host.contains(':') {
                    format!("{scheme}://[{host}]:{port}")
                } else {
                    format!("{scheme}://{host}:{port}")
                })
            })
            .collect::<Result<Vec<_>, KvError>>()?;
        if settings
            .tls
            .as_ref()
            .is_some_and(|t| t.insecure_skip_verify)
        {
            tracing::warn!(
                provider = NAME,
                "tls.insecureSkipVerify is not supported for etcd: the server's certificate is verified"
            );
        }
        let root_key = settings.root_key.trim_start_matches('/').to_string();
        Ok(Etcd {
            settings,
            root_key,
            endpoints,
            client: None,
            watch: None,
        })
    }

    fn options(&self) -> Result<ConnectOptions, KvError> {
        let s = &self.settings;
        let mut options = ConnectOptions::new()
            .with_connect_timeout(DIAL_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT);
        if !s.username.is_empty() || !s.password.is_empty() {
            options = options.with_user(&s.username, &s.password);
        }
        if let Some(tls) = &s.tls {
            let read = |what: &str, path: &str| {
                std::fs::read(path)
                    .map_err(|e| KvError::new(format!("providers.etcd.tls.{what} {path:?}"), e))
            };
            let mut config = TlsOptions::new();
            config = if tls.ca.is_empty() {
                config.with_native_roots()
            } else {
                config.ca_certificate(Certificate::from_pem(read("ca", &tls.ca)?))
            };
            if !tls.cert.is_empty() && !tls.key.is_empty() {
                config = config.identity(Identity::from_pem(
                    read("cert", &tls.cert)?,
                    read("key", &tls.key)?,
                ));
            }
            options = options.with_tls(config);
        }
        Ok(options)
    }
}

impl Store for Etcd {
    fn root_key(&self) -> &str {
        &self.root_key
    }

    async fn connect(&mut self) -> Result<(), KvError> {
        self.client = None;
        self.watch = None;
        let options = self.options()?;
        let connect = Client::connect(&self.endpoints, Some(options));
        let mut client = tokio::time::timeout(DIAL_TIMEOUT, connect)
            .await
            .map_err(|_| KvError::new("connecting to etcd", "timed out"))?
            .map_err(|e| KvError::new("connecting to etcd", e))?;
        let watch = client.watch(
            self.root_key.as_str(),
            Some(WatchOptions::new().with_prefix()),
        );
        let mut watch = tokio::time::timeout(DIAL_TIMEOUT, watch)
            .await
            .map_err(|_| KvError::new("watching etcd", "timed out"))?
            .map_err(|e| KvError::new("watching etcd", e))?;
        // The watch is live once etcd confirms it: only then is the first
        // read sure to be followed by every later change.
        let created = tokio::time::timeout(DIAL_TIMEOUT, watch.message())
            .await
            .map_err(|_| KvError::new("watching etcd", "no confirmation"))?
            .map_err(|e| KvError::new("watching etcd", e))?;
        match created {
            Some(r) if r.created() && !r.canceled() => {}
            Some(r) => {
                return Err(KvError::new(
                    "watching etcd",
                    format!("refused: {}", r.cancel_reason()),
                ))
            }
            None => return Err(KvError::new("watching etcd", "stream closed")),
        }
        self.client = Some(client);
        self.watch = Some(watch);
        Ok(())
    }

    async fn list(&mut self) -> Result<Vec<(String, String)>, KvError> {
        let root = self.root_key.clone();
        let client = self
            .client
            .as_mut()
            .ok_or_else(|| KvError::new("etcd", "not connected"))?;
        let response = client
            .get(root.as_str(), Some(GetOptions::new().with_prefix()))
            .await
            .map_err(|e| KvError::new(format!("reading the keys below {root:?}"), e))?;
        Ok(response
            .kvs()
            .iter()
            .filter_map(|kv| {
                let key = String::from_utf8_lossy(kv.key()).into_owned();
                if key == root || key.contains("___lock") {
                    return None;
                }
                Some((key, String::from_utf8_lossy(kv.value()).into_owned()))
            })
            .collect())
    }

    async fn changed(&mut self) -> Result<(), KvError> {
        let watch = self
            .watch
            .as_mut()
            .ok_or_else(|| KvError::new("etcd", "not watching"))?;
        let lost = |detail: String| KvError::new("etcd watch", detail);
        let check =
            |message: Result<Option<etcd_client::WatchResponse>, etcd_client::Error>| match message
            {
                Ok(Some(r)) if r.canceled() => {
                    Err(lost(format!("canceled: {}", r.cancel_reason())))
                }
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(lost("stream closed".into())),
                Err(e) => Err(lost(e.to_string())),
            };
        check(watch.message().await)?;
        // Responses already here belong to the same burst.
        for _ in 0..10_000 {
            match watch.message().now_or_never() {
                Some(message) => check(message)?,
                None => break,
            }
        }
        Ok(())
    }
}
