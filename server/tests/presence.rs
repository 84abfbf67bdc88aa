//! Presence on one node over real sockets: members once per consumer with their tokens' info,
//! joins and leaves on SSE and WebSocket with the grace that absorbs a reconnect, the events the
//! app gets (signed, retried under the same ids, in order), and `undelivered` for a member that
//! did not get a message while one that did yields nothing.

mod common;
mod events_support;

use std::time::{Duration, Instant};

use common::{client, SseReader, TestServer, WsReader};
use events_support::{names, Receiver, SECRET};
use push_core::token::{sign, Claims};
use serde_json::{json, Value};

const LOBBY: &str = "/presence-lobby";
const TOKEN_SECRET: &str = "token-secret";

fn token(consumer: &str, info: Option<&str>) -> String {
    let claims = Claims { channel: "/*".into(), consumer: Some(consumer.into()), expires_at: 4_000_000_000, info: info.map(Into::into) };
    sign(TOKEN_SECRET.as_bytes(), &claims).unwrap()
}

async fn get(url: &str) -> (u16, Value) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Waits until the channel's presence lists `want` (consumer ids, in order).
async fn wait_members(server: &TestServer, want: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, list) = get(&format!("{}/_push/api/presence{LOBBY}", server.url)).await;
        assert_eq!(status, 200, "{list}");
        let members: Vec<&str> = list["members"].as_array().unwrap().iter().map(|m| m["consumer"].as_str().unwrap()).collect();
        if members == want {
            return list;
        }
        assert!(Instant::now() < deadline, "members never were {want:?}: {list}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next SSE event that is not a message's (opening cursor, comments skipped).
async fn next_notice(reader: &mut SseReader) -> (String, Value) {
    loop {
        let event = reader.next().await.expect("the stream is open");
        if let Some(kind) = event.event {
            return (kind, serde_json::from_str(event.data.as_deref().unwrap()).unwrap());
        }
    }
}

#[tokio::test]
async fn members_are_consumers_once_with_their_tokens_info() {
    let server = TestServer::with(|c| {
        c.auth = push_server::config::AuthMode::Token;
        c.secret = Some(TOKEN_SECRET.into());
    })
    .await;
    let alice_token = token("alice", Some(r#"{"name":"Alice"}"#));
    let alice_url = format!("{}{LOBBY}?consumer=alice&token={alice_token}", server.url);
    let _tab1 = SseReader::open(&alice_url, None).await;
    let _tab2 = SseReader::open(&alice_url, None).await;
    let _bob = WsReader::open(&format!("{}{LOBBY}?consumer=bob&token={}", server.url, token("bob", None))).await;
    let list = wait_members(&server, &["alice", "bob"]).await;
    assert_eq!(list["count"], 2);
    assert_eq!(list["members"], json!([{"consumer": "alice", "info": {"name": "Alice"}}, {"consumer": "bob"}]));
    let (_, info) = get(&format!("{}/_push/api/channel{LOBBY}", server.url)).await;
    assert_eq!(info["connections"], 3, "{info}");

    // A subscriber reads the list with its own token; without one it is refused as subscribing is.
    let (status, seen) = get(&format!("{}/_push/presence{LOBBY}?consumer=bob&token={}", server.url, token("bob", None))).await;
    assert_eq!((status, seen["count"].clone()), (200, json!(2)));
    assert_eq!(get(&format!("{}/_push/presence{LOBBY}", server.url)).await.0, 401);

    // No consumer id, a plain channel, a bad flag: refused with the reason.
    let anonymous = client().get(format!("{}{LOBBY}?token={}", server.url, token("x", None))).send().await.unwrap();
    assert_eq!(anonymous.status(), 403, "a token bound to x is not usable without the id");
    let (status, why) = get(&format!("{}/_push/api/presence/lobby", server.url)).await;
    assert_eq!(status, 400);
    assert!(why.as_str().unwrap().contains("not a presence channel"), "{why}");
    let bad = client().get(format!("{alice_url}&presence=maybe")).header("Accept", "text/event-stream").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    server.shutdown().await;
}

#[tokio::test]
async fn a_presence_channel_needs_a_consumer_id() {
    let server = TestServer::start().await;
    let response = client().get(format!("{}{LOBBY}", server.url)).header("Accept", "text/event-stream").send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("needs a consumer id"));
    // Plain channels are untouched, with or without an id.
    let plain = client().get(format!("{}/lobby?timeout=0", server.url)).send().await.unwrap();
    assert_eq!(plain.status(), 204);
    server.shutdown().await;
}

#[tokio::test]
async fn joins_and_leaves_reach_listeners_and_a_reconnect_within_the_grace_is_neither() {
    let server = TestServer::with(|c| c.presence_grace = Duration::from_millis(600)).await;
    let mut alice = SseReader::open(&format!("{}{LOBBY}?consumer=alice&presence=1", server.url), None).await;
    let (kind, list) = next_notice(&mut alice).await;
    assert_eq!((kind.as_str(), list["members"].clone()), ("presence", json!([{"consumer": "alice"}])));

    let mut bob = WsReader::open(&format!("{}{LOBBY}?consumer=bob&presence=1", server.url)).await;
    assert_eq!(bob.next().await.unwrap()["type"], "subscribed");
    let bobs = bob.next().await.unwrap();
    assert_eq!((bobs["type"].clone(), bobs["count"].clone()), (json!("presence"), json!(2)));
    assert_eq!(next_notice(&mut alice).await, ("join".into(), json!({"type": "join", "channel": LOBBY, "consumer": "bob"})));

    // Bob reloads: gone and back within the grace. Then he leaves for good.
    drop(bob);
    let again = WsReader::open(&format!("{}{LOBBY}?consumer=bob", server.url)).await;
    server.wait_metric("push_connections{transport=\"websocket\"}", 1.0).await;
    drop(again);
    let left_at = Instant::now();
    assert_eq!(next_notice(&mut alice).await, ("leave".into(), json!({"type": "leave", "channel": LOBBY, "consumer": "bob"})));
    assert!(left_at.elapsed() >= Duration::from_millis(500), "left before the grace: {:?}", left_at.elapsed());

    // Nothing else came between: the next event is the message published now.
    let id = server.publish(LOBBY, "after").await;
    let message = alice.next().await.unwrap();
    assert_eq!((message.id, message.data.as_deref()), (Some(id), Some("after")));
    wait_members(&server, &["alice"]).await;
    server.shutdown().await;
}

#[tokio::test]
async fn events_are_signed_retried_under_the_same_ids_and_in_order() {
    let receiver = Receiver::start(2).await;
    let url = receiver.url.clone();
    let server = TestServer::with(|c| {
        c.presence_grace = Duration::from_millis(200);
        c.events_url = Some(url);
        c.events_secret = Some(SECRET.into());
    })
    .await;
    let alice = SseReader::open(&format!("{}{LOBBY}?consumer=alice", server.url), None).await;
    let bob = SseReader::open(&format!("{}{LOBBY}?consumer=bob", server.url), None).await;
    wait_members(&server, &["alice", "bob"]).await;
    drop(alice);
    wait_members(&server, &["bob"]).await;
    drop(bob);
    let events = receiver.wait(Duration::from_secs(20), |e| e.iter().any(|e| e.name == "consumer_disconnected" && e.consumer.as_deref() == Some("bob"))).await;
    assert_eq!(
        names(&events),
        [
            "channel_occupied - /presence-lobby",
            "member_joined alice /presence-lobby",
            "consumer_connected alice -",
            "member_joined bob /presence-lobby",
            "consumer_connected bob -",
            "member_left alice /presence-lobby",
            "consumer_disconnected alice -",
            "member_left bob /presence-lobby",
            "channel_vacated - /presence-lobby",
            "consumer_disconnected bob -",
        ]
    );
    let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "each event once, under its own id");
    // The refused requests carried events the app then got under the same ids.
    let requests = receiver.requests();
    let refused: Vec<&str> = requests.iter().filter(|(ok, _)| !ok).flat_map(|(_, e)| e.iter().map(|e| e.id.as_str())).collect();
    assert_eq!(requests.iter().filter(|(ok, _)| !ok).count(), 2);
    assert!(!refused.is_empty() && refused.iter().all(|id| ids.contains(id)), "a retried event came under a new id");
    assert_eq!(receiver.bad_signatures(), 0);
    assert_eq!(server.metric("push_events_failed_total").await, 2.0);
    assert_eq!(server.metric("push_events_sent_total").await, 10.0);
    assert_eq!(server.metric("push_events_dropped_total").await, 0.0);
    server.shutdown().await;
}

#[tokio::test]
async fn undelivered_names_the_member_that_did_not_get_the_message() {
    let receiver = Receiver::start(0).await;
    let url = receiver.url.clone();
    let server = TestServer::with(|c| {
        c.presence_grace = Duration::from_secs(30);
        c.events_url = Some(url);
        c.events_secret = Some(SECRET.into());
        c.undelivered_after = Duration::from_millis(500);
    })
    .await;
    // Alice's laptop closes: her connection is gone, she is present for the grace.
    let alice = SseReader::open(&format!("{}{LOBBY}?consumer=alice", server.url), None).await;
    let mut bob = SseReader::open(&format!("{}{LOBBY}?consumer=bob", server.url), None).await;
    bob.next().await.unwrap();
    receiver.wait(Duration::from_secs(10), |e| e.iter().filter(|e| e.name == "member_joined").count() == 2).await;
    drop(alice);
    server.wait_metric("push_connections{transport=\"sse\"}", 1.0).await;
    let id = server.publish(LOBBY, "are you there?").await;
    assert_eq!(bob.next().await.unwrap().id, Some(id.clone()));
    let events = receiver.wait(Duration::from_secs(10), |e| e.iter().any(|e| e.name == "undelivered")).await;
    server.wait_metric("push_events_queued", 0.0).await;
    let undelivered: Vec<_> = receiver.accepted().into_iter().filter(|e| e.name == "undelivered").collect();
    assert_eq!(undelivered.len(), 1, "only alice's: {:?}", names(&events));
    assert_eq!(undelivered[0].consumer.as_deref(), Some("alice"));
    assert_eq!(undelivered[0].channel.as_deref(), Some(LOBBY));
    assert_eq!(undelivered[0].message_id.map(|m| m.to_string()), Some(id));
    server.shutdown().await;
}

#[tokio::test]
async fn events_past_the_queue_bound_are_dropped_and_counted() {
    // An app that never accepts: the queue fills and stays full.
    let receiver = Receiver::start(usize::MAX).await;
    let url = receiver.url.clone();
    let server = TestServer::with(|c| {
        c.events_url = Some(url);
        c.events_secret = Some(SECRET.into());
        c.events_queue = 3;
    })
    .await;
    // Alice makes three events (occupied, joined, connected); bob's two find no room.
    let _alice = SseReader::open(&format!("{}{LOBBY}?consumer=alice", server.url), None).await;
    let _bob = SseReader::open(&format!("{}{LOBBY}?consumer=bob", server.url), None).await;
    server.wait_metric("push_events_dropped_total", 2.0).await;
    assert_eq!(server.metric("push_events_queued").await, 3.0);
    assert!(server.metric("push_events_failed_total").await >= 1.0);
    // What was tried is alice's three, under the same ids each time.
    let requests = receiver.requests();
    assert!(requests.iter().all(|(ok, events)| !ok && names(events).iter().all(|n| !n.contains("bob"))), "{requests:?}");
    server.shutdown().await;
}
