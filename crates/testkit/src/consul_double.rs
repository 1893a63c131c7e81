//! A stand-in for Consul's KV HTTP API (Consul has no Debian package): keys
//! in memory, `GET /v1/kv/<key>` (with `?recurse`, `?ns=`, and blocking
//! queries: `?index=` waits until the store's index moves past it or `wait`
//! ends), `PUT` and `DELETE` (with `?recurse`), `X-Consul-Index` on every
//! answer, an ACL token checked when one is set. Values go out base64 in
//! Consul's JSON. It runs on a thread of its own; stopped and started
//! again, it keeps its keys.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::{oneshot, watch};

use crate::process::free_port;

/// The longest a blocking query waits, whatever it asks.
const MAX_WAIT: Duration = Duration::from_secs(600);

#[derive(Default)]
struct State {
    index: u64,
    /// (namespace, key) → (value, modify index).
    keys: BTreeMap<(String, String), (Vec<u8>, u64)>,
}

struct Shared {
    state: Mutex<State>,
    index: watch::Sender<u64>,
    token: Option<String>,
}

impl Shared {
    fn write(&self, change: impl FnOnce(&mut State, u64)) {
        let mut state = self.state.lock().expect("consul double state");
        state.index += 1;
        let index = state.index;
        change(&mut state, index);
        drop(state);
        self.index.send_replace(index);
    }
}

/// The double, serving on 127.0.0.1.
pub struct ConsulDouble {
    pub port: u16,
    shared: Arc<Shared>,
    running: Option<(oneshot::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl ConsulDouble {
    /// Starts one on a free port, without ACLs.
    pub fn start() -> ConsulDouble {
        ConsulDouble::start_on(free_port(), None)
    }

    /// Starts one on `port`; with `token`, every request must carry it in
    /// `X-Consul-Token` (else 403, as Consul's ACLs answer).
    pub fn start_on(port: u16, token: Option<&str>) -> ConsulDouble {
        let (index, _) = watch::channel(1);
        let mut double = ConsulDouble {
            port,
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    index: 1,
                    keys: BTreeMap::new(),
                }),
                index,
                token: token.map(str::to_string),
            }),
            running: None,
        };
        double.restart();
        double
    }

    /// Serves again (after [`ConsulDouble::stop`]) with the same keys.
    pub fn restart(&mut self) {
        self.stop();
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let shared = self.shared.clone();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(serve(addr, shared, stop_rx, ready_tx));
            // Dropping the runtime closes every connection still open.
        });
        let ready = ready_rx.recv_timeout(Duration::from_secs(10));
        assert!(
            matches!(ready, Ok(true)),
            "consul double could not listen on {addr}"
        );
        self.running = Some((stop_tx, thread));
    }

    /// Stops serving now (listener and open connections closed).
    pub fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }

    /// `127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sets `key` in the default namespace.
    pub fn put(&self, key: &str, value: &str) {
        self.put_in("default", key, value);
    }

    /// Sets `key` in namespace `ns`.
    pub fn put_in(&self, ns: &str, key: &str, value: &str) {
        let k = (ns.to_string(), key.to_string());
        let v = value.as_bytes().to_vec();
        self.shared.write(|s, index| {
            s.keys.insert(k, (v, index));
        });
    }

    /// Deletes `key` in the default namespace.
    pub fn delete(&self, key: &str) {
        let k = ("default".to_string(), key.to_string());
        self.shared.write(|s, _| {
            s.keys.remove(&k);
        });
    }
}

impl Drop for ConsulDouble {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<bool>,
) {
    // The port may still be held for a moment after a stop.
    let mut listener = None;
    for _ in 0..100 {
        if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
            listener = Some(l);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(listener) = listener else {
        let _ = ready.send(false);
        return;
    };
    let _ = ready.send(true);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, shared.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// Go's durations as Consul's clients send them (`300000ms`, `5m`, `10s`).
fn parse_wait(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return None,
    })
}

fn answer(status: StatusCode, index: u64, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("x-consul-index", http::HeaderValue::from(index.max(1)));
    response
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let current = *shared.index.borrow();
    if let Some(token) = &shared.token {
        let given = req
            .headers()
            .get("x-consul-token")
            .and_then(|v| v.to_str().ok());
        if given != Some(token.as_str()) {
            return Ok(answer(StatusCode::FORBIDDEN, current, "ACL not found"));
        }
    }
    let Some(key) = req.uri().path().strip_prefix("/v1/kv/").map(str::to_string) else {
        return Ok(answer(StatusCode::NOT_FOUND, current, ""));
    };
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let recurse = param("recurse").is_some();
    let ns = param("ns")
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string();
    let matches = |k: &(String, String)| {
        k.0 == ns
            && if recurse {
                k.1.starts_with(&key)
            } else {
                k.1 == key
            }
    };
    match *req.method() {
        http::Method::GET => {
            if let Some(index) = param("index").and_then(|i| i.parse::<u64>().ok()) {
                let wait = param("wait")
                    .and_then(parse_wait)
                    .unwrap_or(Duration::from_secs(300))
                    .min(MAX_WAIT);
                let mut rx = shared.index.subscribe();
                let moved = async {
                    while *rx.borrow_and_update() <= index {
                        if rx.changed().await.is_err() {
                            break;
                        }
                    }
                };
                let _ = tokio::time::timeout(wait, moved).await;
            }
            let state = shared.state.lock().expect("consul double state");
            let entries: Vec<serde_json::Value> = state
                .keys
                .iter()
                .filter(|(k, _)| matches(k))
                .map(|((_, k), (v, modify))| {
                    serde_json::json!({
                        "Key": k,
                        "Value": crate::kv_servers::base64_bytes(v),
                        "CreateIndex": modify,
                        "ModifyIndex": modify,
                        "LockIndex": 0,
                        "Flags": 0,
                    })
                })
                .collect();
            let index = state.index;
            drop(state);
            if entries.is_empty() {
                return Ok(answer(StatusCode::NOT_FOUND, index, ""));
            }
            let body = serde_json::to_vec(&entries).unwrap_or_default();
            let mut response = answer(StatusCode::OK, index, body);
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok(response)
        }
        http::Method::PUT => {
            let value = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            let k = (ns, key);
            shared.write(|s, index| {
                s.keys.insert(k, (value, index));
            });
            Ok(answer(StatusCode::OK, *shared.index.borrow(), "true"))
        }
        http::Method::DELETE => {
            shared.write(|s, _| s.keys.retain(|k, _| !matches(k)));
            Ok(answer(StatusCode::OK, *shared.index.borrow(), "true"))
        }
        _ => Ok(answer(StatusCode::METHOD_NOT_ALLOWED, current, "")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn waits() {
        use std::time::Duration;
        for (text, want) in [
            ("300000ms", Some(Duration::from_secs(300))),
            ("5m", Some(Duration::from_secs(300))),
            ("10s", Some(Duration::from_secs(10))),
            ("10", None),
            ("x", None),
        ] {
            assert_eq!(super::parse_wait(text), want, "{text}");
        }
    }
}
