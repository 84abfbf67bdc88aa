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

/// A connection that has sent nothing yet (a browser's preconnect) holds no request: shutdown
/// closes it at once rather than waiting for its --header-timeout (a minute here).
#[tokio::test]
async fn shutdown_does_not_wait_for_connections_that_sent_nothing() {
    let server = TestServer::with(|c| {
        c.header_timeout = Duration::from_secs(60);
        c.shutdown_timeout = Duration::from_secs(60);
    })
    .await;
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
    // One request on another connection: the idle one is surely accepted by now.
    assert_eq!(client().get(format!("{}/_push/health", server.url)).send().await.unwrap().status(), 200);
    tokio::time::timeout(Duration::from_secs(10), server.shutdown()).await.expect("shutdown waited for the idle connection");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), tokio::io::AsyncReadExt::read(&mut idle, &mut byte)).await.expect("the idle connection was closed");
    assert!(matches!(read, Ok(0) | Err(_)), "closed without an answer: {read:?}");
}
