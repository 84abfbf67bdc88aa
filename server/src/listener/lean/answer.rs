//! Writing an answer on the lean path: the head as hyper writes it (lowercase names, a `date`),
//! a body of known length as it is, any other body chunked. Frames already waiting go out in
//! the same write as the one before them; the socket is written directly and waited on only
//! when it would block.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use tokio::net::TcpStream;

/// Whether the connection may carry another request after an answer.
pub(super) enum Ended {
    KeepAlive,
    Close,
}

/// Writes `response`; while its body waits, watches the peer: a close ends the answer (and its
/// subscription), bytes of a next request are kept in `pending`.
pub(super) async fn write(stream: &TcpStream, response: Response, pending: &mut Vec<u8>) -> std::io::Result<Ended> {
    let (parts, mut body) = response.into_parts();
    let status = parts.status;
    let close = asks_to_close(&parts.headers);
    let bodiless = status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let length = if bodiless { Some(0) } else { axum::body::HttpBody::size_hint(&body).exact() };
    let chunked = length.is_none();
    // Room for a usual head and a long-poll's message: one allocation per answer.
    let mut out = Vec::with_capacity(1024);
    head(&mut out, status, &parts.headers, length, bodiless);
    if length == Some(0) {
        write_all(stream, &out).await?;
        return Ok(if close { Ended::Close } else { Ended::KeepAlive });
    }
    loop {
        let frame = match body.frame().now_or_never() {
            Some(frame) => frame,
            None => {
                // Nothing more ready: send what is gathered, then wait for the body or the peer.
                if !out.is_empty() {
                    write_all(stream, &out).await?;
                    out = Vec::new();
                }
                tokio::select! {
                    biased;
                    frame = body.frame() => frame,
                    () = super::peer_gone(stream, pending) => return Ok(Ended::Close),
                }
            }
        };
        match frame {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    put(&mut out, &data, chunked);
                }
            }
            // As hyper does: a body that fails mid-way is cut off with the connection, so the
            // client sees an incomplete answer rather than a complete wrong one.
            Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
            None => {
                if chunked {
                    out.extend_from_slice(b"0\r\n\r\n");
                }
                write_all(stream, &out).await?;
                return Ok(if close { Ended::Close } else { Ended::KeepAlive });
            }
        }
    }
}

/// Refuses a request with a `400` in the server's error form; the connection closes.
pub(super) async fn refuse(stream: &TcpStream, message: &str) -> std::io::Result<()> {
    use axum::response::IntoResponse;
    let mut response = crate::error::ApiError::new(push_core::ErrorKind::BadRequest, message).into_response();
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    write(stream, response, &mut Vec::new()).await.map(|_| ())
}

fn asks_to_close(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|v| v.to_str().is_ok_and(|t| t.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))))
}

fn head(out: &mut Vec<u8>, status: StatusCode, headers: &HeaderMap, length: Option<u64>, bodiless: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        // The framing is this writer's to say.
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !bodiless {
        match length {
            Some(n) => {
                use std::io::Write;
                let _ = write!(out, "content-length: {n}\r\n");
            }
            None => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        }
    }
    if !headers.contains_key(header::DATE) {
        out.extend_from_slice(b"date: ");
        date(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// One body frame, as a chunk when the length was not known.
fn put(out: &mut Vec<u8>, data: &[u8], chunked: bool) {
    if data.is_empty() {
        return;
    }
    if chunked {
        use std::io::Write;
        let _ = write!(out, "{:x}\r\n", data.len());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(data);
    }
}

/// The `date` header's value, formatted once a second per thread.
fn date(out: &mut Vec<u8>) {
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with_borrow_mut(|(at, text)| {
        if *at != second {
            *at = second;
            *text = httpdate::fmt_http_date(now);
        }
        out.extend_from_slice(text.as_bytes());
    });
}

/// Writes all of `bytes`, straight to the socket while it takes them.
pub(super) async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match stream.try_write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
