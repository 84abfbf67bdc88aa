//! Graceful shutdown ends open streams and answers waiting long-polls.

mod common;

use std::time::{Duration, Instant};

use common::{client, SseReader, TestServer, WsReader};

#[tokio::test]
async fn shutdown_ends_streams_and_long_polls() {
    let server = TestServer::with(|c| c.long_poll_timeout = Duration::from_secs(60)).await;
    let mut sse = SseReader::open(&format!("{}/s", server.url), None).await;
    sse.next().await.unwrap();
    let mut ws = WsReader::open(&format!("{}/s", server.url)).await;
    ws.next().await.unwrap();
    let url = format!("{}/s", server.url);
    let poll = tokio::spawn(async move { client().get(url).send().await.unwrap().status().as_u16() });
    server.wait_metric("push_connections{transport=\"long-poll\"}", 1.0).await;

    let started = Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown took {:?}", started.elapsed());
    assert_eq!(sse.next().await, None);
    assert!(ws.next().await.is_none());
    assert_eq!(poll.await.unwrap(), 204);
}
