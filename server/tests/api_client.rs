//! The Rust producer's server API calls (push_core::api) against a real server: channel info with
//! subscribers connected, channel listings, history with gaps, one message to many channels,
//! disconnects, their errors, the blocking producer and the `push-server` subcommands.
//! Everything waits on state (channel info, metrics), never on time.

mod common;

use std::time::Duration;

use common::{client, SseReader, TestServer, WsReader};
use push_core::api::{ChannelInfo, ChannelsQuery, Disconnect, HistoryRange};
use push_core::producer::{BlockingProducer, ProducerOptions};
use push_core::{ErrorKind, MessageId, Producer};

fn producer(server: &TestServer) -> Producer {
    Producer::new(Some(&server.url)).unwrap()
}

/// Polls channel info until `ready` holds (subscriptions register asynchronously).
async fn wait_info(producer: &Producer, channel: &str, ready: impl Fn(&ChannelInfo) -> bool) -> ChannelInfo {
    let mut info = producer.channel_info(channel).await.unwrap();
    for _ in 0..500 {
        if ready(&info) {
            return info;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        info = producer.channel_info(channel).await.unwrap();
    }
    panic!("channel info of {channel} never got ready: {info:?}");
}

/// An SSE subscriber that has read the stream's opening event (so it is registered).
async fn sse(url: String) -> SseReader {
    let mut reader = SseReader::open(&url, None).await;
    let first = reader.next().await.expect("the stream opens with an id-only event");
    assert!(first.event.is_none() && first.id.is_some(), "{first:?}");
    reader
}

fn now_ms() -> u64 {
    push_core::message::now_millis()
}

#[tokio::test]
async fn channel_info_counts_connections_and_consumers() {
    let server = TestServer::with(|c| c.long_poll_timeout = Duration::from_secs(60)).await;
    let p = producer(&server);
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(p.publish(format!("m{i}")).to("/rooms/1").await.unwrap());
    }
    let u = &server.url;
    let _alice = sse(format!("{u}/rooms/1?consumer=alice")).await;
    let _alice_again = sse(format!("{u}/rooms/1?consumer=alice")).await;
    let _bob_both = sse(format!("{u}/_push/subscribe?channel=/rooms/1&channel=/rooms/2&consumer=bob")).await;
    let _anonymous = sse(format!("{u}/rooms/1")).await;
    // A long-poll counts while it waits.
    let after = ids[2];
    let long_poll = tokio::spawn(client().get(format!("{u}/rooms/1?consumer=carol&after={after}")).send());

    let info = wait_info(&p, "/rooms/1", |i| i.connections == 5).await;
    assert_eq!((info.channel.as_str(), info.consumers, info.history, info.last_id), ("/rooms/1", 3, 3, Some(ids[2])));
    assert_eq!(info.nodes, 1);
    assert!(info.as_of.abs_diff(now_ms()) < 60_000, "as_of {} is now on one node", info.as_of);
    let two = p.channel_info("/rooms/2").await.unwrap();
    assert_eq!((two.connections, two.consumers, two.history, two.last_id), (1, 1, 0, None));

    // A valid channel nothing knows of: zeros.
    let unknown = p.channel_info("/nobody/here").await.unwrap();
    assert_eq!((unknown.connections, unknown.consumers, unknown.history, unknown.last_id), (0, 0, 0, None));
    assert_eq!(p.channel_info("rooms").await.unwrap_err().kind(), ErrorKind::InvalidChannel);
    // The server refuses a bad name too (the client never sends one).
    let raw = client().get(format!("{u}/_push/api/channel/a//b")).send().await.unwrap();
    assert_eq!((raw.status().as_u16(), raw.headers().get("push-error").map(|v| v.to_str().unwrap().to_owned())), (400, Some("INVALID_CHANNEL".into())));

    // The long-poll leaves with the next message; the others when dropped.
    let id = p.publish("wake").to("/rooms/1").await.unwrap();
    let answer = long_poll.await.unwrap().unwrap();
    assert_eq!(answer.headers()["push-id"].to_str().unwrap(), id.to_string());
    wait_info(&p, "/rooms/1", |i| i.connections == 4 && i.consumers == 2).await;
    drop((_alice, _alice_again, _bob_both, _anonymous));
    let info = wait_info(&p, "/rooms/1", |i| i.connections == 0).await;
    assert_eq!((info.consumers, info.history, info.last_id), (0, 4, Some(id)));
    server.shutdown().await;
}

#[tokio::test]
async fn channels_are_listed_in_name_order_page_by_page() {
    let server = TestServer::start().await;
    let p = producer(&server);
    for channel in ["/list/c", "/list/a", "/other", "/list/b"] {
        p.publish("x").to(channel).await.unwrap();
    }
    // A channel with a connection and no history is active too.
    let _held = sse(format!("{}/list/d?consumer=dora", server.url)).await;
    wait_info(&p, "/list/d", |i| i.connections == 1).await;

    let first = p.channels(ChannelsQuery::new().prefix("/list/").limit(2)).await.unwrap();
    let names = |page: &push_core::api::ChannelPage| page.channels.iter().map(|c| c.channel.clone()).collect::<Vec<_>>();
    assert_eq!(names(&first), ["/list/a", "/list/b"]);
    assert_eq!(first.next.as_deref(), Some("/list/b"));
    assert_eq!((first.nodes, first.channels[0].nodes, first.channels[0].as_of), (1, 1, first.as_of));
    assert_eq!((first.channels[0].history, first.channels[0].connections), (1, 0));

    let mut rest = Vec::new();
    let mut after = first.next.clone();
    while let Some(a) = after {
        let page = p.channels(ChannelsQuery::new().prefix("/list/").after(a).limit(2)).await.unwrap();
        rest.extend(page.channels.iter().cloned());
        after = page.next;
    }
    let rest_names: Vec<&str> = rest.iter().map(|c| c.channel.as_str()).collect();
    assert_eq!(rest_names, ["/list/c", "/list/d"]);
    assert_eq!((rest[1].connections, rest[1].consumers, rest[1].history, rest[1].last_id), (1, 1, 0, None));

    let all = p.channels(ChannelsQuery::new()).await.unwrap();
    assert_eq!(names(&all), ["/list/a", "/list/b", "/list/c", "/list/d", "/other"]);
    assert_eq!(all.next, None);
    assert!(p.channels(ChannelsQuery::new().prefix("/nothing/")).await.unwrap().channels.is_empty());

    assert_eq!(p.channels(ChannelsQuery::new().limit(1001)).await.unwrap_err().kind(), ErrorKind::BadRequest);
    let raw = client().get(format!("{}/_push/api/channels?limit=1001", server.url)).send().await.unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(raw.headers()["push-error"], "BAD_REQUEST");
    server.shutdown().await;
}

#[tokio::test]
async fn history_reads_the_last_messages_and_after_a_cursor_with_gaps() {
    let server = TestServer::with(|c| c.history_size = 3).await;
    let p = producer(&server);
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(p.publish(format!("m{i}")).to("/h").await.unwrap());
    }
    ids.push(p.publish(bytes::Bytes::from_static(&[0, 159, 146, 150])).to("/h").await.unwrap());

    // In memory: the newest three.
    let held = p.history("/h", HistoryRange::All).await.unwrap();
    let got: Vec<MessageId> = held.messages.iter().map(|m| m.id).collect();
    assert_eq!(got, ids[2..]);
    assert_eq!((held.last_id, held.more), (ids[4], false));
    assert!(held.gaps.is_empty(), "{:?}", held.gaps);
    let m = &held.messages[0];
    assert_eq!((m.channel.as_str(), m.text(), m.content_type.as_str()), ("/h", Some("m2"), "text/plain; charset=utf-8"));
    assert!(m.channels.is_empty());
    assert!(m.time.abs_diff(now_ms()) < 60_000);
    let binary = &held.messages[2];
    assert_eq!((binary.data.as_ref(), binary.content_type.as_str()), (&[0u8, 159, 146, 150][..], "application/octet-stream"));

    let last = p.history("/h", HistoryRange::Last(2)).await.unwrap();
    assert_eq!(last.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[3..]);
    assert_eq!(last.last_id, ids[4]);

    // After the first: what history no longer holds is a gap, then the rest.
    let after = p.history("/h", HistoryRange::after(ids[0])).await.unwrap();
    assert_eq!(after.gaps.len(), 1, "{after:?}");
    let gap = &after.gaps[0];
    assert_eq!((gap.channel.as_str(), gap.to), ("/h", ids[1]));
    assert!(gap.from > ids[0] && gap.from <= ids[1], "{gap:?}");
    assert_eq!(after.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[2..]);
    assert_eq!((after.last_id, after.more), (ids[4], false));

    // Paging with a limit.
    let page = p.history("/h", HistoryRange::After { id: ids[2], limit: Some(1) }).await.unwrap();
    assert_eq!((page.messages.len(), page.messages[0].id, page.last_id, page.more), (1, ids[3], ids[3], true));
    let page = p.history("/h", HistoryRange::After { id: page.last_id, limit: Some(1) }).await.unwrap();
    assert_eq!((page.messages[0].id, page.more), (ids[4], false));
    let empty = p.history("/h", HistoryRange::after(ids[4])).await.unwrap();
    assert!(empty.messages.is_empty() && empty.gaps.is_empty() && !empty.more);
    assert_eq!(empty.last_id, ids[4]);

    // Nothing published there.
    let none = p.history("/never", HistoryRange::All).await.unwrap();
    assert!(none.messages.is_empty() && none.gaps.is_empty());

    // Errors: the client's checks, the server's.
    assert_eq!(p.history("/h", HistoryRange::Last(0)).await.unwrap_err().kind(), ErrorKind::BadRequest);
    assert_eq!(p.history("h", HistoryRange::All).await.unwrap_err().kind(), ErrorKind::InvalidChannel);
    let e = p.history("/h", HistoryRange::after(MessageId(ids[4].get() + 1_000_000))).await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::InvalidCursor, Some(400)), "{e}");
    let raw = client().get(format!("{}/_push/api/history/h?last=1&after={}", server.url, ids[0])).send().await.unwrap();
    assert_eq!((raw.status().as_u16(), raw.headers()["push-error"].to_str().unwrap()), (400, "BAD_REQUEST"));
    server.shutdown().await;
}

#[tokio::test]
async fn history_last_is_bounded_by_max_batch() {
    let server = TestServer::with(|c| c.max_batch = 5).await;
    let p = producer(&server);
    p.publish("x").to("/b").await.unwrap();
    assert_eq!(p.history("/b", HistoryRange::Last(5)).await.unwrap().messages.len(), 1);
    let e = p.history("/b", HistoryRange::Last(6)).await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::BadRequest, Some(400)), "{e}");
    server.shutdown().await;
}

#[tokio::test]
async fn one_message_to_many_channels_reaches_a_multiplexed_subscriber_once() {
    let server = TestServer::with(|c| c.long_poll_timeout = Duration::from_secs(60)).await;
    let p = producer(&server);
    let u = server.url.clone();
    let start = p.publish("before").to("/m/a").await.unwrap();
    // A JSON batch over both channels waits for the next message.
    let batch = tokio::spawn(
        client().get(format!("{u}/_push/subscribe?channel=/m/a&channel=/m/b&after={start}")).header("Accept", "application/json").send(),
    );
    let mut only_b = sse(format!("{u}/m/b")).await;
    wait_info(&p, "/m/a", |i| i.connections == 1).await;
    wait_info(&p, "/m/b", |i| i.connections == 2).await;

    let id = p.publish("to both").to(["/m/a", "/m/b", "/m/a"]).await.unwrap();
    let answer = batch.await.unwrap().unwrap();
    assert_eq!(answer.status(), 200);
    let json: serde_json::Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    let messages = json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{json}");
    assert_eq!(messages[0]["id"].as_str().unwrap(), id.to_string());
    assert_eq!(messages[0]["channel"], "/m/a");
    assert_eq!(messages[0]["channels"], serde_json::json!(["/m/a", "/m/b"]));
    assert_eq!(messages[0]["data"], "to both");
    // Once: nothing more after it.
    let (more, _, _) = common::batch(&format!("{u}/_push/subscribe?channel=/m/a&channel=/m/b&after={id}&timeout=0")).await;
    assert!(more.is_empty(), "{more:?}");

    // A subscriber of one of them gets it as any message of its channel.
    let event = only_b.next().await.unwrap();
    assert_eq!((event.id.as_deref(), event.data.as_deref()), (Some(id.to_string().as_str()), Some("to both")));

    // One place in each channel's history.
    for channel in ["/m/a", "/m/b"] {
        let h = p.history(channel, HistoryRange::after(start)).await.unwrap();
        assert_eq!(h.messages.iter().map(|m| m.id).collect::<Vec<_>>(), [id], "{channel}");
        assert_eq!(h.messages[0].text(), Some("to both"));
    }

    // The key covers the channels in their order.
    let first = p.publish("keyed").idempotency_key("order-1").to(["/k/a", "/k/b"]).await.unwrap();
    let again = p.publish("keyed").idempotency_key("order-1").to(vec!["/k/a".to_owned(), "/k/b".to_owned()]).await.unwrap();
    assert_eq!(first, again, "a retry with the same key and channels stores once");
    let other_order = p.publish("keyed").idempotency_key("order-1").to(["/k/b", "/k/a"]).await.unwrap();
    assert_ne!(other_order, first);
    assert_eq!(p.history("/k/a", HistoryRange::All).await.unwrap().messages.len(), 2);

    // The endpoint's own answer names the channels.
    let raw = client().post(format!("{u}/_push/api/publish?channels=/r/x,/r/y")).body("raw").send().await.unwrap();
    assert_eq!(raw.status(), 200);
    let json: serde_json::Value = serde_json::from_slice(&raw.bytes().await.unwrap()).unwrap();
    assert_eq!(json["channels"], serde_json::json!(["/r/x", "/r/y"]));
    assert!(json["id"].as_str().unwrap().parse::<u64>().unwrap() > id.get());
    server.shutdown().await;
}

#[tokio::test]
async fn disconnect_ends_streams_and_bans() {
    let server = TestServer::with(|c| c.long_poll_timeout = Duration::from_secs(60)).await;
    let p = producer(&server);
    let u = server.url.clone();
    let mut carol = sse(format!("{u}/d?consumer=carol")).await;
    let mut carol_ws = WsReader::open(&format!("{u}/d?consumer=carol")).await;
    assert_eq!(carol_ws.next().await.unwrap()["type"], "subscribed");
    let carol_poll = tokio::spawn(client().get(format!("{u}/elsewhere?consumer=carol")).send());
    let mut dave = sse(format!("{u}/d?consumer=dave")).await;
    wait_info(&p, "/d", |i| i.connections == 3).await;
    wait_info(&p, "/elsewhere", |i| i.connections == 1).await;

    let done = p.disconnect(Disconnect::new("carol").reason("logged out")).await.unwrap();
    assert_eq!((done.consumer.as_str(), done.channel.as_deref(), done.disconnected, done.ban_until), ("carol", None, 3, None));
    // SSE: a disconnect event, then the end.
    let event = carol.next().await.expect("a disconnect event");
    assert_eq!(event.event.as_deref(), Some("disconnect"), "{event:?}");
    let data: serde_json::Value = serde_json::from_str(event.data.as_deref().unwrap()).unwrap();
    assert_eq!(data, serde_json::json!({"type": "disconnect", "reason": "logged out"}));
    assert!(carol.next().await.is_none(), "the stream ends after the disconnect event");
    // WebSocket: the frame, then the close.
    assert_eq!(carol_ws.next().await.unwrap(), serde_json::json!({"type": "disconnect", "reason": "logged out"}));
    assert!(carol_ws.next().await.is_none());
    // A waiting long-poll: 403 with the reason.
    let poll = carol_poll.await.unwrap().unwrap();
    assert_eq!((poll.status().as_u16(), poll.headers()["push-error"].to_str().unwrap().to_owned()), (403, "FORBIDDEN".to_owned()));
    assert!(poll.text().await.unwrap().contains("logged out"));
    // Dave is untouched; without a ban Carol may come back.
    let info = wait_info(&p, "/d", |i| i.connections == 1).await;
    assert_eq!(info.consumers, 1);
    let back = client().get(format!("{u}/d?consumer=carol&timeout=0")).send().await.unwrap();
    assert_eq!(back.status(), 204);
    // Repeating it is harmless.
    assert_eq!(p.disconnect(Disconnect::new("carol")).await.unwrap().disconnected, 0);

    // A ban on one channel.
    let before = now_ms();
    let done = p.disconnect(Disconnect::new("dave").channel("/d").ban(Duration::from_secs(60))).await.unwrap();
    assert_eq!((done.channel.as_deref(), done.disconnected), (Some("/d"), 1));
    let until = done.ban_until.expect("a ban has an end");
    assert!(until >= before + 59_000 && until <= now_ms() + 61_000, "{until}");
    assert_eq!(dave.next().await.unwrap().event.as_deref(), Some("disconnect"));
    let refused = client().get(format!("{u}/d?consumer=dave&timeout=0")).send().await.unwrap();
    assert_eq!((refused.status().as_u16(), refused.headers()["push-error"].to_str().unwrap()), (403, "FORBIDDEN"));
    let elsewhere = client().get(format!("{u}/e?consumer=dave&timeout=0")).send().await.unwrap();
    assert_eq!(elsewhere.status(), 204, "the ban covers /d only");

    // The client's checks, then the server's.
    assert_eq!(p.disconnect(Disconnect::new("x").ban(Duration::from_secs(86_401))).await.unwrap_err().kind(), ErrorKind::BadRequest);
    assert_eq!(p.disconnect(Disconnect::new("x").reason("r".repeat(201))).await.unwrap_err().kind(), ErrorKind::BadRequest);
    assert_eq!(p.disconnect(Disconnect::new("x").channel("bad")).await.unwrap_err().kind(), ErrorKind::InvalidChannel);
    for body in [r#"{"consumer":"x","ban":86401}"#, r#"{"consumer":"x","channel":"bad"}"#, r#"{"channel":"/d"}"#, "not json"] {
        let raw = client().post(format!("{u}/_push/api/disconnect")).header("Content-Type", "application/json").body(body).send().await.unwrap();
        assert_eq!(raw.status().as_u16() / 100, 4, "{body}");
    }
    let reason = serde_json::json!({"consumer": "x", "reason": "r".repeat(201)}).to_string();
    let raw = client().post(format!("{u}/_push/api/disconnect")).header("Content-Type", "application/json").body(reason).send().await.unwrap();
    assert_eq!(raw.status(), 400);
    server.shutdown().await;
}

#[tokio::test]
async fn every_call_needs_the_publish_key_and_checks_its_input() {
    let server = TestServer::with(|c| c.publish_key = Some("k3y".into())).await;
    let anonymous = producer(&server);
    let unauthorized = |e: push_core::Error| assert_eq!((e.kind(), e.status()), (ErrorKind::Unauthorized, Some(401)), "{e}");
    unauthorized(anonymous.channel_info("/a").await.unwrap_err());
    unauthorized(anonymous.channels(ChannelsQuery::new()).await.unwrap_err());
    unauthorized(anonymous.history("/a", HistoryRange::All).await.unwrap_err());
    unauthorized(anonymous.disconnect(Disconnect::new("a")).await.unwrap_err());
    unauthorized(anonymous.publish("x").to(["/a", "/b"]).await.unwrap_err());

    let keyed = Producer::with_options(ProducerOptions::new().url(&server.url).publish_key("k3y")).unwrap();
    let id = keyed.publish("x").to(["/a", "/b"]).await.unwrap();
    assert_eq!(keyed.channel_info("/b").await.unwrap().last_id, Some(id));
    assert_eq!(keyed.channels(ChannelsQuery::new()).await.unwrap().channels.len(), 2);
    assert_eq!(keyed.history("/a", HistoryRange::All).await.unwrap().last_id, id);
    assert_eq!(keyed.disconnect(Disconnect::new("a")).await.unwrap().disconnected, 0);

    // Refused before any request.
    assert_eq!(keyed.channel_info("/a/").await.unwrap_err().kind(), ErrorKind::InvalidChannel);
    assert_eq!(keyed.publish("x").to(["/a", "/_push/x"]).await.unwrap_err().kind(), ErrorKind::InvalidChannel);
    let many: Vec<String> = (0..101).map(|i| format!("/c{i}")).collect();
    let e = keyed.publish("x").to(&many).await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::BadRequest, None));
    assert!(keyed.publish("x").to(&many[..100]).await.is_ok());
    // The server's limit alike.
    let query: Vec<String> = many.iter().map(|c| format!("channel={c}")).collect();
    let raw = client().post(format!("{}/_push/api/publish?{}", server.url, query.join("&"))).bearer_auth("k3y").body("x").send().await.unwrap();
    assert_eq!((raw.status().as_u16(), raw.headers()["push-error"].to_str().unwrap()), (400, "BAD_REQUEST"));
    server.shutdown().await;
}

#[tokio::test]
async fn the_blocking_producer_makes_the_same_calls() {
    let server = TestServer::start().await;
    let url = server.url.clone();
    tokio::task::spawn_blocking(move || {
        let p = BlockingProducer::new(ProducerOptions::new().url(url)).unwrap();
        let id = p.publish("both").to(["/bl/a", "/bl/b"]).unwrap();
        let single = p.publish("one").to(String::from("/bl/a")).unwrap();
        assert!(single > id);
        let info = p.channel_info("/bl/a").unwrap();
        assert_eq!((info.history, info.last_id), (2, Some(single)));
        let page = p.channels(ChannelsQuery::new().prefix("/bl/")).unwrap();
        assert_eq!(page.channels.iter().map(|c| c.channel.as_str()).collect::<Vec<_>>(), ["/bl/a", "/bl/b"]);
        let h = p.history("/bl/b", HistoryRange::Last(10)).unwrap();
        assert_eq!((h.messages.len(), h.messages[0].id, h.messages[0].text()), (1, id, Some("both")));
        assert_eq!(p.disconnect(Disconnect::new("nobody")).unwrap().disconnected, 0);
        assert_eq!(p.send(["/bl/a", "bad"], "x".into(), None).unwrap_err().kind(), ErrorKind::InvalidChannel);
        p.close();
    })
    .await
    .unwrap();
    server.shutdown().await;
}

/// Runs the `push-server` binary; (exit code, stdout, stderr).
async fn cli(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_push-server"))
            .args(&args)
            .env_remove("PUSH_URL")
            .env_remove("PUSH_PUBLISH_KEY")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_subcommands_call_the_server_api() {
    let server = TestServer::start().await;
    let u = server.url.as_str();
    let (code, out, err) = cli(&["publish", "/cli/a,/cli/b", "to both", "--url", u]).await;
    assert_eq!(code, 0, "{err}");
    let id: MessageId = out.trim().parse().unwrap();

    let (code, out, err) = cli(&["history", "/cli/b", "--url", u, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((json["messages"][0]["id"].as_str(), json["messages"][0]["data"].as_str()), (Some(id.to_string().as_str()), Some("to both")));
    let (code, out, _) = cli(&["history", "/cli/b", "--url", u, "--last", "1"]).await;
    assert_eq!(code, 0);
    assert!(out.starts_with(&format!("{id} ")) && out.trim_end().ends_with(" to both"), "{out}");
    let (code, out, _) = cli(&["history", "/cli/b", "--url", u, "--after", &id.to_string(), "--limit", "5"]).await;
    assert_eq!((code, out.as_str()), (0, ""));

    let (code, out, err) = cli(&["info", "/cli/a", "--url", u]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("channel      /cli/a") && out.contains(&format!("history      1 message(s), newest {id}")), "{out}");
    let (code, out, _) = cli(&["info", "/cli/a", "--url", u, "--json"]).await;
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((json["history"].as_u64(), json["last_id"].as_str()), (Some(1), Some(id.to_string().as_str())));

    let (code, out, err) = cli(&["channels", "--prefix", "/cli/", "--limit", "1", "--url", u]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with("/cli/a "), "{out}");
    assert!(err.contains("--after /cli/a"), "{err}");
    let (code, out, _) = cli(&["channels", "--prefix", "/cli/", "--limit", "1", "--all", "--url", u, "--json"]).await;
    assert_eq!(code, 0);
    let pages: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = pages.iter().flat_map(|p| p["channels"].as_array().unwrap()).map(|c| c["channel"].as_str().unwrap()).collect();
    assert_eq!(names, ["/cli/a", "/cli/b"]);

    let (code, out, err) = cli(&["disconnect", "nobody", "--channel", "/cli/a", "--reason", "bye", "--ban", "10m", "--url", u]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("disconnected 0 connections of nobody on /cli/a; banned until "), "{out}");
    let (code, out, _) = cli(&["disconnect", "nobody", "--url", u, "--json"]).await;
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["disconnected"], 0);

    // Bad input is 2, a refusal 1.
    let (code, _, err) = cli(&["info", "nope", "--url", u]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("INVALID_CHANNEL"), "{err}");
    assert_eq!(cli(&["history", "/a", "--last", "1", "--after", "1", "--url", u]).await.0, 2);
    assert_eq!(cli(&["disconnect", "x", "--ban", "soon", "--url", u]).await.0, 2);
    assert_eq!(cli(&["publish", "/a,", "x", "--url", u]).await.0, 2);
    let (code, _, err) = cli(&["history", "/cli/a", "--after", "99999999999999999", "--url", u]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("INVALID_CURSOR"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn presence_through_the_producer_and_the_cli() {
    let server = TestServer::start().await;
    let p = producer(&server);
    let u = &server.url;
    let _alice = sse(format!("{u}/presence-room?consumer=alice")).await;
    let _alice_again = sse(format!("{u}/presence-room?consumer=alice")).await;
    let _bob = sse(format!("{u}/presence-room?consumer=bob")).await;
    let mut presence = p.presence("/presence-room").await.unwrap();
    for _ in 0..500 {
        if presence.count == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        presence = p.presence("/presence-room").await.unwrap();
    }
    let names: Vec<&str> = presence.members.iter().map(|m| m.consumer.as_str()).collect();
    assert_eq!((names, presence.count, presence.nodes), (vec!["alice", "bob"], 2, 1));
    assert_eq!(p.presence("/plain").await.unwrap_err().kind(), ErrorKind::BadRequest);
    assert_eq!(p.presence("nope").await.unwrap_err().kind(), ErrorKind::InvalidChannel);

    let (code, out, err) = cli(&["presence", "/presence-room", "--url", u]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("alice\nbob\n2 member(s) on /presence-room"), "{out}");
    let (code, out, _) = cli(&["presence", "/presence-room", "--url", u, "--json"]).await;
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["members"], serde_json::json!([{"consumer": "alice"}, {"consumer": "bob"}]));
    let (code, _, err) = cli(&["presence", "/plain", "--url", u]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a presence channel"), "{err}");
    server.shutdown().await;
}
