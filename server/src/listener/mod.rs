//! The accept loop: bounds TCP connections (in all and per client IP), runs TLS when
//! --tls-cert is set, picks the HTTP version, sets HTTP/1 and HTTP/2 limits and hands each
//! connection to the router.
//!
//! - **Limits** ([`limiter`]): a connection over a limit is answered `503` with `Retry-After`
//!   and closed, so a client sees why instead of a reset (with TLS it is closed without an
//!   answer: a handshake costs more than the refusal is meant to save).
//! - **HTTP versions** ([`http`]): over TLS, ALPN decides (`h2` or `http/1.1`); on a plain port
//!   a client that opens with the HTTP/2 preface gets HTTP/2 (h2c with prior knowledge), any
//!   other gets HTTP/1.1 ([`sniff`]). The first bytes are read under --header-timeout, as is the
//!   TLS handshake, so a silent client cannot hold a connection open by never speaking.
//! - **Idle HTTP/2 connections** ([`idle`]) close after --header-timeout without an open stream.

mod http;
mod idle;
mod lean;
mod limiter;
mod sniff;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::tls::Tls;
use http::{serve_io, serve_plain, Protocols};
use limiter::{refuse, Limiter};

pub use lean::Direct;
pub use limiter::{check, parse_networks, ConnectionSlot};

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

/// Serves `router` on `listener` until `stop` is cancelled, then waits for open connections to
/// finish (the caller bounds that wait). With `tls`, every connection is HTTPS. On plain HTTP/1.1
/// `direct` answers the requests it takes without the router.
pub async fn serve(listener: TcpListener, router: axum::Router, direct: Direct, config: &Config, metrics: Arc<Metrics>, tls: Option<Tls>, stop: CancellationToken) {
    let limiter = Limiter::new(config, metrics.clone());
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
        let direct = direct.clone();
        let slot = ConnectionSlot::new(permit);
        let closing = closing.subscribe();
        let protocols = protocols.clone();
        // Two task types, so a plain connection's task is not sized for a TLS session.
        match protocols.tls.clone() {
            None => tokio::spawn(async move {
                let ended = serve_plain(stream, peer, &protocols, &slot, router, &direct, closing).await;
                ended_with(peer, ended);
            }),
            Some(tls) => tokio::spawn(async move {
                // A handshake in progress holds no request: shutdown does not wait for it.
                let handshake = tokio::select! {
                    handshake = tokio::time::timeout(protocols.header_timeout, tls.acceptor.accept(stream)) => handshake,
                    _ = http::closed(closing.clone()) => return ended_with(peer, Ok(())),
                };
                let ended = match handshake {
                    Ok(Ok(stream)) => {
                        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                        serve_io(stream, h2, &protocols, &slot, hyper_service(router, peer, slot.clone()), closing).await
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
    limiter.all_closed().await;
}

/// The router as hyper calls it, with the connection's peer address and slot on every request.
fn hyper_service(router: axum::Router, peer: std::net::SocketAddr, slot: ConnectionSlot) -> impl http::HyperService<Future: Send + 'static> {
    hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(slot.clone());
        router.clone().call(request)
    })
}

fn ended_with(peer: std::net::SocketAddr, ended: Result<(), String>) {
    if let Err(e) = ended {
        tracing::trace!(%peer, "connection ended: {e}");
    }
}
