//! Classic pub/sub through the driver against a real redis-server: round trips over RESP2 and
//! RESP3, pattern subscriptions, NUMSUB counts, unsubscribe.

use std::time::Duration;

use bytes::Bytes;
use crosscast::driver::{Driver, DriverConfig, DriverEvent, PubSubKind, RespVersion};
use crosscast_tests::redis_server::{RedisServer, redis_cli};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

async fn next_message(rx: &mut Receiver<DriverEvent>) -> (String, Option<String>, Bytes) {
    timeout(WAIT, async {
        loop {
            match rx.recv().await.expect("event channel open") {
                DriverEvent::Message {
                    channel,
                    pattern,
                    payload,
                } => return (channel, pattern, payload),
                _ => continue,
            }
        }
    })
    .await
    .expect("a message within the deadline")
}

async fn wait_count(driver: &Driver, channel: &str, expected: u64) {
    timeout(WAIT, async {
        loop {
            if driver.server_count(channel).await.expect("server_count") == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{channel} never reached {expected} subscribers"));
}

async fn round_trip(url: String, resp: Option<RespVersion>) {
    let mut config = DriverConfig::new(url);
    config.resp = resp;
    let (driver, mut rx) = Driver::connect(config).await.expect("connect");
    assert_eq!(
        timeout(WAIT, rx.recv()).await.expect("first event"),
        Some(DriverEvent::Connected)
    );
    assert!(driver.is_connected());
    assert_eq!(
        driver
            .server_count("socket.io-request#/#")
            .await
            .expect("numsub"),
        0
    );

    driver.subscribe("socket.io-request#/#").expect("subscribe");
    wait_count(&driver, "socket.io-request#/#", 1).await;
    // Subscribing again keeps a single subscription, so NUMSUB counts this server once.
    driver
        .subscribe("socket.io-request#/#")
        .expect("subscribe again");

    let payload = Bytes::from_static(b"\x93\xa3abc\x00\xff binary-safe");
    driver
        .publish("socket.io-request#/#", payload.clone())
        .await
        .expect("publish");
    let (channel, pattern, got) = next_message(&mut rx).await;
    assert_eq!(channel, "socket.io-request#/#");
    assert_eq!(pattern, None);
    assert_eq!(got, payload);
    assert_eq!(
        driver
            .server_count("socket.io-request#/#")
            .await
            .expect("numsub"),
        1
    );

    driver
        .unsubscribe("socket.io-request#/#")
        .expect("unsubscribe");
    wait_count(&driver, "socket.io-request#/#", 0).await;

    let stats = driver.stats();
    assert_eq!(stats.published, 1);
    assert_eq!(stats.received, 1);
    assert_eq!(stats.dropped, 0);
    driver.close().await;
    assert!(!driver.is_connected());
    assert!(driver.subscribe("x").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_round_trip_resp2() {
    let server = RedisServer::start();
    round_trip(server.url(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_round_trip_resp3_from_url() {
    let server = RedisServer::start();
    round_trip(format!("{}/?protocol=resp3", server.url()), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_round_trip_resp3_from_config() {
    let server = RedisServer::start();
    round_trip(server.url(), Some(RespVersion::Resp3)).await;
}

async fn pattern(resp: RespVersion) {
    let server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.resp = Some(resp);
    let (driver, mut rx) = Driver::connect(config).await.expect("connect");
    driver.psubscribe("socket.io#/#*").expect("psubscribe");
    timeout(WAIT, async {
        while redis_cli(server.port(), &["PUBSUB", "NUMPAT"]) != "1" {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the pattern subscription reaches Redis");

    // Another client publishes on a room channel that the pattern matches.
    assert_eq!(
        redis_cli(server.port(), &["PUBLISH", "socket.io#/#room1#", "hello"]),
        "1"
    );
    let (channel, pattern, payload) = next_message(&mut rx).await;
    assert_eq!(channel, "socket.io#/#room1#");
    assert_eq!(pattern.as_deref(), Some("socket.io#/#*"));
    assert_eq!(payload, Bytes::from_static(b"hello"));

    driver.punsubscribe("socket.io#/#*").expect("punsubscribe");
    timeout(WAIT, async {
        while redis_cli(server.port(), &["PUBSUB", "NUMPAT"]) != "0" {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the pattern subscription is removed");
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_subscribe_resp2() {
    pattern(RespVersion::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_subscribe_resp3() {
    pattern(RespVersion::Resp3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numsub_counts_every_server() {
    let server = RedisServer::start();
    let (a, _rx_a) = Driver::connect(DriverConfig::new(server.url()))
        .await
        .expect("connect a");
    let (b, _rx_b) = Driver::connect(DriverConfig::new(server.url()))
        .await
        .expect("connect b");
    a.subscribe("socket.io-request#/#").expect("subscribe a");
    b.subscribe("socket.io-request#/#").expect("subscribe b");
    wait_count(&a, "socket.io-request#/#", 2).await;
    assert_eq!(
        b.server_count("socket.io-request#/#")
            .await
            .expect("numsub"),
        2
    );
    // close() unsubscribes.
    b.close().await;
    wait_count(&a, "socket.io-request#/#", 1).await;
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_kind_rejects_patterns() {
    let server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.kind = PubSubKind::Sharded;
    let (driver, _rx) = Driver::connect(config).await.expect("connect");
    assert!(driver.psubscribe("p*").is_err());
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_unsubscribes() {
    let server = RedisServer::start();
    let (a, _rx_a) = Driver::connect(DriverConfig::new(server.url()))
        .await
        .expect("connect a");
    let (b, rx_b) = Driver::connect(DriverConfig::new(server.url()))
        .await
        .expect("connect b");
    let b_clone = b.clone();
    b.subscribe("socket.io-request#/#").expect("subscribe");
    wait_count(&a, "socket.io-request#/#", 1).await;
    drop(b);
    // A clone keeps the driver alive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        a.server_count("socket.io-request#/#")
            .await
            .expect("numsub"),
        1
    );
    assert!(b_clone.is_connected());
    drop(b_clone);
    drop(rx_b);
    wait_count(&a, "socket.io-request#/#", 0).await;
    a.close().await;
}
