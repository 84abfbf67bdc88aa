//! The seed flow: a long-poll waits; a publish releases it with the exact body.

mod common;

use bytes::Bytes;
use common::{client, TestServer};
use push_core::producer::{BlockingProducer, ProducerOptions};
use push_core::{ErrorKind, Producer};

#[tokio::test]
async fn long_poll_waits_and_a_publish_releases_it() {
    let server = TestServer::start().await;
    let url = format!("{}/greetings", server.url);
    let waiting = tokio::spawn(async move { client().get(url).send().await.unwrap() });
    server.wait_metric("push_connections{transport=\"long-poll\"}", 1.0).await;
    assert!(!waiting.is_finished(), "the long-poll must wait for a message");

    let id = server.publish("/greetings", "hi there!").await;
    let response = waiting.await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["push-id"].to_str().unwrap(), id);
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(response.text().await.unwrap(), "hi there!");
    server.shutdown().await;
}

#[tokio::test]
async fn long_poll_times_out_with_204_and_a_cursor() {
    let server = TestServer::start().await;
    let id = server.publish("/quiet", "before").await;
    let response = client().get(format!("{}/quiet?timeout=0.2", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["push-id"].to_str().unwrap(), id, "204 tells where to continue");
    server.shutdown().await;
}

#[tokio::test]
async fn the_core_producer_publishes_through_the_server() {
    let server = TestServer::start().await;
    let producer = Producer::new(Some(&server.url)).unwrap();
    let first = producer.publish("one").to("/p").await.unwrap();
    let second = producer.publish(Bytes::from_static(&[0, 159, 146, 150])).to("/p").await.unwrap();
    assert!(second > first);

    let url = server.url.clone();
    let third = tokio::task::spawn_blocking(move || {
        let blocking = BlockingProducer::new(ProducerOptions::new().url(url)).unwrap();
        blocking.publish("three").content_type("text/x-custom").to("/p").unwrap()
    })
    .await
    .unwrap();
    assert!(third > second);

    let response = client().get(format!("{}/p?after={first}", server.url)).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/octet-stream");
    assert_eq!(response.bytes().await.unwrap().as_ref(), &[0, 159, 146, 150]);
    let response = client().get(format!("{}/p?after={second}", server.url)).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/x-custom");
    server.shutdown().await;
}

#[tokio::test]
async fn producer_errors_carry_their_kind() {
    let server = TestServer::with(|c| {
        c.publish_key = Some("sekret".into());
        c.max_payload_bytes = 8;
    })
    .await;
    let anonymous = Producer::new(Some(&server.url)).unwrap();
    let e = anonymous.publish("x").to("/a").await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Unauthorized, Some(401)));

    let keyed = Producer::with_options(ProducerOptions::new().url(&server.url).publish_key("sekret")).unwrap();
    keyed.publish("x").to("/a").await.unwrap();
    let e = keyed.publish("123456789").to("/a").await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::PayloadTooLarge, Some(413)));
    assert!(e.to_string().contains("8 bytes"), "{e}");

    server.shutdown().await;
}
