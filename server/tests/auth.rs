//! Subscriber authorization: signed tokens on every transport, and asking the web app.

mod common;
mod test_ca;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use common::{client, SseReader, TestServer};
use push_core::message::now_millis;
use push_core::token::{sign, Claims};
use push_server::config::AuthMode;

const SECRET: &[u8] = b"s3cret";

fn token(channel: &str, consumer: Option<&str>, expires_in: i64) -> String {
    let expires_at = (now_millis() / 1000) as i64 + expires_in;
    sign(SECRET, &Claims { channel: channel.into(), consumer: consumer.map(Into::into), expires_at: expires_at.max(0) as u64, info: None }).unwrap()
}

async fn token_server() -> TestServer {
    TestServer::with(|c| {
        c.auth = AuthMode::Token;
        c.secret = Some("s3cret".into());
    })
    .await
}

async fn status(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = client().get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let code = response.headers().get("push-error").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (response.status().as_u16(), code)
}

#[tokio::test]
async fn tokens_are_checked_on_every_transport() {
    let server = token_server().await;
    let good = token("/rooms/*", None, 60);
    let u = &server.url;
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("{u}/rooms/1?timeout=0"), vec![]),
        (format!("{u}/rooms/1?timeout=0"), vec![("Accept", "application/json")]),
        (format!("{u}/_push/subscribe?channel=/rooms/1&channel=/rooms/2&timeout=0"), vec![]),
    ];
    for (url, headers) in &cases {
        let sep = if url.contains('?') { '&' } else { '?' };
        assert_eq!(status(&format!("{url}{sep}token={good}"), headers).await.0 / 100, 2, "{url}");
        assert_eq!(status(url, headers).await, (401, "UNAUTHORIZED".into()), "{url} without a token");
        let bearer = format!("Bearer {good}");
        let mut with_header = headers.clone();
        with_header.push(("Authorization", &bearer));
        assert_eq!(status(url, &with_header).await.0 / 100, 2, "{url} with a bearer token");
    }
    // SSE and WebSocket too.
    let mut sse = SseReader::open(&format!("{u}/rooms/1?token={good}"), None).await;
    assert!(sse.next().await.unwrap().id.is_some());
    let (s, _) = status(&format!("{u}/rooms/1"), &[("Accept", "text/event-stream")]).await;
    assert_eq!(s, 401);
    let mut ws = common::WsReader::open(&format!("{u}/rooms/1?token={good}")).await;
    assert_eq!(ws.next().await.unwrap()["type"], "subscribed");
    let refused = tokio_tungstenite::connect_async(format!("ws://{}/rooms/1", server.addr)).await;
    assert!(refused.is_err(), "a WebSocket without a token is refused before the upgrade");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_tokens_are_refused_with_the_right_status() {
    let server = token_server().await;
    let u = &server.url;
    let expired = token("/a", None, -10);
    let other_channel = token("/b", None, 60);
    let for_bob = token("/a", Some("bob"), 60);
    let good = token("/a", None, 60);
    let tampered = format!("{}x", &good[..good.len() - 1]);
    let forged = sign(b"not-the-secret", &Claims { channel: "/a".into(), consumer: None, expires_at: u64::MAX / 2, info: None }).unwrap();

    assert_eq!(status(&format!("{u}/a?timeout=0&token={expired}"), &[]).await, (401, "UNAUTHORIZED".into()));
    assert_eq!(status(&format!("{u}/a?timeout=0&token={tampered}"), &[]).await, (401, "UNAUTHORIZED".into()));
    assert_eq!(status(&format!("{u}/a?timeout=0&token={forged}"), &[]).await, (401, "UNAUTHORIZED".into()));
    assert_eq!(status(&format!("{u}/a?timeout=0&token=garbage"), &[]).await, (401, "UNAUTHORIZED".into()));
    assert_eq!(status(&format!("{u}/a?timeout=0&token={other_channel}"), &[]).await, (403, "FORBIDDEN".into()));
    assert_eq!(status(&format!("{u}/a?timeout=0&token={for_bob}"), &[]).await, (403, "FORBIDDEN".into()));
    assert_eq!(status(&format!("{u}/a?timeout=0&token={for_bob}"), &[("Consumer-Id", "alice")]).await, (403, "FORBIDDEN".into()));
    assert_eq!(status(&format!("{u}/a?timeout=0&token={for_bob}"), &[("Consumer-Id", "bob")]).await.0, 204);
    assert_eq!(status(&format!("{u}/a?timeout=0&token={for_bob}&consumer=bob"), &[]).await.0, 204);
    // A multiplexed subscription needs every channel covered.
    let url = format!("{u}/_push/subscribe?channel=/a&channel=/b&timeout=0&token={good}");
    assert_eq!(status(&url, &[]).await, (403, "FORBIDDEN".into()));
    assert_eq!(status(&format!("{url}&token={other_channel}"), &[]).await.0, 200);
    // Publishing is not affected by subscriber auth.
    server.publish("/a", "still works").await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_expiring_token_ends_open_streams() {
    let server = token_server().await;
    let short = token("/live", None, 2);
    let mut sse = SseReader::open(&format!("{}/live?token={short}", server.url), None).await;
    sse.next().await.unwrap();
    let mut ws = common::WsReader::open(&format!("{}/live?token={short}", server.url)).await;
    ws.next().await.unwrap();
    server.publish("/live", "before expiry").await;
    assert_eq!(sse.next().await.unwrap().data.as_deref(), Some("before expiry"));
    assert_eq!(ws.next().await.unwrap()["data"], "before expiry");
    let ended = sse.next().await.unwrap();
    assert_eq!(ended.event.as_deref(), Some("expired"));
    assert_eq!(sse.next().await, None, "the stream ends after the expired event");
    assert!(ws.next().await.is_none(), "the WebSocket closes when the token expires");
    server.shutdown().await;
}

/// A stand-in for the web app's auth endpoint: `session=ok` allowed, `session=bad` forbidden,
/// no session 401, `session=slow` answers after 3 s, `session=broken` 500, `session=anon` a
/// redirect to a login page that answers 200 (as Devise, Django and Flask-Login do). Counts
/// requests to the auth endpoint.
async fn auth_app() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route("/login", axum::routing::get(|| async { "please log in" })).route(
        "/push/auth",
        axum::routing::get(move |headers: HeaderMap| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let cookie = headers.get("cookie").and_then(|v| v.to_str().ok()).unwrap_or("");
                let channel = headers.get("push-channel").and_then(|v| v.to_str().ok()).unwrap_or("");
                if channel.is_empty() || !headers.contains_key("x-forwarded-for") {
                    return (StatusCode::BAD_REQUEST, [("location", "/login")]);
                }
                let status = match cookie {
                    "session=ok" if channel != "/secret" => StatusCode::NO_CONTENT,
                    "session=ok" | "session=bad" => StatusCode::FORBIDDEN,
                    "session=slow" => {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        StatusCode::OK
                    }
                    "session=broken" => StatusCode::INTERNAL_SERVER_ERROR,
                    "session=anon" => StatusCode::FOUND,
                    _ => StatusCode::UNAUTHORIZED,
                };
                (status, [("location", "/login")])
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push/auth", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

#[tokio::test]
async fn the_web_app_decides_through_the_auth_url() {
    let (url, hits) = auth_app().await;
    let server = TestServer::with(|c| {
        c.auth_url = Some(url);
        c.cors_origins = vec!["http://app.example".into()];
        c.auth_timeout = Duration::from_millis(500);
        c.auth_cache_ttl = Duration::from_secs(60);
    })
    .await;
    let u = &server.url;
    assert_eq!(status(&format!("{u}/room?timeout=0"), &[("Cookie", "session=ok")]).await.0, 204);
    assert_eq!(status(&format!("{u}/secret?timeout=0"), &[("Cookie", "session=ok")]).await, (403, "FORBIDDEN".into()));
    assert_eq!(status(&format!("{u}/room?timeout=0"), &[("Cookie", "session=bad")]).await, (403, "FORBIDDEN".into()));
    assert_eq!(status(&format!("{u}/room?timeout=0"), &[]).await, (401, "UNAUTHORIZED".into()));
    assert_eq!(status(&format!("{u}/room?timeout=0"), &[("Cookie", "session=broken")]).await.0, 503, "fail closed");
    // A redirect to the login page is a refusal, not the login page's 200; never cached as allowed.
    for _ in 0..2 {
        assert_eq!(status(&format!("{u}/room?timeout=0"), &[("Cookie", "session=anon")]).await, (401, "UNAUTHORIZED".into()));
    }

    // Slow app: refused at the timeout, and other subscribers are not held up meanwhile.
    let slow = tokio::spawn({
        let url = format!("{u}/room?timeout=0");
        async move { status(&url, &[("Cookie", "session=slow")]).await }
    });
    let started = std::time::Instant::now();
    assert_eq!(status(&format!("{u}/other?timeout=0"), &[("Cookie", "session=ok")]).await.0, 204);
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(slow.await.unwrap().0, 503);

    // Cached: the same cookie and channel again does not reach the app.
    let before = hits.load(Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(status(&format!("{u}/room?timeout=0"), &[("Cookie", "session=ok")]).await.0, 204);
    }
    assert_eq!(hits.load(Ordering::SeqCst), before, "decisions are cached");
    server.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_auth_app_is_503() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/auth", closed.local_addr().unwrap());
    drop(closed);
    let server = TestServer::with(|c| {
        c.auth_url = Some(url);
        c.cors_origins = vec!["http://app.example".into()];
    })
    .await;
    assert_eq!(status(&format!("{}/room?timeout=0", server.url), &[("Cookie", "session=ok")]).await, (503, "CONNECTION_FAILED".into()));
    server.shutdown().await;
}

#[tokio::test]
async fn auth_checks_are_bounded_in_flight_and_waiting() {
    let (url, hits) = auth_app().await;
    let server = TestServer::with(|c| {
        c.auth_url = Some(url);
        c.cors_origins = vec!["http://app.example".into()];
        c.auth_timeout = Duration::from_secs(2);
        c.auth_concurrency = 1;
        c.auth_queue = 1;
    })
    .await;
    let slow = |path: &str| {
        let url = format!("{}{path}?timeout=0", server.url);
        tokio::spawn(async move { status(&url, &[("Cookie", "session=slow")]).await })
    };
    let first = slow("/a");
    // The first check holds the only slot (the app answers after 3 s, the timeout is 2 s).
    while hits.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (second, third) = (slow("/b"), slow("/c"));
    let mut answers = vec![second.await.unwrap(), third.await.unwrap()];
    answers.sort();
    assert_eq!(answers, vec![(503, "CONNECTION_FAILED".into()), (503, "OVERLOADED".into())], "one waits, one is refused");
    assert_eq!(first.await.unwrap(), (503, "CONNECTION_FAILED".into()));
    assert_eq!(server.metric("push_limit_rejections_total{limit=\"auth_queue\"}").await, 1.0);
    server.shutdown().await;
}

#[test]
fn unsafe_proxy_auth_settings_refuse_to_start() {
    let mut config = push_server::Config::defaults();
    config.auth_url = Some("http://127.0.0.1:3000/auth".into());
    let reason = config.validate().unwrap_err();
    assert!(reason.contains("--cors-origins"), "{reason}");
    config.cors_origins = vec!["https://app.example".into()];
    config.validate().unwrap();
    config.auth_url = Some("ftp://app.example/auth".into());
    assert!(config.validate().unwrap_err().contains("http:// or https://"));
    config.auth_url = Some("https://app.example/auth".into());
    config.auth_ca_file = Some("/nonexistent/ca.pem".into());
    let reason = config.validate().unwrap_err();
    assert!(reason.contains("/nonexistent/ca.pem") && reason.contains("cannot be read"), "{reason}");
}

/// An https:// auth URL: trusted through --auth-ca-file it decides; with only the system's roots
/// the TLS handshake fails and every subscription is refused (fail closed). The "app" is a
/// push-server over TLS: a long-poll with `timeout=0` answers 204, which allows.
#[tokio::test]
async fn an_https_auth_url_is_trusted_through_its_ca_file_only() {
    let ca = test_ca::Ca::new("auth app CA");
    let dir = std::env::temp_dir().join(format!("push-auth-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = ca.server();
    for (name, text) in [("cert.pem", &cert), ("key.pem", &key), ("ca.pem", &ca.pem)] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let app = TestServer::with(|c| {
        c.tls_cert = Some(dir.join("cert.pem"));
        c.tls_key = Some(dir.join("key.pem"));
    })
    .await;
    let auth_url = format!("https://127.0.0.1:{}/allowed?timeout=0", app.addr.port());
    for (ca_file, expected) in [(Some(dir.join("ca.pem")), 204), (None, 503)] {
        let server = TestServer::with(|c| {
            c.auth_url = Some(auth_url.clone());
            c.auth_ca_file = ca_file;
            c.cors_origins = vec!["https://app.example".into()];
        })
        .await;
        assert_eq!(status(&format!("{}/room?timeout=0", server.url), &[("Cookie", "session=1")]).await.0, expected);
        server.shutdown().await;
    }
    app.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
