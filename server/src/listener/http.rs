//! Serving one connection: HTTP/2 or HTTP/1.1 (ALPN over TLS, [`sniff`] on a plain port, where
//! HTTP/1.1 starts on the [`lean`](super::lean) path), with the limits of --header-timeout,
//! --max-header-bytes and the HTTP/2 settings.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::idle::{idle, StreamGuard, Tracked};
use super::limiter::ConnectionSlot;
use super::sniff::{sniff, Rewind};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::tls::Tls;

/// Bytes HTTP/2 may buffer per stream for a reader that does not keep up (hyper's default is
/// 400 KiB); the subscriber queue (--subscriber-queue) holds the rest.
const H2_MAX_SEND_BUF: usize = 128 * 1024;

/// What every connection is served with.
pub(super) struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    /// --header-timeout: the TLS handshake, the first bytes, each HTTP/1 head, and an HTTP/2
    /// connection without an open stream.
    pub(super) header_timeout: Duration,
    /// --max-header-bytes: the largest request head.
    pub(super) max_head_bytes: usize,
    pub(super) tls: Option<Tls>,
    pub(super) metrics: Arc<Metrics>,
}

impl Protocols {
    pub(super) fn new(config: &Config, tls: Option<Tls>, metrics: Arc<Metrics>) -> Protocols {
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
        Protocols { http1, http2, header_timeout: config.header_timeout, max_head_bytes: config.max_header_bytes, tls, metrics }
    }

    fn lean_limits(&self) -> super::lean::Limits {
        super::lean::Limits { header_timeout: self.header_timeout, max_head_bytes: self.max_head_bytes }
    }

    /// Counts the connection under its HTTP version for as long as its slot is held.
    fn count(&self, slot: &ConnectionSlot, h2: bool) {
        slot.count_in(self.metrics.http_connections.with_label_values(&[if h2 { "h2" } else { "http1" }]));
    }
}

/// Serves one TLS connection with HTTP/2 when `h2` (negotiated by ALPN), else HTTP/1.1.
pub(super) async fn serve_io<I, S>(io: I, h2: bool, protocols: &Protocols, slot: &ConnectionSlot, service: S, closing: Closing) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HyperService,
    S::Future: Send + 'static,
{
    let io = TokioIo::new(Rewind::new(Vec::new(), io));
    protocols.count(slot, h2);
    if h2 {
        // Boxed: an HTTP/1 connection's task is not sized for HTTP/2's state.
        return Box::pin(serve_h2(io, protocols, service, closed(closing))).await;
    }
    serve_http1(io, protocols, service, closed(closing)).await
}

/// Serves one plain-TCP connection: HTTP/2 when it opens with the HTTP/2 preface, else
/// HTTP/1.1 on the [`lean`](super::lean) path, which hands the connection to hyper at the first
/// request it does not take.
pub(super) async fn serve_plain(
    stream: TcpStream,
    peer: SocketAddr,
    protocols: &Protocols,
    slot: &ConnectionSlot,
    router: axum::Router,
    direct: &super::lean::Direct,
    mut closing: Closing,
) -> Result<(), String> {
    let mut stream = stream;
    // A connection that has sent nothing yet (a browser's preconnect) holds no request: on
    // shutdown it closes at once instead of holding the server until --header-timeout.
    let sniffed = tokio::select! {
        sniffed = tokio::time::timeout(protocols.header_timeout, sniff(&mut stream)) => sniffed,
        _ = closed(closing.clone()) => return Ok(()),
    };
    let (h2, opening) = match sniffed {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("nothing received within --header-timeout".into()),
    };
    let service = || super::hyper_service(router.clone(), peer, slot.clone());
    protocols.count(slot, h2);
    if h2 {
        let io = TokioIo::new(Rewind::new(opening, stream));
        return Box::pin(serve_h2(io, protocols, service(), closed(closing))).await;
    }
    let Some(rest) = super::lean::serve(stream, opening, peer, protocols.lean_limits(), slot, &router, direct, &mut closing).await? else {
        return Ok(());
    };
    // Boxed: hyper's connection is large, and most connections never need it.
    Box::pin(serve_http1(TokioIo::new(Rewind::new(rest.pending, rest.stream)), protocols, service(), closed(closing))).await
}

/// Tells a connection to finish its request in flight and close.
pub(super) type Closing = tokio::sync::watch::Receiver<bool>;

pub(super) async fn closed(mut closing: Closing) {
    let _ = closing.wait_for(|c| *c).await;
}

/// What hyper serves a connection with: the router, with the connection's details.
pub(super) trait HyperService:
    hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = axum::response::Response, Error = std::convert::Infallible> + Clone + Send + 'static
{
}

impl<S> HyperService for S where
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static
{
}

/// Serves HTTP/1.1 with hyper until the peer closes or `closed` completes.
async fn serve_http1<I, S>(io: TokioIo<Rewind<I>>, protocols: &Protocols, service: S, closed: impl std::future::Future<Output = ()>) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HyperService,
    S::Future: Send + 'static,
{
    let connection = protocols.http1.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        ended = connection.as_mut() => ended,
        () = closed => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    }
    .map_err(|e| e.to_string())
}

/// Serves HTTP/2 on `io` until the peer closes, the connection idles, or `closed` completes.
async fn serve_h2<I, S>(io: TokioIo<Rewind<I>>, protocols: &Protocols, service: S, closed: impl std::future::Future<Output = ()>) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HyperService,
    S::Future: Send + 'static,
{
    // Streams open on this connection, to close it once idle for --header-timeout.
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
