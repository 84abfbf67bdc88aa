//! The server API across two nodes on one RabbitMQ stream: counts from both nodes, a consumer
//! disconnected through one node while connected to the other, a publish to many channels seen
//! once by a multiplexed subscriber on the other node, history through either node, and a
//! killed node's connections leaving the counts within the lease.

mod common;
mod rabbitmq_support;

use std::time::{Duration, Instant};

use common::{client, SseReader};
use rabbitmq_support::{serial, spawn_process_node, unique_stream, Node};
use serde_json::{json, Value};

async fn get(node: &str, path: &str) -> Value {
    let response = client().get(format!("{node}{path}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

async fn post(node: &str, path: &str, body: &str) -> Value {
    let response = client().post(format!("{node}{path}")).body(body.to_owned()).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// Waits until `node`'s channel info matches `want` (reports come every 5 s).
async fn wait_info(node: &str, channel: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = get(node, &format!("/_push/api/channel{channel}")).await;
        if want(&info) {
            return info;
        }
        assert!(Instant::now() < deadline, "{channel} on {node} never matched: {info}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_answer_for_the_cluster() {
    let _turn = serial().await;
    let stream = unique_stream("cluster");
    let a = Node::start(&stream, |_| {}).await;
    let b = Node::start(&stream, |_| {}).await;

    // Counts from both nodes.
    let mut alice = SseReader::open(&format!("{}/_push/subscribe?channel=/room&channel=/news&consumer=alice", b.url), None).await;
    alice.next().await.unwrap();
    let mut bob = SseReader::open(&format!("{}/room?consumer=bob", a.url), None).await;
    bob.next().await.unwrap();
    let info = wait_info(&a.url, "/room", |i| i["connections"] == 2).await;
    assert_eq!((info["consumers"].as_u64(), info["nodes"].as_u64()), (Some(2), Some(2)));
    assert!(info["as_of"].as_u64().unwrap() <= push_core::message::now_millis());
    let page = get(&a.url, "/_push/api/channels").await;
    let names: Vec<&str> = page["channels"].as_array().unwrap().iter().map(|c| c["channel"].as_str().unwrap()).collect();
    assert_eq!(names, ["/news", "/room"]);

    // A publish to many through A reaches alice on B once, naming her channels.
    let answer = post(&a.url, "/_push/api/publish?channel=/room&channel=/news&channel=/elsewhere", "to all").await;
    let id = answer["id"].as_str().unwrap().to_owned();
    let single = a.publish("/news", "next").await;
    let first = alice.next().await.unwrap();
    assert_eq!(first.id.as_deref(), Some(id.as_str()));
    let frame: Value = serde_json::from_str(first.data.as_deref().unwrap()).unwrap();
    assert_eq!((frame["channel"].clone(), frame["channels"].clone()), (json!("/room"), json!(["/room", "/news"])));
    assert_eq!(alice.next().await.unwrap().id, Some(single.to_string()), "once, then the next message");
    assert_eq!(bob.next().await.unwrap().id.as_deref(), Some(id.as_str()));

    // History through either node.
    for node in [&a.url, &b.url] {
        let last = get(node, "/_push/api/history/news?last=10").await;
        let data: Vec<&str> = last["messages"].as_array().unwrap().iter().map(|m| m["data"].as_str().unwrap()).collect();
        assert_eq!(data, ["to all", "next"], "{node}");
        let after = get(node, &format!("/_push/api/history/room?after={}", id.parse::<u64>().unwrap() - 1)).await;
        assert_eq!(after["messages"][0]["id"], id);
    }

    // Alice, connected to B, disconnected through A, and banned on both.
    let answer = post(&a.url, "/_push/api/disconnect", r#"{"consumer": "alice", "reason": "account closed", "ban": 300}"#).await;
    assert_eq!(answer["disconnected"], 0, "none of alice's connections is on A");
    let event = alice.next().await.unwrap();
    assert_eq!(event.event.as_deref(), Some("disconnect"));
    assert!(event.data.unwrap().contains("account closed"));
    for node in [&a.url, &b.url] {
        let refused = client().get(format!("{node}/room?consumer=alice&timeout=0")).send().await.unwrap();
        assert_eq!(refused.status(), 403, "{node}");
    }
    wait_info(&a.url, "/room", |i| i["connections"] == 1).await;

    // A node that joins later learns the bans in force from the others.
    let c = Node::start(&stream, |_| {}).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = client().get(format!("{}/room?consumer=alice&timeout=0", c.url)).send().await.unwrap().status();
        if status == 403 {
            break;
        }
        assert!(Instant::now() < deadline, "the new node never learned the ban (last answer {status})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((alice, bob));
    c.shutdown().await;
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_connections_leave_the_counts_within_the_lease() {
    let _turn = serial().await;
    let stream = unique_stream("lease");
    let a = Node::start(&stream, |_| {}).await;
    let (mut killed, b) = spawn_process_node(&stream, &[]).await;
    let mut subscriber = SseReader::open(&format!("{b}/lease?consumer=carol"), None).await;
    subscriber.next().await.unwrap();
    wait_info(&a.url, "/lease", |i| i["connections"] == 1 && i["nodes"] == 2).await;

    killed.kill().unwrap();
    killed.wait().unwrap();
    let killed_at = Instant::now();
    let info = wait_info(&a.url, "/lease", |i| i["connections"] == 0).await;
    let gone_after = killed_at.elapsed();
    // The lease (15 s) from B's last report, which is at most one interval (5 s) old.
    assert!(gone_after <= Duration::from_secs(21), "the killed node counted for {gone_after:?}");
    assert_eq!(info["nodes"], 1);
    drop(subscriber);
    a.shutdown().await;
}
