//! HTTPS and HTTP/2 against a real server over real sockets, with a CA and certificates made at
//! test time (rcgen): long-poll and publish over HTTPS, HTTP/2 by ALPN and by prior knowledge
//! (h2c), 20 SSE streams on one HTTP/2 connection, certificate reload (SIGHUP and file change)
//! while an old stream keeps receiving, HTTP/2 limits, and bad certificate files.

mod test_ca;

use test_ca::Ca;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use push_server::embedded::{config_from_options, OptionValue, Server};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Bound of every wait on the server's observable state.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Certificates.

/// A temporary directory with the server's certificate files, removed on drop.
struct CertDir {
    dir: PathBuf,
}

impl CertDir {
    fn new(ca: &Ca) -> CertDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("push-tls-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let certs = CertDir { dir };
        certs.install(ca);
        certs
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("server-key.pem")
    }

    /// Writes a new server certificate signed by `ca`, each file replaced atomically (rename).
    fn install(&self, ca: &Ca) {
        let (cert, key) = ca.server();
        self.write(&self.key(), &key);
        self.write(&self.cert(), &cert);
    }

    fn write(&self, path: &Path, text: &str) {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    fn options(&self) -> Vec<(String, OptionValue)> {
        vec![
            ("tls_cert".into(), OptionValue::Text(self.cert().display().to_string())),
            ("tls_key".into(), OptionValue::Text(self.key().display().to_string())),
        ]
    }
}

impl Drop for CertDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// Clients.

/// A TLS client trusting `cas` only, offering `alpn`.
fn tls_client(cas: &[&str], alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for pem in cas {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_connect(addr: SocketAddr, cas: &[&str], alpn: &[&[u8]]) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tls_client(cas, alpn).connect(ServerName::try_from("127.0.0.1").unwrap(), tcp).await
}

type H2 = hyper::client::conn::http2::SendRequest<Full<Bytes>>;
type H1 = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// An HTTP/2 connection over `io` (TLS after ALPN `h2`, or plain TCP: prior knowledge).
async fn h2_over<I: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: I) -> H2 {
    let (send, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io)).await.unwrap();
    tokio::spawn(connection);
    send
}

async fn h1_over<I: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: I) -> H1 {
    let (send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.unwrap();
    tokio::spawn(connection);
    send
}

fn request(method: &str, path: &str, accept: Option<&str>, body: &str) -> Request<Full<Bytes>> {
    let mut r = Request::builder().method(method).uri(format!("https://127.0.0.1{path}"));
    if let Some(a) = accept {
        r = r.header("accept", a);
    }
    r.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

/// HTTP/1 wants an origin-form target and a Host header.
fn request1(method: &str, path: &str, accept: Option<&str>, body: &str) -> Request<Full<Bytes>> {
    let mut r = Request::builder().method(method).uri(path).header("host", "127.0.0.1");
    if let Some(a) = accept {
        r = r.header("accept", a);
    }
    r.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

async fn text(response: Response<Incoming>) -> String {
    let bytes = tokio::time::timeout(WAIT, response.into_body().collect()).await.expect("body timed out").unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Server-Sent Events from a response body: the `data` of each event with data.
struct Sse {
    body: Incoming,
    buffer: String,
}

impl Sse {
    fn new(response: Response<Incoming>) -> Sse {
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        Sse { body: response.into_body(), buffer: String::new() }
    }

    async fn next_data(&mut self) -> Option<String> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d)).collect();
                if !data.is_empty() {
                    return Some(data.join("\n"));
                }
            }
            let frame = tokio::time::timeout(WAIT, self.body.frame()).await.expect("SSE read timed out");
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&data));
                    }
                }
                _ => return None,
            }
        }
    }
}

/// Reads the server's metrics over a new HTTPS (HTTP/1.1) connection trusting `cas`.
async fn metrics_tls(addr: SocketAddr, cas: &[&str]) -> String {
    let mut h1 = h1_over(tls_connect(addr, cas, &[b"http/1.1"]).await.unwrap()).await;
    text(h1.send_request(request1("GET", "/_push/metrics", None, "")).await.unwrap()).await
}

async fn metrics_plain(addr: SocketAddr) -> String {
    let mut h1 = h1_over(TcpStream::connect(addr).await.unwrap()).await;
    text(h1.send_request(request1("GET", "/_push/metrics", None, "")).await.unwrap()).await
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

/// Waits until metric `name` reaches `value` on the server at `addr` (TLS when `cas` is given).
async fn wait_metric(addr: SocketAddr, cas: Option<&[&str]>, name: &str, value: f64) {
    let started = Instant::now();
    loop {
        let text = match cas {
            Some(cas) => metrics_tls(addr, cas).await,
            None => metrics_plain(addr).await,
        };
        let now = metric(&text, name);
        if now == value {
            return;
        }
        assert!(started.elapsed() < WAIT, "{name} never reached {value} (now {now})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn start_tls(certs: &CertDir, extra: &[(&str, &str)]) -> Server {
    let mut options = certs.options();
    options.extend(extra.iter().map(|(k, v)| (k.to_string(), OptionValue::Text(v.to_string()))));
    Server::start(config_from_options(options).unwrap()).unwrap()
}

/// Publishes over a connection of its own and returns the answer's body.
async fn publish_h2(send: &mut H2, channel: &str, body: &str) -> String {
    let response = send.send_request(request("POST", channel, None, body)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    text(response).await
}

// ---------------------------------------------------------------------------------------------
// Tests.

// Two workers: dropping the in-process server blocks one while the other lets this test's client
// connections answer the server's GOAWAY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_long_poll_and_publish_over_http1() {
    let ca = Ca::new("push test CA");
    let certs = CertDir::new(&ca);
    let server = start_tls(&certs, &[]);
    assert!(server.url().starts_with("https://127.0.0.1:"), "{}", server.url());
    let addr = server.local_addr();
    let cas = [ca.pem.as_str()];

    let tls = tls_connect(addr, &cas, &[b"http/1.1"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut poller = h1_over(tls).await;
    let poll = tokio::spawn(async move {
        let response = poller.send_request(request1("GET", "/tls/poll", None, "")).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_11);
        (response.status(), text(response).await)
    });
    wait_metric(addr, Some(&cas), "push_connections{transport=\"long-poll\"}", 1.0).await;

    // A client that offers no ALPN at all gets HTTP/1.1 too.
    let mut publisher = h1_over(tls_connect(addr, &cas, &[]).await.unwrap()).await;
    let answer = publisher.send_request(request1("POST", "/tls/poll", None, "over https")).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(text(answer).await.contains("\"id\""));
    let (status, body) = poll.await.unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "over https"));

    // An untrusted CA is refused by the client; the server counts the failed handshake.
    let other = Ca::new("another CA");
    let refused = tls_connect(addr, &[other.pem.as_str()], &[b"h2"]).await;
    assert!(refused.is_err(), "a certificate from an unknown CA was accepted");
    wait_metric(addr, Some(&cas), "push_tls_handshake_failures_total", 1.0).await;
    // Plain HTTP on the TLS port is no TLS handshake either.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET /_push/health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(WAIT, plain.read_to_end(&mut sink)).await.expect("plain HTTP on the TLS port was not closed");
    assert!(!String::from_utf8_lossy(&sink).contains("200 OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_by_alpn_serves_every_http_transport() {
    let ca = Ca::new("push test CA");
    let certs = CertDir::new(&ca);
    let server = start_tls(&certs, &[("long_poll_timeout", "5s")]);
    let addr = server.local_addr();
    let cas = [ca.pem.as_str()];

    let tls = tls_connect(addr, &cas, &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut h2 = h2_over(tls).await;

    // SSE, long-poll and a JSON batch open at once on the one connection; then a publish on it.
    let sse = h2.send_request(request("GET", "/h2/all", Some("text/event-stream"), "")).await.unwrap();
    assert_eq!(sse.version(), Version::HTTP_2);
    let mut sse = Sse::new(sse);
    let mut poll_send = h2.clone();
    let poll = tokio::spawn(async move { text(poll_send.send_request(request("GET", "/h2/all", None, "")).await.unwrap()).await });
    wait_metric(addr, Some(&cas), "push_connections{transport=\"sse\"}", 1.0).await;
    wait_metric(addr, Some(&cas), "push_connections{transport=\"long-poll\"}", 1.0).await;
    wait_metric(addr, Some(&cas), "push_http_connections{version=\"h2\"}", 1.0).await;

    let answer = publish_h2(&mut h2, "/h2/all", "one").await;
    assert!(answer.contains("\"id\""), "{answer}");
    assert_eq!(poll.await.unwrap(), "one");
    assert_eq!(sse.next_data().await.as_deref(), Some("one"));
    publish_h2(&mut h2, "/h2/all", "two").await;
    assert_eq!(sse.next_data().await.as_deref(), Some("two"));

    let batch = h2.send_request(request("GET", "/h2/all?after=0", Some("application/json"), "")).await.unwrap();
    assert_eq!(batch.status(), StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&text(batch).await).unwrap();
    let data: Vec<&str> = json["messages"].as_array().unwrap().iter().map(|m| m["data"].as_str().unwrap()).collect();
    assert_eq!(data, ["one", "two"]);

    let health = h2.send_request(request("GET", "/_push/health", None, "")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    drop(sse);
    wait_metric(addr, Some(&cas), "push_connections{transport=\"sse\"}", 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_and_http1_share_the_plain_port() {
    let server = Server::start(config_from_options(Vec::new()).unwrap()).unwrap();
    let addr = server.local_addr();

    let mut h2 = h2_over(TcpStream::connect(addr).await.unwrap()).await;
    let sse = h2.send_request(request("GET", "/h2c/x", Some("text/event-stream"), "")).await.unwrap();
    assert_eq!(sse.version(), Version::HTTP_2);
    let mut sse = Sse::new(sse);
    wait_metric(addr, None, "push_connections{transport=\"sse\"}", 1.0).await;
    wait_metric(addr, None, "push_http_connections{version=\"h2\"}", 1.0).await;

    // HTTP/1.1 on the same port, meanwhile.
    let mut h1 = h1_over(TcpStream::connect(addr).await.unwrap()).await;
    let answer = h1.send_request(request1("POST", "/h2c/x", None, "from http/1.1")).await.unwrap();
    assert_eq!((answer.version(), answer.status()), (Version::HTTP_11, StatusCode::OK));
    assert_eq!(sse.next_data().await.as_deref(), Some("from http/1.1"));
    publish_h2(&mut h2, "/h2c/x", "from h2c").await;
    assert_eq!(sse.next_data().await.as_deref(), Some("from h2c"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sse_streams_on_one_http2_connection_all_receive_every_message() {
    let ca = Ca::new("push test CA");
    let certs = CertDir::new(&ca);
    let server = start_tls(&certs, &[]);
    let addr = server.local_addr();
    let cas = [ca.pem.as_str()];

    let h2 = h2_over(tls_connect(addr, &cas, &[b"h2"]).await.unwrap()).await;
    let mut streams = Vec::new();
    for i in 0..20 {
        // Ten streams on one channel, ten on their own: the hub fans out to each.
        let path = if i % 2 == 0 { "/twenty/shared".to_owned() } else { format!("/twenty/shared,/twenty/own{i}") };
        let path = if path.contains(',') { format!("/_push/subscribe?channels={}", path) } else { path };
        let response = h2.clone().send_request(request("GET", &path, Some("text/event-stream"), "")).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_2);
        streams.push(Sse::new(response));
    }
    wait_metric(addr, Some(&cas), "push_connections{transport=\"sse\"}", 20.0).await;
    // One TCP (and HTTP/2) connection carries all 20; the metrics reads are HTTP/1.1.
    wait_metric(addr, Some(&cas), "push_http_connections{version=\"h2\"}", 1.0).await;

    let mut publisher = h2.clone();
    let messages: Vec<String> = (0..5).map(|i| format!("message {i}")).collect();
    for m in &messages {
        publish_h2(&mut publisher, "/twenty/shared", m).await;
    }
    let reads = streams.iter_mut().map(|s| async move {
        let mut got = Vec::new();
        for _ in 0..5 {
            let data = s.next_data().await.expect("stream ended");
            // The multiplexed stream's events are JSON with the channel; the channel's are the payload.
            let data = match serde_json::from_str::<serde_json::Value>(&data) {
                Ok(json) if json.is_object() => json["data"].as_str().unwrap().to_owned(),
                _ => data,
            };
            got.push(data);
        }
        got
    });
    for got in futures_util::future::join_all(reads).await {
        assert_eq!(got, messages);
    }
    let text = metrics_tls(addr, &cas).await;
    assert_eq!(metric(&text, "push_messages_delivered_total{transport=\"sse\"}"), 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_limits_streams_and_header_lists_and_closes_idle_connections() {
    let server = Server::start(
        config_from_options([
            ("http2_max_concurrent_streams".into(), OptionValue::Text("3".into())),
            ("header_timeout".into(), OptionValue::Text("500ms".into())),
        ])
        .unwrap(),
    )
    .unwrap();
    let addr = server.local_addr();

    // The server's SETTINGS carry the stream limit.
    let (send, connection) = h2::client::handshake(TcpStream::connect(addr).await.unwrap()).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut send = send.ready().await.unwrap();
    let started = Instant::now();
    while send.current_max_send_streams() != 3 {
        assert!(started.elapsed() < WAIT, "SETTINGS_MAX_CONCURRENT_STREAMS never arrived ({})", send.current_max_send_streams());
        tokio::task::yield_now().await;
        send = send.ready().await.unwrap();
    }
    // A header list over --max-header-bytes (16 KiB) is refused: 431, or the stream reset.
    let big = Request::builder().uri(format!("http://{addr}/_push/health")).header("x-big", "a".repeat(20_000)).body(()).unwrap();
    match send.send_request(big, true) {
        Ok((response, _)) => match tokio::time::timeout(WAIT, response).await.expect("no answer to a huge header list") {
            Ok(r) => assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            Err(e) => assert!(e.is_reset() || e.is_go_away(), "{e}"),
        },
        Err(e) => panic!("{e}"),
    }

    // A connection with no open stream is closed after --header-timeout; so is one that sent
    // only part of the preface, and a silent one.
    let started = Instant::now();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await.unwrap();
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    for (name, conn) in [("idle h2c", &mut idle), ("partial preface", &mut partial), ("silent", &mut silent)] {
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut sink)).await.unwrap_or_else(|_| panic!("{name} connection still open"));
    }
    assert!(started.elapsed() >= Duration::from_millis(400), "closed before --header-timeout: {:?}", started.elapsed());
    wait_metric(addr, None, "push_http_connections{version=\"h2\"}", 0.0).await;

    // An open SSE stream keeps its HTTP/2 connection past --header-timeout.
    let mut h2c = h2_over(TcpStream::connect(addr).await.unwrap()).await;
    let mut sse = Sse::new(h2c.send_request(request("GET", "/idle/x", Some("text/event-stream"), "")).await.unwrap());
    wait_metric(addr, None, "push_connections{transport=\"sse\"}", 1.0).await;
    // Wait out the idle timeout on the server's own clock: a long-poll of 1 s answered 204.
    let waited = h2c.send_request(request("GET", "/idle/y?timeout=1", None, "")).await.unwrap();
    assert_eq!(waited.status(), StatusCode::NO_CONTENT);
    publish_h2(&mut h2c, "/idle/x", "still here").await;
    assert_eq!(sse.next_data().await.as_deref(), Some("still here"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_over_tls_is_http1() {
    let ca = Ca::new("push test CA");
    let certs = CertDir::new(&ca);
    let server = start_tls(&certs, &[]);
    let addr = server.local_addr();
    let cas = [ca.pem.as_str()];
    let tls = tls_connect(addr, &cas, &[b"http/1.1"]).await.unwrap();
    let (mut ws, response) = tokio_tungstenite::client_async(format!("wss://127.0.0.1:{}/wss/x", addr.port()), tls).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    wait_metric(addr, Some(&cas), "push_connections{transport=\"websocket\"}", 1.0).await;
    // The upgraded socket still counts as an HTTP/1 connection (beside the one reading metrics).
    wait_metric(addr, Some(&cas), "push_http_connections{version=\"http1\"}", 2.0).await;
    let mut h2 = h2_over(tls_connect(addr, &cas, &[b"h2"]).await.unwrap()).await;
    publish_h2(&mut h2, "/wss/x", "over wss").await;
    use futures_util::StreamExt;
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next()).await.expect("wss read timed out").unwrap().unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = frame {
            let json: serde_json::Value = serde_json::from_str(&t).unwrap();
            if json["data"] == "over wss" {
                break;
            }
        }
    }
    ws.close(None).await.unwrap();
    wait_metric(addr, Some(&cas), "push_connections{transport=\"websocket\"}", 0.0).await;
    wait_metric(addr, Some(&cas), "push_http_connections{version=\"http1\"}", 1.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_tls_handshakes_are_closed_after_the_header_timeout() {
    let ca = Ca::new("push test CA");
    let certs = CertDir::new(&ca);
    let server = start_tls(&certs, &[("header_timeout", "500ms")]);
    let addr = server.local_addr();
    let started = Instant::now();
    // Silent, and stopped inside a TLS record header (a ClientHello's first bytes).
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap();
    for (name, conn) in [("silent", &mut silent), ("partial ClientHello", &mut partial)] {
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut sink)).await.unwrap_or_else(|_| panic!("{name} connection still open"));
    }
    assert!(started.elapsed() >= Duration::from_millis(400), "closed before --header-timeout: {:?}", started.elapsed());
    wait_metric(addr, Some(&[ca.pem.as_str()]), "push_tls_handshake_failures_total", 2.0).await;
    // A TLS connection that went idle after its handshake is closed like any keep-alive one.
    let mut idle = tls_connect(addr, &[ca.pem.as_str()], &[b"http/1.1"]).await.unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut sink)).await.expect("idle TLS connection still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_certificate_file_is_served_to_new_connections_while_old_streams_go_on() {
    let (first_ca, second_ca) = (Ca::new("first CA"), Ca::new("second CA"));
    let certs = CertDir::new(&first_ca);
    let server = start_tls(&certs, &[("tls_reload_interval", "100ms")]);
    let addr = server.local_addr();
    let both = [first_ca.pem.as_str(), second_ca.pem.as_str()];

    let mut old = h2_over(tls_connect(addr, &[&first_ca.pem], &[b"h2"]).await.unwrap()).await;
    let mut sse = Sse::new(old.send_request(request("GET", "/reload/x", Some("text/event-stream"), "")).await.unwrap());
    wait_metric(addr, Some(&both), "push_connections{transport=\"sse\"}", 1.0).await;

    // A half-written pair (a key that is not PEM) is refused and the old certificate stays.
    certs.write(&certs.key(), "not a key\n");
    wait_metric(addr, Some(&both), "push_tls_reloads_total{result=\"error\"}", 1.0).await;
    assert!(tls_connect(addr, &[&first_ca.pem], &[b"h2"]).await.is_ok(), "the old certificate went away after a bad reload");

    certs.install(&second_ca);
    wait_metric(addr, Some(&both), "push_tls_reloads_total{result=\"ok\"}", 1.0).await;
    assert!(tls_connect(addr, &[&second_ca.pem], &[b"h2"]).await.is_ok(), "the new certificate is not served");
    assert!(tls_connect(addr, &[&first_ca.pem], &[b"h2"]).await.is_err(), "the old certificate is still served");

    // The stream opened under the first certificate still receives, published on a new connection.
    let mut fresh = h2_over(tls_connect(addr, &[&second_ca.pem], &[b"h2"]).await.unwrap()).await;
    publish_h2(&mut fresh, "/reload/x", "after reload").await;
    assert_eq!(sse.next_data().await.as_deref(), Some("after reload"));
    publish_h2(&mut old, "/reload/x", "old connection").await;
    assert_eq!(sse.next_data().await.as_deref(), Some("old connection"));
}

/// The built binary, killed on drop.
struct Binary {
    child: Child,
    addr: SocketAddr,
}

impl Binary {
    fn start(args: &[&str]) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_push-server"))
            .arg("--bind")
            .arg(addr.to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Binary { child, addr }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: a signal to our own child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_without_dropping_streams() {
    let (first_ca, second_ca) = (Ca::new("first CA"), Ca::new("second CA"));
    let certs = CertDir::new(&first_ca);
    let (cert, key) = (certs.cert().display().to_string(), certs.key().display().to_string());
    // Reload on SIGHUP only: file changes alone change nothing.
    let server = Binary::start(&["--tls-cert", &cert, "--tls-key", &key, "--tls-reload-interval", "0s"]);
    let addr = server.addr;
    let both = [first_ca.pem.as_str(), second_ca.pem.as_str()];
    let started = Instant::now();
    // Serving HTTPS means the SIGHUP handler is in place (it is set before the accept loop).
    let mut old = loop {
        match tls_connect(addr, &[&first_ca.pem], &[b"h2"]).await {
            Ok(tls) => break h2_over(tls).await,
            Err(_) if started.elapsed() < WAIT => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("the server never served HTTPS: {e}"),
        }
    };
    let mut sse = Sse::new(old.send_request(request("GET", "/hup/x", Some("text/event-stream"), "")).await.unwrap());
    wait_metric(addr, Some(&both), "push_connections{transport=\"sse\"}", 1.0).await;

    certs.install(&second_ca);
    assert!(tls_connect(addr, &[&first_ca.pem], &[b"h2"]).await.is_ok(), "reloaded without SIGHUP");
    server.signal(libc::SIGHUP);
    wait_metric(addr, Some(&both), "push_tls_reloads_total{result=\"ok\"}", 1.0).await;
    assert!(tls_connect(addr, &[&second_ca.pem], &[b"h2"]).await.is_ok(), "the new certificate is not served");
    assert!(tls_connect(addr, &[&first_ca.pem], &[b"h2"]).await.is_err(), "the old certificate is still served");

    // A SIGHUP with a broken key file keeps the current certificate and the process.
    certs.write(&certs.key(), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    server.signal(libc::SIGHUP);
    wait_metric(addr, Some(&both), "push_tls_reloads_total{result=\"error\"}", 1.0).await;
    assert!(tls_connect(addr, &[&second_ca.pem], &[b"h2"]).await.is_ok());

    let mut fresh = h2_over(tls_connect(addr, &[&second_ca.pem], &[b"h2"]).await.unwrap()).await;
    publish_h2(&mut fresh, "/hup/x", "after SIGHUP").await;
    assert_eq!(sse.next_data().await.as_deref(), Some("after SIGHUP"));
}

#[test]
fn bad_certificate_files_stop_the_server_from_starting() {
    let ca = Ca::new("push test CA");
    let certs = CertDir::new(&ca);
    let other = CertDir::new(&Ca::new("other CA"));
    let garbage = certs.dir.join("garbage.pem");
    std::fs::write(&garbage, "hello\n").unwrap();
    let missing = certs.dir.join("missing.pem");
    let (cert, key) = (certs.cert().display().to_string(), certs.key().display().to_string());
    let (garbage, missing, other_key) = (garbage.display().to_string(), missing.display().to_string(), other.key().display().to_string());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--tls-cert", &cert], "--tls-cert needs --tls-key"),
        (vec!["--tls-key", &key], "--tls-key needs --tls-cert"),
        (vec!["--tls-cert", &missing, "--tls-key", &key], missing.as_str()),
        (vec!["--tls-cert", &garbage, "--tls-key", &key], garbage.as_str()),
        (vec!["--tls-cert", &cert, "--tls-key", &garbage], garbage.as_str()),
        (vec!["--tls-cert", &key, "--tls-key", &key], "no PEM certificate"),
        (vec!["--tls-cert", &cert, "--tls-key", &cert], "no PEM private key"),
        (vec!["--tls-cert", &cert, "--tls-key", &other_key], "is not the private key of the certificate"),
    ];
    for (args, expected) in &cases {
        let out = Command::new(env!("CARGO_BIN_EXE_push-server")).args(["--bind", "127.0.0.1:0"]).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr:?} does not say {expected:?}");
    }
    // In process: the same reasons as INVALID_CONFIG.
    let options = vec![
        ("tls_cert".to_owned(), OptionValue::Text(cert.clone())),
        ("tls_key".to_owned(), OptionValue::Text(other_key.clone())),
    ];
    let e = config_from_options(options).unwrap_err();
    assert_eq!(e.kind(), push_core::ErrorKind::InvalidConfig);
    assert!(e.to_string().contains(&other_key), "{e}");
    // TLS does not lift the publish-key rule for a non-loopback bind.
    let mut options = certs.options();
    options.push(("bind".into(), OptionValue::Text("0.0.0.0:0".into())));
    let e = config_from_options(options).unwrap_err();
    assert!(e.to_string().contains("publish key"), "{e}");
}
