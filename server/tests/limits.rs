//! Every bound holds and says so: TCP connections (in all, per IP), request heads, channels,
//! JSON batch bytes, WebSocket messages and origins, numbers in the query, metric series.

mod common;

use std::time::Duration;

use common::{client, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};

/// Sends raw bytes and reads the answer until the server closes or `wait` passes.
async fn raw(server: &TestServer, request: &[u8], wait: Duration) -> String {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn code(response: reqwest::Response) -> (u16, String) {
    let code = response.headers().get("push-error").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (response.status().as_u16(), code)
}

#[tokio::test]
async fn a_huge_timeout_is_a_400_not_a_reset() {
    let server = TestServer::start().await;
    for bad in ["1e20", "-1", "NaN", "inf", "3601", "1e309"] {
        let response = client().get(format!("{}/t?timeout={bad}", server.url)).send().await.unwrap();
        assert_eq!(code(response).await, (400, "BAD_REQUEST".into()), "timeout={bad}");
    }
    // Within the range but above --long-poll-timeout: capped, not refused.
    let response = client().get(format!("{}/t?timeout=3600", server.url)).header("Accept", "application/json");
    let response = response.timeout(Duration::from_secs(1)).send().await;
    assert!(response.is_err(), "still waiting at 1 s: the request was taken");
    server.shutdown().await;
}

#[tokio::test]
async fn last_event_id_wins_over_the_query_cursor() {
    let server = TestServer::start().await;
    let first: u64 = server.publish("/le", "one").await.parse().unwrap();
    let second: u64 = server.publish("/le", "two").await.parse().unwrap();
    server.publish("/le", "three").await;
    // An EventSource opened at ?after=<first> reconnects with that URL and Last-Event-ID: <second>.
    let url = format!("{}/le?after={first}&timeout=0", server.url);
    let response = client().get(&url).header("Last-Event-ID", second.to_string()).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "three");
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "two", "without the header the query counts");
    server.shutdown().await;
}

#[tokio::test]
async fn push_paths_do_not_add_metric_series() {
    let server = TestServer::start().await;
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    let before = series(&client().get(format!("{}/_push/metrics", server.url)).send().await.unwrap().text().await.unwrap());
    for i in 0..50 {
        let response = client().get(format!("{}/_push/random-{i}", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 400);
    }
    let text = client().get(format!("{}/_push/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(series(&text) <= before + 1, "one series for route=\"other\" at most:\n{text}");
    assert!(text.contains(r#"push_http_errors_total{code="INVALID_CHANNEL",route="other"} 50"#), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn subscribe_only_channels_are_forgotten_and_capped() {
    let server = TestServer::with(|c| c.max_channels = 3).await;
    for i in 0..20 {
        let response = client().get(format!("{}/only-{i}?timeout=0", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }
    assert_eq!(server.metric("push_channels").await, 0.0, "no history, no subscriber: dropped");
    server.publish("/kept", "x").await;
    let _a = common::SseReader::open(&format!("{}/a", server.url), None).await;
    let _b = common::SseReader::open(&format!("{}/b", server.url), None).await;
    let _c = common::SseReader::open(&format!("{}/c", server.url), None).await;
    server.wait_metric("push_channels", 4.0).await;
    let response = client().get(format!("{}/d?timeout=0", server.url)).send().await.unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(code(response).await, (503, "OVERLOADED".into()));
    assert_eq!(server.metric("push_limit_rejections_total{limit=\"channels\"}").await, 1.0);
    // Publishing is never refused by the channel limit, and published channels do not count in
    // it: they stay open to subscribers.
    for i in 0..10 {
        server.publish(&format!("/published/{i}"), "x").await;
    }
    let response = client().get(format!("{}/published/7?timeout=0", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let response = client().get(format!("{}/kept?timeout=0", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    server.shutdown().await;
}

#[tokio::test]
async fn a_json_batch_is_bounded_in_bytes() {
    let server = TestServer::with(|c| {
        c.max_batch_bytes = 10_000;
        c.history_size = 100;
    })
    .await;
    let payload = "x".repeat(3_000);
    let first: u64 = server.publish("/big", payload.clone()).await.parse().unwrap();
    for _ in 1..10 {
        server.publish("/big", payload.clone()).await;
    }
    let mut after = first - 1;
    let mut received = 0;
    let mut batches = 0;
    loop {
        let url = format!("{}/big?after={after}&timeout=0", server.url);
        let response = client().get(&url).header("Accept", "application/json").send().await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        let count = json["messages"].as_array().unwrap().len();
        assert!(count * 3_000 <= 10_000, "{count} messages of 3,000 bytes exceed the 10,000-byte bound");
        received += count;
        batches += 1;
        after = json["last_id"].as_str().unwrap().parse().unwrap();
        if !json["more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!((received, batches), (10, 4), "3 + 3 + 3 + 1: nothing lost between batches");
    // One message larger than the bound still goes out, alone.
    let big: u64 = server.publish("/huge", "y".repeat(20_000)).await.parse().unwrap();
    let (messages, _, _) = common::batch(&format!("{}/huge?after={}&timeout=0", server.url, big - 1)).await;
    assert_eq!(messages.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn request_heads_are_bounded_in_size() {
    let server = TestServer::with(|c| c.max_header_bytes = 8192).await;
    let request = format!("GET /h?timeout=0 HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(10_000));
    let answer = raw(&server, request.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn slow_request_heads_are_closed() {
    let server = TestServer::with(|c| c.header_timeout = Duration::from_millis(300)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server closed the connection by itself");
    // An idle keep-alive connection is closed the same way after its answer.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /slow?timeout=0 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok() && String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 204"));
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_connections_are_bounded_per_ip_with_an_answer() {
    let server = TestServer::with(|c| {
        c.max_tcp_connections_per_ip = 3;
        c.ip_limit_exempt = vec![];
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        // Admitted: each one gets an answer and stays open (keep-alive).
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(b"GET /x?timeout=0 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            assert_eq!(tcp.read(&mut byte).await.unwrap(), 1, "admitted connection closed");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 204"), "{}", String::from_utf8_lossy(&head));
        held.push(tcp);
    }
    let answer = raw(&server, b"GET /x?timeout=0 HTTP/1.1\r\nHost: x\r\n\r\n", Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("Retry-After: 1"), "{answer:?}");
    drop(held);
    // Places free again once the held connections close.
    for _ in 0..100 {
        let answer = raw(&server, b"GET /x?timeout=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Duration::from_secs(5)).await;
        if answer.starts_with("HTTP/1.1 204") {
            server.shutdown().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the per-IP places were not freed");
}

#[tokio::test]
async fn websocket_origins_come_from_the_allow_list() {
    let server = TestServer::with(|c| c.cors_origins = vec!["http://app.example".into()]).await;
    let ws = format!("{}/w", server.url.replacen("http://", "ws://", 1));
    let open = |origin: Option<&'static str>| {
        let mut request = ws.clone().into_client_request().unwrap();
        if let Some(o) = origin {
            request.headers_mut().insert("Origin", o.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request)
    };
    match open(Some("http://evil.example")).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a foreign origin must be refused, got {:?}", other.map(|_| ())),
    }
    assert!(open(Some("http://app.example")).await.is_ok());
    assert!(open(None).await.is_ok(), "no Origin: not a browser page");
    assert_eq!(server.metric("push_limit_rejections_total{limit=\"origin\"}").await, 1.0);
    // Listed origins may send cookies; `*` never allows credentials.
    let response = client().get(format!("{}/w?timeout=0", server.url)).header("Origin", "http://app.example").send().await.unwrap();
    assert_eq!(response.headers()["access-control-allow-credentials"], "true");
    server.shutdown().await;
    let open_server = TestServer::start().await;
    let response = client().get(format!("{}/w?timeout=0", open_server.url)).header("Origin", "http://any.example").send().await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(!response.headers().contains_key("access-control-allow-credentials"));
    open_server.shutdown().await;
}

#[tokio::test]
async fn oversized_websocket_messages_close_with_1009() {
    let server = TestServer::with(|c| c.ws_max_message_bytes = 1024).await;
    let url = format!("{}/w", server.url.replacen("http://", "ws://", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket.send(Message::Text("small frames are ignored".into())).await.unwrap();
    socket.send(Message::Binary(vec![0u8; 4096].into())).await.unwrap();
    let mut close = None;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        match frame {
            Ok(Message::Close(frame)) => {
                close = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    assert_eq!(close, Some(1009));
    assert_eq!(server.metric("push_limit_rejections_total{limit=\"ws_message_bytes\"}").await, 1.0);
    server.shutdown().await;
}
