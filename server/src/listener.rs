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
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
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
    }
}

/// Serves `router` on `listener` until `stop` is cancelled, then waits for open connections to
/// finish (the caller bounds that wait).
pub async fn serve(listener: TcpListener, router: axum::Router, config: &Config, metrics: Arc<Metrics>, stop: CancellationToken) {
    let limiter = Arc::new(Limiter {
        max: config.max_tcp_connections,
        per_ip: config.max_tcp_connections_per_ip,
        exempt: parse_networks(&config.ip_limit_exempt).unwrap_or_default(),
        open: Mutex::new(Counts::default()),
        metrics: metrics.clone(),
    });
    let mut http = auto::Builder::new(TokioExecutor::new()).http1_only();
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_header_bytes)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();

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
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(request)
        });
        let connection = http.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(%peer, "connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
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
