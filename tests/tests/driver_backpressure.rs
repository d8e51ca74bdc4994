//! A consumer that does not read: the bounded event queue fills up, further messages are
//! dropped and counted, and the driver keeps working.

use std::time::Duration;

use bytes::Bytes;
use crosscast::driver::{Driver, DriverConfig, DriverEvent, Protocol};
use crosscast_tests::redis_server::RedisServer;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);
const SENT: u64 = 300;
const CAPACITY: usize = 8;

async fn slow_consumer(protocol: Protocol) {
    let server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.protocol = Some(protocol);
    config.event_capacity = CAPACITY;
    let (driver, mut rx) = Driver::connect(config).await.expect("connect");
    driver.subscribe("flood").expect("subscribe");
    timeout(WAIT, async {
        while driver.server_count("flood").await.expect("numsub") != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("subscribed");

    for i in 0..SENT {
        driver
            .publish("flood", Bytes::from(format!("m{i}")))
            .await
            .expect("publish");
    }
    timeout(WAIT, async {
        while driver.stats().received < SENT {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every message reached the driver");

    // Drain: the queue held at most CAPACITY events (Connected and the first messages).
    let mut queued = Vec::new();
    while let Ok(event) = rx.try_recv() {
        queued.push(event);
    }
    assert!(queued.len() <= CAPACITY, "{} events queued", queued.len());
    assert_eq!(queued.first(), Some(&DriverEvent::Connected));
    let delivered: Vec<Bytes> = queued
        .iter()
        .filter_map(|e| match e {
            DriverEvent::Message { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect();
    let stats = driver.stats();
    assert_eq!(stats.received, SENT);
    assert_eq!(delivered.len() as u64 + stats.dropped, SENT, "{stats:?}");
    assert!(stats.dropped >= SENT - CAPACITY as u64, "{stats:?}");
    // The first messages are the ones kept, in order.
    for (i, payload) in delivered.iter().enumerate() {
        assert_eq!(payload, &Bytes::from(format!("m{i}")));
    }

    // Once the consumer reads again, new messages get through.
    driver
        .publish("flood", Bytes::from_static(b"fresh"))
        .await
        .expect("publish");
    let next = timeout(WAIT, rx.recv()).await.expect("next event");
    assert!(
        matches!(&next, Some(DriverEvent::Message { payload, .. }) if payload == &Bytes::from_static(b"fresh")),
        "{next:?}"
    );
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_drops_are_counted_resp2() {
    slow_consumer(Protocol::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_drops_are_counted_resp3() {
    slow_consumer(Protocol::Resp3).await;
}
