//! The connection limiter: counts open TCP connections, in all and per client IP
//! (--max-tcp-connections, --max-tcp-connections-per-ip, --ip-limit-exempt), and answers a
//! connection over a limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use push_core::{ErrorKind, ERROR_HEADER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::Config;
use crate::metrics::{Limit, Metrics};

/// Connections being answered `503` at once; past this a refused connection is just closed.
const MAX_REFUSING: usize = 256;
/// How long a refused connection is read (and discarded) after its answer, so the client gets
/// the answer instead of a reset caused by unread data.
const REFUSE_LINGER: Duration = Duration::from_millis(500);

/// The listener's part of checking the settings: --ip-limit-exempt parses.
pub fn check(config: &Config) -> Result<(), String> {
    parse_networks(&config.ip_limit_exempt).map(drop).map_err(|e| format!("--ip-limit-exempt: {e}"))
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
pub(super) struct Limiter {
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
pub(super) struct Permit {
    limiter: Arc<Limiter>,
    ip: Option<IpAddr>,
    /// `push_http_connections{version}` of the protocol the connection speaks, once known:
    /// counted until the socket closes (an upgraded WebSocket holds its permit).
    http: std::sync::OnceLock<prometheus::IntGauge>,
}

impl Limiter {
    /// The limits of `config`; --ip-limit-exempt was checked by [`check`] before.
    pub(super) fn new(config: &Config, metrics: Arc<Metrics>) -> Arc<Limiter> {
        Arc::new(Limiter {
            max: config.max_tcp_connections,
            per_ip: config.max_tcp_connections_per_ip,
            exempt: parse_networks(&config.ip_limit_exempt).unwrap_or_default(),
            open: Mutex::new(Counts::default()),
            metrics,
            idle: tokio::sync::Notify::new(),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Limit> {
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
        Ok(Permit { limiter: self.clone(), ip: counted.then_some(ip), http: std::sync::OnceLock::new() })
    }

    /// Waits until no admitted connection is open.
    pub(super) async fn all_closed(&self) {
        loop {
            // Registered before the count is read, so a close in between is not missed.
            let idle = self.idle.notified();
            if self.counts().total == 0 {
                break;
            }
            idle.await;
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(gauge) = self.http.get() {
            gauge.dec();
        }
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
pub struct ConnectionSlot(Arc<Permit>);

impl ConnectionSlot {
    pub(super) fn new(permit: Permit) -> ConnectionSlot {
        ConnectionSlot(Arc::new(permit))
    }

    /// Counts the connection in `gauge` (its HTTP version's) until the socket closes; the
    /// version is known only after the opening bytes.
    pub(super) fn count_in(&self, gauge: prometheus::IntGauge) {
        gauge.inc();
        let _ = self.0.http.set(gauge);
    }
}

/// Answers a connection over a limit with `503` and closes it.
pub(super) fn refuse(limiter: &Arc<Limiter>, mut stream: TcpStream, limit: Limit) {
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
