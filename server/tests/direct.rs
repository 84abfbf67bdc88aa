//! Subscriber `GET`s on the lean HTTP/1.1 path are answered by their handlers without the
//! router (server/src/routes/direct.rs). Each answer here is compared with the router's answer to
//! the same request (sent with `Connection: close`, which hyper and the router serve): the same
//! status, the same headers (CORS, `Push-*`, caching, errors) and the same body, and the error
//! answers are counted under the same routes.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::TestServer;
use push_server::config::AuthMode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer's status line, headers (names lowercase, framing and per-answer ones left out) and
/// body (none for a stream).
#[derive(Debug, PartialEq)]
struct Answer {
    status: String,
    headers: BTreeMap<String, Vec<String>>,
    body: Option<Vec<u8>>,
}

/// Sends `GET target` with `headers` and reads one answer; `close` makes hyper serve it.
async fn get(server: &TestServer, target: &str, headers: &str, close: bool) -> Answer {
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let close = if close { "Connection: close\r\n" } else { "" };
    conn.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n{headers}{close}\r\n").as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk)).await.expect("an answer").unwrap();
        assert!(n > 0, "closed before the head of {target}");
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(bytes[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_owned();
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap();
        headers.entry(name.trim().to_ascii_lowercase()).or_default().push(value.trim().to_owned());
    }
    let length = headers.get("content-length").map(|v| v[0].parse::<usize>().unwrap());
    let chunked = headers.get("transfer-encoding").is_some_and(|v| v[0] == "chunked");
    let stream = headers.get("content-type").is_some_and(|v| v[0].starts_with("text/event-stream"));
    let body = if stream {
        None
    } else {
        let mut rest = bytes[head_end..].to_vec();
        let complete = |rest: &[u8]| match length {
            Some(n) => rest.len() >= n,
            None => !chunked || rest.ends_with(b"0\r\n\r\n"),
        };
        while !complete(&rest) {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk)).await.expect("a body").unwrap();
            assert!(n > 0, "closed inside the body of {target}");
            rest.extend_from_slice(&chunk[..n]);
        }
        Some(if chunked { unchunk(&rest) } else { rest })
    };
    // Framing (the lean path writes a length where it knows one), the date, and the close.
    for name in ["content-length", "transfer-encoding", "date", "connection"] {
        headers.remove(name);
    }
    Answer { status, headers, body }
}

fn unchunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line = bytes.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&bytes[..line]).unwrap(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&bytes[line + 2..line + 2 + size]);
        bytes = &bytes[line + 2 + size + 2..];
    }
}

/// Asks every request both ways and compares the answers, and what each way added to the
/// error counts (which must not be nothing: every request list holds refusals).
async fn same_both_ways(server: &TestServer, requests: &[(String, String)]) {
    let before = errors(server).await;
    let mut lean = Vec::new();
    for (target, headers) in requests {
        lean.push(get(server, target, headers, false).await);
    }
    let between = errors(server).await;
    for ((target, headers), lean) in requests.iter().zip(lean) {
        let router = get(server, target, headers, true).await;
        assert_eq!(lean, router, "GET {target} with {headers:?}: the lean path (left) and the router (right) differ");
    }
    let after = errors(server).await;
    let added = |from: &BTreeMap<String, f64>, to: &BTreeMap<String, f64>| -> BTreeMap<String, f64> {
        to.iter().map(|(k, v)| (k.clone(), v - from.get(k).unwrap_or(&0.0))).filter(|(_, d)| *d > 0.0).collect()
    };
    let (by_lean, by_router) = (added(&before, &between), added(&between, &after));
    assert!(!by_lean.is_empty(), "the refusals were not counted");
    assert_eq!(by_lean, by_router, "error counts: the lean path (left) and the router (right)");
}

/// The error answers counted so far, by route and code.
async fn errors(server: &TestServer) -> BTreeMap<String, f64> {
    let text = common::client().get(format!("{}/_push/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("push_http_errors_total{"))
        .filter_map(|l| l.rsplit_once(' ').map(|(k, v)| (k.to_owned(), v.parse().unwrap())))
        .collect()
}

fn requests(first: &str, token: &str) -> Vec<(String, String)> {
    let r = |target: String, headers: &str| (target, headers.to_owned());
    let allowed = "Origin: http://app.example\r\n";
    vec![
        r(format!("/d/a?timeout=0{token}"), ""),
        r(format!("/d/a?after={first}{token}"), ""),
        r(format!("/d/a?after={first}{token}"), allowed),
        r(format!("/d/a?timeout=0{token}"), "Origin: http://elsewhere.example\r\n"),
        r(format!("/d/a?after=0{token}"), allowed),
        r(format!("/d/a?after={first}{token}"), "Accept: application/json\r\n"),
        r(format!("/d/a?timeout=0{token}"), "Accept: text/event-stream\r\n"),
        r(format!("/_push/subscribe?channel=/d/a&after={first}{token}"), allowed),
        r(format!("/_push/subscribe?channel=/d/a&channel=/d/b&timeout=0{token}"), ""),
        // Refusals: every one an error answer in the server's form.
        r(format!("/d/a?timeout=abc{token}"), allowed),
        r(format!("/d/a?after=nope{token}"), ""),
        r(format!("/d/a?presence=maybe{token}"), ""),
        r(format!("/_push/subscribe?timeout=0{token}"), allowed),
        r(format!("/%FF?timeout=0{token}"), ""),
        r(format!("/_push?timeout=0{token}"), ""),
        r(format!("/d/a%00b?timeout=0{token}"), ""),
        r("/d/a?timeout=0".into(), allowed),
        r("/d/a?timeout=0&token=not.a.token".into(), ""),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_answers_are_the_routers_with_an_origin_list_and_tokens() {
    let server = TestServer::with(|c| {
        c.cors_origins = vec!["http://app.example".into()];
        c.auth = AuthMode::Token;
        c.secret = Some("s3cret".into());
    })
    .await;
    let first = server.publish("/d/a", "one").await;
    server.publish("/d/a", "two").await;
    let token = push_core::token::sign_for(b"s3cret", "/d/*", None, 600).unwrap();
    same_both_ways(&server, &requests(&first, &format!("&token={token}"))).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_answers_are_the_routers_with_any_origin() {
    let server = TestServer::with(|c| c.cors_origins = vec!["*".into()]).await;
    let first = server.publish("/d/a", "one").await;
    server.publish("/d/a", "two").await;
    same_both_ways(&server, &requests(&first, "")).await;
    server.shutdown().await;
}
