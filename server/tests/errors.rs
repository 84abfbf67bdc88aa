//! Every bad input gets its status, code and reason; nothing accepted is lost.

mod common;

use common::{client, SseReader, TestServer};
use push_server::Config;

async fn expect(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["push-error"], code);
    let body = response.text().await.unwrap();
    assert_eq!(body.trim_end().lines().count(), 1, "one-line reason: {body:?}");
    body
}

#[tokio::test]
async fn invalid_channels_are_400_with_the_reason() {
    let server = TestServer::start().await;
    let body = expect(client().get(format!("{}/a//b", server.url)).send().await.unwrap(), 400, "INVALID_CHANNEL").await;
    assert!(body.contains("empty segment"), "{body}");
    let body = expect(client().post(format!("{}/a%20b", server.url)).body("x").send().await.unwrap(), 400, "INVALID_CHANNEL").await;
    assert!(body.contains("' '"), "{body}");
    expect(client().get(format!("{}/_push/nope", server.url)).send().await.unwrap(), 400, "INVALID_CHANNEL").await;
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_payloads_are_413_and_lose_nothing_accepted() {
    let server = TestServer::with(|c| c.max_payload_bytes = 16).await;
    let ok = server.publish("/s", "0123456789abcdef").await;
    let body = expect(client().post(format!("{}/s", server.url)).body("0123456789abcdefX").send().await.unwrap(), 413, "PAYLOAD_TOO_LARGE").await;
    assert!(body.contains("16 bytes"));
    // Without Content-Length (chunked) the limit still holds.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = "POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\na\r\nxxxxxxxxxx\r\na\r\nyyyyyyyyyy\r\n0\r\n\r\n";
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("push-error: payload_too_large"), "{answer}");
    let (messages, _, _) = common::batch(&format!("{}/s?after={}&timeout=0", server.url, ok.parse::<u64>().unwrap() - 1)).await;
    assert_eq!(messages.len(), 1, "only the accepted message is stored");
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_methods_are_405_with_allow() {
    let server = TestServer::start().await;
    let response = client().delete(format!("{}/x", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD, POST, PUT, OPTIONS");
    server.shutdown().await;
}

#[tokio::test]
async fn too_many_connections_are_503() {
    let server = TestServer::with(|c| c.max_connections = 2).await;
    let _a = SseReader::open(&format!("{}/c", server.url), None).await;
    let _b = SseReader::open(&format!("{}/c", server.url), None).await;
    let response = client().get(format!("{}/c", server.url)).send().await.unwrap();
    expect(response, 503, "TOO_MANY_CONNECTIONS").await;
    drop(_a);
    server.wait_metric("push_connections{transport=\"sse\"}", 1.0).await;
    let response = client().get(format!("{}/c?timeout=0", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 204, "a freed slot is usable again");
    assert!(server.metric("push_http_errors_total{code=\"TOO_MANY_CONNECTIONS\",route=\"subscribe\"}").await >= 1.0);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_cursors_and_parameters_are_400() {
    let server = TestServer::start().await;
    let id: u64 = server.publish("/k", "x").await.parse().unwrap();
    let body = expect(client().get(format!("{}/k?after=abc", server.url)).send().await.unwrap(), 400, "INVALID_CURSOR").await;
    assert!(body.contains("abc"));
    let response = client().get(format!("{}/k", server.url)).header("Last-Event-ID", "-4").send().await.unwrap();
    expect(response, 400, "INVALID_CURSOR").await;
    let body = expect(client().get(format!("{}/k?after={}", server.url, id + 1)).send().await.unwrap(), 400, "INVALID_CURSOR").await;
    assert!(body.contains("ahead"), "{body}");
    expect(client().get(format!("{}/k?timeout=soon", server.url)).send().await.unwrap(), 400, "BAD_REQUEST").await;
    let response = client().get(format!("{}/k?limit=0", server.url)).header("Accept", "application/json").send().await.unwrap();
    expect(response, 400, "BAD_REQUEST").await;
    expect(client().get(format!("{}/_push/subscribe", server.url)).send().await.unwrap(), 400, "BAD_REQUEST").await;
    server.shutdown().await;
}

#[tokio::test]
async fn multiplexing_is_bounded() {
    let server = TestServer::with(|c| c.max_channels_per_connection = 3).await;
    let response = client().get(format!("{}/_push/subscribe?channels=/a,/b,/c,/d", server.url)).send().await.unwrap();
    let body = expect(response, 400, "BAD_REQUEST").await;
    assert!(body.contains("at most 3"));
    server.shutdown().await;
}

#[tokio::test]
async fn publishing_needs_the_key_when_one_is_set() {
    let server = TestServer::with(|c| c.publish_key = Some("k3y".into())).await;
    expect(client().post(format!("{}/p", server.url)).body("x").send().await.unwrap(), 401, "UNAUTHORIZED").await;
    let wrong = client().post(format!("{}/p", server.url)).bearer_auth("nope").body("x").send().await.unwrap();
    expect(wrong, 401, "UNAUTHORIZED").await;
    let right = client().post(format!("{}/p", server.url)).bearer_auth("k3y").body("x").send().await.unwrap();
    assert_eq!(right.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn cors_preflight_is_answered() {
    let server = TestServer::with(|c| c.cors_origins = vec!["http://app.example".into()]).await;
    let response = client()
        .request(reqwest::Method::OPTIONS, format!("{}/room", server.url))
        .header("Origin", "http://app.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "last-event-id")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "http://app.example");
    // A page's retry-safe publish: Idempotency-Key may be sent, Idempotent-Replayed read.
    let publish = client()
        .request(reqwest::Method::OPTIONS, format!("{}/room", server.url))
        .header("Origin", "http://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, idempotency-key")
        .send()
        .await
        .unwrap();
    let allowed = publish.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");
    let replayed = client()
        .post(format!("{}/room", server.url))
        .header("Origin", "http://app.example")
        .body("x")
        .send()
        .await
        .unwrap();
    let exposed = replayed.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("idempotent-replayed"), "{exposed}");
    let other = client().get(format!("{}/room?timeout=0", server.url)).header("Origin", "http://evil.example").send().await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    server.shutdown().await;
}

#[test]
fn a_public_address_without_a_publish_key_is_refused() {
    let mut config = Config::defaults();
    config.bind = "0.0.0.0:4000".parse().unwrap();
    let reason = config.validate().unwrap_err();
    assert!(reason.contains("publish key"), "{reason}");
    config.publish_key = Some("k".into());
    assert!(config.validate().is_ok());
    config.publish_key = None;
    config.allow_open_publish = true;
    assert!(config.validate().is_ok());
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let server = TestServer::start().await;
    server.publish("/m", "x").await;
    let health: serde_json::Value =
        serde_json::from_slice(&client().get(format!("{}/_push/health", server.url)).send().await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["broker"]["engine"], "memory");
    assert_eq!(server.metric("push_messages_published_total").await, 1.0);
    server.shutdown().await;
}
