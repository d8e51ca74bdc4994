//! A consumer that does not read: the bounded event queue fills up (in events, or in payload
//! bytes), further messages are dropped and counted by reason, and the driver keeps working.

use std::time::Duration;

use bytes::Bytes;
use crosscast::driver::{Driver, DriverConfig, DriverEvent, RespVersion};
use crosscast_tests::redis_server::RedisServer;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);
const SENT: u64 = 300;
const CAPACITY: usize = 8;

async fn slow_consumer(resp: RespVersion) {
    let server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.resp = Some(resp);
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
    assert_eq!(stats.dropped_queue_full, stats.dropped, "{stats:?}");
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
    slow_consumer(RespVersion::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_drops_are_counted_resp3() {
    slow_consumer(RespVersion::Resp3).await;
}

/// Payloads of 100 KiB against a bound of 1 MiB: at most 10 are held at once.
const BIG: usize = 100 * 1024;
const BOUND: usize = 1 << 20;
const BIG_SENT: u64 = 60;

async fn big_payloads_fill_the_byte_bound(resp: RespVersion) {
    let server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.resp = Some(resp);
    config.event_capacity_bytes = BOUND;
    let (driver, mut rx) = Driver::connect(config).await.expect("connect");
    let (publisher, _events) = Driver::connect(DriverConfig::new(server.url()))
        .await
        .expect("connect the publisher");
    driver.subscribe("big").expect("subscribe");
    timeout(WAIT, async {
        while driver.server_count("big").await.expect("numsub") != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("subscribed");

    // The consumer does not read while 6 MB arrive.
    for i in 0..BIG_SENT {
        let payload = vec![b'a' + (i % 26) as u8; BIG];
        publisher.publish("big", payload).await.expect("publish");
        let held = driver.stats().queued_bytes;
        assert!(held <= BOUND as u64, "{held} bytes held after message {i}");
    }
    // `received` counts a message before it is queued or dropped: wait until every one
    // is settled (queued or counted as dropped).
    timeout(WAIT, async {
        loop {
            let s = driver.stats();
            if s.received >= BIG_SENT && s.dropped + s.queued_bytes / BIG as u64 >= BIG_SENT {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every message reached the driver and was queued or dropped");

    let stats = driver.stats();
    assert!(stats.queued_bytes_peak <= BOUND as u64, "{stats:?}");
    assert!(stats.queued_bytes <= BOUND as u64, "{stats:?}");
    let fit = (BOUND / BIG) as u64;
    assert!(
        stats.dropped_queue_bytes >= BIG_SENT - fit,
        "at least {} dropped for bytes: {stats:?}",
        BIG_SENT - fit
    );
    assert_eq!(stats.dropped_queue_full, 0, "{stats:?}");

    // What was kept arrives intact, in order; reading and dropping it gives the bytes back.
    let mut kept = Vec::new();
    while let Ok(event) = rx.try_recv() {
        if let DriverEvent::Message { payload, .. } = event {
            kept.push(payload);
        }
    }
    assert_eq!(
        kept.len() as u64 + stats.dropped_queue_bytes,
        BIG_SENT,
        "{stats:?}"
    );
    for (i, payload) in kept.iter().enumerate() {
        assert_eq!(payload.len(), BIG);
        assert_eq!(payload[0], b'a' + (i % 26) as u8, "message {i} in order");
    }
    assert_eq!(driver.stats().queued_bytes, (kept.len() * BIG) as u64);
    drop(kept);
    assert_eq!(driver.stats().queued_bytes, 0);

    // Room again: the next big message gets through.
    publisher
        .publish("big", vec![b'z'; BIG])
        .await
        .expect("publish");
    let next = timeout(WAIT, rx.recv()).await.expect("next event");
    assert!(
        matches!(&next, Some(DriverEvent::Message { payload, .. }) if payload.len() == BIG && payload[0] == b'z'),
        "{next:?}"
    );
    publisher.close().await;
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_payloads_are_dropped_past_the_byte_bound_resp2() {
    big_payloads_fill_the_byte_bound(RespVersion::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_payloads_are_dropped_past_the_byte_bound_resp3() {
    big_payloads_fill_the_byte_bound(RespVersion::Resp3).await;
}
