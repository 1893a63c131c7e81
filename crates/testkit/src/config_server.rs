//! An HTTP endpoint serving a configuration document the test sets and
//! changes (the HTTP provider's source): every request gets the current
//! status and body; the request headers of the last request are kept.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Debug, Default)]
struct State {
    status: u16,
    body: String,
    delay: Duration,
    hits: u64,
    last_headers: Vec<(String, String)>,
}

/// A running endpoint; it stops when dropped.
pub struct ConfigServer {
    addr: SocketAddr,
    tls: bool,
    state: Arc<Mutex<State>>,
    _stop: oneshot::Sender<()>,
}

impl ConfigServer {
    /// Plain HTTP on a free port of 127.0.0.1, answering 200 with `body`.
    pub async fn start(body: &str) -> ConfigServer {
        ConfigServer::serve(body, None).await
    }

    /// HTTPS with the fixture certificate (signed by `fixtures/ca.pem`,
    /// valid for localhost and 127.0.0.1), handshaking as `options` say.
    pub async fn start_tls(body: &str, options: &crate::tls::TlsOptions) -> ConfigServer {
        ConfigServer::serve(body, Some(crate::tls::acceptor_with(options))).await
    }

    async fn serve(body: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> ConfigServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind config server");
        let addr = listener.local_addr().expect("config server address");
        let state = Arc::new(Mutex::new(State {
            status: 200,
            body: body.to_string(),
            ..State::default()
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let is_tls = tls.is_some();
        let st = state.clone();
        crate::serve::spawn_http(listener, tls, stopped, move |req| answer(st.clone(), req));
        ConfigServer {
            addr,
            tls: is_tls,
            state,
            _stop: stop,
        }
    }

    /// The endpoint's URL (`/config` on 127.0.0.1; any path answers).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/config", self.addr)
    }

    /// From now on, answer `status` with `body`.
    pub fn set(&self, status: u16, body: &str) {
        let mut s = self.state.lock().expect("config server state");
        s.status = status;
        s.body = body.to_string();
    }

    /// From now on, wait this long before answering.
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().expect("config server state").delay = delay;
    }

    /// Requests answered so far.
    pub fn hits(&self) -> u64 {
        self.state.lock().expect("config server state").hits
    }

    /// A header of the last request (names compared without case).
    pub fn last_header(&self, name: &str) -> Option<String> {
        let s = self.state.lock().expect("config server state");
        s.last_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body, delay) = {
        let mut s = state.lock().expect("config server state");
        s.hits += 1;
        s.last_headers = req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        (s.status, s.body.clone(), s.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(resp)
}
