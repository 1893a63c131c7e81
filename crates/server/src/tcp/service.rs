//! TCP services: a load balancer that opens a connection to one of its
//! servers (round robin, as Traefik's weighted round robin with equal
//! weights), a weighted round robin over services, and the byte copy
//! between the client and the backend.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::proxy_header;

/// A built TCP service.
#[derive(Debug)]
pub enum TcpService {
    Balancer(Balancer),
    Weighted(Weighted),
}

/// One server of a balancer.
#[derive(Debug, Clone)]
pub struct Server {
    pub address: String,
    /// Whether the connection to it is TLS (with the balancer's client).
    pub tls: bool,
}

/// How a balancer speaks TLS to its servers with `tls`.
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub config: Arc<rustls::ClientConfig>,
    /// `serverName`; else the server's host.
    pub server_name: Option<String>,
}

impl ClientTls {
    /// The TLS handshake with the server at `address` over `stream`
    /// (verified for `serverName`, else the address's host).
    pub async fn connect(
        &self,
        address: &str,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let host = self
            .server_name
            .clone()
            .unwrap_or_else(|| host_of(address).to_string());
        let name = rustls::pki_types::ServerName::try_from(host)
            .map_err(|_| "invalid TLS server name".to_string())?;
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))
    }
}

#[derive(Debug)]
pub struct Balancer {
    pub servers: Vec<Server>,
    /// The TLS client for servers with `tls`.
    pub tls: Option<ClientTls>,
    /// TCP keep-alive probes to the servers, this often.
    pub keep_alive: Option<Duration>,
    /// Whether each server (same index) is in rotation; health checks
    /// change it.
    pub up: Arc<[std::sync::atomic::AtomicBool]>,
    /// The health checks, stopped when the balancer goes.
    pub health: Option<super::health::HealthTask>,
    /// Whether it has a `healthCheck` (a weighted service with one takes
    /// it out of rotation while no server is up).
    pub health_checked: bool,
    next: AtomicUsize,
    pub dial_timeout: Duration,
    /// How long the other direction may go on once one has ended; None:
    /// until it ends too.
    pub termination_delay: Option<Duration>,
    /// The PROXY protocol version sent to the servers first.
    pub proxy_protocol: Option<u8>,
}

impl Balancer {
    pub fn new(
        servers: Vec<Server>,
        dial_timeout: Duration,
        termination_delay: Option<Duration>,
        proxy_protocol: Option<u8>,
    ) -> Balancer {
        let up = servers
            .iter()
            .map(|_| std::sync::atomic::AtomicBool::new(true))
            .collect();
        Balancer {
            servers,
            tls: None,
            keep_alive: None,
            up,
            health: None,
            health_checked: false,
            next: AtomicUsize::new(0),
            dial_timeout,
            termination_delay,
            proxy_protocol,
        }
    }

    /// The next server in rotation (round robin over those up).
    fn pick(&self) -> Option<&Server> {
        let n = self.servers.len();
        for _ in 0..n {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % n;
            if self.up[i].load(Ordering::Relaxed) {
                return Some(&self.servers[i]);
            }
        }
        None
    }

    /// Each server's address and whether it is in rotation.
    pub fn server_status(&self) -> Vec<(String, bool)> {
        self.servers
            .iter()
            .zip(self.up.iter())
            .map(|(s, up)| (s.address.clone(), up.load(Ordering::Relaxed)))
            .collect()
    }
}

/// A smooth weighted round robin over services (the order nginx and
/// Traefik's `wrr` give: with weights 3 and 1, `a a b a`, spread out).
/// With `healthCheck` (`health_checked`), a child none of whose servers
/// is up is left out of the rotation, as Traefik 3.7 propagates its
/// children's status; without it every child takes its turn.
#[derive(Debug)]
pub struct Weighted {
    pub children: Vec<(Arc<TcpService>, i64)>,
    pub health_checked: bool,
    current: Mutex<Vec<i64>>,
}

impl Weighted {
    pub fn new(children: Vec<(Arc<TcpService>, i64)>, health_checked: bool) -> Weighted {
        let current = Mutex::new(vec![0; children.len()]);
        Weighted {
            children,
            health_checked,
            current,
        }
    }

    /// Whether the child takes its turn now.
    fn in_rotation(&self, child: &TcpService) -> bool {
        !self.health_checked || child.is_up()
    }

    fn pick(&self) -> Option<&Arc<TcpService>> {
        let total: i64 = self
            .children
            .iter()
            .filter(|(c, _)| self.in_rotation(c))
            .map(|(_, w)| *w)
            .sum();
        if total <= 0 {
            return None;
        }
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let mut best = None;
        for (i, (child, w)) in self.children.iter().enumerate() {
            if !self.in_rotation(child) {
                continue;
            }
            current[i] += w;
            if best.is_none_or(|b: usize| current[i] > current[b]) {
                best = Some(i);
            }
        }
        let best = best?;
        current[best] -= total;
        Some(&self.children[best].0)
    }
}

/// A client connection a service copies: a plain TCP one can be copied
/// without our buffers ([`super::splice`]), others (TLS ended here) are
/// copied through them.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Sized {
    /// The plain TCP connection, when that is what this is.
    fn into_plain(self) -> Result<TcpStream, Self>;
}

impl ClientStream for TcpStream {
    fn into_plain(self) -> Result<TcpStream, Self> {
        Ok(self)
    }
}

impl ClientStream for crate::tls::stream::TlsStream {
    fn into_plain(self) -> Result<TcpStream, Self> {
        Err(self)
    }
}

/// Where a connection came from and arrived, for the PROXY header.
#[derive(Debug, Clone, Copy)]
pub struct Ends {
    pub client: SocketAddr,
    pub local: SocketAddr,
}

impl TcpService {
    /// A load balancer's servers and whether each is in rotation; None
    /// for a weighted service.
    pub fn server_status(&self) -> Option<Vec<(String, bool)>> {
        match self {
            TcpService::Balancer(b) => Some(b.server_status()),
            TcpService::Weighted(_) => None,
        }
    }

    /// Whether a health-checked parent sends connections here: a balancer
    /// with a server up, a weighted service with a child in rotation (the
    /// depth bounded as in [`TcpService::balancer`]).
    pub fn is_up(&self) -> bool {
        self.up_within(32)
    }

    fn up_within(&self, depth: usize) -> bool {
        match self {
            TcpService::Balancer(b) => b.up.iter().any(|u| u.load(Ordering::Relaxed)),
            TcpService::Weighted(w) => {
                depth > 0
                    && w.children.iter().any(|(c, weight)| {
                        *weight > 0 && (!w.health_checked || c.up_within(depth - 1))
                    })
            }
        }
    }

    /// Whether it has a `healthCheck`, so that a weighted parent with one
    /// can follow its status (Traefik refuses the parent otherwise).
    pub fn health_checked(&self) -> bool {
        match self {
            TcpService::Balancer(b) => b.health_checked,
            TcpService::Weighted(w) => w.health_checked,
        }
    }

    /// The balancer a new connection goes to, through weighted services.
    fn balancer(&self) -> Option<&Balancer> {
        let mut service = self;
        // Weighted services nest; the builder refuses cycles, and the
        // bound keeps a mistake from looping.
        for _ in 0..32 {
            match service {
                TcpService::Balancer(b) => return Some(b),
                TcpService::Weighted(w) => service = w.pick()?,
            }
        }
        None
    }

    /// Connects the client to a server of this service and copies bytes
    /// both ways until both directions end. `first`: bytes already read
    /// from the client, sent first.
    pub async fn serve<S: ClientStream>(
        &self,
        client: S,
        first: &[u8],
        ends: Ends,
        postgres: bool,
    ) {
        let Some(balancer) = self.balancer() else {
            tracing::debug!(client = %ends.client, "TCP service without a server");
            return;
        };
        let Some(server) = balancer.pick() else {
            tracing::debug!(client = %ends.client, "TCP service without a server");
            return;
        };
        let address = server.address.as_str();
        let dial = TcpStream::connect(address);
        let backend = match tokio::time::timeout(balancer.dial_timeout, dial).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                tracing::error!(error = %e, %address, "Error while dialing backend");
                return;
            }
            Err(_) => {
                tracing::error!(%address, "Error while dialing backend: dial timeout");
                return;
            }
        };
        let _ = backend.set_nodelay(true);
        if let Some(interval) = balancer.keep_alive {
            let probes = socket2::TcpKeepalive::new()
                .with_time(interval)
                .with_interval(interval);
            let _ = socket2::SockRef::from(&backend).set_tcp_keepalive(&probes);
        }
        let mut backend = backend;
        let mut head = match balancer.proxy_protocol {
            Some(version) => proxy_header::encode(version, ends.client, ends.local),
            None => Vec::new(),
        };
        if postgres {
            // The client was told yes already; the server must say it too,
            // and its answer is not passed on.
            let mut reply = [0u8; 1];
            let proxy_header = std::mem::take(&mut head);
            let asked = async {
                backend.write_all(&proxy_header).await?;
                backend
                    .write_all(&super::hello::POSTGRES_SSL_REQUEST)
                    .await?;
                backend.read_exact(&mut reply).await
            };
            if asked.await.is_err() || reply[0] != b'S' {
                tracing::error!(%address, "invalid response from Postgres server");
                return;
            }
        }
        let tls = balancer.tls.as_ref().filter(|_| server.tls);
        if tls.is_none() {
            head.extend_from_slice(first);
        }
        if !head.is_empty() {
            if let Err(e) = backend.write_all(&head).await {
                tracing::debug!(error = %e, %address, "Error while writing to backend");
                return;
            }
        }
        let Some(tls) = tls else {
            match client.into_plain() {
                Ok(client) => {
                    super::splice::copy_both(client, backend, balancer.termination_delay).await
                }
                Err(client) => copy_both(client, backend, balancer.termination_delay).await,
            }
            return;
        };
        // TLS to the server, after the PROXY header (which is in clear).
        let handshake = tls.connect(address, backend);
        let mut backend = match tokio::time::timeout(balancer.dial_timeout, handshake).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                tracing::error!(error = %e, %address, "Error while dialing backend");
                return;
            }
            Err(_) => {
                tracing::error!(%address, "Error while dialing backend: TLS handshake timeout");
                return;
            }
        };
        if !first.is_empty()
            && (backend.write_all(first).await.is_err() || backend.flush().await.is_err())
        {
            return;
        }
        copy_both(client, backend, balancer.termination_delay).await;
    }
}

/// The host of `host:port` (brackets of an IPv6 address taken off).
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Copies `a` to `b` and `b` to `a`; when one direction ends, the write
/// side it fed is shut (a half-close reaches the other peer) and the other
/// direction may go on for `delay` (None: until it ends).
pub async fn copy_both<A, B>(a: A, b: B, delay: Option<Duration>)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ar, mut aw) = tokio::io::split(a);
    let (mut br, mut bw) = tokio::io::split(b);
    let forward = async {
        let r = copy(&mut ar, &mut bw).await;
        let _ = bw.shutdown().await;
        r
    };
    let backward = async {
        let r = copy(&mut br, &mut aw).await;
        let _ = aw.shutdown().await;
        r
    };
    both_ways(forward, backward, delay).await;
}

/// Runs the two directions of a copy (each shuts the side it wrote once
/// its source ends); once one has ended, the other may go on for `delay`
/// (None: until it ends too).
pub(super) async fn both_ways<F, B>(forward: F, backward: B, delay: Option<Duration>)
where
    F: std::future::Future<Output = std::io::Result<u64>>,
    B: std::future::Future<Output = std::io::Result<u64>>,
{
    tokio::pin!(forward, backward);
    let other = tokio::select! {
        r = &mut forward => { log_end(r); Either::Backward }
        r = &mut backward => { log_end(r); Either::Forward }
    };
    let rest = async {
        match other {
            Either::Forward => forward.await,
            Either::Backward => backward.await,
        }
    };
    match delay {
        Some(d) => {
            if let Ok(r) = tokio::time::timeout(d, rest).await {
                log_end(r);
            }
        }
        None => log_end(rest.await),
    }
}

enum Either {
    Forward,
    Backward,
}

fn log_end(r: std::io::Result<u64>) {
    if let Err(e) = r {
        tracing::debug!(error = %e, "Error while handling TCP connection");
    }
}

/// `tokio::io::copy` with a buffer of our size, flushing after each write
/// (a TLS stream holds written bytes until flushed).
async fn copy<R, W>(r: &mut R, w: &mut W) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        w.write_all(&buf[..n]).await?;
        w.flush().await?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(name: &str) -> Arc<TcpService> {
        Arc::new(TcpService::Balancer(Balancer::new(
            vec![Server {
                address: name.to_string(),
                tls: false,
            }],
            Duration::from_secs(1),
            None,
            None,
        )))
    }

    #[test]
    fn round_robin_and_weighted_order() {
        let servers = ["a", "b", "c"].map(|a| Server {
            address: a.into(),
            tls: false,
        });
        let b = Balancer::new(servers.to_vec(), Duration::from_secs(1), None, None);
        let got: Vec<&str> = (0..6)
            .filter_map(|_| b.pick().map(|s| s.address.as_str()))
            .collect();
        assert_eq!(got, ["a", "b", "c", "a", "b", "c"]);
        let w = TcpService::Weighted(Weighted::new(vec![(leaf("a"), 3), (leaf("b"), 1)], false));
        let got: Vec<String> = (0..8)
            .filter_map(|_| w.balancer().map(|b| b.servers[0].address.clone()))
            .collect();
        assert_eq!(got, ["a", "a", "b", "a", "a", "a", "b", "a"]);
        let none = TcpService::Weighted(Weighted::new(vec![(leaf("a"), 0)], false));
        assert!(none.balancer().is_none(), "zero weights: no server");
    }

    #[test]
    fn a_health_checked_weighted_service_skips_children_without_a_server_up() {
        let (a, b) = (leaf("a"), leaf("b"));
        let down = |s: &Arc<TcpService>| match &**s {
            TcpService::Balancer(b) => b.up[0].store(false, Ordering::Relaxed),
            TcpService::Weighted(_) => unreachable!("a leaf is a balancer"),
        };
        down(&b);
        let order = |w: &TcpService| -> Vec<String> {
            (0..4)
                .filter_map(|_| w.balancer().map(|b| b.servers[0].address.clone()))
                .collect()
        };
        // With healthCheck: only `a`, and the parent is up while `a` is.
        let checked =
            TcpService::Weighted(Weighted::new(vec![(a.clone(), 1), (b.clone(), 3)], true));
        assert_eq!(order(&checked), ["a", "a", "a", "a"]);
        assert!(checked.is_up());
        // Without: `b` keeps its turns (its connections find no server).
        let unchecked =
            TcpService::Weighted(Weighted::new(vec![(a.clone(), 1), (b.clone(), 3)], false));
        assert_eq!(order(&unchecked), ["b", "a", "b", "b"]);
        // Both down: the checked parent is down too, and picks none.
        down(&a);
        assert!(!checked.is_up());
        assert!(checked.balancer().is_none());
        let nested = TcpService::Weighted(Weighted::new(vec![(Arc::new(checked), 1)], true));
        assert!(!nested.is_up(), "the status goes up through nesting");
    }

    #[tokio::test]
    async fn half_close_reaches_the_other_side_and_the_delay_bounds_the_rest() {
        // a ⇄ (copy) ⇄ b: a's half-close reaches b, and b's answer after
        // it still reaches a within the delay.
        let (a_outer, a_inner) = tokio::io::duplex(64);
        let (b_inner, b_outer) = tokio::io::duplex(64);
        let copying = tokio::spawn(copy_both(
            a_inner,
            b_inner,
            Some(Duration::from_millis(500)),
        ));
        let (mut ar, mut aw) = tokio::io::split(a_outer);
        let (mut br, mut bw) = tokio::io::split(b_outer);
        aw.write_all(b"ping").await.expect("write");
        aw.shutdown().await.expect("half-close");
        let mut got = Vec::new();
        br.read_to_end(&mut got).await.expect("b reads to the end");
        assert_eq!(got, b"ping");
        bw.write_all(b"pong").await.expect("answer");
        let mut back = [0u8; 4];
        ar.read_exact(&mut back).await.expect("a reads the answer");
        assert_eq!(&back, b"pong");
        // b never closes: the delay ends the copy.
        tokio::time::timeout(Duration::from_secs(5), copying)
            .await
            .expect("the delay ends the copy")
            .expect("joined");
    }
}
