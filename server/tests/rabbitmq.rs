//! The RabbitMQ engine on a real broker: nodes sharing a stream, the amqp:// producer, a broker
//! restart, catch-up reads, a plain AMQP client, and nothing left behind on the broker.
//!
//! Needs RabbitMQ at 127.0.0.1:5672 (guest/guest); fails, never skips, without it. Each test
//! uses its own stream and deletes it; the tests take turns because one restarts the broker.

mod rabbitmq_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use push_core::{ErrorKind, Producer, ProducerOptions};
use rabbitmq_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_stream_and_cursors_move_between_them() {
    let _turn = serial().await;
    let stream = unique_stream("two_nodes");
    let a = Node::start(&stream, |_| {}).await;
    let b = Node::start(&stream, |_| {}).await;
    let producer = Producer::new(Some(&producer_url(&stream))).unwrap();

    let mut on_b = Sse::open(&format!("{}/room", b.url)).await;
    b.wait_metric("push_connections{transport=\"sse\"}", 1.0).await;

    // Half through node A's HTTP endpoint, half straight into the stream.
    let mut published = Vec::new();
    for i in 0..60 {
        let body = format!("m{i}");
        let id = if i % 2 == 0 { a.publish("/room", body.clone()).await } else { producer.publish(body.clone()).to("/room").await.unwrap().0 };
        published.push((id, body));
    }
    assert!(published.windows(2).all(|w| w[0].0 < w[1].0), "ids increase across both paths: {published:?}");

    let mut received = Vec::new();
    while received.len() < published.len() {
        match on_b.next(Duration::from_secs(10)).await.expect("stream open") {
            SseEvent::Message(id, data) => received.push((id, data)),
            gap => panic!("unexpected {gap:?} after {} messages", received.len()),
        }
    }
    assert_eq!(received, published, "node B delivers every message, in order");
    println!("two nodes: {} published (30 over HTTP to A, 30 over amqp://), {} received on B", published.len(), received.len());

    // A client reads 25 messages from A, then resumes on B with its cursor.
    let before_first = published[0].0 - 1;
    let page = batch(&format!("{}/room?after={before_first}&limit=25&timeout=5", a.url)).await;
    assert_eq!(page.messages.len(), 25);
    let rest = batch(&format!("{}/room?after={}&timeout=5", b.url, page.last_id)).await;
    assert!(rest.gaps.is_empty(), "{:?}", rest.gaps);
    let resumed: Vec<(u64, String)> = page.messages.iter().chain(&rest.messages).map(|(id, _, d)| (*id, d.clone())).collect();
    assert_eq!(resumed, published, "resuming on another node misses nothing");

    drop(on_b);
    drop(producer);
    a.shutdown().await;
    b.shutdown().await;
    no_leaks_then_delete(&stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_loses_no_confirmed_message() {
    let _turn = serial().await;
    let stream = unique_stream("restart");
    // Publishes wait up to 3 s for the broker; it stays down longer, so some of them fail (typed)
    // and some succeed after the reconnection.
    let timeout = Duration::from_secs(3);
    let a = Node::start(&stream, |c| c.publish_timeout = timeout).await;
    let b = Node::start(&stream, |c| c.publish_timeout = timeout).await;
    let producer = Producer::with_options(ProducerOptions::new().url(producer_url(&stream)).timeout(timeout)).unwrap();

    let subscribers = [Sse::open(&format!("{}/steady", a.url)).await, Sse::open(&format!("{}/steady", b.url)).await];
    a.wait_metric("push_connections{transport=\"sse\"}", 1.0).await;
    b.wait_metric("push_connections{transport=\"sse\"}", 1.0).await;
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|mut sse| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    match sse.next(Duration::from_secs(90)).await {
                        Some(SseEvent::Message(_, d)) if d == "END" => return got,
                        Some(SseEvent::Message(id, d)) => got.push((id, d)),
                        Some(gap) => panic!("unexpected {gap:?}"),
                        None => panic!("the subscription ended during the restart after {} messages", got.len()),
                    }
                }
            })
        })
        .collect();

    // Two publishers (HTTP through node A, amqp:// straight to the stream) until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let confirmed = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
    let failed = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let http = {
        let (stop, confirmed, failed, url) = (stop.clone(), confirmed.clone(), failed.clone(), a.url.clone());
        tokio::spawn(async move {
            let node = NodeUrl(url);
            let mut i = 0;
            while !stop.load(Ordering::Acquire) {
                let body = format!("http-{i}");
                match node.try_publish("/steady", body.clone()).await {
                    Ok(id) => confirmed.lock().unwrap().push((id, body)),
                    Err(e) => failed.lock().unwrap().push((body, e)),
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let amqp = {
        let (stop, confirmed, failed, producer) = (stop.clone(), confirmed.clone(), failed.clone(), producer.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Acquire) {
                let body = format!("amqp-{i}");
                match producer.publish(body.clone()).to("/steady").await {
                    Ok(id) => confirmed.lock().unwrap().push((id.0, body)),
                    Err(e) => {
                        assert!(matches!(e.kind(), ErrorKind::ConnectionFailed | ErrorKind::Timeout), "typed error: {e:?}");
                        failed.lock().unwrap().push((body, format!("{}: {e}", e.code())));
                    }
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // State, not time: each step waits for what the publishers recorded.
    let grown = |list: &Arc<Mutex<Vec<(u64, String)>>>, n: usize, what: &'static str| {
        let list = list.clone();
        async move {
            let target = list.lock().unwrap().len() + n;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while list.lock().unwrap().len() < target {
                assert!(tokio::time::Instant::now() < deadline, "{what}: fewer than {n} more within 60 s");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    grown(&confirmed, 40, "confirmed publishes before the outage").await;
    let before = confirmed.lock().unwrap().len();
    tokio::task::spawn_blocking(|| rabbitmqctl(&["stop_app"])).await.unwrap();
    let mut health = (0, serde_json::Value::Null);
    for _ in 0..50 {
        health = a.health().await;
        if health.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, health) = health;
    assert_eq!(status, 503, "health reports the lost broker: {health}");
    assert_eq!(health["broker"]["ok"], false);
    println!("restart: broker down, node A health: {}", health["broker"]["detail"]);
    // The outage lasts until a publish has failed with a typed error (the 3 s timeout ran out).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while failed.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no publish failed during the outage within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::task::spawn_blocking(|| rabbitmqctl(&["start_app"])).await.unwrap();
    a.wait_healthy(Duration::from_secs(60)).await;
    b.wait_healthy(Duration::from_secs(60)).await;
    let during = confirmed.lock().unwrap().len();
    grown(&confirmed, 40, "confirmed publishes after the outage").await;
    stop.store(true, Ordering::Release);
    http.await.unwrap();
    amqp.await.unwrap();
    let end = a.publish("/steady", "END").await;

    let confirmed = confirmed.lock().unwrap().clone();
    let failed = failed.lock().unwrap().clone();
    assert!(confirmed.len() > during && during >= before && before > 0, "publishing worked before and after: {before} {during} {}", confirmed.len());
    for (n, reader) in readers.into_iter().enumerate() {
        let got = reader.await.unwrap();
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "subscriber {n}: in order, no duplicates");
        assert!(got.iter().all(|(id, _)| *id < end));
        let ids: std::collections::HashMap<u64, &String> = got.iter().map(|(id, d)| (*id, d)).collect();
        for (id, body) in &confirmed {
            assert_eq!(ids.get(id), Some(&body), "subscriber {n} got confirmed message {id}");
        }
        // Messages whose publish failed may still have been stored (the confirm was lost): they
        // are delivered like any other, exactly once.
        let stored_anyway = got.iter().filter(|(_, d)| failed.iter().any(|(b, _)| b == d)).count();
        println!(
            "restart: subscriber {n} received {} messages: all {} confirmed, plus {stored_anyway} of the {} failed publishes",
            got.len(),
            confirmed.len(),
            failed.len()
        );
    }
    println!("restart: {} confirmed ({before} before the stop), {} failed with typed errors", confirmed.len(), failed.len());
    for (body, e) in failed.iter().take(5) {
        println!("  failed {body}: {e}");
    }

    drop(producer);
    a.shutdown().await;
    b.shutdown().await;
    no_leaks_then_delete(&stream).await;
}

/// `Node::try_publish` for a spawned task (a `Node` owns its server).
struct NodeUrl(String);

impl NodeUrl {
    async fn try_publish(&self, channel: &str, body: String) -> Result<u64, String> {
        let response = client()
            .post(format!("{}{channel}", self.0))
            .body(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let code = response.headers().get("push-error").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let text = response.text().await.unwrap_or_default();
        if status != 200 {
            assert!(code == "CONNECTION_FAILED" || code == "TIMEOUT", "typed error: {status} {code} {text}");
            return Err(format!("{status} {code}: {text}"));
        }
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        Ok(json["id"].as_str().unwrap().parse().unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_older_than_the_history_catch_up_from_the_stream() {
    let _turn = serial().await;
    let stream = unique_stream("catch_up");
    let a = Node::start(&stream, |c| c.history_size = 5).await;
    let mut on_c = Vec::new();
    let mut on_other = Vec::new();
    for i in 0..30 {
        on_c.push((a.publish("/c", format!("c{i}")).await, format!("c{i}")));
        if i % 3 == 0 {
            on_other.push((a.publish("/other", format!("o{i}")).await, format!("o{i}")));
        }
    }
    let pairs = |b: &Batch| b.messages.iter().map(|(id, _, d)| (*id, d.clone())).collect::<Vec<_>>();

    // The ring holds the last 5 of /c; a cursor at the third message is served from the stream.
    let cursor = on_c[2].0;
    let got = batch(&format!("{}/c?after={cursor}&timeout=5", a.url)).await;
    assert!(got.gaps.is_empty(), "{:?}", got.gaps);
    assert_eq!(pairs(&got), on_c[3..].to_vec());

    // A node started afterwards holds no history: everything comes from the stream, and one
    // cursor covers several channels in order.
    let late = Node::start(&stream, |c| c.history_size = 5).await;
    let got = batch(&format!("{}/c?after=0&timeout=5", late.url)).await;
    assert!(got.gaps.is_empty(), "{:?}", got.gaps);
    assert_eq!(pairs(&got), on_c);
    let both = batch(&format!("{}/_push/subscribe?channel=/c&channel=/other&after=0&timeout=5", late.url)).await;
    let mut all: Vec<(u64, String)> = on_c.iter().chain(&on_other).cloned().collect();
    all.sort();
    assert!(both.gaps.is_empty(), "{:?}", both.gaps);
    assert_eq!(pairs(&both), all);

    // A catch-up read is bounded (10 messages here): a longer range is read 10 at a time, as the
    // subscriber takes them, in order and without a gap.
    let bounded = Node::start(&stream, |c| {
        c.history_size = 5;
        c.catch_up_limit = 10;
    })
    .await;
    // Each answer holds what is ready; ask again from its last id, as clients do.
    let (mut read, mut gaps, mut after) = (Vec::new(), Vec::new(), 0);
    while read.last().map(|(id, _)| *id) != on_c.last().map(|(id, _)| *id) {
        let got = batch(&format!("{}/c?after={after}&timeout=5", bounded.url)).await;
        assert!(got.last_id > after, "each answer moves the cursor");
        read.extend(pairs(&got));
        gaps.extend(got.gaps);
        after = got.last_id;
    }
    assert!(gaps.is_empty(), "{gaps:?}");
    assert_eq!(read, on_c);
    println!(
        "catch-up: cursor {cursor} on a 5-message ring got {} messages; a late node got {} + {} in order; reads of 10 gave all {} without a gap",
        on_c.len() - 3,
        on_c.len(),
        on_other.len(),
        read.len()
    );

    a.shutdown().await;
    late.shutdown().await;
    bounded.shutdown().await;
    no_leaks_then_delete(&stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_amqp_client_publishes_by_the_documented_format() {
    let _turn = serial().await;
    ensure_pika();
    let stream = unique_stream("interop");
    let a = Node::start(&stream, |_| {}).await;
    let cursor = a.publish("/interop", "before").await;

    // As docs/RABBITMQ.md says: default exchange, the stream as routing key, the channel in the
    // push-channel header, the content type as a property. A message without the header is not
    // a push message and is skipped.
    let script = r#"
import sys, time, pika
url, stream = sys.argv[1], sys.argv[2]
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.confirm_delivery()
channel.basic_publish(exchange="", routing_key=stream, body=b"no channel header", mandatory=True)
channel.basic_publish(
    exchange="", routing_key=stream, body='{"from": "pika"}'.encode(), mandatory=True,
    properties=pika.BasicProperties(content_type="application/json", timestamp=int(time.time()),
                                    headers={"push-channel": "/interop"}))
connection.close()
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, "amqp://guest:guest@127.0.0.1:5672/%2F", &stream])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "pika publisher failed: {}", String::from_utf8_lossy(&out.stderr));

    let response = client()
        .get(format!("{}/interop?after={cursor}&timeout=5", a.url))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let messages = json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{json}");
    assert_eq!(messages[0]["data"], "{\"from\": \"pika\"}");
    assert_eq!(messages[0]["content_type"], "application/json");
    assert!(messages[0]["time"].as_u64().unwrap() > 1_600_000_000_000, "{json}");
    let id: u64 = messages[0]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(id, cursor + 2, "the skipped message still took an offset");
    println!("interop: pika's message arrived as id {id}; the one without push-channel was skipped");

    a.shutdown().await;
    no_leaks_then_delete(&stream).await;
}

fn ensure_pika() {
    let has = |_: ()| std::process::Command::new("python3").args(["-c", "import pika"]).status().map(|s| s.success()).unwrap_or(false);
    if !has(()) {
        let status = std::process::Command::new("python3").args(["-m", "pip", "install", "--quiet", "pika"]).status().expect("python3 runs");
        assert!(status.success() && has(()), "could not install pika (pip install pika)");
    }
}

#[tokio::test]
async fn the_amqp_producer_fails_typed_and_in_bounded_time() {
    // No broker needed: too large is refused before connecting ...
    let producer = Producer::new(Some("amqp://guest:guest@127.0.0.1:1/%2f")).unwrap();
    let e = producer.publish(vec![b'x'; 1024 * 1024 + 1]).to("/big").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PayloadTooLarge);
    // ... and an unreachable broker is ConnectionFailed within the producer's timeout.
    let producer = Producer::with_options(ProducerOptions::new().url("amqp://guest:guest@127.0.0.1:1/%2f").timeout(Duration::from_secs(1))).unwrap();
    let started = std::time::Instant::now();
    let e = producer.publish("x").to("/a").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionFailed, "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(!e.to_string().contains("guest:guest"), "the password is not in messages: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_producer_publishes_over_amqp() {
    let _turn = serial().await;
    let stream = unique_stream("blocking");
    let a = Node::start(&stream, |_| {}).await;
    let url = producer_url(&stream);
    // The bindings' producer: its own runtime, calls that block the thread.
    let ids = tokio::task::spawn_blocking(move || {
        let producer = push_core::producer::BlockingProducer::new(ProducerOptions::new().url(url)).unwrap();
        let ids: Vec<u64> = (0..3).map(|i| producer.publish(format!("b{i}")).to("/blocking").unwrap().0).collect();
        producer.close();
        ids
    })
    .await
    .unwrap();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let got = batch(&format!("{}/blocking?after={}&timeout=5", a.url, ids[0] - 1)).await;
    let got: Vec<(u64, String)> = got.messages.into_iter().map(|(id, _, d)| (id, d)).collect();
    assert_eq!(got, vec![(ids[0], "b0".into()), (ids[1], "b1".into()), (ids[2], "b2".into())]);
    a.shutdown().await;
    no_leaks_then_delete(&stream).await;
}

/// POSTs with an `Idempotency-Key`: (id, replayed).
async fn keyed_publish(url: &str, key: &str, body: &str) -> (u64, bool) {
    let response = client().post(url).header("Idempotency-Key", key).body(body.to_owned()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (json["id"].as_str().unwrap().parse().unwrap(), replayed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_idempotency_key_is_stored_once_across_nodes() {
    let _turn = serial().await;
    let stream = unique_stream("idempotency");
    let a = Node::start(&stream, |_| {}).await;
    let b = Node::start(&stream, |_| {}).await;
    let mut on_a = Sse::open(&format!("{}/orders", a.url)).await;
    let mut on_b = Sse::open(&format!("{}/orders", b.url)).await;
    a.wait_metric("push_connections{transport=\"sse\"}", 1.0).await;
    b.wait_metric("push_connections{transport=\"sse\"}", 1.0).await;

    let (first, replayed) = keyed_publish(&format!("{}/orders", a.url), "order-17", "paid").await;
    assert!(!replayed);
    // The retry reaches the other node: a second copy lands in the stream, every node skips it.
    assert_eq!(keyed_publish(&format!("{}/orders", b.url), "order-17", "paid").await, (first, true));
    assert_eq!(keyed_publish(&format!("{}/orders", a.url), "order-17", "paid").await, (first, true));
    // The same key on another channel is another message.
    let (other, replayed) = keyed_publish(&format!("{}/refunds", a.url), "order-17", "x").await;
    assert!(other > first && !replayed);
    let sentinel = a.publish("/orders", "next").await;

    for (name, sse) in [("A", &mut on_a), ("B", &mut on_b)] {
        let mut received = Vec::new();
        while received.last().map(|(id, _)| *id) != Some(sentinel) {
            match sse.next(Duration::from_secs(10)).await.expect("stream open") {
                SseEvent::Message(id, data) => received.push((id, data)),
                gap => panic!("unexpected {gap:?}"),
            }
        }
        assert_eq!(received, vec![(first, "paid".to_owned()), (sentinel, "next".to_owned())], "node {name} delivers the key once");
    }
    // A subscriber catching up from the stream skips the copies too.
    let c = Node::start(&stream, |_| {}).await;
    let page = batch(&format!("{}/orders?after={}&timeout=5", c.url, first - 1)).await;
    let ids: Vec<u64> = page.messages.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids, vec![first, sentinel], "catch-up read: {:?}", page.messages);
    println!("idempotency across nodes: key stored once at {first}, 2 repeats answered {first}, catch-up skipped the copies");
    drop((on_a, on_b));
    for node in [a, b, c] {
        node.shutdown().await;
    }
    no_leaks_then_delete(&stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_and_recreated_stream_is_reported_not_silently_followed() {
    let _turn = serial().await;
    let stream = unique_stream("recreated");
    let node = Node::start(&stream, |_| {}).await;
    for i in 0..5 {
        node.publish("/r", format!("m{i}")).await;
    }
    // The stream goes away under the node; the node recreates it on reconnect, but its offsets
    // start again below the ones the node has read.
    delete_stream(&stream).await;
    let mut health = node.health().await;
    for _ in 0..100 {
        if health.0 == 503 && health.1["broker"]["detail"].as_str().is_some_and(|d| d.contains("went backwards")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        health = node.health().await;
    }
    assert_eq!(health.0, 503, "{}", health.1);
    let detail = health.1["broker"]["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("went backwards") && detail.contains("Restart"), "{detail}");
    // Publishing on the node fails instead of answering ids from a log it no longer follows.
    assert!(node.try_publish("/r", "after".into()).await.is_err());
    println!("recreated stream: {detail}");
    node.shutdown().await;
    delete_stream(&stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_storm_shares_catch_up_reads() {
    let _turn = serial().await;
    let stream = unique_stream("herd");
    let a = Node::start(&stream, |_| {}).await;
    let mut published = Vec::new();
    for i in 0..60 {
        let channel = format!("/room/{}", i % 4);
        published.push((a.publish(&channel, format!("m{i}")).await, channel, format!("m{i}")));
    }
    // A node started now holds no history: every returning subscriber's cursor is older.
    let late = Node::start(&stream, |_| {}).await;
    let reads = |detail: &serde_json::Value| -> u64 {
        let text = detail["broker"]["detail"].as_str().unwrap();
        text.split(", ").find_map(|part| part.strip_suffix(" catch-up reads")).unwrap().parse().unwrap()
    };
    let before = reads(&late.health().await.1);
    // 40 subscribers on 4 channels come back at once with cursors a little behind each other.
    let clients: Vec<_> = (0..40)
        .map(|n| {
            let url = late.url.clone();
            let (cursor, channel) = (published[n % 8].0 - 1, format!("/room/{}", n % 4));
            tokio::spawn(async move { (cursor, channel.clone(), batch(&format!("{url}{channel}?after={cursor}&timeout=5")).await) })
        })
        .collect();
    for client in clients {
        let (cursor, channel, got) = client.await.unwrap();
        assert!(got.gaps.is_empty(), "{:?}", got.gaps);
        let expected: Vec<&String> = published.iter().filter(|(id, c, _)| *id > cursor && *c == channel).map(|(_, _, d)| d).collect();
        let received: Vec<&String> = got.messages.iter().map(|(_, _, d)| d).collect();
        assert_eq!(received, expected, "{channel} after {cursor}");
    }
    let shared = reads(&late.health().await.1) - before;
    assert!(shared <= 8, "40 subscribers caught up with {shared} stream reads");
    println!("herd: 40 subscribers caught up from the stream with {shared} shared reads");
    a.shutdown().await;
    late.shutdown().await;
    no_leaks_then_delete(&stream).await;
}
