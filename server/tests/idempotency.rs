//! Idempotent publishing on the embedded broker: a repeated `Idempotency-Key` answers the first
//! id and delivers once, and the Rust producer retries a publish whose answer was lost without
//! storing it twice.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{client, TestServer};
use push_core::{Producer, ProducerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn keyed(url: &str, key: &str, body: &str) -> reqwest::Response {
    client().post(url).header("Idempotency-Key", key).body(body.to_owned()).send().await.unwrap()
}

async fn id_of(response: reqwest::Response) -> (u64, bool) {
    assert_eq!(response.status(), 200);
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (json["id"].as_str().unwrap().parse().unwrap(), replayed)
}

#[tokio::test]
async fn a_repeated_key_answers_the_first_id_and_delivers_once() {
    let server = TestServer::start().await;
    let before: u64 = server.publish("/o", "before").await.parse().unwrap();
    let url = format!("{}/o", server.url);
    let (first, replayed) = id_of(keyed(&url, "k-1", "one").await).await;
    assert!(!replayed);
    assert_eq!(id_of(keyed(&url, "k-1", "one again").await).await, (first, true));
    let (other, _) = id_of(keyed(&format!("{}/p", server.url), "k-1", "elsewhere").await).await;
    assert_ne!(other, first, "a key is scoped to its channel");
    let (messages, gaps, _) = common::batch(&format!("{}/o?after={before}&timeout=0", server.url)).await;
    assert!(gaps.is_empty());
    assert_eq!(messages.iter().map(|m| (m.0, m.2.as_str())).collect::<Vec<_>>(), vec![(first, "one")]);
    assert_eq!(server.metric("push_messages_published_total").await, 3.0, "a replay is not a new publish");

    for bad in ["", "with space", &"x".repeat(256)] {
        let response = keyed(&url, bad, "x").await;
        assert_eq!(response.status(), 400, "key {bad:?}");
    }
    server.shutdown().await;
}

/// A proxy in front of the server that forwards the first request but closes the client's
/// connection before relaying the answer (the answer is lost, the message is stored); later
/// connections are relayed whole.
async fn answer_losing_proxy(upstream: std::net::SocketAddr) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut server = TcpStream::connect(upstream).await.unwrap();
                if n == 0 {
                    // Forward one request, wait for the server's answer, drop it.
                    let mut buf = vec![0u8; 64 * 1024];
                    let read = client.read(&mut buf).await.unwrap_or(0);
                    server.write_all(&buf[..read]).await.unwrap();
                    let _ = server.read(&mut buf).await;
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (url, connections)
}

#[tokio::test]
async fn the_producer_retries_a_lost_answer_without_storing_twice() {
    let server = TestServer::start().await;
    let before: u64 = server.publish("/lost", "before").await.parse().unwrap();
    let (url, connections) = answer_losing_proxy(server.addr).await;
    let producer = Producer::with_options(ProducerOptions::new().url(url).timeout(Duration::from_secs(5))).unwrap();
    let id = producer.publish("exactly once").to("/lost").await.unwrap();
    assert!(connections.load(Ordering::SeqCst) >= 2, "the first answer was lost, so the producer retried");
    let (messages, _, _) = common::batch(&format!("{}/lost?after={before}&timeout=0", server.url)).await;
    assert_eq!(messages.iter().map(|m| (m.0, m.2.as_str())).collect::<Vec<_>>(), vec![(id.0, "exactly once")]);

    // The caller's own key holds across calls too.
    let direct = Producer::new(Some(&server.url)).unwrap();
    let a = direct.publish("order 9").idempotency_key("order-9").to("/lost").await.unwrap();
    let b = direct.publish("order 9").idempotency_key("order-9").to("/lost").await.unwrap();
    assert_eq!(a, b);
    server.shutdown().await;
}
