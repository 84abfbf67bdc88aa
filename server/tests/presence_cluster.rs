//! Presence across two nodes on one RabbitMQ stream: a consumer connected to both is one member
//! and leaves once, when its last connection anywhere closed; the app hears each change once
//! though both nodes send events; a `kill -9`ed node's members leave within the lease; and an
//! undelivered check counts a delivery on the other node.

mod common;
mod events_support;
mod rabbitmq_support;

use std::time::{Duration, Instant};

use common::{client, SseReader};
use events_support::{names, Receiver, SECRET};
use push_server::Config;
use rabbitmq_support::{serial, spawn_process_node, unique_stream, Node};
use serde_json::{json, Value};

const LOBBY: &str = "/presence-lobby";
const GRACE: Duration = Duration::from_secs(1);

fn with_events(url: &str) -> impl FnOnce(&mut Config) + '_ {
    move |c| {
        c.presence_grace = GRACE;
        c.events_url = Some(url.to_owned());
        c.events_secret = Some(SECRET.into());
    }
}

async fn members(node: &str, channel: &str) -> Vec<String> {
    let response = client().get(format!("{node}/_push/api/presence{channel}")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let list: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    list["members"].as_array().unwrap().iter().map(|m| m["consumer"].as_str().unwrap().to_owned()).collect()
}

async fn wait_members(node: &str, channel: &str, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = members(node, channel).await;
        if now == want {
            return;
        }
        assert!(Instant::now() < deadline, "{channel} on {node} never listed {want:?}: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next SSE event with a name (a presence notice), skipping messages and the opening.
async fn next_notice(reader: &mut SseReader) -> (String, Value) {
    loop {
        let event = reader.next().await.expect("the stream is open");
        if let Some(kind) = event.event {
            return (kind, serde_json::from_str(event.data.as_deref().unwrap()).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_on_two_nodes_is_one_member_and_leaves_once() {
    let _turn = serial().await;
    let stream = unique_stream("presence");
    let receiver = Receiver::start(0).await;
    let a = Node::start(&stream, with_events(&receiver.url)).await;
    let b = Node::start(&stream, with_events(&receiver.url)).await;

    let mut carol = SseReader::open(&format!("{}{LOBBY}?consumer=carol&presence=1", a.url), None).await;
    assert_eq!(next_notice(&mut carol).await.0, "presence");
    let on_a = SseReader::open(&format!("{}{LOBBY}?consumer=alice", a.url), None).await;
    assert_eq!(next_notice(&mut carol).await.1["consumer"], "alice");
    let on_b = SseReader::open(&format!("{}{LOBBY}?consumer=alice", b.url), None).await;
    for node in [&a.url, &b.url] {
        wait_members(node, LOBBY, &["alice", "carol"]).await;
    }

    // One connection closes: alice is still on B, through more than the grace.
    drop(on_a);
    a.wait_metric("push_connections{transport=\"sse\"}", 1.0).await;
    let watch_until = Instant::now() + GRACE * 2;
    while Instant::now() < watch_until {
        assert_eq!(members(&a.url, LOBBY).await, ["alice", "carol"], "alice left while connected to B");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The other closes: one leave to carol, one member_left to the app.
    drop(on_b);
    assert_eq!(next_notice(&mut carol).await, ("leave".into(), json!({"type": "leave", "channel": LOBBY, "consumer": "alice"})));
    wait_members(&b.url, LOBBY, &["carol"]).await;
    receiver.wait(Duration::from_secs(20), |e| e.iter().any(|e| e.name == "member_left")).await;
    for node in [&a, &b] {
        node.wait_metric("push_events_queued", 0.0).await;
    }
    let events = receiver.accepted();
    let count = |name: &str, who: Option<&str>| events.iter().filter(|e| e.name == name && e.consumer.as_deref() == who).count();
    assert_eq!(
        (count("member_joined", Some("alice")), count("member_left", Some("alice")), count("channel_occupied", None)),
        (1, 1, 1),
        "each change once across the nodes: {:#?}",
        names(&events)
    );
    assert_eq!(receiver.bad_signatures(), 0);
    drop(carol);
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_members_leave_within_the_lease() {
    let _turn = serial().await;
    let stream = unique_stream("presence-lease");
    let a = Node::start(&stream, |c| {
        c.presence_grace = GRACE;
        // Comments keep carol's stream speaking while she waits out the lease.
        c.heartbeat = Duration::from_secs(2);
    })
    .await;
    let (mut killed, b) = spawn_process_node(&stream, &["--presence-grace", "1s"]).await;
    let mut carol = SseReader::open(&format!("{}{LOBBY}?consumer=carol&presence=1", a.url), None).await;
    assert_eq!(next_notice(&mut carol).await.0, "presence");
    let _alice = SseReader::open(&format!("{b}{LOBBY}?consumer=alice"), None).await;
    assert_eq!(next_notice(&mut carol).await, ("join".into(), json!({"type": "join", "channel": LOBBY, "consumer": "alice"})));

    killed.kill().unwrap();
    killed.wait().unwrap();
    let killed_at = Instant::now();
    assert_eq!(next_notice(&mut carol).await.0, "leave");
    let left_after = killed_at.elapsed();
    // The lease (15 s) from B's last report, then the grace.
    let bound = push_server::cluster::LEASE + GRACE + Duration::from_secs(2);
    assert!(left_after <= bound, "the killed node's member stayed {left_after:?} (bound {bound:?})");
    println!("a killed node's member left after {left_after:?}");
    assert_eq!(members(&a.url, LOBBY).await, ["carol"]);
    drop(carol);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_counts_what_the_other_node_delivered() {
    let _turn = serial().await;
    let stream = unique_stream("presence-undelivered");
    let receiver = Receiver::start(0).await;
    let tweak = |url: String| {
        move |c: &mut Config| {
            c.presence_grace = Duration::from_secs(60);
            c.events_url = Some(url);
            c.events_secret = Some(SECRET.into());
            c.undelivered_after = Duration::from_millis(500);
        }
    };
    let a = Node::start(&stream, tweak(receiver.url.clone())).await;
    let b = Node::start(&stream, tweak(receiver.url.clone())).await;
    // Several rooms, so that each node owns some of them (ownership hashes the channel).
    let rooms: Vec<String> = (1..=4).map(|i| format!("/presence-room{i}")).collect();
    let query: String = rooms.iter().map(|r| format!("channel={r}&")).collect();
    let alice = SseReader::open(&format!("{}/_push/subscribe?{query}consumer=alice", a.url), None).await;
    let mut bob = SseReader::open(&format!("{}/_push/subscribe?{query}consumer=bob", b.url), None).await;
    bob.next().await.unwrap();
    for room in &rooms {
        wait_members(&a.url, room, &["alice", "bob"]).await;
        wait_members(&b.url, room, &["alice", "bob"]).await;
    }
    drop(alice);
    a.wait_metric("push_connections{transport=\"json\"}", 0.0).await;
    a.wait_metric("push_connections{transport=\"sse\"}", 0.0).await;
    let mut ids = Vec::new();
    for room in &rooms {
        ids.push(a.publish(room, "hello?").await.to_string());
    }
    for id in &ids {
        assert_eq!(bob.next().await.unwrap().id.as_deref(), Some(id.as_str()), "bob got it on B");
    }
    receiver.wait(Duration::from_secs(20), |e| e.iter().filter(|e| e.name == "undelivered").count() >= rooms.len()).await;
    for node in [&a, &b] {
        node.wait_metric("push_events_queued", 0.0).await;
    }
    let undelivered: Vec<(String, String)> = receiver
        .accepted()
        .into_iter()
        .filter(|e| e.name == "undelivered")
        .map(|e| (e.consumer.unwrap(), e.message_id.unwrap().to_string()))
        .collect();
    let mut want: Vec<(String, String)> = ids.iter().map(|id| ("alice".to_owned(), id.clone())).collect();
    let mut got = undelivered.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "alice for each message, bob never");
    drop(bob);
    b.shutdown().await;
    a.shutdown().await;
}
