//! The accept loop: bounds TCP connections (in all and per client IP), runs TLS when
//! --tls-cert is set, picks the HTTP version, sets HTTP/1 and HTTP/2 limits and hands each
//! connection to the router.
//!
//! HTTP versions: over TLS, ALPN decides (`h2` or `http/1.1`); on a plain port a client that opens
//! with the HTTP/2 preface gets HTTP/2 (h2c with prior knowledge), any other gets HTTP/1.1. The
//! first bytes are read under --header-timeout, as is the TLS handshake, so a silent client cannot
//! hold a connection open by never speaking.
//!
//! A connection over a limit is answered `503` with `Retry-After` and closed, so a client sees
//! why instead of a reset (with TLS it is closed without an answer: a handshake costs more than
//! the refusal is meant to save).

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use ipnet::IpNet;
use push_core::{ErrorKind, ERROR_HEADER};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::config::Config;
use crate::metrics::{Limit, Metrics};
use crate::tls::Tls;

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
/// The listener's part of checking the settings: --ip-limit-exempt parses.
pub fn check(config: &Config) -> Result<(), String> {
    parse_networks(&config.ip_limit_exempt).map(drop).map_err(|e| format!("--ip-limit-exempt: {e}"))
}

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
    /// `push_http_connections{version}` of the protocol the connection speaks, once known:
    /// counted until the socket closes (an upgraded WebSocket holds its permit).
    http: std::sync::OnceLock<prometheus::IntGauge>,
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
        Ok(Permit { limiter: self.clone(), ip: counted.then_some(ip), http: std::sync::OnceLock::new() })
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

/// The HTTP/2 connection preface: a client speaking HTTP/2 first (h2c with prior knowledge)
/// opens with it.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes HTTP/2 may buffer per stream for a reader that does not keep up (hyper's default is
/// 400 KiB); the subscriber queue (--subscriber-queue) holds the rest.
const H2_MAX_SEND_BUF: usize = 128 * 1024;

/// What every connection is served with.
struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    /// --header-timeout: the TLS handshake, the first bytes, each HTTP/1 head, and an HTTP/2
    /// connection without an open stream.
    header_timeout: Duration,
    tls: Option<Tls>,
    metrics: Arc<Metrics>,
}

impl Protocols {
    fn new(config: &Config, tls: Option<Tls>, metrics: Arc<Metrics>) -> Protocols {
        // hyper's own connection types rather than hyper-util's auto builder: it reads the opening
        // bytes to look for the HTTP/2 preface untimed, so a silent client would escape the head
        // timeout. [`sniff`] does that read under the timeout.
        let mut http1 = http1::Builder::new();
        http1.timer(TokioTimer::new()).header_read_timeout(config.header_timeout).max_buf_size(config.max_header_bytes).keep_alive(true);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(config.http2_max_concurrent_streams)
            // HPACK-decoded names and values (+32 bytes each), the HTTP/2 form of a head's size.
            .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
            .max_send_buf_size(H2_MAX_SEND_BUF)
            // Rapid reset (CVE-2023-44487): streams the client resets before they are answered,
            // and streams the server has to reset, are bounded; past them the connection closes.
            .max_pending_accept_reset_streams(20)
            .max_local_error_reset_streams(1024)
            .keep_alive_interval((!config.http2_keep_alive.is_zero()).then_some(config.http2_keep_alive))
            .keep_alive_timeout(config.http2_keep_alive_timeout);
        Protocols { http1, http2, header_timeout: config.header_timeout, tls, metrics }
    }
}

/// Serves `router` on `listener` until `stop` is cancelled, then waits for open connections to
/// finish (the caller bounds that wait). With `tls`, every connection is HTTPS.
pub async fn serve(listener: TcpListener, router: axum::Router, config: &Config, metrics: Arc<Metrics>, tls: Option<Tls>, stop: CancellationToken) {
    let limiter = Arc::new(Limiter {
        max: config.max_tcp_connections,
        per_ip: config.max_tcp_connections_per_ip,
        exempt: parse_networks(&config.ip_limit_exempt).unwrap_or_default(),
        open: Mutex::new(Counts::default()),
        metrics: metrics.clone(),
        idle: tokio::sync::Notify::new(),
    });
    let protocols = Arc::new(Protocols::new(config, tls, metrics.clone()));
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
                if protocols.tls.is_none() {
                    refuse(&limiter, stream, limit);
                }
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
        let closing = closing.subscribe();
        let protocols = protocols.clone();
        // Two task types, so a plain connection's task is not sized for a TLS session.
        match protocols.tls.clone() {
            None => tokio::spawn(async move {
                let ended = serve_io(stream, false, &protocols, &held, service, closing).await;
                ended_with(peer, ended);
            }),
            Some(tls) => tokio::spawn(async move {
                let ended = match tokio::time::timeout(protocols.header_timeout, tls.acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                        serve_io(stream, h2, &protocols, &held, service, closing).await
                    }
                    Ok(Err(e)) => {
                        protocols.metrics.tls_handshake_failures.inc();
                        Err(format!("TLS handshake failed: {e}"))
                    }
                    Err(_) => {
                        protocols.metrics.tls_handshake_failures.inc();
                        Err("TLS handshake timed out (--header-timeout)".into())
                    }
                };
                ended_with(peer, ended);
            }),
        };
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

fn ended_with(peer: std::net::SocketAddr, ended: Result<(), String>) {
    if let Err(e) = ended {
        tracing::trace!(%peer, "connection ended: {e}");
    }
}

/// Serves one connection (plain or TLS) with HTTP/2 when `h2` (negotiated by ALPN) or when it
/// opens with the HTTP/2 preface, else HTTP/1.1.
async fn serve_io<I, S>(
    mut io: I,
    h2: bool,
    protocols: &Protocols,
    slot: &ConnectionSlot,
    service: S,
    mut closing: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (h2, opening) = if h2 {
        (true, Vec::new())
    } else {
        match tokio::time::timeout(protocols.header_timeout, sniff(&mut io)).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("nothing received within --header-timeout".into()),
        }
    };
    let io = TokioIo::new(Rewind { opening, read: 0, inner: io });
    let version = if h2 { "h2" } else { "http1" };
    let gauge = protocols.metrics.http_connections.with_label_values(&[version]);
    gauge.inc();
    let _ = slot.0.http.set(gauge);
    let closed = async move {
        let _ = closing.wait_for(|c| *c).await;
    };
    if !h2 {
        let connection = protocols.http1.serve_connection(io, service).with_upgrades();
        tokio::pin!(connection);
        return tokio::select! {
            ended = connection.as_mut() => ended,
            () = closed => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
        .map_err(|e| e.to_string());
    }
    // Boxed: an HTTP/1 connection's task is not sized for HTTP/2's state.
    Box::pin(serve_h2(io, protocols, service, closed)).await
}

/// Serves HTTP/2 on `io` until the peer closes, the connection idles, or `closed` completes.
async fn serve_h2<I, S>(io: TokioIo<Rewind<I>>, protocols: &Protocols, service: S, closed: impl std::future::Future<Output = ()>) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    // Streams open on this connection, to close it once idle for --header-timeout (hyper's
    // HTTP/2 has no idle timeout; keep-alive pings only find dead peers).
    let active = Arc::new(tokio::sync::watch::Sender::new(0usize));
    let streams = active.clone();
    let service = hyper::service::service_fn(move |request| {
        let stream = StreamGuard::new(streams.clone());
        let answer = service.clone().call(request);
        async move {
            let response = answer.await?;
            Ok::<_, std::convert::Infallible>(response.map(|body| axum::body::Body::new(Tracked { body, _stream: stream })))
        }
    });
    let connection = protocols.http2.serve_connection(io, service);
    tokio::pin!(connection);
    let idled = tokio::select! {
        ended = connection.as_mut() => return ended.map_err(|e| e.to_string()),
        () = closed => false,
        () = idle(active.subscribe(), protocols.header_timeout) => true,
    };
    // GOAWAY: streams in flight finish, no new ones start.
    connection.as_mut().graceful_shutdown();
    if !idled {
        // Shutting down: the server's --shutdown-timeout bounds this.
        return connection.await.map_err(|e| e.to_string());
    }
    // A graceful close waits for the peer to answer a PING; one that never does is dropped.
    match tokio::time::timeout(protocols.header_timeout, connection).await {
        Ok(ended) => ended.map_err(|e| e.to_string()),
        Err(_) => Err("idle HTTP/2 connection did not acknowledge GOAWAY; closed".into()),
    }
}

/// Reads the opening bytes until they either match the whole HTTP/2 preface or differ from it;
/// returns whether they did, and the bytes read (to be replayed to the protocol).
async fn sniff<I: AsyncRead + Unpin>(io: &mut I) -> std::io::Result<(bool, Vec<u8>)> {
    let mut opening = vec![0u8; H2_PREFACE.len()];
    let mut len = 0;
    loop {
        let n = io.read(&mut opening[len..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        len += n;
        if opening[..len] != H2_PREFACE[..len] || len == H2_PREFACE.len() {
            let h2 = opening[..len] == *H2_PREFACE;
            opening.truncate(len);
            return Ok((h2, opening));
        }
    }
}

/// Waits until the connection has had no open stream for `after`.
async fn idle(mut active: tokio::sync::watch::Receiver<usize>, after: Duration) {
    loop {
        if active.wait_for(|n| *n == 0).await.is_err() {
            return std::future::pending().await;
        }
        if tokio::time::timeout(after, active.wait_for(|n| *n > 0)).await.is_err() {
            return;
        }
    }
}

/// One open HTTP/2 stream, from its request until its response body ends or is dropped.
struct StreamGuard(Arc<tokio::sync::watch::Sender<usize>>);

impl StreamGuard {
    fn new(active: Arc<tokio::sync::watch::Sender<usize>>) -> StreamGuard {
        active.send_modify(|n| *n += 1);
        StreamGuard(active)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// A response body that keeps its stream counted while it is being sent.
struct Tracked {
    body: axum::body::Body,
    _stream: StreamGuard,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection whose opening bytes were read by [`sniff`]: they are read again first.
struct Rewind<I> {
    opening: Vec<u8>,
    read: usize,
    inner: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Rewind<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.read < this.opening.len() {
            let n = (this.opening.len() - this.read).min(buf.remaining());
            buf.put_slice(&this.opening[this.read..this.read + n]);
            this.read += n;
            if this.read == this.opening.len() {
                this.opening = Vec::new();
                this.read = 0;
                // And what already arrived behind them: hyper grows its read buffer (to 16 KiB,
                // kept while a stream holds the request's headers) after a short first read.
                if buf.remaining() > 0 {
                    // An error or the end shows again on the next read.
                    let _ = Pin::new(&mut this.inner).poll_read(cx, buf);
                }
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewind<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
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
