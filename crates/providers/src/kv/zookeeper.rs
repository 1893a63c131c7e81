//! `providers.zooKeeper`: the znodes below `/<rootKey>` read recursively,
//! changes pushed by one persistent recursive watch on `/<rootKey>`
//! (ZooKeeper 3.6 and later).
//!
//! A znode's path below the root is the key (`/traefik/http/routers/r/rule`
//! is `traefik/http/routers/r/rule`) and its data the value; as in Traefik
//! only leaves count (a znode with children is a folder). `username` and
//! `password` are sent as `digest` authentication.
//!
//! Where Switchyard differs: Traefik (kvtools/zookeeper) watches only the
//! children of the root znode, so it misses a value changed or a key added
//! deeper down until something under the root itself changes; Switchyard
//! sees every change below the root.

use std::time::Duration;

use futures_util::FutureExt;
use switchyard_config::static_config::ZooKeeperProvider;
use zookeeper_client::{AddWatchMode, Client, EventType, PersistentWatcher, SessionState};

use super::{host_port, KvError, Store};

pub const NAME: &str = "zookeeper";

/// Traefik's connection timeout for ZooKeeper.
const DIAL_TIMEOUT: Duration = Duration::from_secs(3);
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// A bound on the znodes read below the root.
const MAX_NODES: usize = 1_000_000;

/// A ZooKeeper ensemble, connected or not.
pub struct ZooKeeper {
    settings: ZooKeeperProvider,
    root_key: String,
    cluster: String,
    client: Option<Client>,
    watcher: Option<PersistentWatcher>,
}

impl ZooKeeper {
    pub fn new(settings: ZooKeeperProvider) -> Result<ZooKeeper, KvError> {
        if settings.endpoints.is_empty() {
            return Err(KvError::new("providers.zooKeeper.endpoints", "none given"));
        }
        let cluster = settings
            .endpoints
            .iter()
            .map(|e| {
                let (host, port) = host_port(e, 2181)?;
                Ok(if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                })
            })
            .collect::<Result<Vec<_>, KvError>>()?
            .join(",");
        let root_key = settings.root_key.trim_matches('/').to_string();
        if root_key.is_empty() {
            return Err(KvError::new("providers.zooKeeper.rootKey", "empty"));
        }
        Ok(ZooKeeper {
            settings,
            root_key,
            cluster,
            client: None,
            watcher: None,
        })
    }

    fn root_path(&self) -> String {
        format!("/{}", self.root_key)
    }
}

fn lost(detail: impl std::fmt::Display) -> KvError {
    KvError::new("zookeeper", detail)
}

impl Store for ZooKeeper {
    fn root_key(&self) -> &str {
        &self.root_key
    }

    async fn connect(&mut self) -> Result<(), KvError> {
        self.client = None;
        self.watcher = None;
        let mut connector = Client::connector()
            .with_session_timeout(SESSION_TIMEOUT)
            .with_connection_timeout(DIAL_TIMEOUT);
        if !self.settings.username.is_empty() {
            let auth = format!("{}:{}", self.settings.username, self.settings.password);
            connector = connector.with_auth("digest", auth.as_bytes());
        }
        let client = tokio::time::timeout(DIAL_TIMEOUT * 2, connector.connect(&self.cluster))
            .await
            .map_err(|_| KvError::new("connecting to zookeeper", "timed out"))?
            .map_err(|e| KvError::new("connecting to zookeeper", e))?;
        let root = self.root_path();
        let watcher = client
            .watch(&root, AddWatchMode::PersistentRecursive)
            .await
            .map_err(|e| KvError::new(format!("watching {root}"), e))?;
        self.client = Some(client);
        self.watcher = Some(watcher);
        Ok(())
    }

    async fn list(&mut self) -> Result<Vec<(String, String)>, KvError> {
        let root = self.root_path();
        let client = self.client.as_ref().ok_or_else(|| lost("not connected"))?;
        let mut pairs = Vec::new();
        let mut stack = vec![root];
        let mut seen = 0usize;
        while let Some(path) = stack.pop() {
            seen += 1;
            if seen > MAX_NODES {
                return Err(lost(format!("more than {MAX_NODES} znodes below the root")));
            }
            let children = match client.list_children(&path).await {
                Ok(c) => c,
                // Gone since its parent was listed (or no root yet).
                Err(zookeeper_client::Error::NoNode) => continue,
                Err(e) => return Err(KvError::new(format!("listing {path}"), e)),
            };
            if !children.is_empty() {
                stack.extend(children.into_iter().map(|c| format!("{path}/{c}")));
                continue;
            }
            if path == self.root_path() {
                continue;
            }
            match client.get_data(&path).await {
                Ok((data, _)) => pairs.push((
                    path.trim_start_matches('/').to_string(),
                    String::from_utf8_lossy(&data).into_owned(),
                )),
                Err(zookeeper_client::Error::NoNode) => {}
                Err(e) => return Err(KvError::new(format!("reading {path}"), e)),
            }
        }
        Ok(pairs)
    }

    async fn changed(&mut self) -> Result<(), KvError> {
        let watcher = self.watcher.as_mut().ok_or_else(|| lost("not watching"))?;
        // A session event means the connection went (or came back after
        // events may have been lost): reconnect and read everything.
        let check = |event: zookeeper_client::WatchedEvent| match event.event_type {
            EventType::Session if event.session_state != SessionState::SyncConnected => {
                Err(lost(format!("session {:?}", event.session_state)))
            }
            _ => Ok(()),
        };
        check(watcher.changed().await)?;
        for _ in 0..10_000 {
            match watcher.changed().now_or_never() {
                Some(event) => check(event)?,
                None => break,
            }
        }
        Ok(())
    }
}
