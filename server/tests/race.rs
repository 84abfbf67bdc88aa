//! The race: subscriptions set up while messages are being published. Every subscriber must
//! see exactly the messages after its start cursor: none lost, none twice, in order.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{batch, id, SseReader, TestServer, WsReader};

const SUBSCRIBERS: usize = 24;
const MIN_MESSAGES: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_joining_during_publishing_see_a_gap_free_sequence() {
    let server = TestServer::with(|c| c.history_size = 100_000).await;
    let url = server.url.clone();
    let joined = Arc::new(AtomicUsize::new(0));

    // Publishes until every subscriber has joined (and at least MIN_MESSAGES), then "end".
    let publisher = {
        let (url, joined) = (url.clone(), joined.clone());
        tokio::spawn(async move {
            let client = common::client();
            let mut ids = Vec::new();
            let mut i = 0;
            loop {
                let done = joined.load(Ordering::Acquire) == SUBSCRIBERS && i >= MIN_MESSAGES;
                let body = if done { "end".to_owned() } else { i.to_string() };
                let response = client.post(format!("{url}/race")).body(body).send().await.unwrap();
                let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
                ids.push(id(&json["id"]));
                if done {
                    return ids;
                }
                i += 1;
            }
        })
    };

    let mut subscribers = Vec::new();
    for n in 0..SUBSCRIBERS {
        let (url, joined) = (url.clone(), joined.clone());
        subscribers.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(n as u64 * 5)).await;
            let mut got = Vec::new();
            let start = match n % 3 {
                0 => {
                    let mut sse = SseReader::open(&format!("{url}/race"), None).await;
                    let start: u64 = sse.next().await.unwrap().id.unwrap().parse().unwrap();
                    joined.fetch_add(1, Ordering::Release);
                    loop {
                        let e = sse.next().await.unwrap();
                        got.push(e.id.unwrap().parse::<u64>().unwrap());
                        if e.data.as_deref() == Some("end") {
                            break start;
                        }
                    }
                }
                1 => {
                    let mut ws = WsReader::open(&format!("{url}/race")).await;
                    let start = id(&ws.next().await.unwrap()["last_id"]);
                    joined.fetch_add(1, Ordering::Release);
                    loop {
                        let f = ws.next().await.unwrap();
                        got.push(id(&f["id"]));
                        if f["data"] == "end" {
                            break start;
                        }
                    }
                }
                _ => {
                    // JSON batches with a cursor: the start is the cursor of a first, empty answer.
                    let (_, _, start) = batch(&format!("{url}/race?timeout=0")).await;
                    joined.fetch_add(1, Ordering::Release);
                    let mut cursor = start.clone();
                    loop {
                        let (messages, gaps, last) = batch(&format!("{url}/race?after={cursor}")).await;
                        assert!(gaps.is_empty(), "no gap expected");
                        got.extend(messages.iter().map(|m| m.0));
                        cursor = last;
                        if messages.iter().any(|m| m.2 == "end") {
                            break start.parse().unwrap();
                        }
                    }
                }
            };
            (start, got)
        }));
    }

    let published = publisher.await.unwrap();
    assert!(published.len() > MIN_MESSAGES);
    for (n, subscriber) in subscribers.into_iter().enumerate() {
        let (start, got) = subscriber.await.unwrap();
        let expected: Vec<u64> = published.iter().copied().filter(|i| *i > start).collect();
        assert!(!expected.is_empty());
        assert_eq!(got.len(), expected.len(), "subscriber {n}: received vs expected count");
        assert_eq!(got, expected, "subscriber {n}: sequence");
    }
    server.shutdown().await;
}
