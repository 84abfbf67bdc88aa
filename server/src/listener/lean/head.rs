//! Reading one request head and deciding whether the lean path may serve it.
//!
//! Only a plain HTTP/1.1 `GET` with an ordinary head is taken: anything with a body or
//! framing headers (`Content-Length`, `Transfer-Encoding`, `Expect`), an upgrade, a
//! `Connection` other than `keep-alive`, a bare LF, an obsolete folded line, a name or value
//! `http` refuses, or a target that is not a path goes to hyper unchanged, which answers it as
//! it always has (including its 400s and 431s). A raw `#` in the target of any request read here
//! is refused: a fragment never belongs in a request, and hyper would drop it silently.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};
use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Headers a lean head may have (hyper's own limit is 100; more goes to hyper).
const MAX_HEADERS: usize = 64;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 2048;

/// What reading a head ended with.
pub(super) enum Read {
    /// `pending[..len]` is a complete head.
    Head(usize),
    /// The peer closed with nothing pending.
    Closed,
    /// Not something the lean path reads to the end (over the size limit, a bare LF, a closed
    /// connection mid-head): hyper takes the bytes as they are.
    Unfit,
}

/// What a complete head is.
pub(super) enum Parsed {
    Lean(Request<axum::body::Body>),
    /// Refused with a 400 and this message; the connection closes.
    Refused(&'static str),
    /// hyper serves it (and the rest of the connection).
    Hyper,
}

/// Reads until `pending` holds a complete head (or the peer closes, or the head cannot be
/// lean). Cancel-safe: what was read stays in `pending`.
pub(super) async fn read_head(stream: &TcpStream, pending: &mut Vec<u8>, max_bytes: usize) -> std::io::Result<Read> {
    // Bytes already looked at: a head sent a byte at a time is scanned once, not once a byte.
    let mut scanned = 0;
    loop {
        if let Some(found) = head_end(pending, scanned) {
            return Ok(found);
        }
        scanned = pending.len();
        if pending.len() > max_bytes {
            return Ok(Read::Unfit);
        }
        stream.readable().await?;
        match read_some(stream, pending) {
            Ok(0) if pending.is_empty() => return Ok(Read::Closed),
            Ok(0) => return Ok(Read::Unfit),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// One non-blocking read appended to `pending` (the buffer lives on the stack only here, not in
/// the connection's task).
///
/// A short read emptied the socket's receive queue, so it also clears the socket's readiness,
/// as nginx does: otherwise the next wait (for the next head, or for the peer while an answer
/// waits) would first spend a system call on a read that finds nothing, one per request. The
/// runtime clears readiness only if no event came in since it was set, and never clears a seen
/// close, so bytes or a FIN arriving after this read are still noticed.
pub(super) fn read_some(stream: &TcpStream, pending: &mut Vec<u8>) -> std::io::Result<usize> {
    use std::io::Read;
    let mut chunk = [0u8; READ_CHUNK];
    let mut short = 0;
    let n = match stream.try_io(Interest::READABLE, || {
        let n = (&*SockRef::from(stream)).read(&mut chunk)?;
        if n > 0 && n < READ_CHUNK {
            short = n;
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && short > 0 => short,
        read => read?,
    };
    pending.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Where the head in `bytes` ends, if it is complete; `Unfit` at the first LF without a CR
/// before it (hyper's parser takes bare LFs; this one does not need to). Bytes before `from`
/// were looked at already and hold neither.
fn head_end(bytes: &[u8], mut from: usize) -> Option<Read> {
    while let Some(at) = bytes[from..].iter().position(|&b| b == b'\n').map(|i| i + from) {
        if at == 0 || bytes[at - 1] != b'\r' {
            return Some(Read::Unfit);
        }
        if at >= 3 && &bytes[at - 3..=at] == b"\r\n\r\n" {
            return Some(Read::Head(at + 1));
        }
        from = at + 1;
    }
    None
}

/// Parses a complete head (`head` ends with the blank line).
pub(super) fn parse(head: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    // httparse refuses obs-fold and whitespace before a colon by default.
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        _ => return Parsed::Hyper,
    }
    // Any method: hyper would drop the fragment and serve the rest (`POST /a#b` publishing to
    // `/a`).
    if parsed.path.is_some_and(|p| p.contains('#')) {
        return Parsed::Refused("a request target cannot hold a raw '#' (a fragment is never sent to a server); encode it as %23");
    }
    if parsed.method != Some("GET") || parsed.version != Some(1) {
        return Parsed::Hyper;
    }
    let Some(path) = parsed.path.filter(|p| p.starts_with('/')) else { return Parsed::Hyper };
    let Ok(uri) = path.parse::<Uri>() else { return Parsed::Hyper };
    let mut map = HeaderMap::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(h.name.as_bytes()), HeaderValue::from_bytes(h.value)) else {
            return Parsed::Hyper;
        };
        if !ordinary(&name, &value) {
            return Parsed::Hyper;
        }
        map.append(name, value);
    }
    let mut request = Request::new(axum::body::Body::empty());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = map;
    Parsed::Lean(request)
}

/// Whether a header leaves a `GET` without a body and keeps the connection as it is.
fn ordinary(name: &HeaderName, value: &HeaderValue) -> bool {
    use axum::http::header;
    if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING || name == header::EXPECT || name == header::UPGRADE || name == header::TE {
        return false;
    }
    if name == header::CONNECTION {
        let Ok(text) = value.to_str() else { return false };
        return text.split(',').map(str::trim).all(|t| t.is_empty() || t.eq_ignore_ascii_case("keep-alive"));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lean(head: &str) -> bool {
        matches!(parse(head.as_bytes()), Parsed::Lean(_))
    }

    #[test]
    fn a_plain_get_is_lean() {
        assert!(lean("GET /a?after=3 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nConnection: keep-alive\r\n\r\n"));
        match parse(b"GET /a HTTP/1.1\r\nX: 1\r\nX: 2\r\n\r\n") {
            Parsed::Lean(r) => assert_eq!(r.headers().get_all("x").iter().count(), 2),
            _ => panic!("not lean"),
        }
    }

    #[test]
    fn anything_unusual_goes_to_hyper() {
        for head in [
            "POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\n",
            "HEAD /a HTTP/1.1\r\n\r\n",
            "GET /a HTTP/1.0\r\n\r\n",
            "GET /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /a HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n",
            "GET /a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET /a HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
            "GET /a HTTP/1.1\r\nX : a\r\n\r\n",
            "GET http://h/a HTTP/1.1\r\n\r\n",
            "GET * HTTP/1.1\r\n\r\n",
            "GET /a HTTP/1.1\r\nX: \x01\r\n\r\n",
        ] {
            assert!(matches!(parse(head.as_bytes()), Parsed::Hyper), "{head:?}");
        }
    }

    #[test]
    fn a_fragment_is_refused() {
        assert!(matches!(parse(b"GET /a#b HTTP/1.1\r\n\r\n"), Parsed::Refused(_)));
        assert!(matches!(parse(b"POST /a#b HTTP/1.1\r\nContent-Length: 1\r\n\r\n"), Parsed::Refused(_)));
    }

    #[test]
    fn heads_end_at_the_blank_line_and_bare_lfs_are_unfit() {
        assert!(matches!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nGET", 0), Some(Read::Head(24))));
        assert!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0).is_none());
        assert!(matches!(head_end(b"GET / HTTP/1.1\nA: b\r\n\r\n", 0), Some(Read::Unfit)));
        assert!(matches!(head_end(b"\n", 0), Some(Read::Unfit)));
        // Arriving a byte at a time: the blank line is found where it ends.
        let head = b"GET / HTTP/1.1\r\nA: b\r\n\r\n";
        let found = (1..=head.len()).find_map(|n| head_end(&head[..n], n - 1));
        assert!(matches!(found, Some(Read::Head(24))));
    }
}
