//! The lean HTTP/1.1 path for plain-TCP connections.
//!
//! Most requests a push server answers are subscribers' `GET`s that then wait: a long-poll
//! for its next message, an SSE stream for ever. Under hyper each waiting connection keeps
//! two 8 KiB buffers and its dispatcher. Here the head is read into a buffer that is let go
//! once parsed ([`head`]), a subscriber's `GET` is answered by its handler directly
//! ([`Direct`]: the router's CORS, metrics and panic answer without its per-request services)
//! and any other by the router, as under hyper, and the answer is written straight to the
//! socket ([`answer`]), so a waiting subscriber keeps only its socket and its subscription.
//!
//! Anything that is not a plain `GET` goes to hyper with the bytes read so far, for the rest of
//! the connection: publishes, uploads, WebSocket upgrades, HTTP/1.0, `Connection: close`,
//! anything unusual in the head. Keep-alive, pipelining (the next request's bytes are kept
//! while an answer waits), `--header-timeout` (each head, and the idle time before it),
//! `--max-header-bytes` and a graceful close between requests behave as under hyper.

mod answer;
mod head;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use tokio::net::TcpStream;
use tower::Service;

use super::limiter::ConnectionSlot;
use answer::Ended;
use head::{Parsed, Read};

/// The bounds of a request head: --header-timeout and --max-header-bytes.
#[derive(Clone, Copy)]
pub(super) struct Limits {
    pub(super) header_timeout: std::time::Duration,
    pub(super) max_head_bytes: usize,
}

/// Answers the requests it takes (subscribers' `GET`s) without the router; gives any other
/// back. Made by the routes, which know the handlers.
pub type Direct = std::sync::Arc<
    dyn Fn(axum::extract::Request, SocketAddr) -> Result<futures_util::future::BoxFuture<'static, axum::response::Response>, axum::extract::Request>
        + Send
        + Sync,
>;

/// What the lean path hands to hyper: the socket and the bytes read from it but not answered.
pub(super) struct HandOver {
    pub(super) stream: TcpStream,
    pub(super) pending: Vec<u8>,
}

/// Serves `stream` (after the opening bytes in `pending`) until it closes, or returns it for
/// hyper at the first request the lean path does not take.
pub(super) async fn serve(
    stream: TcpStream,
    mut pending: Vec<u8>,
    peer: SocketAddr,
    limits: Limits,
    slot: &ConnectionSlot,
    router: &axum::Router,
    direct: &Direct,
    closing: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<Option<HandOver>, String> {
    let Limits { header_timeout, max_head_bytes: max } = limits;
    loop {
        let read = tokio::select! {
            biased;
            // A graceful close between requests: nothing is in flight.
            _ = closing.wait_for(|c| *c) => return Ok(None),
            read = tokio::time::timeout(header_timeout, head::read_head(&stream, &mut pending, max)) => read,
        };
        let len = match read {
            Err(_) => return Err("no request head within --header-timeout".into()),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(Read::Closed)) => return Ok(None),
            Ok(Ok(Read::Unfit)) => return Ok(Some(HandOver { stream, pending })),
            Ok(Ok(Read::Head(len))) => len,
        };
        let request = match head::parse(&pending[..len]) {
            Parsed::Lean(request) => request,
            Parsed::Hyper => return Ok(Some(HandOver { stream, pending })),
            Parsed::Refused(message) => {
                answer::refuse(&stream, message).await.map_err(|e| e.to_string())?;
                linger(stream, header_timeout).await;
                return Ok(None);
            }
        };
        pending.drain(..len);
        if pending.is_empty() {
            // A waiting subscriber keeps no read buffer.
            pending = Vec::new();
        }
        let answering = async {
            match direct(request, peer) {
                Ok(answering) => answering.await,
                Err(mut request) => {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request.extensions_mut().insert(slot.clone());
                    match router.clone().call(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                }
            }
        };
        let response = tokio::select! {
            // An answer that is ready goes first, before a half-close behind it is seen.
            biased;
            response = answering => response,
            // Dropping the answer ends its subscription, as hyper does for a closed peer.
            () = peer_gone(&stream, &mut pending) => return Ok(None),
        };
        match answer::write(&stream, response, &mut pending).await {
            Ok(Ended::KeepAlive) => {}
            Ok(Ended::Close) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Completes when the peer closes (or its socket fails). Bytes it sends meanwhile (a pipelined
/// next request) are kept in `pending`, and then the socket is not read until the answer is
/// done: as under hyper, a close behind a pipelined request is seen only once that request is
/// read, so every request sent before a half-close is answered up to one that has to wait.
async fn peer_gone(stream: &TcpStream, pending: &mut Vec<u8>) {
    loop {
        if !pending.is_empty() {
            return std::future::pending().await;
        }
        if stream.readable().await.is_err() {
            return;
        }
        match head::read_some(stream, pending) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Closes after a refusal without resetting it away: the client may still be sending (a body
/// behind the refused head), and closing with unread bytes would send a reset that can discard
/// the answer before the client reads it. Reads and drops up to 64 KiB, within `within`.
async fn linger(mut stream: TcpStream, within: std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.shutdown().await;
    let drain = async {
        let mut left = 64 * 1024usize;
        let mut chunk = vec![0u8; 2048];
        while left > 0 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(within, drain).await;
}
