//! TLS for producers and server nodes: `amqps://` to a separate RabbitMQ node with a TLS listener
//! (scripts/rabbitmq-tls, started and stopped here; never the shared node on 5672), `https://` to
//! a push server with --tls-cert, and every certificate problem reported as `ErrorKind::Tls`
//! (unknown CA, another host's certificate, an expired one, an unreadable CA file), fast and
//! without retries.
//!
//! One test function: the RabbitMQ node takes ~10 s to boot, so it is started once and each
//! part runs against it in turn.

mod rabbitmq_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use push_core::{ErrorKind, Producer, ProducerOptions};
use rabbitmq_support::{unique_stream, Node, Sse, SseEvent};
use tokio::net::TcpListener;

/// The TLS RabbitMQ node, stopped when dropped (also when the test fails).
struct TlsRabbit {
    dir: PathBuf,
    url: String,
    ca: PathBuf,
    other_ca: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rabbitmq-tls")
}

impl TlsRabbit {
    fn start() -> TlsRabbit {
        let dir = std::env::temp_dir().join(format!("push-amqps-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = std::process::Command::new(script()).arg("start").arg(&dir).output().expect("scripts/rabbitmq-tls runs");
        assert!(out.status.success(), "scripts/rabbitmq-tls start failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let env = std::fs::read_to_string(dir.join("env")).unwrap();
        let get = |key: &str| env.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("{key} in {env}")).to_owned();
        TlsRabbit { url: get("AMQPS_URL"), ca: get("CA_FILE").into(), other_ca: get("OTHER_CA_FILE").into(), dir }
    }

    fn stream_url(&self, stream: &str) -> String {
        format!("{}?stream={stream}", self.url)
    }
}

impl Drop for TlsRabbit {
    fn drop(&mut self) {
        let _ = std::process::Command::new(script()).arg("stop").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn producer(url: &str, ca: Option<&Path>) -> push_core::Result<Producer> {
    let mut options = ProducerOptions::new().url(url).timeout(Duration::from_secs(10));
    if let Some(ca) = ca {
        options = options.ca_file(ca);
    }
    Producer::with_options(options)
}

/// Publishes and expects a TLS error well before the producer's 10 s timeout (no retries).
async fn expect_tls_error(producer: &Producer, what: &str, words: &str) {
    let started = Instant::now();
    let e = producer.publish("x").to("/tls").await.expect_err(what);
    assert_eq!(e.kind(), ErrorKind::Tls, "{what}: {e}");
    assert!(!e.is_retryable());
    assert!(e.to_string().contains(words), "{what}: {e:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{what}: took {:?}", started.elapsed());
    println!("{what}: {e} ({:?})", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_and_https_with_a_test_ca() {
    let rabbit = TlsRabbit::start();

    // A producer publishes over amqps:// trusting the test CA.
    let stream = unique_stream("amqps");
    let direct = producer(&rabbit.stream_url(&stream), Some(&rabbit.ca)).unwrap();
    let first = direct.publish("over amqps").to("/tls/room").await.expect("amqps publish with the test CA");

    // A server node on --broker amqps:// with --broker-ca-file delivers what producers publish.
    let (url, ca) = (rabbit.stream_url(&stream), rabbit.ca.clone());
    let node = Node::start(&stream, |c| {
        c.broker = url;
        c.broker_ca_file = Some(ca);
    })
    .await;
    let mut sse = Sse::open(&format!("{}/tls/room", node.url)).await;
    node.wait_metric("push_connections{transport=\"sse\"}", 1.0).await;
    let second = direct.publish("producer -> amqps -> node").to("/tls/room").await.unwrap();
    let third = node.publish("/tls/room", "http -> node -> amqps").await;
    assert!(first.0 < second.0 && second.0 < third, "{first:?} {second:?} {third}");
    let mut got = Vec::new();
    while got.len() < 2 {
        match sse.next(Duration::from_secs(10)).await.expect("stream open") {
            SseEvent::Message(id, data) => got.push((id, data)),
            gap => panic!("unexpected {gap:?}"),
        }
    }
    assert_eq!(got, vec![(second.0, "producer -> amqps -> node".to_owned()), (third, "http -> node -> amqps".to_owned())]);
    drop(sse);
    node.shutdown().await;

    // Certificate problems on amqps://: another CA, and the system's roots alone.
    let wrong = producer(&rabbit.stream_url(&stream), Some(&rabbit.other_ca)).unwrap();
    expect_tls_error(&wrong, "amqps with another CA", "not signed by a trusted CA").await;
    let system = producer(&rabbit.stream_url(&stream), None).unwrap();
    expect_tls_error(&system, "amqps with the system's roots only", "not signed by a trusted CA").await;

    // A server node with the wrong CA does not start, and says why.
    let mut config = push_server::Config::defaults();
    config.broker = rabbit.stream_url(&stream);
    config.stream_name = stream.clone();
    config.broker_ca_file = Some(rabbit.other_ca.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(20), push_server::run(listener, config, std::future::pending())).await;
    let e = ended.expect("a node with the wrong CA stops at once").expect_err("a node with the wrong CA must not start");
    assert!(e.to_string().contains("not signed by a trusted CA"), "{e}");
    println!("node with another CA: {e}");

    // An unreadable CA file fails when the producer is made.
    let e = producer(&rabbit.stream_url(&stream), Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");

    // https:// to a push server with --tls-cert (the same test CA signed its certificate).
    let certs = rabbit.dir.join("certs");
    let server = https_node(&certs.join("server.pem"), &certs.join("server-key.pem")).await;
    let p = producer(&server.0, Some(&rabbit.ca)).unwrap();
    let id = p.publish("over https").to("/tls/https").await.expect("https publish with the test CA");
    println!("https publish: id {}", id.0);
    let wrong = producer(&server.0, Some(&rabbit.other_ca)).unwrap();
    expect_tls_error(&wrong, "https with another CA", "not signed by a trusted CA").await;
    server.1.send(()).unwrap();

    // Another host's certificate and an expired one, made here with rcgen.
    let made = MadeCerts::new(&rabbit.dir.join("rcgen"));
    let other_host = https_node(&made.other_host, &made.key).await;
    let p = producer(&other_host.0, Some(&made.ca)).unwrap();
    expect_tls_error(&p, "https to a certificate for another host", "not valid for this host name").await;
    other_host.1.send(()).unwrap();
    let expired = https_node(&made.expired, &made.key).await;
    let p = producer(&expired.0, Some(&made.ca)).unwrap();
    expect_tls_error(&p, "https to an expired certificate", "expired").await;
    expired.1.send(()).unwrap();
}

/// A push server (memory broker) serving HTTPS with `cert`; its URL and a stop switch.
async fn https_node(cert: &Path, key: &Path) -> (String, tokio::sync::oneshot::Sender<()>) {
    let mut config = push_server::Config::defaults();
    config.tls_cert = Some(cert.to_owned());
    config.tls_key = Some(key.to_owned());
    config.validate().expect("TLS config is valid");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The socket is bound: a connection made before the server accepts waits in the backlog.
    tokio::spawn(push_server::run(listener, config, async {
        let _ = stopped.await;
    }));
    (url, stop)
}

/// A CA, and two certificates it signed with one key: one for another host only, one for
/// 127.0.0.1 that has expired.
struct MadeCerts {
    ca: PathBuf,
    other_host: PathBuf,
    expired: PathBuf,
    key: PathBuf,
}

impl MadeCerts {
    fn new(dir: &Path) -> MadeCerts {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        std::fs::create_dir_all(dir).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let other_host = CertificateParams::new(vec!["other.example".to_owned()]).unwrap().signed_by(&key, &ca).unwrap();
        let mut expired = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let expired = expired.signed_by(&key, &ca).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        MadeCerts {
            ca: write("ca.pem", ca.pem()),
            other_host: write("other-host.pem", other_host.pem()),
            expired: write("expired.pem", expired.pem()),
            key: write("key.pem", key.serialize_pem()),
        }
    }
}
