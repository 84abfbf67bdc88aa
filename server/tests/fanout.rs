//! 1,000 concurrent long-poll subscribers on one channel all receive one message.

mod common;

use common::{raise_fd_limit, TestServer};

const SUBSCRIBERS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_long_polls_all_get_the_message() {
    raise_fd_limit();
    let server = TestServer::with(|c| c.long_poll_timeout = std::time::Duration::from_secs(60)).await;
    push_core::tls::ensure_provider();
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut waiting = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let request = client.get(format!("{}/fan", server.url)).send();
        waiting.push(tokio::spawn(async move {
            let response = request.await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }));
    }
    server.wait_metric("push_connections{transport=\"long-poll\"}", SUBSCRIBERS as f64).await;
    server.publish("/fan", "to all").await;
    let mut received = 0;
    for w in waiting {
        assert_eq!(w.await.unwrap(), (200, "to all".to_owned()));
        received += 1;
    }
    assert_eq!(received, SUBSCRIBERS);
    assert_eq!(server.metric("push_messages_delivered_total{transport=\"long-poll\"}").await, SUBSCRIBERS as f64);
    server.shutdown().await;
}
