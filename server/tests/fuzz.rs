//! Bounded-time property tests on what hostile clients control: cursors (`MessageId`), tokens
//! (`push_core::token::verify`) and whole requests (paths, query strings, headers) decoded by
//! the in-process router. (Channel names have their own properties in sdk-core/src/channel.rs.)
//!
//! Each property runs a fixed number of cases, so the file finishes in seconds; failures are
//! not persisted to files.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config as Runner, TestCaseError, TestRunner};
use push_core::token::{sign, verify, Claims};
use push_core::MessageId;
use push_server::config::AuthMode;
use push_server::{AppState, Config};
use tower::ServiceExt;

fn runner(cases: u32) -> Runner {
    Runner { cases, failure_persistence: None, max_shrink_iters: 512, ..Runner::default() }
}

// ---------------------------------------------------------------------------------------------
// Cursors.

proptest! {
    #![proptest_config(runner(1000))]

    /// Any string: no panic, and accepted exactly when it is (after trimming) a decimal u64.
    #[test]
    fn cursor_parsing_never_panics_and_accepts_only_decimals(s in prop_oneof![
        any::<String>(),
        "[0-9 +\\-.eExX_\\t\\u{660}-\\u{669}\\u{ff10}-\\u{ff19}]{0,30}",
        "[0-9]{15,25}",
    ]) {
        let parsed = s.parse::<MessageId>();
        let t = s.trim();
        let expected = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) { t.parse::<u64>().ok() } else { None };
        prop_assert_eq!(parsed.ok().map(MessageId::get), expected, "{:?}", s);
    }

    /// Every id round-trips through its text and through JSON (string or number).
    #[test]
    fn valid_cursors_round_trip(n in any::<u64>()) {
        let id = MessageId(n);
        prop_assert_eq!(id.to_string().parse::<MessageId>(), Ok(id));
        prop_assert_eq!(format!(" {id}\t").parse::<MessageId>(), Ok(id));
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(serde_json::from_str::<MessageId>(&json).unwrap(), id);
        prop_assert_eq!(serde_json::from_str::<MessageId>(&n.to_string()).unwrap(), id);
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens.

/// A channel (`/a/b`) or a prefix pattern (`/a/*`, `/*`), as tokens may claim.
fn claimed_channel() -> impl Strategy<Value = String> {
    let segment = "[A-Za-z0-9_~:@-][A-Za-z0-9._~:@-]{0,9}";
    let name = prop::collection::vec(segment, 1..4).prop_map(|s| format!("/{}", s.join("/"))).prop_filter("not reserved", |n| push_core::Channel::parse(n).is_ok());
    prop_oneof![4 => name.clone(), 1 => name.prop_map(|n| format!("{n}/*")), 1 => Just("/*".to_string())]
}

fn claims() -> impl Strategy<Value = Claims> {
    (claimed_channel(), prop::option::of("[^\n]{1,20}"), 1..u64::MAX).prop_map(|(channel, consumer, expires_at)| Claims { channel, consumer, expires_at, info: None })
}

proptest! {
    #![proptest_config(runner(1000))]

    /// Arbitrary text, and text shaped like a token, never panics the verifier.
    #[test]
    fn token_verification_never_panics(
        token in prop_oneof![
            any::<String>(),
            "push1\\.[A-Za-z0-9_=+/-]{0,80}(\\.[A-Za-z0-9_=+/.-]{0,60})?",
            "[.]{0,3}push1[.]{0,3}[A-Za-z0-9_-]{0,8}",
        ],
        secret in prop::collection::vec(any::<u8>(), 0..40),
        now in any::<u64>(),
    ) {
        let _ = verify(&secret, &token, now);
    }

    /// A signed token verifies to exactly its claims before it expires, and is refused at and
    /// after its expiry and under another secret.
    #[test]
    fn signed_tokens_verify(claims in claims(), secret in prop::collection::vec(any::<u8>(), 1..64), before in any::<u64>()) {
        let token = sign(&secret, &claims).unwrap();
        let now = before % claims.expires_at;
        prop_assert_eq!(verify(&secret, &token, now), Ok(claims.clone()));
        prop_assert!(verify(&secret, &token, claims.expires_at).is_err());
        let mut other = secret.clone();
        other[0] ^= 1;
        prop_assert!(verify(&other, &token, now).is_err());
    }

    /// Changing any one byte of a token (to any other printable byte) makes it invalid.
    #[test]
    fn any_changed_byte_is_refused(claims in claims(), secret in prop::collection::vec(any::<u8>(), 1..32), at in any::<prop::sample::Index>(), to in 0x21u8..0x7f) {
        let token = sign(&secret, &claims).unwrap();
        let now = claims.expires_at - 1;
        let mut bytes = token.clone().into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != to);
        bytes[i] = to;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(verify(&secret, &changed, now).is_err(), "{} verified after changing byte {}", changed, i);
        // Cut or extended, it is refused too.
        prop_assert!(verify(&secret, &token[..i], now).is_err());
        let extended = format!("{}{}", token, to as char);
        prop_assert!(verify(&secret, &extended, now).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Requests through the in-process router: never a panic, never a 5xx, never a hang.

/// One generated request.
#[derive(Debug, Clone)]
struct Generated {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    /// Raw bytes appended to the query (junk escapes such as `%zz`).
    raw_query: String,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
}

fn pct_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z0-9._~:@-]{1,12}",
        1 => Just(String::new()),
        1 => prop::sample::select(vec![".", "..", "_push", "%2e%2e", "%2E", "%00", "%ff", "%2f", "%25", "%", "%zz", "%c3%28", "%e2%82%ac", "~", "health", "subscribe", "metrics", "client.js", "demo"]).prop_map(str::to_owned),
        1 => prop::collection::vec(any::<u8>(), 1..8).prop_map(|b| pct_all(&b)),
        1 => "[!$&'()*+,;=]{1,4}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        // "/a" has a message in history: cursors reach a backlog.
        2 => Just("/a".to_string()),
        4 => prop::collection::vec("[A-Za-z0-9_~:@-][A-Za-z0-9._~:@-]{0,9}", 1..4).prop_map(|s| format!("/{}", s.join("/"))),
        4 => prop::collection::vec(segment(), 1..6).prop_map(|s| format!("/{}", s.join("/"))),
        2 => segment().prop_map(|s| format!("/_push/{s}")),
        1 => Just("/".to_string()),
        1 => "/[a-z]{300,400}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>().prop_map(|s| s.chars().take(40).collect()),
        3 => prop::sample::select(vec![
            "0", "1", "-1", "1e20", "1e308", "1e309", "NaN", "inf", "-inf", "-0", "0.5", "18446744073709551615", "18446744073709551616",
            "99999999999999999999999", "", " ", "abc", "0x10", "1.5", "1e9", "+5", "/a", "/a,/b", "/_push/x", ",,,", "%ff",
        ]).prop_map(str::to_owned),
        2 => any::<f64>().prop_map(|f| f.to_string()),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
    ]
}

fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        8 => prop::sample::select(vec!["after", "timeout", "limit", "channel", "channels", "consumer", "token"]).prop_map(str::to_owned),
        1 => "[a-z]{1,6}",
    ];
    prop::collection::vec((key, value()), 0..6)
}

/// Header values as bytes a client can send (visible ASCII, space, tab, obs-text).
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "text/event-stream", "application/json", "text/event-stream, application/json", "*/*", "websocket", "Upgrade", "upgrade, keep-alive",
            "13", "12", "dGhlIHNhbXBsZSBub25jZQ==", "http://evil.example", "null", "chunked", "0", "-1", "99999999999999999999", "1", "Bearer x",
        ]).prop_map(|s| s.as_bytes().to_vec()),
        2 => value().prop_map(|s| s.into_bytes()),
        2 => prop::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..60),
    ]
}

/// Headers that pick a transport (none: long-poll), then arbitrary ones.
fn headers() -> impl Strategy<Value = Vec<(&'static str, Vec<u8>)>> {
    let transport: Vec<Vec<(&'static str, &'static str)>> = vec![
        vec![],
        vec![("accept", "application/json")],
        vec![("accept", "text/event-stream")],
        vec![("upgrade", "websocket"), ("connection", "upgrade"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("sec-websocket-version", "13")],
    ];
    let transport = prop::sample::select(transport).prop_map(|hs| hs.into_iter().map(|(k, v)| (k, v.as_bytes().to_vec())).collect::<Vec<_>>());
    (transport, other_headers()).prop_map(|(mut a, b)| {
        a.extend(b);
        a
    })
}

fn other_headers() -> impl Strategy<Value = Vec<(&'static str, Vec<u8>)>> {
    let name = prop::sample::select(vec![
        "accept", "last-event-id", "consumer-id", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "origin",
        "authorization", "content-type", "cookie", "x-forwarded-for", "host", "access-control-request-method",
    ]);
    prop::collection::vec((name, header_value()), 0..6)
}

fn generated() -> impl Strategy<Value = Generated> {
    let method = prop_oneof![
        12 => Just("GET".to_string()),
        2 => prop::sample::select(vec!["HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "get"]).prop_map(str::to_owned),
        1 => "[A-Z]{1,10}",
    ];
    let raw_query = prop_oneof![4 => Just(String::new()), 1 => prop::sample::select(vec!["&%", "&%zz", "&%2", "&=&&=", "&after", "&timeout", "&limit=", "&a=%ff%fe"]).prop_map(str::to_owned)];
    (method, path(), query(), raw_query, headers(), prop::collection::vec(any::<u8>(), 0..64))
        .prop_map(|(method, path, query, raw_query, headers, body)| Generated { method, path, query, raw_query, headers, body })
}

impl Generated {
    /// The request, or None when the method or URI is not valid HTTP at all (the HTTP layer
    /// refuses those before the router). Long-polls answer at once: `timeout=0` unless the
    /// case sets a timeout of its own (the server's cap is tiny in these tests).
    fn request(&self) -> Option<Request<Body>> {
        let mut pairs = self.query.clone();
        if !pairs.iter().any(|(k, _)| k == "timeout") {
            pairs.push(("timeout".into(), "0".into()));
        }
        let encoded: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        let uri = format!("{}?{}{}", self.path, encoded, self.raw_query);
        let mut request = Request::builder().method(self.method.as_str()).uri(uri).body(Body::from(self.body.clone())).ok()?;
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                request.headers_mut().append(HeaderName::from_static(name), v);
            }
        }
        // What the server's listener provides to handlers.
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        Some(request)
    }
}

/// Runs `cases` generated requests against a router built from `tweak`ed defaults.
fn requests_never_fail(cases: u32, tweak: impl FnOnce(&mut Config)) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut config = Config::defaults();
    // Waits a generated `timeout=` may ask for are capped by this.
    config.long_poll_timeout = Duration::from_millis(20);
    config.heartbeat = Duration::from_millis(50);
    tweak(&mut config);
    config.validate().expect("valid test config");
    let app = rt.block_on(async {
        let broker = push_server::broker::from_config(&config).await.unwrap();
        let app = push_server::app(AppState::new(broker, config, tokio_util::sync::CancellationToken::new()).expect("state"));
        // One message in history, published as a client would.
        let publish = Request::post("/a").extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000)))).body(Body::from("x")).unwrap();
        let published = app.clone().oneshot(publish).await.unwrap();
        assert_eq!(published.status(), 200);
        app
    });
    let sent = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut runner = TestRunner::new(runner(cases));
    let result = runner.run(&generated(), |g| {
        let Some(request) = g.request() else { return Ok(()) };
        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let app = app.clone();
        let response = rt
            .block_on(async move { tokio::time::timeout(Duration::from_secs(5), app.oneshot(request)).await })
            .map_err(|_| TestCaseError::fail("no answer within 5 s"))?
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let code = response.headers().get("push-error").map(|v| v.to_str().unwrap_or("?").to_owned());
        // Streams (SSE) are dropped at once: only the head matters here.
        drop(response);
        prop_assert!(status.as_u16() < 500, "{} {:?}", status, code);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent >= cases / 2, "only {sent} of {cases} generated requests were valid HTTP");
}

#[test]
fn generated_requests_get_no_panic_and_no_5xx() {
    requests_never_fail(1000, |_| {});
}

#[test]
fn generated_requests_with_token_auth_get_no_panic_and_no_5xx() {
    requests_never_fail(500, |c| {
        c.auth = AuthMode::Token;
        c.secret = Some("s3cret".into());
    });
}

