//! Event names (`Push-Event`): a named message is `event: <name>` on a channel's SSE stream,
//! `"event"` in JSON frames and history, a `Push-Event` header on a long-poll answer; bad names
//! are refused with a 400 and nothing stored. `?gap=turbo-refresh` turns a gap into a Turbo
//! `refresh` action (docs/HOTWIRE_HTMX.md).

mod common;

use common::{batch, client, SseReader, TestServer, WsReader};

async fn publish_named(server: &TestServer, channel: &str, body: &str, event: &str) -> reqwest::Response {
    client().post(format!("{}{channel}", server.url)).header("Push-Event", event).body(body.to_owned()).send().await.unwrap()
}

#[tokio::test]
async fn a_named_message_carries_its_name_on_every_transport() {
    let server = TestServer::start().await;
    let start = server.publish("/other", "x").await;
    let response = publish_named(&server, "/n", "<p>hi</p>", "chat").await;
    assert_eq!(response.status(), 200);
    let plain = server.publish("/n", "plain").await;

    let mut sse = SseReader::open(&format!("{}/n?after={start}", server.url), None).await;
    sse.next().await.unwrap(); // the opening cursor
    let named = sse.next().await.unwrap();
    assert_eq!((named.event.as_deref(), named.data.as_deref()), (Some("chat"), Some("<p>hi</p>")));
    let unnamed = sse.next().await.unwrap();
    assert_eq!((unnamed.event, unnamed.id.as_deref(), unnamed.data.as_deref()), (None, Some(plain.as_str()), Some("plain")));

    let mut ws = WsReader::open(&format!("{}/n?after={start}", server.url)).await;
    ws.next().await.unwrap();
    assert_eq!(ws.next().await.unwrap()["event"], "chat");
    assert!(ws.next().await.unwrap().get("event").is_none());

    let answer = client().get(format!("{}/n?after={start}", server.url)).send().await.unwrap();
    assert_eq!(answer.headers()["push-event"], "chat");

    let history = client().get(format!("{}/_push/api/history/n?last=2", server.url)).send().await.unwrap();
    let history: serde_json::Value = serde_json::from_slice(&history.bytes().await.unwrap()).unwrap();
    assert_eq!(history["messages"][0]["event"], "chat");
    assert!(history["messages"][1].get("event").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn bad_names_are_refused_and_store_nothing() {
    let server = TestServer::start().await;
    let start = server.publish("/b", "first").await;
    for bad in ["gap", "disconnect", "error", "two words", "", &"x".repeat(65)] {
        let response = publish_named(&server, "/b", "never", bad).await;
        assert_eq!(response.status(), 400, "{bad:?}");
        assert!(response.text().await.unwrap().contains("event name"), "{bad:?}");
    }
    // `message` is the default name: stored as a plain message.
    assert_eq!(publish_named(&server, "/b", "default", "message").await.status(), 200);
    let (messages, _, _) = batch(&format!("{}/b?after={}", server.url, start.parse::<u64>().unwrap() - 1)).await;
    assert_eq!(messages.iter().map(|m| m.2.as_str()).collect::<Vec<_>>(), ["first", "default"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_turbo_stream_hears_a_gap_as_a_refresh_action() {
    let server = TestServer::with(|c| c.history_size = 2).await;
    let first = server.publish("/t", "m0").await;
    for i in 1..5 {
        server.publish("/t", format!("m{i}")).await;
    }
    let mut sse = SseReader::open(&format!("{}/t?after={first}&gap=turbo-refresh", server.url), None).await;
    sse.next().await.unwrap();
    let gap = sse.next().await.unwrap();
    assert_eq!(gap.event, None);
    assert_eq!(gap.data.as_deref(), Some(r#"<turbo-stream action="refresh"></turbo-stream>"#));
    assert_eq!(sse.next().await.unwrap().data.as_deref(), Some("m3"));

    // The default stays the `gap` event; an unknown way, or the multiplexing endpoint, is a 400.
    let mut sse = SseReader::open(&format!("{}/t?after={first}&gap=event", server.url), None).await;
    sse.next().await.unwrap();
    assert_eq!(sse.next().await.unwrap().event.as_deref(), Some("gap"));
    for url in [format!("{}/t?gap=reload", server.url), format!("{}/_push/subscribe?channel=/t&gap=turbo-refresh", server.url)] {
        let response = client().get(&url).header("Accept", "text/event-stream").send().await.unwrap();
        assert_eq!(response.status(), 400, "{url}");
    }
    server.shutdown().await;
}
