//! Hostile input against the real `push-server` binary over raw TCP, written from
//! docs/PROTOCOL.md: methods, paths, headers, cursors, query numbers, bodies, pipelining,
//! slowloris, connect/close churn, WebSocket abuse and connection limits.
//!
//! Every case must get an answer (an HTTP status line; for WebSocket a close frame; for
//! slowloris and idle connections the server closing them within `--header-timeout`), never a
//! reset before an answer, never a hang, and no 5xx except a documented 503 limit. After each
//! group a normal publish + subscribe still works on the same, live server process.
//!
//! All cases run even when some fail; the test prints every failure and the case count.

mod hostile_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use hostile_support::{get, one_shot, ws_client_frame, ws_open, ws_upgrade, Conn, NoAnswer, Response, Server, WsFrame, READ_TIMEOUT};

/// `--header-timeout` of the suite's server: slowloris and idle connections must be closed
/// within it (plus `SLACK`).
const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// `--heartbeat`: a WebSocket client that answers no pings is closed after two of them.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// `--long-poll-timeout`: the cap of `?timeout=`.
const LONG_POLL: Duration = Duration::from_secs(2);
/// `--max-payload-bytes`, small so oversized bodies are cheap.
const MAX_PAYLOAD: usize = 65536;
/// `--ws-max-message-bytes` (the default).
const WS_MAX: usize = 4096;
/// Scheduling slack on a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(2);
/// The only origin allowed (CORS and WebSocket).
const ORIGIN: &str = "http://app.example";

fn server_args() -> Vec<String> {
    let secs = |d: Duration| format!("{}s", d.as_secs());
    vec![
        "--header-timeout".into(),
        secs(HEADER_TIMEOUT),
        "--heartbeat".into(),
        secs(HEARTBEAT),
        "--long-poll-timeout".into(),
        secs(LONG_POLL),
        "--max-payload-bytes".into(),
        MAX_PAYLOAD.to_string(),
        "--ws-max-message-bytes".into(),
        WS_MAX.to_string(),
        "--cors-origins".into(),
        ORIGIN.into(),
    ]
}

/// What a case accepts as its answer. Any 5xx fails every kind.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Any status below 500.
    Any,
    /// One of these statuses.
    Status(&'static [u16]),
    /// This status with this `Push-Error` code.
    Error(u16, &'static str),
    /// A status below 500, or the server closing (FIN) without one: only for bytes that are no
    /// HTTP/1 at all, whose sender could not read an HTTP/1 answer anyway.
    AnswerOrClose,
}

const INVALID_CHANNEL: Expect = Expect::Error(400, "INVALID_CHANNEL");
const INVALID_CURSOR: Expect = Expect::Error(400, "INVALID_CURSOR");
const BAD_REQUEST: Expect = Expect::Error(400, "BAD_REQUEST");
/// A request head over `--max-header-bytes`.
const HEAD_TOO_LARGE: Expect = Expect::Status(&[400, 414, 431]);
/// Malformed HTTP framing, refused by the HTTP layer.
const MALFORMED: Expect = Expect::Status(&[400]);
const OK_2XX: Expect = Expect::Status(&[200, 204]);

fn check(expect: Expect, answer: Result<Response, NoAnswer>) -> Result<(), String> {
    let r = match (expect, answer) {
        (Expect::AnswerOrClose, Err(NoAnswer::Closed { .. })) => return Ok(()),
        (_, Err(e)) => return Err(e.to_string()),
        (_, Ok(r)) => r,
    };
    if r.status >= 500 {
        return Err(format!("5xx answer: {}", r.summary()));
    }
    match expect {
        Expect::Any | Expect::AnswerOrClose => Ok(()),
        Expect::Status(list) if list.contains(&r.status) => Ok(()),
        Expect::Status(list) => Err(format!("expected one of {list:?}, got {}", r.summary())),
        Expect::Error(status, code) if r.status == status && r.header("push-error") == Some(code) => Ok(()),
        Expect::Error(status, code) => Err(format!("expected {status} {code}, got {}", r.summary())),
    }
}

/// One request on a fresh connection, and what its answer must be.
struct Case {
    name: String,
    request: Vec<u8>,
    expect: Expect,
    /// Send a FIN after the request (the client is done sending, e.g. a body that lies).
    half_close: bool,
    /// The answer may be a stream (SSE): read only its head.
    stream: bool,
}

fn case(name: impl Into<String>, request: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case { name: name.into(), request: request.into(), expect, half_close: false, stream: false }
}

impl Case {
    fn half_close(mut self) -> Case {
        self.half_close = true;
        self
    }
    fn stream(mut self) -> Case {
        self.stream = true;
        self
    }
}

async fn run_case(addr: SocketAddr, case: &Case) -> Result<(), String> {
    let mut conn = Conn::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    // Written from a task: a server that answers a huge request early stops reading it.
    let writer = conn.spawn_send(case.request.clone(), case.half_close);
    let answer = if case.stream { conn.head(READ_TIMEOUT).await } else { conn.response(READ_TIMEOUT, case.request.starts_with(b"HEAD ")).await };
    writer.abort();
    check(case.expect, answer)
}

/// A request: `METHOD target HTTP/1.1`, Host, the extra header lines, and the body with its
/// Content-Length when there is one.
fn req(method: &str, target: &str, headers: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}").into_bytes();
    if let Some(body) = body {
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn raw(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

/// `s` with every byte but ASCII alphanumerics percent-encoded (for query values).
fn pct(s: &[u8]) -> String {
    s.iter().map(|b| if b.is_ascii_alphanumeric() { (*b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// A case name that stays readable for binary or huge inputs.
fn label(bytes: &[u8]) -> String {
    let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(48)]).escape_debug().collect();
    if bytes.len() > 48 {
        format!("{shown}…({} bytes)", bytes.len())
    } else {
        shown
    }
}

struct Suite {
    server: Server,
    cases: usize,
    failures: Vec<String>,
    group: &'static str,
}

impl Suite {
    fn record(&mut self, name: &str, result: Result<(), String>) {
        self.cases += 1;
        if let Err(e) = result {
            self.failures.push(format!("[{}] {name}: {e}", self.group));
        }
    }

    /// Runs one-request cases, a few at a time (some wait up to the long-poll cap).
    async fn run(&mut self, cases: Vec<Case>) {
        let addr = self.server.addr;
        let results: Vec<(String, Result<(), String>)> = stream::iter(cases)
            .map(|c| async move {
                let result = run_case(addr, &c).await;
                (c.name, result)
            })
            .buffered(8)
            .collect()
            .await;
        for (name, result) in results {
            self.record(&name, result);
        }
    }

    /// Ends a group: the same server process must still publish and deliver. A dead server is
    /// started again so that later groups still report their own findings.
    async fn end_group(&mut self) {
        let tag = self.group.replace(' ', "-");
        if let Err(e) = self.server.still_serves(&tag).await {
            self.failures.push(format!("[{}] AFTER THE GROUP: {e}", self.group));
            if self.server.alive().is_err() {
                self.server = Server::spawn(&arg_refs(&server_args())).await;
            }
        }
    }
}

fn arg_refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_answers_and_the_server_survives() {
    let started = Instant::now();
    let server = Server::spawn(&arg_refs(&server_args())).await;
    let mut suite = Suite { server, cases: 0, failures: Vec::new(), group: "" };

    // Each group, then the check that the same server still publishes and delivers.
    macro_rules! group {
        ($name:literal, $run:ident) => {{
            suite.group = $name;
            let before = (suite.cases, suite.failures.len(), Instant::now());
            $run(&mut suite).await;
            suite.end_group().await;
            println!(
                "hostile: {}: {} cases, {} failures, {:.1}s",
                $name,
                suite.cases - before.0,
                suite.failures.len() - before.1,
                before.2.elapsed().as_secs_f64()
            );
        }};
    }
    group!("methods", methods);
    group!("paths", paths);
    group!("headers", headers);
    group!("cursors", cursors);
    group!("query numbers", query_numbers);
    group!("bodies", bodies);
    group!("pipelining", pipelining);
    group!("slowloris", slowloris);
    group!("churn", churn);
    group!("websocket", websocket);
    group!("websocket handshake", websocket_handshake);
    group!("connection limits", connection_limits);

    // A panic in a task that answers nobody (a WebSocket, a connection) shows only in the log.
    let panics: Vec<String> = suite.server.log_text().lines().filter(|l| l.contains("panicked")).map(str::to_owned).collect();
    suite.group = "server log";
    suite.record("no panic logged", if panics.is_empty() { Ok(()) } else { Err(panics.join("\n")) });

    println!("hostile: {} cases in {:.1}s, {} failures", suite.cases, started.elapsed().as_secs_f64(), suite.failures.len());
    for f in &suite.failures {
        println!("FAIL {f}");
    }
    assert!(suite.cases >= 200, "only {} cases", suite.cases);
    assert!(suite.failures.is_empty(), "{} of {} hostile cases failed (listed above); server log:\n{}", suite.failures.len(), suite.cases, suite.server.log_tail());
}

// ---------------------------------------------------------------------------------------------
// Methods and request lines.

async fn methods(s: &mut Suite) {
    let mut cases = Vec::new();
    // Methods a channel does not answer: 405 with Allow (PROTOCOL.md, Errors).
    for m in ["FOO", "BREW", "PROPFIND", "MKCOL", "LOCK", "COPY", "SEARCH", "PURGE", "DELETE", "PATCH", "TRACE", "get", "post", "Get", "gEt", "put", "head"] {
        cases.push(case(format!("{m} on a channel"), req(m, "/m/x?timeout=0", "", None), Expect::Status(&[405])));
    }
    cases.push(case("DELETE with a body", req("DELETE", "/m/x", "", Some(b"gone")), Expect::Status(&[405])));
    cases.push(case("OPTIONS without preflight headers", req("OPTIONS", "/m/x?timeout=0", "", None), Expect::Any));
    cases.push(case("OPTIONS preflight from a foreign origin", req("OPTIONS", "/m/x", "Origin: http://evil.example\r\nAccess-Control-Request-Method: GET\r\n", None), Expect::Any));
    cases.push(case("OPTIONS *", raw("OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), Expect::Any));
    cases.push(case("CONNECT, origin-form target", req("CONNECT", "/m/x", "", None), Expect::Any));
    cases.push(case("CONNECT, authority form", raw("CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nConnection: close\r\n\r\n"), Expect::Any));
    cases.push(case("CONNECT to elsewhere", raw("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), Expect::Any));
    cases.push(case("HEAD on a channel", req("HEAD", "/m/x?timeout=0", "", None), OK_2XX));
    cases.push(case("HEAD /_push/health", req("HEAD", "/_push/health", "", None), Expect::Status(&[200])));
    cases.push(case("HEAD /_push/metrics", req("HEAD", "/_push/metrics", "", None), Expect::Any));
    for (m, path) in [("DELETE", "/_push/health"), ("POST", "/_push/metrics"), ("PUT", "/_push/client.js"), ("POST", "/_push/subscribe?channel=/m/x"), ("DELETE", "/"), ("FOO", "/"), ("PATCH", "/_push/demo")] {
        cases.push(case(format!("{m} {path}"), req(m, path, "", None), Expect::Any));
    }
    let long = "A".repeat(1000);
    cases.push(case("a 1000-byte method", req(&long, "/m/x?timeout=0", "", None), Expect::Status(&[400, 405, 501])));
    let longer = "B".repeat(10_000);
    cases.push(case("a 10 KiB method", req(&longer, "/m/x?timeout=0", "", None), Expect::Status(&[400, 405, 501])));
    let huge = "C".repeat(20_000);
    cases.push(case("a 20 KiB method (over the head limit)", req(&huge, "/m/x", "", None), HEAD_TOO_LARGE));
    for (name, line) in [
        ("method with a parenthesis", "G(T /m/x HTTP/1.1"),
        ("method with NUL", "G\0T /m/x HTTP/1.1"),
        ("method with UTF-8", "GÉT /m/x HTTP/1.1"),
        ("empty method", " /m/x HTTP/1.1"),
        ("lowercase version", "GET /m/x http/1.1"),
        ("version HTTP/1.2", "GET /m/x HTTP/1.2"),
        ("version HTTP/2.0 on an HTTP/1 line", "GET /m/x HTTP/2.0"),
        ("version HTTP/9.9", "GET /m/x HTTP/9.9"),
        ("version with junk", "GET /m/x HTTP/1.1x"),
        ("two spaces before the target", "GET  /m/x HTTP/1.1"),
        ("extra words on the request line", "GET /m/x HTTP/1.1 please"),
    ] {
        let mut request = line.as_bytes().to_vec();
        request.extend_from_slice(b"\r\nHost: t\r\nConnection: close\r\n\r\n");
        cases.push(case(name, request, MALFORMED));
    }
    cases.push(case("HTTP/1.0 request", raw("GET /m/x?timeout=0 HTTP/1.0\r\n\r\n"), OK_2XX));
    cases.push(case("HTTP/1.0 with keep-alive", raw("GET /_push/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), Expect::Status(&[200])));
    cases.push(case("request line without version", raw("GET /m/x\r\nHost: t\r\n\r\n"), Expect::Status(&[400, 505])));
    cases.push(case("HTTP/0.9 style request", raw("GET /\r\n\r\n"), Expect::Status(&[400, 505])));
    cases.push(case("only CRLFs, then a request", raw("\r\n\r\nGET /_push/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), Expect::Status(&[200, 400])));
    s.run(cases).await;
}

// ---------------------------------------------------------------------------------------------
// Paths.

async fn paths(s: &mut Suite) {
    let name_256 = format!("/{}", "n".repeat(255));
    let name_257 = format!("/{}", "n".repeat(256));
    let ten_kib = format!("/{}", "a".repeat(10 * 1024));
    let ten_kib_segments = "/a".repeat(5 * 1024);
    let twenty_kib = format!("/{}", "b".repeat(20 * 1024));
    let sixty_four_kib = format!("/{}", "c".repeat(64 * 1024));
    let query_12_kib = format!("/p/q?x={}&timeout=0", "q".repeat(12 * 1024));
    let random: Vec<String> = (0..4).map(|i| format!("/_push/{:016x}", 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i + 7))).collect();

    // (target, expected for GET, expected for POST). GET targets without a query get
    // `?timeout=0` so valid channels answer at once.
    let table: Vec<(String, Expect, Expect)> = vec![
        ("/..".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a/..".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a/../b".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/../../etc/passwd".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%2e%2e".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a/%2e%2e/b".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%2E%2E/%2E%2E/etc/passwd".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%2e%2e%2f%2e%2e%2fetc%2fpasswd".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/..%2f..%2f".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%252e%252e".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/.".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a/./b".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%2e".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("//".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("//a".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a//b".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a/".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("///".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%2f%2f".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a%2fb".into(), Expect::Any, Expect::Any),
        ("/p/a?timeout=0#frag".into(), Expect::Any, Expect::Any),
        ("/p/a#frag".into(), Expect::Any, Expect::Any),
        ("/#".into(), Expect::Any, Expect::Any),
        ("/a%23b".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a%00b".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%00".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%ff".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%c3%28".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%e2%82".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%ed%a0%80".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%C3%A9".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/%".into(), Expect::Status(&[400]), Expect::Status(&[400])),
        ("/%zz".into(), Expect::Status(&[400]), Expect::Status(&[400])),
        ("/%2".into(), Expect::Status(&[400]), Expect::Status(&[400])),
        ("/a%20b".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a;b".into(), INVALID_CHANNEL, INVALID_CHANNEL),
        ("/a\\..\\b".into(), Expect::Status(&[400]), Expect::Status(&[400])),
        ("/a\u{e9}".into(), Expect::Status(&[400]), Expect::Status(&[400])),
        (name_256.clone(), OK_2XX, Expect::Status(&[200])),
        (name_257, INVALID_CHANNEL, INVALID_CHANNEL),
        (ten_kib, Expect::Status(&[400, 414]), Expect::Status(&[400, 414])),
        (ten_kib_segments, Expect::Status(&[400, 414]), Expect::Status(&[400, 414])),
        (twenty_kib, HEAD_TOO_LARGE, HEAD_TOO_LARGE),
        (sixty_four_kib, HEAD_TOO_LARGE, HEAD_TOO_LARGE),
        ("/_push".into(), Expect::Status(&[400, 404]), Expect::Status(&[400, 404, 405])),
        ("/_push/".into(), Expect::Status(&[400, 404]), Expect::Status(&[400, 404, 405])),
        (random[0].clone(), Expect::Status(&[400, 404]), Expect::Status(&[400, 404, 405])),
        (random[1].clone(), Expect::Status(&[400, 404]), Expect::Status(&[400, 404, 405])),
        (format!("{}/deeper/still", random[2]), Expect::Status(&[400, 404]), Expect::Status(&[400, 404, 405])),
        ("/_push/health/x".into(), Expect::Status(&[400, 404]), Expect::Status(&[400, 404, 405])),
        ("/_push/../_push/health".into(), Expect::Status(&[400, 404]), Expect::Status(&[400, 404, 405])),
        ("/_push/subscribe/x".into(), Expect::Status(&[400, 404]), Expect::Status(&[400, 404, 405])),
        ("/_PUSH/health".into(), Expect::Any, Expect::Any),
        ("http://127.0.0.1/p/abs?timeout=0".into(), Expect::Any, Expect::Any),
        ("http://evil.example/p/abs?timeout=0".into(), Expect::Any, Expect::Any),
        ("*".into(), Expect::Any, Expect::Any),
        ("a".into(), Expect::Status(&[400, 404]), Expect::Status(&[400, 404, 405])),
        ("/p/q?&&&=&=&timeout=0".into(), Expect::Any, Expect::Any),
        ("/p/q?%&timeout=0".into(), Expect::Any, Expect::Any),
        (query_12_kib, OK_2XX, Expect::Any),
        ("/~".into(), OK_2XX, Expect::Status(&[200])),
        ("/:@".into(), OK_2XX, Expect::Status(&[200])),
        ("/a.b-c_d~e:f@g".into(), OK_2XX, Expect::Status(&[200])),
        ("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z".into(), OK_2XX, Expect::Status(&[200])),
        ("/a%2e".into(), OK_2XX, Expect::Status(&[200])),
        ("/p/q?channel=/other&timeout=0".into(), OK_2XX, Expect::Any),
    ];
    let mut cases = Vec::new();
    for (target, get_expect, post_expect) in &table {
        let get_target = if target.contains('?') || target.contains('#') || !target.starts_with('/') { target.clone() } else { format!("{target}?timeout=0") };
        cases.push(case(format!("GET {}", label(get_target.as_bytes())), req("GET", &get_target, "", None), *get_expect));
        cases.push(case(format!("POST {}", label(target.as_bytes())), req("POST", target, "", Some(b"x")), *post_expect));
    }
    // Bytes that cannot be in a request target at all.
    for (name, target) in [("raw NUL", &b"/a\0b"[..]), ("raw space", b"/a b"), ("raw DEL", b"/a\x7fb"), ("raw 0xff", b"/a\xffb"), ("raw CR", b"/a\rb")] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        cases.push(case(format!("GET with a {name} in the path"), request, MALFORMED));
    }
    s.run(cases).await;
}

// ---------------------------------------------------------------------------------------------
// Headers.

async fn headers(s: &mut Suite) {
    let mut cases = Vec::new();
    let target = "/h/x?timeout=0";
    let big = |n: usize| format!("X-Big: {}\r\n", "a".repeat(n));
    cases.push(case("one 15 KiB header (under the limit)", req("GET", target, &big(15 * 1024), None), OK_2XX));
    cases.push(case("one 17 KiB header", req("GET", target, &big(17 * 1024), None), HEAD_TOO_LARGE));
    cases.push(case("one 64 KiB header", req("GET", target, &big(64 * 1024), None), HEAD_TOO_LARGE));
    cases.push(case("one 1 MiB header", req("GET", target, &big(1 << 20), None), HEAD_TOO_LARGE));
    let many_kib: String = (0..20).map(|i| format!("X-K{i}: {}\r\n", "k".repeat(1024))).collect();
    cases.push(case("twenty 1 KiB headers (20 KiB)", req("GET", target, &many_kib, None), HEAD_TOO_LARGE));
    let count = |n: usize| -> String { (0..n).map(|i| format!("X-H{i}: v\r\n")).collect() };
    cases.push(case("90 small headers", req("GET", target, &count(90), None), Expect::Any));
    cases.push(case("200 small headers", req("GET", target, &count(200), None), Expect::Any));
    cases.push(case("2000 small headers (~20 KiB)", req("GET", target, &count(2000), None), HEAD_TOO_LARGE));
    cases.push(case("a 10 KiB header name", req("GET", target, &format!("{}: v\r\n", "N".repeat(10 * 1024)), None), Expect::Any));
    cases.push(case("duplicated Host", raw("GET /h/x?timeout=0 HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"), Expect::Any));
    cases.push(case("no Host", raw("GET /h/x?timeout=0 HTTP/1.1\r\nConnection: close\r\n\r\n"), Expect::Any));
    cases.push(case("empty Host", raw("GET /h/x?timeout=0 HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n"), Expect::Any));
    cases.push(case("Host with spaces", raw("GET /h/x?timeout=0 HTTP/1.1\r\nHost: a b c\r\nConnection: close\r\n\r\n"), Expect::Any));
    cases.push(case("8 KiB Host", raw(&format!("GET /h/x?timeout=0 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", "h".repeat(8192))), Expect::Any));
    let post = |hdrs: &str, body: &str| raw(&format!("POST /h/p HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{hdrs}\r\n{body}"));
    cases.push(case("Content-Length twice, same value", post("Content-Length: 1\r\nContent-Length: 1\r\n", "x"), Expect::Any));
    cases.push(case("Content-Length twice, different values", post("Content-Length: 1\r\nContent-Length: 2\r\n", "xy"), MALFORMED));
    cases.push(case("Content-Length: 1, 2", post("Content-Length: 1, 2\r\n", "xy"), MALFORMED));
    cases.push(case("Content-Length and chunked", post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "1\r\nx\r\n0\r\n\r\n"), Expect::Any));
    cases.push(case("chunked and Content-Length", post("Transfer-Encoding: chunked\r\nContent-Length: 100\r\n", "1\r\nx\r\n0\r\n\r\n"), Expect::Any));
    cases.push(case("Content-Length and chunked on GET", raw("GET /h/x?timeout=0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), Expect::Any));
    cases.push(case("Transfer-Encoding: gzip", post("Transfer-Encoding: gzip\r\n", "x"), Expect::Any));
    cases.push(case("Transfer-Encoding: chunked, chunked", post("Transfer-Encoding: chunked, chunked\r\n", "1\r\nx\r\n0\r\n\r\n"), Expect::Any));
    cases.push(case("Transfer-Encoding: Chunked", post("Transfer-Encoding: Chunked\r\n", "1\r\nx\r\n0\r\n\r\n"), Expect::Any));
    cases.push(case("Transfer-Encoding twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", "1\r\nx\r\n0\r\n\r\n"), Expect::Any));
    for bad in ["-1", "abc", "1e3", "0x10", "99999999999999999999", "18446744073709551616", "1 2"] {
        cases.push(case(format!("Content-Length: {bad}"), post(&format!("Content-Length: {bad}\r\n"), "x"), MALFORMED));
    }
    for odd in ["+1", "", " 1 ", "01"] {
        cases.push(case(format!("Content-Length: {odd:?}"), post(&format!("Content-Length: {odd}\r\n"), "x"), Expect::Any));
    }
    cases.push(case("header without a colon", req("GET", target, "X-NoColon\r\n", None), MALFORMED));
    cases.push(case("space before the colon", raw("GET /h/x?timeout=0 HTTP/1.1\r\nHost : t\r\nConnection: close\r\n\r\n"), MALFORMED));
    cases.push(case("empty header name", req("GET", target, ": nameless\r\n", None), MALFORMED));
    cases.push(case("obs-fold continuation line", req("GET", target, "X-Fold: a\r\n folded\r\n", None), Expect::Any));
    cases.push(case("obs-fold as the first header line", raw("GET /h/x?timeout=0 HTTP/1.1\r\n folded: x\r\nHost: t\r\nConnection: close\r\n\r\n"), Expect::Any));
    cases.push(case("NUL in a header value", req("GET", target, "X-Nul: a\0b\r\n", None), MALFORMED));
    cases.push(case("bare CR in a header value", req("GET", target, "X-Cr: a\rb\r\n", None), MALFORMED));
    cases.push(case("bytes 0x80-0xff in a header value", {
        let mut r = b"GET /h/x?timeout=0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Obs: ".to_vec();
        r.extend_from_slice(&[0x80, 0xc3, 0x28, 0xff, 0xfe]);
        r.extend_from_slice(b"\r\n\r\n");
        r
    }, Expect::Any));
    cases.push(case("bare LF line endings", raw("GET /h/x?timeout=0 HTTP/1.1\nHost: t\nConnection: close\n\n"), Expect::Any));
    cases.push(case("Expect: 100-continue with the body", post("Expect: 100-continue\r\nContent-Length: 1\r\n", "x"), Expect::Status(&[200])));
    cases.push(case("Expect: 100-continue, oversized, body never sent", post(&format!("Expect: 100-continue\r\nContent-Length: {}\r\n", 2 * MAX_PAYLOAD), ""), Expect::Status(&[413, 417])));
    cases.push(case("Expect: junk", post("Expect: the-unexpected\r\nContent-Length: 1\r\n", "x"), Expect::Any));
    cases.push(case("Upgrade: h2c", req("GET", target, "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n", None), Expect::Any));
    cases.push(case("Connection: junk tokens", raw("GET /h/x?timeout=0 HTTP/1.1\r\nHost: t\r\nConnection: close, keep-alive, upgrade, zzz\r\n\r\n"), Expect::Any));
    cases.push(case("10 KiB Accept", req("GET", target, &format!("Accept: {}\r\n", "text/x,".repeat(1400)), None), Expect::Any));
    cases.push(case("Accept: everything at once", req("GET", target, "Accept: text/event-stream, application/json\r\n", None), Expect::Any).stream());
    cases.push(case("10 KiB Consumer-Id", req("GET", target, &format!("Consumer-Id: {}\r\n", "c".repeat(10 * 1024)), None), OK_2XX));
    cases.push(case("Consumer-Id with obs-text", b"GET /h/x?timeout=0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nConsumer-Id: \xe2\x80\xae\xff\r\n\r\n".to_vec(), OK_2XX));
    cases.push(case("8 KiB Authorization on publish", post(&format!("Authorization: Bearer {}\r\nContent-Length: 1\r\n", "t".repeat(8192)), "x"), Expect::Any));
    cases.push(case("15 KiB Cookie", req("GET", target, &format!("Cookie: {}\r\n", "s=1; ".repeat(3000)), None), Expect::Any));
    cases.push(case("8 KiB Content-Type on publish", post(&format!("Content-Type: text/{}\r\nContent-Length: 1\r\n", "z".repeat(8192)), "x"), Expect::Any));
    cases.push(case("Content-Type with obs-text on publish", b"POST /h/ct HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 1\r\nContent-Type: text/\xff\xfe\r\n\r\nx".to_vec(), Expect::Any));
    cases.push(case("thirty Accept headers", req("GET", target, &"Accept: application/json\r\n".repeat(30), None), Expect::Any));
    cases.push(case("X-Forwarded-For spoofing", req("GET", target, "X-Forwarded-For: 203.0.113.9, 10.0.0.1\r\nForwarded: for=203.0.113.9\r\n", None), OK_2XX));
    s.run(cases).await;

    // A publish with an odd Content-Type must still be deliverable (no 5xx on the way out).
    let ct = raw("POST /h/ctback HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: text/plain; x=\"\x7f\"\r\nContent-Length: 1\r\n\r\nx");
    let result = async {
        let r = one_shot(s.server.addr, &ct, READ_TIMEOUT).await.map_err(|e| e.to_string())?;
        if r.status >= 500 {
            return Err(format!("publish: {}", r.summary()));
        }
        let back = get(s.server.addr, "/h/ctback?after=0&timeout=0", READ_TIMEOUT).await.map_err(|e| e.to_string())?;
        check(Expect::Any, Ok(back))
    }
    .await;
    s.record("a message with an odd Content-Type is served back", result);
}

// ---------------------------------------------------------------------------------------------
// Cursors: `?after=` and `Last-Event-ID`.

async fn cursors(s: &mut Suite) {
    let Ok(first) = s.server.publish("/cur/a", b"one").await else {
        s.record("publish before the cursor cases", Err("publish failed".into()));
        return;
    };
    let ahead = (first + 1000).to_string();
    let long_digits = "9".repeat(10 * 1024);
    // (cursor, expected). Malformed cursors are 400 INVALID_CURSOR (PROTOCOL.md, cursors).
    let values: Vec<(Vec<u8>, Expect)> = vec![
        (b"-1".to_vec(), INVALID_CURSOR),
        (b"-0".to_vec(), INVALID_CURSOR),
        (b"+1".to_vec(), INVALID_CURSOR),
        (b"99999999999999999999999".to_vec(), INVALID_CURSOR),
        (b"18446744073709551616".to_vec(), INVALID_CURSOR),
        (b"18446744073709551615".to_vec(), INVALID_CURSOR),
        (b"-9223372036854775808".to_vec(), INVALID_CURSOR),
        (ahead.into_bytes(), INVALID_CURSOR),
        (b"abc".to_vec(), INVALID_CURSOR),
        (b"1.5".to_vec(), INVALID_CURSOR),
        (b"1e3".to_vec(), INVALID_CURSOR),
        (b"0x10".to_vec(), INVALID_CURSOR),
        (b"12 34".to_vec(), INVALID_CURSOR),
        (b"null".to_vec(), INVALID_CURSOR),
        (b"[1]".to_vec(), INVALID_CURSOR),
        (b"\"1\"".to_vec(), INVALID_CURSOR),
        ("\u{ff11}\u{ff12}\u{ff13}".as_bytes().to_vec(), INVALID_CURSOR),
        ("\u{663}".as_bytes().to_vec(), INVALID_CURSOR),
        ("\u{1f600}".as_bytes().to_vec(), INVALID_CURSOR),
        (b"\xff\xfe".to_vec(), INVALID_CURSOR),
        (long_digits.into_bytes(), INVALID_CURSOR),
        (b"0".to_vec(), OK_2XX),
        (b"1".to_vec(), OK_2XX),
        (b"00000000000000000000001".to_vec(), Expect::Any),
        (b" 12".to_vec(), Expect::Any),
        (b"".to_vec(), Expect::Any),
        (b" ".to_vec(), Expect::Any),
    ];
    let mut cases = Vec::new();
    for (value, expect) in &values {
        let shown = label(value);
        cases.push(case(format!("?after={shown}"), req("GET", &format!("/cur/a?after={}&timeout=0", pct(value)), "", None), *expect));
        let mut lei = b"GET /cur/a?timeout=0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nLast-Event-ID: ".to_vec();
        lei.extend_from_slice(value);
        lei.extend_from_slice(b"\r\n\r\n");
        cases.push(case(format!("Last-Event-ID: {shown}"), lei, *expect));
    }
    // Bytes a header cannot carry: only in the query.
    for value in [&b"\0"[..], b"12\x0034", b"1\n2", b"1\r2"] {
        cases.push(case(format!("?after={}", label(value)), req("GET", &format!("/cur/a?after={}&timeout=0", pct(value)), "", None), INVALID_CURSOR));
    }
    // The other transports and endpoints parse the same cursor.
    for (name, headers, target) in [
        ("JSON batch", "Accept: application/json\r\n", "/cur/a?after=-1&timeout=0"),
        ("JSON batch, overflow", "Accept: application/json\r\n", "/cur/a?after=99999999999999999999999&timeout=0"),
        ("SSE", "Accept: text/event-stream\r\n", "/cur/a?after=abc"),
        ("SSE, Last-Event-ID junk", "Accept: text/event-stream\r\nLast-Event-ID: x1\r\n", "/cur/a"),
        ("multiplexed", "", "/_push/subscribe?channel=/cur/a&after=-5&timeout=0"),
        ("multiplexed SSE", "Accept: text/event-stream\r\n", "/_push/subscribe?channels=/cur/a,/cur/b&after=1e9"),
    ] {
        cases.push(case(format!("{name}: bad cursor"), req("GET", target, headers, None), INVALID_CURSOR));
    }
    cases.push(case("WebSocket with a bad cursor", ws_upgrade("/cur/a?after=zz", "Connection: close\r\n").into_bytes(), INVALID_CURSOR));
    s.run(cases).await;

    // Last-Event-ID (what a reconnecting EventSource sends) wins over ?after=.
    let precedence = async {
        let second = s.server.publish("/cur/a", b"two").await?;
        for (after, lei, want) in [(first - 1, first, second), (first, first - 1, first)] {
            let request = req("GET", &format!("/cur/a?after={after}&timeout=0"), &format!("Last-Event-ID: {lei}\r\n"), None);
            let r = one_shot(s.server.addr, &request, READ_TIMEOUT).await.map_err(|e| e.to_string())?;
            if r.status != 200 || r.header("push-id") != Some(&want.to_string()) {
                return Err(format!("after={after} with Last-Event-ID: {lei} answered {} Push-Id {:?}, want message {want}", r.summary(), r.header("push-id")));
            }
        }
        Ok(())
    }
    .await;
    s.record("Last-Event-ID wins over ?after=", precedence);
}

// ---------------------------------------------------------------------------------------------
// Query numbers: `timeout=` and `limit=`.

async fn query_numbers(s: &mut Suite) {
    let mut cases = Vec::new();
    // A timeout over the documented range (0 to 3600 s) is a 400, never a panic.
    let huge = BAD_REQUEST;
    let timeouts: Vec<(&str, Expect)> = vec![
        ("1e20", huge),
        ("1e300", huge),
        ("1.8e19", huge),
        ("18446744073709551616", huge),
        ("1e309", BAD_REQUEST),
        ("-1", BAD_REQUEST),
        ("-0.5", BAD_REQUEST),
        ("-1e-300", BAD_REQUEST),
        ("NaN", BAD_REQUEST),
        ("nan", BAD_REQUEST),
        ("inf", BAD_REQUEST),
        ("-inf", BAD_REQUEST),
        ("Infinity", BAD_REQUEST),
        ("infinity", BAD_REQUEST),
        ("abc", BAD_REQUEST),
        ("0x10", BAD_REQUEST),
        ("1_000", BAD_REQUEST),
        ("1,5", BAD_REQUEST),
        ("\u{bd}", BAD_REQUEST),
        ("\u{ff13}", BAD_REQUEST),
        ("", Expect::Any),
        (" 0", Expect::Any),
        ("-0", Expect::Any),
        ("1e-400", OK_2XX),
        ("5e-324", OK_2XX),
        ("0.0000001", OK_2XX),
    ];
    for (value, expect) in &timeouts {
        let q = pct(value.as_bytes());
        cases.push(case(format!("long-poll timeout={value:?}"), req("GET", &format!("/q/t?timeout={q}"), "", None), *expect));
        cases.push(case(format!("JSON timeout={value:?}"), req("GET", &format!("/q/t?timeout={q}"), "Accept: application/json\r\n", None), *expect));
    }
    let limits: Vec<(&str, Expect)> = vec![
        ("0", BAD_REQUEST),
        ("-3", BAD_REQUEST),
        ("-0", BAD_REQUEST),
        ("00", BAD_REQUEST),
        ("1e9", BAD_REQUEST),
        ("1.5", BAD_REQUEST),
        ("abc", BAD_REQUEST),
        ("0x10", BAD_REQUEST),
        ("NaN", BAD_REQUEST),
        ("", BAD_REQUEST),
        ("99999999999999999999999", Expect::Status(&[200, 400])),
        ("1000000000", Expect::Status(&[200])),
        ("+5", Expect::Status(&[200, 400])),
        ("1", Expect::Status(&[200])),
    ];
    for (value, expect) in &limits {
        let q = pct(value.as_bytes());
        cases.push(case(format!("JSON limit={value:?}"), req("GET", &format!("/q/l?limit={q}&timeout=0"), "Accept: application/json\r\n", None), *expect));
        cases.push(case(format!("multiplexed limit={value:?}"), req("GET", &format!("/_push/subscribe?channel=/q/l&limit={q}&timeout=0"), "", None), *expect));
    }
    // Other parameters of the protocol.
    let many_channels: String = (0..1000).map(|i| format!("channel=/q/c{i}&")).collect();
    for (name, target, expect) in [
        ("timeout given twice, junk second", "/q/t?timeout=0&timeout=junk".to_string(), Expect::Any),
        ("after given twice", "/q/t?after=abc&after=1&timeout=0".to_string(), Expect::Any),
        ("consumer of 10 KiB", format!("/q/t?consumer={}&timeout=0", "c".repeat(10 * 1024)), OK_2XX),
        ("consumer with control characters", "/q/t?consumer=%00%0a%0d%1b%5b31m&timeout=0".to_string(), OK_2XX),
        ("channels=,,,", "/_push/subscribe?channels=,,,&timeout=0".to_string(), Expect::Status(&[400])),
        ("channel=/_push/x", "/_push/subscribe?channel=/_push/x&timeout=0".to_string(), Expect::Status(&[400])),
        ("channel=%ff", "/_push/subscribe?channel=%ff&timeout=0".to_string(), Expect::Status(&[400])),
        ("channel=relative", "/_push/subscribe?channel=nope&timeout=0".to_string(), Expect::Status(&[400])),
        ("1000 channels", format!("/_push/subscribe?{many_channels}timeout=0"), Expect::Status(&[400])),
        ("no channel", "/_push/subscribe?timeout=0".to_string(), Expect::Status(&[400])),
        ("token junk without token auth", "/q/t?token=%ff%00&timeout=0".to_string(), Expect::Any),
    ] {
        cases.push(case(name, req("GET", &target, "", None), expect));
    }
    let start = Instant::now();
    s.run(cases).await;
    // The capped timeouts wait at most --long-poll-timeout each, eight at a time.
    let bound = LONG_POLL * 2 + SLACK * 2;
    let took = start.elapsed();
    s.record("capped timeouts answer within --long-poll-timeout", if took <= bound { Ok(()) } else { Err(format!("the group took {took:?}")) });
}

// ---------------------------------------------------------------------------------------------
// Bodies.

async fn bodies(s: &mut Suite) {
    let over = vec![b'o'; MAX_PAYLOAD + 1];
    let mut cases = Vec::new();
    let chunked = |chunks: &str| raw(&format!("POST /b/c HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}"));
    cases.push(case("oversized with Content-Length", req("POST", "/b/o", "", Some(&over)), Expect::Error(413, "PAYLOAD_TOO_LARGE")));
    cases.push(case("Content-Length of 10 MiB, body never sent", raw("POST /b/o HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\n"), Expect::Error(413, "PAYLOAD_TOO_LARGE")));
    cases.push(case("Content-Length of 2^62", raw("POST /b/o HTTP/1.1\r\nHost: t\r\nContent-Length: 4611686018427387904\r\n\r\n"), Expect::Status(&[400, 413])));
    let mut big_chunks = String::new();
    for _ in 0..(MAX_PAYLOAD / 4096 + 2) {
        big_chunks.push_str(&format!("1000\r\n{}\r\n", "c".repeat(4096)));
    }
    big_chunks.push_str("0\r\n\r\n");
    cases.push(case("oversized chunked (no Content-Length)", chunked(&big_chunks), Expect::Error(413, "PAYLOAD_TOO_LARGE")));
    let mut unframed = b"POST /b/u HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
    unframed.extend_from_slice(&over);
    cases.push(case("oversized without any length (body is no body)", unframed, Expect::Any));
    cases.push(case("chunk size larger than the data, then FIN", chunked("100\r\nonly ten b"), Expect::Status(&[400])).half_close());
    cases.push(case("chunk size smaller than the data", chunked("2\r\nmuch longer than two\r\n0\r\n\r\n"), Expect::Status(&[400])));
    cases.push(case("chunk size not hex", chunked("zz\r\nxx\r\n0\r\n\r\n"), Expect::Status(&[400])));
    cases.push(case("negative chunk size", chunked("-1\r\nx\r\n0\r\n\r\n"), Expect::Status(&[400])));
    cases.push(case("chunk size overflowing 64 bits", chunked("ffffffffffffffffffff\r\nx\r\n0\r\n\r\n"), Expect::Status(&[400, 413])));
    cases.push(case("chunk size of 2 GiB, then FIN", chunked("80000000\r\nabc"), Expect::Status(&[400, 413])).half_close());
    cases.push(case("no CRLF after chunk data", chunked("3\r\nabcXY0\r\n\r\n"), Expect::Status(&[400])));
    cases.push(case("no last chunk, then FIN", chunked("3\r\nabc\r\n"), Expect::Status(&[400])).half_close());
    cases.push(case("chunk extension", chunked("3;name=value\r\nabc\r\n0\r\n\r\n"), Expect::Status(&[200])));
    cases.push(case("100 KiB chunk extension", chunked(&format!("3;{}\r\nabc\r\n0\r\n\r\n", "e".repeat(100 * 1024))), Expect::Status(&[400, 413, 431])));
    cases.push(case("trailers", chunked("3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"), Expect::Status(&[200])));
    cases.push(case("5000 one-byte chunks", chunked(&format!("{}0\r\n\r\n", "1\r\nz\r\n".repeat(5000))), Expect::Status(&[200])));
    cases.push(case("Content-Length larger than the body, then FIN", raw("POST /b/s HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\nshort"), Expect::Status(&[400])).half_close());
    cases.push(case("empty body", req("POST", "/b/e", "", Some(b"")), Expect::Status(&[200])));
    cases.push(case("binary body with NULs", req("POST", "/b/bin", "Content-Type: application/octet-stream\r\n", Some(&[0, 0, 255, 254, 0, 10, 13])), Expect::Status(&[200])));
    cases.push(case("PUT publishes", req("PUT", "/b/put", "", Some(b"put")), Expect::Status(&[200])));
    cases.push(case("form-encoded body", req("POST", "/b/form", "Content-Type: application/x-www-form-urlencoded\r\n", Some(b"a=1&b=%ff")), Expect::Status(&[200])));
    cases.push(case("body on GET", req("GET", "/b/g?timeout=0", "", Some(b"hello")), OK_2XX));
    cases.push(case("chunked body on GET", raw("GET /b/g?timeout=0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), OK_2XX));
    cases.push(case("GET announcing 10 MiB it never sends", raw("GET /b/g?timeout=0 HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\n"), OK_2XX));
    cases.push(case("oversized body on GET", req("GET", "/b/g?timeout=0", "", Some(&over)), Expect::Any));
    cases.push(case("body on /_push/health", req("POST", "/_push/health", "", Some(b"x")), Expect::Any));
    cases.push(case("body on the multiplexed endpoint", req("POST", "/_push/subscribe?channel=/b/g", "", Some(b"x")), Expect::Any));
    s.run(cases).await;

    // A GET with a body leaves the connection usable: the body is skipped, the next request
    // on the same connection is answered.
    let keep_alive = async {
        let mut conn = Conn::connect(s.server.addr).await.map_err(|e| e.to_string())?;
        conn.send(b"GET /b/g?timeout=0 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET /_push/health HTTP/1.1\r\nHost: t\r\n\r\n").await.map_err(|e| e.to_string())?;
        check(OK_2XX, conn.response(READ_TIMEOUT, false).await)?;
        check(Expect::Status(&[200]), conn.response(READ_TIMEOUT, false).await)
    }
    .await;
    s.record("a GET body is skipped and the connection stays usable", keep_alive);

    // Nothing refused was stored: only the accepted publishes of /b/c are in its history.
    let stored = async {
        let r = get(s.server.addr, "/b/o?after=0&timeout=0", READ_TIMEOUT).await.map_err(|e| e.to_string())?;
        if r.status == 200 {
            return Err(format!("an oversized payload was stored: {} bytes", r.body.len()));
        }
        check(OK_2XX, Ok(r))
    }
    .await;
    s.record("refused payloads are not stored", stored);
}

// ---------------------------------------------------------------------------------------------
// Pipelining: valid requests, then garbage, on one connection.

/// Sends `bytes` at once and reads `valid` answers, which must each be one of `statuses`;
/// what follows (the garbage) may be answered (not 5xx) or closed.
async fn pipeline(addr: SocketAddr, bytes: Vec<u8>, valid: usize, statuses: &'static [u16]) -> Result<(), String> {
    let mut conn = Conn::connect(addr).await.map_err(|e| e.to_string())?;
    let writer = conn.spawn_send(bytes, false);
    for i in 0..valid {
        let r = conn.response(READ_TIMEOUT, false).await.map_err(|e| format!("answer {} of {valid}: {e}", i + 1))?;
        if !statuses.contains(&r.status) {
            return Err(format!("answer {} of {valid}: {}", i + 1, r.summary()));
        }
    }
    let rest = conn.response(READ_TIMEOUT, false).await;
    writer.abort();
    match rest {
        Ok(r) if r.status >= 500 => Err(format!("the garbage got a 5xx: {}", r.summary())),
        Ok(_) | Err(NoAnswer::Closed { .. }) | Err(NoAnswer::Reset { .. }) => Ok(()),
        Err(e) => Err(format!("after the valid requests: {e}")),
    }
}

async fn pipelining(s: &mut Suite) {
    let addr = s.server.addr;
    let health = "GET /_push/health HTTP/1.1\r\nHost: t\r\n\r\n";
    let poll = "GET /pl/x?timeout=0 HTTP/1.1\r\nHost: t\r\n\r\n";
    let tls_hello: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x00, 0x01, 0x02, 0x03];
    let binary: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let cat = |parts: &[&[u8]]| parts.concat();

    let list: Vec<(&str, Vec<u8>, usize, &'static [u16])> = vec![
        ("3 health checks, then text garbage", cat(&[health.repeat(3).as_bytes(), b"GARBAGE GARBAGE\r\n\r\n"]), 3, &[200]),
        ("3 health checks, then binary garbage", cat(&[health.repeat(3).as_bytes(), &binary]), 3, &[200]),
        ("a health check, then a TLS ClientHello", cat(&[health.as_bytes(), tls_hello]), 1, &[200]),
        ("a health check, then NULs", cat(&[health.as_bytes(), &[0u8; 512]]), 1, &[200]),
        ("50 long-polls with timeout=0, then garbage", cat(&[poll.repeat(50).as_bytes(), b"\x01\x02\x03\r\n\r\n"]), 50, &[204]),
        ("publish + subscribe, then garbage", cat(&[b"POST /pl/y HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhiGET /pl/y?after=0&timeout=0 HTTP/1.1\r\nHost: t\r\n\r\n", b"}{\r\n\r\n"]), 2, &[200]),
        ("a request with a bad header in the middle of valid ones", cat(&[health.as_bytes(), b"GET /_push/health HTTP/1.1\r\nBad Header\r\n\r\n", health.as_bytes()]), 1, &[200]),
        ("Connection: close in the middle", cat(&[health.as_bytes(), b"GET /_push/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", health.as_bytes()]), 2, &[200]),
        ("a publish whose body hides a request", cat(&[b"POST /pl/z HTTP/1.1\r\nHost: t\r\nContent-Length: 44\r\n\r\nGET /_push/health HTTP/1.1\r\nHost: t\r\n\r\n\r\n", b"garbage\r\n\r\n"]), 1, &[200]),
        // Plain GETs are served by the lean HTTP/1.1 path; the first request it does not take
        // hands the connection to hyper with the bytes behind it.
        ("long-polls, a publish, long-polls (lean, then hyper)", cat(&[poll.repeat(3).as_bytes(), b"POST /pl/w HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi", poll.repeat(3).as_bytes()]), 7, &[200, 204]),
        ("a long-poll, then a GET with Content-Length and chunked", cat(&[poll.as_bytes(), b"GET /pl/x?timeout=0 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", health.as_bytes()]), 1, &[204]),
        ("a long-poll, then a GET with bare LFs", cat(&[poll.as_bytes(), b"GET /pl/x?timeout=0 HTTP/1.1\nHost: t\n\n", health.as_bytes()]), 1, &[204]),
        ("a long-poll, then a GET with an obs-fold", cat(&[poll.as_bytes(), b"GET /pl/x?timeout=0 HTTP/1.1\r\nX: a\r\n b\r\n\r\n", health.as_bytes()]), 1, &[204]),
        ("a long-poll, then an HTTP/1.0 GET", cat(&[poll.as_bytes(), b"GET /pl/x?timeout=0 HTTP/1.0\r\n\r\n"]), 2, &[204]),
        ("a 64 KiB header after valid requests", cat(&[health.repeat(2).as_bytes(), format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "x".repeat(65536)).as_bytes()]), 2, &[200]),
    ];
    for (name, bytes, valid, statuses) in list {
        let result = pipeline(addr, bytes, valid, statuses).await;
        s.record(name, result);
    }
    // A fragment never belongs in a request: a raw '#' is refused, not dropped.
    let cases = vec![
        case("a raw '#' in a GET's target", raw("GET /pl/a#b?timeout=0 HTTP/1.1\r\nHost: t\r\n\r\n"), BAD_REQUEST),
        case("a raw '#' in a publish's target", raw("POST /pl/a#b HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"), BAD_REQUEST),
    ];
    s.run(cases).await;
    // Bytes that are no HTTP/1 at all.
    let cases = vec![
        case("only a TLS ClientHello", tls_hello.to_vec(), Expect::AnswerOrClose),
        case("4 KiB of binary", binary.clone(), Expect::AnswerOrClose),
    ];
    s.run(cases).await;

    // HTTP/2 with prior knowledge: an HTTP/1 answer, a close, or HTTP/2's own SETTINGS; then,
    // as the client stays silent, the server closes the connection like any idle one.
    let h2 = async {
        let mut conn = Conn::connect(addr).await.map_err(|e| e.to_string())?;
        conn.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.map_err(|e| e.to_string())?;
        let started = Instant::now();
        let first = conn.closed_within(HEADER_TIMEOUT + SLACK).await.map_err(|_| {
            format!("the connection is still open {:?} after a silent HTTP/2 preface", started.elapsed())
        })?;
        let settings = first.len() >= 9 && first[3] == 0x04;
        let http1_ok = first.starts_with(b"HTTP/1.") && !first.starts_with(b"HTTP/1.1 5") && !first.starts_with(b"HTTP/1.0 5");
        if first.is_empty() || settings || http1_ok { Ok(()) } else { Err(format!("answered {:?}", label(&first))) }
    }
    .await;
    s.record("an HTTP/2 prior-knowledge preface, then silence", h2);
}

// ---------------------------------------------------------------------------------------------
// Slowloris and idle connections: closed by the server within --header-timeout.

/// How one slow connection ended.
enum Slow {
    ClosedAfter(Duration),
    StillOpen,
    Failed(String),
}

/// Opens a connection, sends `first`, then one byte of `trickle` every `every` (cycling),
/// until the server closes the connection or `give_up` passes.
async fn slow_client(addr: SocketAddr, first: Vec<u8>, trickle: &'static [u8], every: Duration, give_up: Duration) -> Slow {
    let started = Instant::now();
    let mut conn = match Conn::connect(addr).await {
        Ok(c) => c,
        Err(e) => return Slow::Failed(format!("connect: {e}")),
    };
    if !first.is_empty() && conn.send(&first).await.is_err() {
        return Slow::ClosedAfter(started.elapsed());
    }
    let mut i = 0;
    while started.elapsed() < give_up {
        match conn.closed_within(every).await {
            Ok(_) => return Slow::ClosedAfter(started.elapsed()),
            Err(NoAnswer::Hang { .. }) => {}
            Err(e) => return Slow::Failed(e.to_string()),
        }
        if !trickle.is_empty() {
            if conn.send(&trickle[i % trickle.len()..][..1]).await.is_err() {
                return Slow::ClosedAfter(started.elapsed());
            }
            i += 1;
        }
    }
    Slow::StillOpen
}

/// Runs `n` slow clients at once; all must be closed within `within`.
async fn slow_crowd(addr: SocketAddr, n: usize, first: &[u8], trickle: &'static [u8], within: Duration) -> Result<(), String> {
    let give_up = within + SLACK;
    let clients = (0..n).map(|_| slow_client(addr, first.to_vec(), trickle, Duration::from_millis(100), give_up));
    // Meanwhile an honest client is still served.
    let honest = async {
        tokio::time::sleep(HEADER_TIMEOUT / 2).await;
        let t = Instant::now();
        let r = get(addr, "/_push/health", READ_TIMEOUT).await;
        (r.map(|r| r.status), t.elapsed())
    };
    let (outcomes, honest) = tokio::join!(futures_util::future::join_all(clients), honest);
    let mut open = 0;
    let mut late = Vec::new();
    let mut failed = Vec::new();
    for o in outcomes {
        match o {
            Slow::ClosedAfter(d) if d <= within => {}
            Slow::ClosedAfter(d) => late.push(d),
            Slow::StillOpen => open += 1,
            Slow::Failed(e) => failed.push(e),
        }
    }
    let mut problems = Vec::new();
    if open > 0 {
        problems.push(format!("{open} of {n} still open after {give_up:?}"));
    }
    if !late.is_empty() {
        problems.push(format!("{} closed later than {within:?} (max {:?})", late.len(), late.iter().max().unwrap()));
    }
    if !failed.is_empty() {
        problems.push(format!("{} failed: {}", failed.len(), failed[0]));
    }
    match honest {
        (Ok(200), t) if t < SLACK => {}
        other => problems.push(format!("an honest health check meanwhile: {other:?}")),
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

async fn slowloris(s: &mut Suite) {
    let addr = s.server.addr;
    let within = HEADER_TIMEOUT + SLACK;
    let r = slow_crowd(addr, 300, b"GET /sl/x HTTP/1.1\r\nHost: t\r\n", b"X-Slow: aaaaaaaaaaaaaaaaaaaa\r\n", within).await;
    s.record("300 connections trickling header bytes", r);
    let r = slow_crowd(addr, 100, b"", b"", within).await;
    s.record("100 connections that never send a byte", r);
    let r = slow_crowd(addr, 100, b"GET /sl/x HTTP/1.1\r\nHost: t\r\nX-Half: ab", b"", within).await;
    s.record("100 connections stopping in the middle of a header", r);
    let r = slow_crowd(addr, 100, b"G", b"ET /sl/x HTTP/1.1\r\n", within).await;
    s.record("100 connections trickling the request line", r);

    // Idle keep-alive: counted from the end of the previous answer.
    let idle = async {
        let mut conns = Vec::new();
        for _ in 0..50 {
            let mut c = Conn::connect(addr).await.map_err(|e| e.to_string())?;
            c.send(b"GET /_push/health HTTP/1.1\r\nHost: t\r\n\r\n").await.map_err(|e| e.to_string())?;
            check(Expect::Status(&[200]), c.response(READ_TIMEOUT, false).await)?;
            conns.push(c);
        }
        let answered = Instant::now();
        let waits = conns.iter_mut().map(|c| c.closed_within(within));
        let results = futures_util::future::join_all(waits).await;
        let open = results.iter().filter(|r| r.is_err()).count();
        if open > 0 {
            return Err(format!("{open} of 50 idle keep-alive connections still open {:?} after their answer", answered.elapsed()));
        }
        Ok(())
    }
    .await;
    s.record("50 idle keep-alive connections after an answer", idle);
}

// ---------------------------------------------------------------------------------------------
// Connect/close churn.

/// Runs `n` copies of `f` with at most `width` at once; returns the errors.
async fn crowd<F, Fut>(n: usize, width: usize, f: F) -> Vec<String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    stream::iter(0..n).map(f).buffer_unordered(width).filter_map(|r| async move { r.err() }).collect().await
}

fn first_errors(errors: Vec<String>, n: usize) -> Result<(), String> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{} of {n} failed, e.g. {}", errors.len(), errors[0]))
    }
}

async fn churn(s: &mut Suite) {
    let addr = s.server.addr;
    let connect = |_| async move { Conn::connect(addr).await.map(drop).map_err(|e| format!("connect: {e}")) };
    s.record("3000 connects closed without sending", first_errors(crowd(3000, 100, connect).await, 3000));

    let partial = |_| async move {
        let mut c = Conn::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let _ = c.send(b"GET /ch/x?timeout=0 HTTP/1.1\r\nHost:").await;
        Ok(())
    };
    s.record("1000 partial requests, then close", first_errors(crowd(1000, 100, partial).await, 1000));

    let reset = |_| async move {
        let mut c = Conn::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let _ = c.send(b"POST /ch/y HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc").await;
        c.reset_on_close();
        Ok(())
    };
    s.record("1000 partial publishes, then reset", first_errors(crowd(1000, 100, reset).await, 1000));

    let unread = |_| async move {
        let mut c = Conn::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let _ = c.send(b"GET /_push/metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
        Ok(())
    };
    s.record("1000 requests closed before reading the answer", first_errors(crowd(1000, 100, unread).await, 1000));

    // Abandoned subscribers must be released: the connection gauges return to zero.
    let abandoned = |path: &'static str, headers: &'static str, transport: &'static str, n: usize| async move {
        let open = |_| async move {
            let mut c = Conn::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
            c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n").as_bytes()).await.map_err(|e| e.to_string())?;
            if transport != "long-poll" {
                c.head(READ_TIMEOUT).await.map_err(|e| e.to_string())?;
            }
            Ok(())
        };
        first_errors(crowd(n, 50, open).await, n)?;
        let name = format!("push_connections{{transport=\"{transport}\"}}");
        wait_gauge_zero(addr, &name).await
    };
    s.record("300 long-polls abandoned while waiting", abandoned("/ch/lp", "", "long-poll", 300).await);
    s.record("300 SSE streams abandoned", abandoned("/ch/sse", "Accept: text/event-stream\r\n", "sse", 300).await);
    s.record(
        "300 WebSockets dropped without a close",
        abandoned("/ch/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", "websocket", 300).await,
    );
}

/// Waits until a connection gauge is back at zero.
async fn wait_gauge_zero(addr: SocketAddr, name: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(addr, "/_push/metrics", READ_TIMEOUT).await.map_err(|e| e.to_string())?;
        let value = hostile_support::metric(&r.text(), name);
        if value == Some(0.0) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{name} is {value:?}, not 0, 10 s after the clients left"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket abuse (raw frames: a library would refuse to send most of these).

const FIN_TEXT: u8 = 0x81;
const FIN_BINARY: u8 = 0x82;
const FIN_CLOSE: u8 = 0x88;
const FIN_PING: u8 = 0x89;
const FIN_PONG: u8 = 0x8a;

/// Reads frames until a close frame (its code) or the connection ends; answers pings only
/// when `pong` is set. Err when the server neither closes nor ends it within `within`.
async fn until_closed(conn: &mut Conn, within: Duration, pong: bool) -> Result<Option<u16>, String> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match conn.ws_frame(left).await {
            Ok(f) if f.opcode == WsFrame::CLOSE => return Ok(f.close_code()),
            Ok(f) if f.opcode == WsFrame::PING && pong => {
                let _ = conn.send(&ws_client_frame(FIN_PONG, &f.payload, true, None)).await;
            }
            Ok(_) => {}
            Err(NoAnswer::Closed { .. }) | Err(NoAnswer::Reset { .. }) => return Ok(None),
            Err(NoAnswer::Hang { .. }) => return Err(format!("still open after {within:?}")),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Opens a socket on `channel`, sends `frames` (from a task: the server may stop reading) and
/// requires a close frame with one of `codes` within `within`.
async fn ws_expect_close(addr: SocketAddr, channel: &str, frames: Vec<u8>, codes: &[u16], within: Duration) -> Result<(), String> {
    let mut conn = ws_open(addr, channel, "").await?;
    let writer = conn.spawn_send(frames, false);
    let result = until_closed(&mut conn, within, true).await;
    writer.abort();
    match result? {
        Some(code) if codes.contains(&code) => Ok(()),
        Some(code) => Err(format!("closed with {code}, expected one of {codes:?}")),
        None => Err(format!("the connection ended without a close frame (expected one of {codes:?})")),
    }
}

/// Opens a socket, sends `frames`, and requires that the server either closes it (a close
/// frame, or ending the connection) or keeps serving it: a publish then still arrives.
async fn ws_survives_or_closes(addr: SocketAddr, server: &Server, channel: &str, frames: Vec<u8>) -> Result<(), String> {
    let mut conn = ws_open(addr, channel, "").await?;
    let writer = conn.spawn_send(frames, false);
    let id = server.publish(channel, b"after the abuse").await?;
    let deadline = Instant::now() + READ_TIMEOUT;
    let result = loop {
        match conn.ws_frame(deadline.saturating_duration_since(Instant::now())).await {
            Ok(f) if f.opcode == WsFrame::CLOSE => break Ok(()),
            Ok(f) => {
                if f.json().is_some_and(|v| v["id"] == id.to_string()) {
                    break Ok(());
                }
            }
            Err(NoAnswer::Closed { .. }) | Err(NoAnswer::Reset { .. }) => break Ok(()),
            Err(e) => break Err(format!("neither closed nor delivered: {e}")),
        }
    };
    writer.abort();
    result
}

async fn websocket(s: &mut Suite) {
    let addr = s.server.addr;
    let within = READ_TIMEOUT;
    let big = vec![b'w'; WS_MAX * 256];
    let text = |payload: &[u8]| ws_client_frame(FIN_TEXT, payload, true, None);

    // Over --ws-max-message-bytes: close 1009.
    let too_big: Vec<(&str, Vec<u8>)> = vec![
        ("a 1 MiB text frame", text(&big)),
        ("a 1 MiB binary frame", ws_client_frame(FIN_BINARY, &big, true, None)),
        ("a text frame one byte over the limit", text(&vec![b'x'; WS_MAX + 1])),
        ("a frame header announcing 64 MiB", ws_client_frame(FIN_BINARY, &[0; 1024], true, Some(64 << 20))),
        ("a frame header announcing 2^62 bytes", ws_client_frame(FIN_BINARY, &[0; 16], true, Some(1 << 62))),
        ("a fragmented message growing past the limit", {
            let mut frames = ws_client_frame(0x01, &[b'f'; 1024], true, None);
            for _ in 0..(WS_MAX / 1024 + 2) {
                frames.extend(ws_client_frame(0x00, &[b'f'; 1024], true, None));
            }
            frames.extend(ws_client_frame(0x80, b"end", true, None));
            frames
        }),
    ];
    for (i, (name, frames)) in too_big.into_iter().enumerate() {
        let r = ws_expect_close(addr, &format!("/ws/big{i}"), frames, &[1009], within).await;
        s.record(name, r);
    }

    // Protocol violations: a close frame (1002, 1007, 1009 ...) or the connection ended.
    let violations: Vec<(&str, Vec<u8>)> = vec![
        ("an unmasked client frame", ws_client_frame(FIN_TEXT, b"naked", false, None)),
        ("reserved bits set", ws_client_frame(0xf1, b"rsv", true, None)),
        ("an unknown opcode", ws_client_frame(0x83, b"op3", true, None)),
        ("a 200-byte ping (control frames max 125)", ws_client_frame(FIN_PING, &[b'p'; 200], true, None)),
        ("a fragmented ping", ws_client_frame(0x09, b"frag", true, None)),
        ("a continuation frame with nothing to continue", ws_client_frame(0x80, b"cont", true, None)),
        ("invalid UTF-8 in a text frame", text(&[0xc3, 0x28, 0xff])),
        ("a close frame with code 999", ws_client_frame(FIN_CLOSE, &999u16.to_be_bytes(), true, None)),
        ("a close frame with a 1-byte payload", ws_client_frame(FIN_CLOSE, &[3], true, None)),
        ("an HTTP request instead of frames", b"GET / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec()),
    ];
    for (i, (name, frames)) in violations.into_iter().enumerate() {
        let r = ws_survives_or_closes(addr, &s.server, &format!("/ws/bad{i}"), frames).await;
        s.record(name, r);
    }

    // Small data frames are ignored: the socket keeps delivering.
    let ignored: Vec<(&str, Vec<u8>)> = vec![
        ("a small text frame", text(b"hello server")),
        ("a small binary frame", ws_client_frame(FIN_BINARY, &[1, 2, 3], true, None)),
        ("200 small frames", text(b"spam").repeat(200)),
        ("an unsolicited pong", ws_client_frame(FIN_PONG, b"pong", true, None)),
    ];
    for (i, (name, frames)) in ignored.into_iter().enumerate() {
        let channel = format!("/ws/ok{i}");
        let result = async {
            let mut conn = ws_open(addr, &channel, "").await?;
            conn.send(&frames).await.map_err(|e| e.to_string())?;
            let id = s.server.publish(&channel, b"still delivered").await?;
            loop {
                let f = conn.ws_frame(READ_TIMEOUT).await.map_err(|e| format!("no message after {name}: {e}"))?;
                if f.opcode == WsFrame::CLOSE {
                    return Err(format!("closed ({:?}) after {name}", f.close_code()));
                }
                if f.json().is_some_and(|v| v["id"] == id.to_string()) {
                    return Ok(());
                }
            }
        }
        .await;
        s.record(name, result);
    }

    let ping = async {
        let mut conn = ws_open(addr, "/ws/ping", "").await?;
        conn.send(&ws_client_frame(FIN_PING, b"are you there", true, None)).await.map_err(|e| e.to_string())?;
        loop {
            let f = conn.ws_frame(READ_TIMEOUT).await.map_err(|e| format!("no pong: {e}"))?;
            if f.opcode == WsFrame::PONG {
                return if f.payload == b"are you there" { Ok(()) } else { Err(format!("pong payload {:?}", f.payload)) };
            }
        }
    }
    .await;
    s.record("a ping is answered with its payload", ping);

    // Frames after the client's close: the server answers the close and ends the socket.
    let after_close = async {
        let mut conn = ws_open(addr, "/ws/closed", "").await?;
        let mut frames = ws_client_frame(FIN_CLOSE, &1000u16.to_be_bytes(), true, None);
        for _ in 0..20 {
            frames.extend(text(b"after close"));
        }
        frames.extend(ws_client_frame(FIN_BINARY, &big, true, None));
        let writer = conn.spawn_send(frames, false);
        let r = until_closed(&mut conn, within, false).await;
        writer.abort();
        r.map(drop)
    }
    .await;
    s.record("frames after the client's close", after_close);

    // Heartbeats: a client that answers no pings is closed after two; one that does is not.
    let silent = async {
        let mut conn = ws_open(addr, "/ws/silent", "").await?;
        let started = Instant::now();
        let r = until_closed(&mut conn, HEARTBEAT * 3 + SLACK, false).await;
        r.map_err(|e| format!("a client that never answers pings: {e}"))?;
        if started.elapsed() < HEARTBEAT {
            return Err(format!("closed after {:?}, before two heartbeats", started.elapsed()));
        }
        Ok(())
    };
    let polite = async {
        let mut conn = ws_open(addr, "/ws/polite", "").await?;
        match until_closed(&mut conn, HEARTBEAT * 4, true).await {
            Err(_) => Ok(()),
            Ok(code) => Err(format!("a client that answers every ping was closed ({code:?})")),
        }
    };
    let (silent, polite) = tokio::join!(silent, polite);
    s.record("a client that answers no pings is closed", silent);
    s.record("a client that answers pings stays open", polite);

    let dropped = wait_gauge_zero(addr, "push_connections{transport=\"websocket\"}").await;
    s.record("every abused socket is released", dropped);
}

async fn websocket_handshake(s: &mut Suite) {
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let up = |path: &str, lines: &str| format!("GET {path} HTTP/1.1\r\nHost: t\r\n{lines}\r\n").into_bytes();
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    let cases = vec![
        case("no Sec-WebSocket-Key", up("/ws/h", &format!("{upgrade}Sec-WebSocket-Version: 13\r\n")), Expect::Status(&[400, 426])),
        case("empty Sec-WebSocket-Key", up("/ws/h", &format!("{upgrade}Sec-WebSocket-Key:\r\nSec-WebSocket-Version: 13\r\n")), Expect::Any),
        case("Sec-WebSocket-Key not base64", up("/ws/h", &format!("{upgrade}Sec-WebSocket-Key: !!!not base64!!!\r\nSec-WebSocket-Version: 13\r\n")), Expect::Any),
        case("8 KiB Sec-WebSocket-Key", up("/ws/h", &format!("{upgrade}Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n", "k".repeat(8192))), Expect::Any),
        case("Sec-WebSocket-Version: 12", up("/ws/h", &format!("{upgrade}{key}Sec-WebSocket-Version: 12\r\n")), Expect::Status(&[400, 426])),
        case("Sec-WebSocket-Version: junk", up("/ws/h", &format!("{upgrade}{key}Sec-WebSocket-Version: thirteen\r\n")), Expect::Status(&[400, 426])),
        case("no Sec-WebSocket-Version", up("/ws/h", &format!("{upgrade}{key}")), Expect::Status(&[400, 426])),
        case("Upgrade without Connection: Upgrade", up("/ws/h", &format!("Upgrade: websocket\r\nConnection: keep-alive\r\n{key}Sec-WebSocket-Version: 13\r\n")), Expect::Status(&[400, 426])),
        case("Upgrade: websocket on HTTP/1.0", raw(&format!("GET /ws/h HTTP/1.0\r\n{upgrade}{key}Sec-WebSocket-Version: 13\r\n\r\n")), Expect::Any),
        case("Upgrade on a POST", raw(&format!("POST /ws/h HTTP/1.1\r\nHost: t\r\n{upgrade}{key}Sec-WebSocket-Version: 13\r\nContent-Length: 1\r\n\r\nx")), Expect::Any),
        case("Upgrade on /_push/health", up("/_push/health", &format!("{upgrade}{key}Sec-WebSocket-Version: 13\r\n")), Expect::Any),
        case("Upgrade on an invalid channel", up("/ws/../x", &format!("{upgrade}{key}Sec-WebSocket-Version: 13\r\n")), INVALID_CHANNEL),
        case("Upgrade: websocket, h2c", up("/ws/h?timeout=0", &format!("Upgrade: websocket, h2c\r\nConnection: Upgrade\r\n{key}Sec-WebSocket-Version: 13\r\n")), Expect::Any),
        // One allow-list governs CORS and WebSocket origins.
        case("an Origin not on --cors-origins", up("/ws/h", &format!("{upgrade}{key}Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n")), Expect::Status(&[403])),
        case("Origin: null", up("/ws/h", &format!("{upgrade}{key}Sec-WebSocket-Version: 13\r\nOrigin: null\r\n")), Expect::Status(&[403])),
        case("an Origin that only starts like the allowed one", up("/ws/h", &format!("{upgrade}{key}Sec-WebSocket-Version: 13\r\nOrigin: {ORIGIN}.evil.example\r\n")), Expect::Status(&[403])),
        case("the allowed Origin", up("/ws/h", &format!("{upgrade}{key}Sec-WebSocket-Version: 13\r\nOrigin: {ORIGIN}\r\n")), Expect::Status(&[101])),
    ];
    s.run(cases).await;

    // A frame sent in the same packet as the upgrade request is not lost or fatal.
    let eager = async {
        let mut bytes = ws_upgrade("/ws/eager", "").into_bytes();
        bytes.extend(ws_client_frame(FIN_TEXT, b"too early", true, None));
        let mut conn = Conn::connect(s.server.addr).await.map_err(|e| e.to_string())?;
        conn.send(&bytes).await.map_err(|e| e.to_string())?;
        let head = conn.head(READ_TIMEOUT).await.map_err(|e| e.to_string())?;
        if head.status != 101 {
            return Err(format!("upgrade answered {}", head.status));
        }
        let f = conn.ws_frame(READ_TIMEOUT).await.map_err(|e| e.to_string())?;
        if f.json().is_some_and(|v| v["type"] == "subscribed") { Ok(()) } else { Err(format!("first frame {f:?}")) }
    }
    .await;
    s.record("a frame in the same packet as the upgrade", eager);
}

// ---------------------------------------------------------------------------------------------
// Connection limits (their own servers): over the limit, 503 with Retry-After, then closed.

/// Holds connections that each completed a health check, until one is refused; Ok(how many
/// were accepted) when the refusal was a 503 with Retry-After.
async fn fill_until_refused(addr: SocketAddr, max: usize) -> Result<(usize, Vec<Conn>), String> {
    let mut held = Vec::new();
    for _ in 0..max {
        let mut c = Conn::connect(addr).await.map_err(|e| e.to_string())?;
        c.send(b"GET /_push/health HTTP/1.1\r\nHost: t\r\n\r\n").await.map_err(|e| e.to_string())?;
        match c.response(READ_TIMEOUT, false).await {
            Ok(r) if r.status == 200 => held.push(c),
            Ok(r) if r.status == 503 && r.header("retry-after").is_some() => {
                // Refused connections are closed by the server.
                c.closed_within(SLACK).await.map_err(|e| format!("a refused connection stays open: {e}"))?;
                return Ok((held.len(), held));
            }
            Ok(r) => return Err(format!("connection {} answered {}", held.len() + 1, r.summary())),
            Err(e) => return Err(format!("connection {}: {e}", held.len() + 1)),
        }
    }
    Err(format!("{max} connections accepted, none refused"))
}

async fn limit_case(args: &[&str], limit: usize) -> Result<(), String> {
    let server = Server::try_spawn(args).await?;
    let (accepted, held) = fill_until_refused(server.addr, limit * 2).await?;
    // Health polls from the start may not all be released yet: allow a little slack below.
    if accepted > limit || accepted + 3 < limit {
        return Err(format!("{accepted} connections accepted before a 503, limit {limit}"));
    }
    drop(held);
    // Freed slots are usable again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match get(server.addr, "/_push/health", READ_TIMEOUT).await {
            Ok(r) if r.status == 200 => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => return Err(format!("after the held connections closed: {:?}", other.map(|r| r.summary()))),
        }
    }
    let text = server.metrics().await?;
    match hostile_support::metric(&text, "push_limit_rejections_total") {
        Some(n) if n >= 1.0 => {}
        other => return Err(format!("push_limit_rejections_total is {other:?} after a refusal")),
    }
    let mut server = server;
    server.alive()
}

async fn connection_limits(s: &mut Suite) {
    let r = limit_case(&["--max-tcp-connections-per-ip", "20", "--ip-limit-exempt", ""], 20).await;
    s.record("--max-tcp-connections-per-ip 20 on loopback (not exempt)", r);
    let r = limit_case(&["--max-tcp-connections", "20"], 20).await;
    s.record("--max-tcp-connections 20", r);
    // Loopback is exempt from the per-IP limit by default.
    let exempt = async {
        let server = Server::try_spawn(&["--max-tcp-connections-per-ip", "5"]).await?;
        match fill_until_refused(server.addr, 30).await {
            Err(e) if e.contains("none refused") => Ok(()),
            Err(e) => Err(e),
            Ok((n, _)) => Err(format!("loopback was refused after {n} connections although exempt")),
        }
    }
    .await;
    s.record("loopback is exempt from the per-IP limit by default", exempt);
}
