//! Resume: a client that comes back with its last id gets every later message exactly once, in
//! order, on every transport; a cursor older than history gets the gap signal.

mod common;

use common::{batch, client, id, SseReader, TestServer, WsReader};

/// Publishes `n` messages `m0..` and returns their ids.
async fn publish_many(server: &TestServer, channel: &str, n: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(server.publish(channel, format!("m{i}")).await.parse().unwrap());
    }
    ids
}

#[tokio::test]
async fn long_poll_resumes_one_message_at_a_time() {
    let server = TestServer::start().await;
    let start = server.publish("/other", "x").await;
    let ids = publish_many(&server, "/r", 15).await;
    let mut cursor = start;
    let mut got = Vec::new();
    for _ in 0..15 {
        let response = client().get(format!("{}/r?after={cursor}", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        cursor = response.headers()["push-id"].to_str().unwrap().to_owned();
        got.push(cursor.parse::<u64>().unwrap());
        assert_eq!(response.text().await.unwrap(), format!("m{}", got.len() - 1));
    }
    assert_eq!(got, ids);
    let response = client().get(format!("{}/r?after={cursor}&timeout=0", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    server.shutdown().await;
}

#[tokio::test]
async fn json_batch_resumes_and_pages() {
    let server = TestServer::start().await;
    let start = server.publish("/other", "x").await;
    let ids = publish_many(&server, "/r", 30).await;
    let (first, gaps, last) = batch(&format!("{}/r?after={start}&limit=10", server.url)).await;
    assert!(gaps.is_empty());
    assert_eq!(first.iter().map(|m| m.0).collect::<Vec<_>>(), ids[..10]);
    let (rest, _, last) = batch(&format!("{}/r?after={last}", server.url)).await;
    assert_eq!(rest.iter().map(|m| m.0).collect::<Vec<_>>(), ids[10..]);
    assert_eq!(rest[0].2, "m10");
    let (none, _, same) = batch(&format!("{}/r?after={last}&timeout=0", server.url)).await;
    assert!(none.is_empty());
    assert_eq!(same, last);
    server.shutdown().await;
}

#[tokio::test]
async fn an_sse_stream_answers_with_the_common_headers() {
    let server = TestServer::start().await;
    let start = server.publish("/h", "x").await;
    let response = client().get(format!("{}/h", server.url)).header("Accept", "text/event-stream").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["push-id"].to_str().unwrap(), start, "the cursor the stream starts from");
    assert_eq!(response.headers()["cache-control"].to_str().unwrap(), "no-store");
    drop(response);
    server.shutdown().await;
}

#[tokio::test]
async fn sse_resumes_with_last_event_id() {
    let server = TestServer::start().await;
    let start = server.publish("/other", "x").await;
    let ids = publish_many(&server, "/r", 20).await;

    let mut sse = SseReader::open(&format!("{}/r?after={start}", server.url), None).await;
    let opening = sse.next().await.unwrap();
    assert_eq!((opening.id.as_deref(), opening.data.as_deref()), (Some(start.as_str()), None));
    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(sse.next().await.unwrap());
    }
    drop(sse);
    let last = got.last().unwrap().id.clone().unwrap();
    let mut sse = SseReader::open(&format!("{}/r", server.url), Some(&last)).await;
    assert_eq!(sse.next().await.unwrap().id.as_deref(), Some(last.as_str()));
    for _ in 8..20 {
        got.push(sse.next().await.unwrap());
    }
    let live = server.publish("/r", "live").await;
    let next = sse.next().await.unwrap();
    assert_eq!((next.id.unwrap(), next.data.unwrap()), (live, "live".to_owned()));

    assert_eq!(got.iter().map(|e| e.id.clone().unwrap().parse::<u64>().unwrap()).collect::<Vec<_>>(), ids);
    assert!(got.iter().enumerate().all(|(i, e)| e.data.as_deref() == Some(format!("m{i}").as_str())));
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_resumes_with_after() {
    let server = TestServer::start().await;
    let start = server.publish("/other", "x").await;
    let ids = publish_many(&server, "/r", 20).await;

    let mut ws = WsReader::open(&format!("{}/r?after={start}", server.url)).await;
    let hello = ws.next().await.unwrap();
    assert_eq!((hello["type"].as_str(), hello["last_id"].as_str()), (Some("subscribed"), Some(start.as_str())));
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(ws.next().await.unwrap());
    }
    drop(ws);
    let last = got.last().unwrap()["id"].as_str().unwrap().to_owned();
    let mut ws = WsReader::open(&format!("{}/r?after={last}", server.url)).await;
    ws.next().await.unwrap();
    for _ in 5..20 {
        got.push(ws.next().await.unwrap());
    }
    assert_eq!(got.iter().map(|f| id(&f["id"])).collect::<Vec<_>>(), ids);
    assert!(got.iter().all(|f| f["type"] == "message" && f["channel"] == "/r"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_cursor_older_than_history_gets_a_gap_on_every_transport() {
    let server = TestServer::with(|c| c.history_size = 5).await;
    let ids = publish_many(&server, "/g", 20).await;
    let cursor = ids[0];
    let (from, to) = (ids[0] + 1, ids[14]);

    let (messages, gaps, _) = batch(&format!("{}/g?after={cursor}", server.url)).await;
    assert_eq!(gaps, vec![(from, to)]);
    assert_eq!(messages.iter().map(|m| m.0).collect::<Vec<_>>(), ids[15..]);
    // `limit` counts messages, not the gap in front of them.
    let (messages, gaps, _) = batch(&format!("{}/g?after={cursor}&limit=1", server.url)).await;
    assert_eq!((gaps, messages.iter().map(|m| m.0).collect::<Vec<_>>()), (vec![(from, to)], vec![ids[15]]));
    // The batch names the gap in Push-Gap too, as a long-poll answer does.
    let response = client().get(format!("{}/g?after={cursor}", server.url)).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(response.headers()["push-gap"].to_str().unwrap(), format!("{from}-{to}"));
    let (_, gaps, _) = batch(&format!("{}/g?after={}", server.url, ids[16])).await;
    assert!(gaps.is_empty());

    let response = client().get(format!("{}/g?after={cursor}", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["push-gap"].to_str().unwrap(), format!("{from}-{to}"));
    assert_eq!(response.headers()["push-id"].to_str().unwrap(), ids[15].to_string());

    let mut sse = SseReader::open(&format!("{}/g?after={cursor}", server.url), None).await;
    sse.next().await.unwrap();
    let gap = sse.next().await.unwrap();
    assert_eq!(gap.event.as_deref(), Some("gap"));
    assert_eq!(gap.id, Some(to.to_string()));
    let frame: serde_json::Value = serde_json::from_str(&gap.data.unwrap()).unwrap();
    assert_eq!((id(&frame["from"]), id(&frame["to"])), (from, to));
    assert_eq!(sse.next().await.unwrap().id, Some(ids[15].to_string()));

    let mut ws = WsReader::open(&format!("{}/g?after={cursor}", server.url)).await;
    ws.next().await.unwrap();
    let gap = ws.next().await.unwrap();
    assert_eq!((gap["type"].as_str(), id(&gap["from"]), id(&gap["to"])), (Some("gap"), from, to));
    assert_eq!(id(&ws.next().await.unwrap()["id"]), ids[15]);

    // Nothing left after the gap: a long-poll answers 204 at once with the gap's end.
    let server2 = TestServer::with(|c| c.history_size = 1).await;
    let a = server2.publish("/h", "a").await;
    server2.publish("/h", "b").await;
    server2.publish("/h", "c").await;
    let response = client().get(format!("{}/h?after={a}&timeout=0", server2.url)).send().await.unwrap();
    assert_eq!(response.status(), 200, "c is still in history");
    assert!(response.headers().contains_key("push-gap"));
    server.shutdown().await;
    server2.shutdown().await;
}

#[tokio::test]
async fn payloads_keep_their_bytes() {
    let server = TestServer::start().await;
    let start = server.publish("/other", "x").await;
    server.publish("/b", "line one\nline two\r\nline three").await;
    server.publish("/b", vec![0u8, 255, 1, 2]).await;

    let mut sse = SseReader::open(&format!("{}/b?after={start}", server.url), None).await;
    sse.next().await.unwrap();
    assert_eq!(sse.next().await.unwrap().data.as_deref(), Some("line one\nline two\nline three"));
    let binary = sse.next().await.unwrap();
    assert_eq!((binary.event.as_deref(), binary.data.as_deref()), (Some("binary"), Some("AP8BAg==")));

    let response = client()
        .get(format!("{}/_push/subscribe?channel=/b&after={start}", server.url))
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(json["messages"][0]["data"], "line one\nline two\r\nline three");
    assert_eq!((json["messages"][1]["data"].as_str(), json["messages"][1]["encoding"].as_str()), (Some("AP8BAg=="), Some("base64")));
    server.shutdown().await;
}

#[tokio::test]
async fn multiplexing_delivers_many_channels_in_id_order_with_one_cursor() {
    let server = TestServer::start().await;
    let start = server.publish("/other", "x").await;
    let mut expected = Vec::new();
    for i in 0..12 {
        let channel = ["/m/a", "/m/b", "/m/c"][i % 3];
        expected.push((server.publish(channel, format!("{i}")).await.parse::<u64>().unwrap(), channel.to_owned()));
    }
    server.publish("/m/unrelated", "no").await;
    let url = format!("{}/_push/subscribe?channel=/m/a&channel=/m/b&channels=/m/c&after={start}", server.url);
    let mut sse = SseReader::open(&url, None).await;
    sse.next().await.unwrap();
    for (id, channel) in &expected {
        let event = sse.next().await.unwrap();
        let frame: serde_json::Value = serde_json::from_str(&event.data.unwrap()).unwrap();
        assert_eq!((common::id(&frame["id"]), frame["channel"].as_str().unwrap()), (*id, channel.as_str()));
    }
    server.shutdown().await;
}

/// `after=0` is "from before everything": on a fresh memory server nothing was lost, so no gap;
/// history the server dropped itself still is one.
#[tokio::test]
async fn after_zero_on_a_fresh_memory_server_is_no_gap() {
    let server = TestServer::with(|c| c.history_size = 3).await;
    let ids = publish_many(&server, "/z", 2).await;
    let (messages, gaps, _) = batch(&format!("{}/z?after=0", server.url)).await;
    assert_eq!((gaps, messages.iter().map(|m| m.0).collect::<Vec<_>>()), (vec![], ids.clone()));
    let response = client().get(format!("{}/z?after=0", server.url)).send().await.unwrap();
    assert!(!response.headers().contains_key("push-gap"));
    assert_eq!(response.headers()["push-id"].to_str().unwrap(), ids[0].to_string());
    let more = publish_many(&server, "/z", 3).await;
    let (messages, gaps, _) = batch(&format!("{}/z?after=0", server.url)).await;
    assert_eq!(gaps.len(), 1, "the evicted messages are a gap: {gaps:?}");
    assert!(gaps[0].0 <= ids[0] && gaps[0].1 == ids[1], "{gaps:?} covers {ids:?}");
    assert_eq!(messages.iter().map(|m| m.0).collect::<Vec<_>>(), more);
    server.shutdown().await;
}
