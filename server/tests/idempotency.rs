//! Idempotent publishing on the embedded broker: a repeated `Idempotency-Key` answers the first
//! id and delivers once, and the Rust producer retries a publish whose answer was lost without
//! storing it twice.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{client, TestServer};
use push_server::Config;
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

/// Publishes with fresh keys from `width` concurrent tasks for `lasting`; returns how many.
async fn keyed_flood(url: &str, width: usize, lasting: Duration) -> usize {
    let done = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let tasks = (0..width).map(|t| {
        let (url, done) = (url.to_owned(), done.clone());
        tokio::spawn(async move {
            let client = client();
            let mut n = 0;
            while started.elapsed() < lasting {
                let r = client.post(&url).header("Idempotency-Key", format!("flood-{t}-{n}")).body("x").send().await.unwrap();
                assert_eq!(r.status(), 200);
                n += 1;
            }
            done.fetch_add(n, Ordering::Relaxed);
        })
    });
    for task in futures_util::future::join_all(tasks).await {
        task.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// At the highest rate this machine sustains, for longer than the horizon: a key from the start
/// of the horizon still answers its first id (stored once), no key younger than the horizon was
/// forgotten, and the window's memory at that rate is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_covers_the_horizon_at_full_rate() {
    const HORIZON: Duration = Duration::from_secs(3);
    let server = TestServer::with(|c| {
        c.idempotency_horizon = HORIZON;
        c.idempotency_window = Duration::from_secs(60);
    })
    .await;
    let url = format!("{}/rate", server.url);
    let (first, _) = id_of(keyed(&url, "the-first-key", "first").await).await;
    let lasting = HORIZON + Duration::from_millis(500);
    let published = keyed_flood(&url, 32, lasting).await;
    assert_eq!(id_of(keyed(&url, "the-first-key", "again").await).await, (first, true), "a retry from the start of the horizon");
    let rate = published as f64 / lasting.as_secs_f64();
    let keys = server.metric("push_idempotency_keys").await;
    let bytes = server.metric("push_idempotency_memory_bytes").await;
    let per_1k = bytes / keys * 1000.0 * Config::defaults().idempotency_horizon.as_secs_f64();
    println!(
        "idempotency at full rate: {rate:.0} keyed publishes/s for {:.1} s; the window holds {keys} keys in {bytes} bytes ({:.0} bytes a key); \
         covering the default 30 s horizon costs {:.1} MiB per 1k publishes/s, {:.1} MiB at this rate",
        lasting.as_secs_f64(),
        bytes / keys,
        per_1k / (1 << 20) as f64,
        per_1k * rate / 1000.0 / (1 << 20) as f64,
    );
    assert_eq!(server.metric("push_idempotency_evicted_early_total").await, 0.0);
    assert!(
        per_1k * rate / 1000.0 <= Config::defaults().idempotency_memory_bytes as f64,
        "the default --idempotency-memory-bytes does not cover the default horizon at this rate"
    );
    server.shutdown().await;
}

/// A window too small for the horizon at the rate it gets says so: the early evictions are
/// counted (and logged once), instead of a silent duplicate later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_too_small_for_the_horizon_counts_early_evictions() {
    const MEMORY: usize = 64 << 10;
    let server = TestServer::with(|c| c.idempotency_memory_bytes = MEMORY).await;
    let url = format!("{}/small", server.url);
    let published = keyed_flood(&url, 32, Duration::from_secs(1)).await;
    let keys = server.metric("push_idempotency_keys").await;
    let early = server.metric("push_idempotency_evicted_early_total").await;
    println!("a 64 KiB window: {published} keyed publishes in 1 s; {keys} keys held, {early} forgotten younger than the horizon");
    assert_eq!(keys, (MEMORY / 37) as f64, "a full window holds what its memory pays for");
    assert!(published as f64 > keys, "the flood ({published}) did not fill the window");
    assert_eq!(early, published as f64 - keys, "every key forgotten within the horizon is counted");
    server.shutdown().await;
}
