//! The accept loop: bounds TCP connections (in all and per client IP), sets HTTP/1 limits (head
//! size, head read time, idle keep-alive) and hands each connection to the router.
//!
//! A connection over a limit is answered `503` with `Retry-After` and closed, so a client sees
//! why instead of a reset.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use push_core::{ErrorKind, ERROR_HEADER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::config::Config;
use crate::metrics::{Limit, Metrics};

/// Connections being answered `503` at once; past this a refused connection is just closed.
const MAX_REFUSING: usize = 256;
/// How long a refused connection is read (and discarded) after its answer, so the client gets
/// the answer instead of a reset caused by unread data.
const REFUSE_LINGER: Duration = Duration::from_millis(500);

/// Pending connections the kernel queues before the server accepts them. Thousands of clients
/// reconnecting at once (a deploy, a network blip) overflow a small queue, and each overflowed
/// SYN waits a second before its retry; the kernel caps this at `net.core.somaxconn`.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` for [`serve`] with a listen backlog of [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Parses `--ip-limit-exempt`: networks (`10.0.0.0/8`) or single addresses (`::1`).
pub fn parse_networks(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<IpNet>().or_else(|_| s.parse::<IpAddr>().map(IpNet::from)).map_err(|_| format!("{s:?} is not an address or network")))
        .collect()
}

/// Counts open TCP connections, in all and per client IP.
struct Limiter {
    max: usize,
    per_ip: usize,
    exempt: Vec<IpNet>,
    open: Mutex<Counts>,
    metrics: Arc<Metrics>,
    /// Woken when the last connection closes.
    idle: tokio::sync::Notify,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
    refusing: usize,
}

/// One admitted connection; dropping it frees its place.
struct Permit {
    limiter: Arc<Limiter>,
    ip: Option<IpAddr>,
}

impl Limiter {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Limit> {
        let ip = ip.to_canonical();
        let counted = !self.exempt.iter().any(|n| n.contains(&ip));
        let mut counts = self.counts();
        if counts.total >= self.max {
            return Err(Limit::TcpConnections);
        }
        if counted {
            let n = counts.by_ip.entry(ip).or_insert(0);
            if *n >= self.per_ip {
                return Err(Limit::TcpConnectionsPerIp);
            }
            *n += 1;
        }
        counts.total += 1;
        self.metrics.tcp_connections.set(counts.total as i64);
        Ok(Permit { limiter: self.clone(), ip: counted.then_some(ip) })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.limiter.counts();
        counts.total -= 1;
        if let Some(ip) = self.ip {
            if let Some(n) = counts.by_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    counts.by_ip.remove(&ip);
                }
            }
        }
        self.limiter.metrics.tcp_connections.set(counts.total as i64);
        if counts.total == 0 {
            self.limiter.idle.notify_waiters();
        }
    }
}

/// A connection's place under the TCP limits, in each of its requests' extensions: a WebSocket
/// keeps it after the upgrade (when hyper lets go of the connection), so upgraded sockets count
/// too.
#[derive(Clone)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<Permit>);

/// Serves `router` on `listener` until `stop` is cancelled, then waits for open connections to
/// finish (the caller bounds that wait).
pub async fn serve(listener: TcpListener, router: axum::Router, config: &Config, metrics: Arc<Metrics>, stop: CancellationToken) {
    let limiter = Arc::new(Limiter {
        max: config.max_tcp_connections,
        per_ip: config.max_tcp_connections_per_ip,
        exempt: parse_networks(&config.ip_limit_exempt).unwrap_or_default(),
        open: Mutex::new(Counts::default()),
        metrics: metrics.clone(),
        idle: tokio::sync::Notify::new(),
    });
    // HTTP/1 only, on hyper's own connection type: hyper-util's auto builder first reads the
    // opening bytes to look for an HTTP/2 preface, untimed, so a silent client would escape
    // the head timeout.
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_header_bytes)
        .keep_alive(true);
    // Tells open connections to finish their request in flight and close.
    let (closing, _) = tokio::sync::watch::channel(false);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or a connection that died in the queue: wait a
                    // little instead of spinning, then keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let permit = match limiter.admit(peer.ip()) {
            Ok(p) => p,
            Err(limit) => {
                metrics.limit_hit(limit);
                refuse(&limiter, stream, limit);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let slot = ConnectionSlot(Arc::new(permit));
        let held = slot.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(slot.clone());
            router.clone().call(request)
        });
        let connection = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut closing = closing.subscribe();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = async { let _ = closing.wait_for(|c| *c).await; } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::trace!(%peer, "connection ended: {e}");
            }
            drop(held);
        });
    }
    drop(listener);
    // Graceful end: every connection finishes what it is answering, then closes; the caller
    // bounds how long this may take.
    let _ = closing.send(true);
    loop {
        let idle = limiter.idle.notified();
        if limiter.counts().total == 0 {
            break;
        }
        idle.await;
    }
}

/// Answers a connection over a limit with `503` and closes it.
fn refuse(limiter: &Arc<Limiter>, mut stream: TcpStream, limit: Limit) {
    {
        let mut counts = limiter.counts();
        if counts.refusing >= MAX_REFUSING {
            return; // dropped: closed at once
        }
        counts.refusing += 1;
    }
    let limiter = limiter.clone();
    tokio::spawn(async move {
        let reason = format!("the server holds its maximum of open connections ({}); retry later\n", limit.describe());
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n{ERROR_HEADER}: {}\r\n\
             Retry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{reason}",
            ErrorKind::Overloaded.code(),
            reason.len()
        );
        let _ = tokio::time::timeout(REFUSE_LINGER, async {
            stream.write_all(answer.as_bytes()).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
        limiter.counts().refusing -= 1;
    });
}
