//! The server API over HTTP on one node (memory and data dir): channel info and listings count
//! real connections, history reads what is held and what is after a cursor, a publish to many
//! channels is one message seen once per connection, and a disconnect ends each transport with
//! its reason and bans the consumer's return. Bad input gets its status and loses nothing.

mod common;

use std::time::Duration;

use common::{client, SseReader, TestServer, WsReader};
use serde_json::{json, Value};

const KEY: &str = "api-key";

async fn server() -> TestServer {
    TestServer::with(|c| c.publish_key = Some(KEY.into())).await
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = client().get(format!("{}{path}", server.url)).bearer_auth(KEY).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn post(server: &TestServer, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = client().post(format!("{}{path}", server.url)).bearer_auth(KEY).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn publish(server: &TestServer, channel: &str, body: &str) -> String {
    let (status, answer) = post(server, channel, body.to_owned()).await;
    assert_eq!(status, 200, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

/// Waits until channel info reports `connections`.
async fn wait_connections(server: &TestServer, channel: &str, connections: u64) -> Value {
    for _ in 0..500 {
        let (_, info) = get(server, &format!("/_push/api/channel{channel}")).await;
        if info["connections"] == connections {
            return info;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{channel} never had {connections} connections");
}

#[tokio::test]
async fn channel_info_counts_connections_consumers_and_history() {
    let server = server().await;
    let (status, empty) = get(&server, "/_push/api/channel/rooms/1").await;
    assert_eq!(status, 200);
    assert_eq!(empty, json!({"channel": "/rooms/1", "connections": 0, "consumers": 0, "last_id": null, "history": 0, "nodes": 1, "as_of": empty["as_of"]}));

    publish(&server, "/rooms/1", "a").await;
    let last = publish(&server, "/rooms/1", "b").await;
    let _alice = SseReader::open(&format!("{}/rooms/1?consumer=alice", server.url), None).await;
    let _alice2 = WsReader::open(&format!("{}/_push/subscribe?channel=/rooms/1&channel=/rooms/2&consumer=alice", server.url)).await;
    let _anonymous = SseReader::open(&format!("{}/rooms/1", server.url), None).await;
    let info = wait_connections(&server, "/rooms/1", 3).await;
    assert_eq!(info["consumers"], 1);
    assert_eq!(info["history"], 2);
    assert_eq!(info["last_id"], last);

    // A waiting long-poll counts while it waits.
    let poll = tokio::spawn({
        let url = format!("{}/rooms/1?timeout=5&consumer=bob", server.url);
        async move { client().get(url).send().await.unwrap().status() }
    });
    let info = wait_connections(&server, "/rooms/1", 4).await;
    assert_eq!(info["consumers"], 2);
    publish(&server, "/rooms/1", "c").await;
    assert_eq!(poll.await.unwrap(), 200);
    wait_connections(&server, "/rooms/1", 3).await;
    server.shutdown().await;
}

#[tokio::test]
async fn channels_are_listed_by_prefix_in_pages() {
    let server = server().await;
    for n in 1..=5 {
        publish(&server, &format!("/rooms/{n}"), "x").await;
    }
    publish(&server, "/other", "x").await;
    let _listener = SseReader::open(&format!("{}/rooms/6", server.url), None).await;
    wait_connections(&server, "/rooms/6", 1).await;

    let mut names = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = get(&server, &format!("/_push/api/channels?prefix=/rooms/&limit=2&after={after}")).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["channels"].as_array().unwrap().len() <= 2);
        names.extend(page["channels"].as_array().unwrap().iter().map(|c| c["channel"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(names, ["/rooms/1", "/rooms/2", "/rooms/3", "/rooms/4", "/rooms/5", "/rooms/6"]);
    let (_, all) = get(&server, "/_push/api/channels").await;
    assert_eq!(all["channels"].as_array().unwrap().len(), 7);
    assert_eq!(all["channels"][6]["connections"], 1);

    for bad in ["limit=0", "limit=1001", "limit=x", "prefix=rooms"] {
        let (status, _) = get(&server, &format!("/_push/api/channels?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn history_reads_the_newest_and_after_a_cursor() {
    let server = TestServer::with(|c| {
        c.publish_key = Some(KEY.into());
        c.history_size = 3;
    })
    .await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(publish(&server, "/h", &format!("m{n}")).await);
    }
    let (status, last) = get(&server, "/_push/api/history/h?last=2").await;
    assert_eq!(status, 200);
    let data: Vec<&str> = last["messages"].as_array().unwrap().iter().map(|m| m["data"].as_str().unwrap()).collect();
    assert_eq!(data, ["m4", "m5"]);
    assert_eq!(last["last_id"], ids[4]);

    // After a cursor older than the history: a gap for what is gone, then what is held.
    let (_, after) = get(&server, &format!("/_push/api/history/h?after={}", ids[0])).await;
    let data: Vec<&str> = after["messages"].as_array().unwrap().iter().map(|m| m["data"].as_str().unwrap()).collect();
    assert_eq!(data, ["m3", "m4", "m5"]);
    assert_eq!(after["gaps"][0]["to"], ids[1]);
    let (_, page) = get(&server, &format!("/_push/api/history/h?after={}&limit=1", ids[2])).await;
    assert_eq!((page["messages"][0]["data"].as_str(), page["more"].as_bool()), (Some("m4"), Some(true)));

    // An empty channel answers at once with the newest id as the cursor.
    let (status, none) = get(&server, "/_push/api/history/nothing?last=5").await;
    assert_eq!((status, none["messages"].as_array().unwrap().len()), (200, 0));
    assert_eq!(none["last_id"], ids[4]);

    for bad in ["last=0", "last=1001", "last=2&after=1", "after=x", "last=2&limit=3"] {
        let (status, _) = get(&server, &format!("/_push/api/history/h?{bad}")).await;
        assert!(status == 400, "{bad}: {status}");
    }
    let (status, _) = get(&server, "/_push/api/history/bad//name").await;
    assert_eq!(status, 400);
    server.shutdown().await;
}

#[tokio::test]
async fn a_publish_to_many_channels_is_one_message_seen_once_per_connection() {
    let server = server().await;
    let mut ws = WsReader::open(&format!("{}/_push/subscribe?channel=/a&channel=/b&channel=/c", server.url)).await;
    assert_eq!(ws.next().await.unwrap()["type"], "subscribed");
    let mut only_b = SseReader::open(&format!("{}/b", server.url), None).await;
    only_b.next().await.unwrap();

    let (status, answer) = post(&server, "/_push/api/publish?channel=/a&channel=/b&channels=/d,/a", "to many").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["channels"], json!(["/a", "/b", "/d"]));
    let id = answer["id"].as_str().unwrap().to_owned();
    let after = publish(&server, "/c", "after").await;

    // Once on the multiplexed socket, naming only its own channels.
    let frame = ws.next().await.unwrap();
    assert_eq!((frame["id"].as_str(), frame["data"].as_str()), (Some(id.as_str()), Some("to many")));
    assert_eq!(frame["channel"], "/a");
    assert_eq!(frame["channels"], json!(["/a", "/b"]));
    assert_eq!(ws.next().await.unwrap()["id"], after, "the next frame is the next message, not a copy");

    let event = only_b.next().await.unwrap();
    assert_eq!((event.id.as_deref(), event.data.as_deref()), (Some(id.as_str()), Some("to many")));

    // The JSON batch of a late reader, and each channel's history, hold it once.
    let (messages, _, _) = common::batch(&format!("{}/_push/subscribe?channel=/a&channel=/d&after=0&timeout=0", server.url)).await;
    assert_eq!(messages.iter().filter(|m| m.2 == "to many").count(), 1);
    for channel in ["/a", "/b", "/d"] {
        let (_, info) = get(&server, &format!("/_push/api/channel{channel}")).await;
        assert_eq!(info["last_id"], id, "{channel}");
    }

    // The same key to the same channels is a retry; to other channels it is not.
    let keyed = |channels: &'static str| {
        let url = format!("{}/_push/api/publish?{channels}", server.url);
        async move {
            let r = client().post(url).bearer_auth(KEY).header("Idempotency-Key", "order-7").body("k").send().await.unwrap();
            let replayed = r.headers().get("idempotent-replayed").is_some();
            (serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap()["id"].as_str().unwrap().to_owned(), replayed)
        }
    };
    let (first, replayed) = keyed("channel=/a&channel=/b").await;
    assert!(!replayed);
    assert_eq!(keyed("channel=/a&channel=/b").await, (first.clone(), true));
    assert_ne!(keyed("channel=/a&channel=/c").await.0, first);

    // Bad input is refused and stores nothing.
    let before = get(&server, "/_push/api/channel/a").await.1["last_id"].clone();
    let many: String = (0..101).map(|n| format!("channel=/m{n}&")).collect();
    for (query, status) in [(many.as_str(), 400), ("", 400), ("channel=nope", 400)] {
        let (got, answer) = post(&server, &format!("/_push/api/publish?{query}"), "x").await;
        assert_eq!(got, status, "{query}: {answer}");
    }
    let response = client().post(format!("{}/_push/api/publish?channel=/a", server.url)).body("x").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(get(&server, "/_push/api/channel/a").await.1["last_id"], before);
    server.shutdown().await;
}

#[tokio::test]
async fn a_disconnect_ends_every_transport_with_its_reason_and_bans_the_return() {
    let server = server().await;
    let mut sse = SseReader::open(&format!("{}/_push/subscribe?channel=/r&consumer=alice", server.url), None).await;
    sse.next().await.unwrap();
    let mut ws = WsReader::open(&format!("{}/r?consumer=alice", server.url)).await;
    ws.next().await.unwrap();
    let poll = tokio::spawn({
        let url = format!("{}/r?timeout=5&consumer=alice", server.url);
        async move {
            let r = client().get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    });
    let mut bob = SseReader::open(&format!("{}/r?consumer=bob", server.url), None).await;
    bob.next().await.unwrap();
    wait_connections(&server, "/r", 4).await;

    let (status, answer) = post(&server, "/_push/api/disconnect", r#"{"consumer": "alice", "reason": "logged out", "ban": 60}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["disconnected"], 3);
    assert!(answer["ban_until"].as_u64().unwrap() > push_core::message::now_millis());

    let event = sse.next().await.unwrap();
    assert_eq!(event.event.as_deref(), Some("disconnect"));
    assert_eq!(serde_json::from_str::<Value>(event.data.as_deref().unwrap()).unwrap(), json!({"type": "disconnect", "reason": "logged out"}));
    assert!(sse.next().await.is_none(), "the stream ends");
    assert_eq!(ws.next().await.unwrap(), json!({"type": "disconnect", "reason": "logged out"}));
    assert!(ws.next().await.is_none());
    let (status, text) = poll.await.unwrap();
    assert_eq!(status, 403);
    assert!(text.contains("logged out"), "{text}");

    // Bob stays; alice is refused while banned, on any channel.
    wait_connections(&server, "/r", 1).await;
    let refused = client().get(format!("{}/other?consumer=alice&timeout=0", server.url)).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("refused for another"));
    let id = publish(&server, "/r", "still here").await;
    assert_eq!(bob.next().await.unwrap().id.as_deref(), Some(id.as_str()));

    // A channel's disconnect without a ban ends only connections on that channel.
    let mut on_x = SseReader::open(&format!("{}/x?consumer=carol", server.url), None).await;
    on_x.next().await.unwrap();
    let _on_y = SseReader::open(&format!("{}/y?consumer=carol", server.url), None).await;
    wait_connections(&server, "/y", 1).await;
    let (_, answer) = post(&server, "/_push/api/disconnect", r#"{"consumer": "carol", "channel": "/x"}"#).await;
    assert_eq!((answer["disconnected"].as_u64(), answer["ban_until"].as_u64()), (Some(1), None));
    assert_eq!(on_x.next().await.unwrap().event.as_deref(), Some("disconnect"));
    assert_eq!(get(&server, "/_push/api/channel/y").await.1["connections"], 1);
    let back = client().get(format!("{}/x?consumer=carol&timeout=0", server.url)).send().await.unwrap();
    assert_eq!(back.status(), 204, "no ban: carol may come back");

    for bad in [r#"{"consumer": ""}"#, r#"{"consumer": "a", "ban": -1}"#, r#"{"consumer": "a", "ban": 86401}"#, r#"{"who": "a"}"#, "not json"] {
        let (status, _) = post(&server, "/_push/api/disconnect", bad).await;
        assert_eq!(status, 400, "{bad}");
    }
    let long = json!({"consumer": "a", "reason": "r".repeat(201)}).to_string();
    assert_eq!(post(&server, "/_push/api/disconnect", long).await.0, 400);
    assert_eq!(post(&server, "/_push/api/disconnect", "x".repeat(5000)).await.0, 413);
    server.shutdown().await;
}

#[tokio::test]
async fn the_api_needs_the_publish_key() {
    let server = server().await;
    for path in ["/_push/api/channel/a", "/_push/api/channels", "/_push/api/history/a"] {
        let response = client().get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let wrong = client().get(format!("{}{path}", server.url)).bearer_auth("nope").send().await.unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
    let response = client().post(format!("{}/_push/api/disconnect", server.url)).body(r#"{"consumer":"a"}"#).send().await.unwrap();
    assert_eq!(response.status(), 401);
    server.shutdown().await;
}

#[tokio::test]
async fn bans_outlive_a_restart_with_a_data_dir() {
    let dir = std::env::temp_dir().join(format!("push-api-bans-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let with_dir = |c: &mut push_server::Config| {
        c.publish_key = Some(KEY.into());
        c.data_dir = Some(dir.clone());
    };
    let server = TestServer::with(with_dir).await;
    let (status, _) = post(&server, "/_push/api/disconnect", r#"{"consumer": "mallory", "channel": "/vault", "ban": 600}"#).await;
    assert_eq!(status, 200);
    server.shutdown().await;

    let server = TestServer::with(with_dir).await;
    let refused = client().get(format!("{}/vault?consumer=mallory&timeout=0", server.url)).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let elsewhere = client().get(format!("{}/lobby?consumer=mallory&timeout=0", server.url)).send().await.unwrap();
    assert_eq!(elsewhere.status(), 204, "the ban covers its channel only");
    server.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
