//! The cluster adapter's queues against a slow or absent Redis: each is bounded in bytes and
//! in count, what does not fit is dropped and counted by reason, and `published` counts only
//! what Redis accepted.
//!
//! Redis is made slow with `CLIENT PAUSE <ms> WRITE` (PUBLISH waits, everything else is
//! served) on the test's own redis-server, and absent by stopping it.

use std::time::Duration;

use crosscast::adapter::{Cluster, ClusterConfig, CrosscastAdapter, Metrics};
use crosscast::driver::{Driver, DriverConfig, DriverEvent};
use crosscast_tests::redis_server::RedisServer;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;

type A = CrosscastAdapter<socketioxide::adapter::Emitter>;

const WAIT: Duration = Duration::from_secs(20);
/// 100 KiB payloads against 1 MiB bounds: about 10 fit at once.
const BIG: usize = 100 * 1024;
const BOUND: usize = 1 << 20;

/// A cluster on `redis` with `edit` applied, and a Socket.IO server on it with namespace `/`.
async fn server(
    redis: &RedisServer,
    edit: impl FnOnce(&mut ClusterConfig),
) -> (Cluster, SocketIo<A>) {
    let mut config = ClusterConfig::classic(redis.url());
    // No heartbeats: every message published is one of the test's.
    config.heartbeat_interval_ms = 0;
    edit(&mut config);
    let cluster = Cluster::connect(config).await.expect("connect the cluster");
    let (_layer, io) = SocketIo::builder()
        .with_adapter::<A>(cluster.clone())
        .build_layer();
    io.ns("/", async |_socket: SocketRef<A>| {})
        .await
        .expect("namespace /");
    (cluster, io)
}

/// Polls `cluster`'s metrics until `done` holds (bounded by [`WAIT`]).
async fn until(cluster: &Cluster, what: &str, done: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let m = cluster.metrics();
        if done(&m) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}: {m:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every message the node wanted published is published, dropped, or still queued.
fn accounted(m: &Metrics) -> bool {
    m.published + m.publish_dropped == m.core.published
}

fn big(i: usize) -> String {
    char::from(b'a' + (i % 26) as u8).to_string().repeat(BIG)
}

/// A plain subscriber of the classic broadcast channel of `/`, counting what arrives.
async fn listener(redis: &RedisServer) -> (Driver, tokio::sync::mpsc::Receiver<DriverEvent>) {
    let mut config = DriverConfig::new(redis.url());
    config.event_capacity_bytes = 64 << 20;
    let (driver, events) = Driver::connect(config).await.expect("connect the listener");
    driver.subscribe("socket.io#/#").expect("subscribe");
    let deadline = tokio::time::Instant::now() + WAIT;
    while driver.server_count("socket.io#/#").await.expect("numsub") < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "listener subscribed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (driver, events)
}

async fn count_broadcasts(events: &mut tokio::sync::mpsc::Receiver<DriverEvent>, n: usize) {
    let mut seen = 0;
    while seen < n {
        match tokio::time::timeout(WAIT, events.recv()).await {
            Ok(Some(DriverEvent::Message { .. })) => seen += 1,
            Ok(Some(_)) => {}
            other => panic!("{seen} of {n} broadcasts reached the listener: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_queue_holds_at_most_its_bytes_while_redis_is_slow() {
    let redis = RedisServer::start();
    let (_sub, mut heard) = listener(&redis).await;
    let (cluster, io) = server(&redis, |c| {
        c.publish_queue_bytes = BOUND;
        // Long enough that the paused pipeline waits for Redis instead of failing.
        c.driver.response_timeout = Duration::from_secs(60);
    })
    .await;
    io.emit("warm-up", "x").await.expect("emit");
    until(&cluster, "the warm-up is published", |m| m.published == 1).await;
    count_broadcasts(&mut heard, 1).await;

    // Redis stops answering PUBLISH; 40 broadcasts of 100 KiB (4 MB) come.
    assert_eq!(redis.cli(&["CLIENT", "PAUSE", "60000", "WRITE"]), "OK");
    const SENT: u64 = 40;
    for i in 0..SENT as usize {
        io.emit("big", &big(i)).await.expect("emit");
        let m = cluster.metrics();
        assert!(
            m.publish_queue_bytes <= BOUND as u64,
            "{} bytes queued after broadcast {i}",
            m.publish_queue_bytes
        );
    }
    let m = until(&cluster, "every broadcast reached the publish queue", |m| {
        m.core.published == 1 + SENT
    })
    .await;
    assert!(m.publish_queue_peak_bytes <= BOUND as u64, "{m:#?}");
    let fit = (BOUND / BIG) as u64;
    assert!(
        m.publish_drops.queue_bytes >= SENT - fit,
        "at least {} dropped for bytes: {m:#?}",
        SENT - fit
    );
    assert_eq!(m.publish_drops.queue_full, 0, "{m:#?}");
    assert_eq!(
        m.published, 1,
        "nothing is published while Redis does not answer"
    );

    // Redis answers again: what was queued goes out, and only that counts as published.
    assert_eq!(redis.cli(&["CLIENT", "UNPAUSE"]), "OK");
    let m = until(&cluster, "the queue drained", |m| {
        accounted(m) && m.publish_queue_bytes == 0
    })
    .await;
    assert_eq!(
        m.published,
        1 + SENT - m.publish_drops.queue_bytes,
        "{m:#?}"
    );
    assert_eq!(m.publish_dropped, m.publish_drops.queue_bytes, "{m:#?}");
    count_broadcasts(&mut heard, (SENT - m.publish_drops.queue_bytes) as usize).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_queue_holds_at_most_its_count_while_redis_is_slow() {
    let redis = RedisServer::start();
    const QUEUE: u64 = 4;
    let (cluster, io) = server(&redis, |c| {
        c.publish_queue = QUEUE as usize;
        c.driver.response_timeout = Duration::from_secs(60);
    })
    .await;
    assert_eq!(redis.cli(&["CLIENT", "PAUSE", "60000", "WRITE"]), "OK");
    const SENT: u64 = 30;
    for i in 0..SENT {
        io.emit("small", &i).await.expect("emit");
    }
    let m = until(&cluster, "every broadcast reached the publish queue", |m| {
        m.core.published == SENT
    })
    .await;
    // At most QUEUE wait and at most QUEUE are in flight (taken from a full queue).
    assert!(
        m.publish_drops.queue_full >= SENT - 2 * QUEUE,
        "at least {} dropped for count: {m:#?}",
        SENT - 2 * QUEUE
    );
    assert_eq!(m.publish_drops.queue_bytes, 0, "{m:#?}");
    assert_eq!(m.published, 0, "{m:#?}");
    assert_eq!(redis.cli(&["CLIENT", "UNPAUSE"]), "OK");
    let m = until(&cluster, "the queue drained", accounted).await;
    assert_eq!(m.published, SENT - m.publish_drops.queue_full, "{m:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_counts_what_redis_accepted_not_what_was_meant() {
    let mut redis = RedisServer::start();
    let (cluster, io) = server(&redis, |c| {
        c.driver.response_timeout = Duration::from_millis(300);
    })
    .await;
    io.emit("warm-up", "x").await.expect("emit");
    until(&cluster, "the warm-up is published", |m| m.published == 1).await;

    // Redis does not answer within the response timeout: the messages are not published.
    assert_eq!(redis.cli(&["CLIENT", "PAUSE", "10000", "WRITE"]), "OK");
    for i in 0..3 {
        io.emit("lost", &i).await.expect("emit");
    }
    let m = until(&cluster, "the three messages are dropped", |m| {
        m.publish_dropped == 3
    })
    .await;
    assert_eq!(m.published, 1, "{m:#?}");
    assert!(m.publish_drops.redis_error >= 1, "{m:#?}");
    assert_eq!(
        m.publish_drops.redis_error + m.publish_drops.redis_down,
        3,
        "{m:#?}"
    );
    assert_eq!(redis.cli(&["CLIENT", "UNPAUSE"]), "OK");
    until(&cluster, "Redis is connected again", |m| m.connected).await;

    // Redis is gone: nothing is published, everything is dropped as redis_down.
    redis.stop();
    until(&cluster, "Redis is seen down", |m| !m.connected).await;
    let before = cluster.metrics();
    for i in 0..5 {
        io.emit("down", &i).await.expect("emit");
    }
    let m = until(&cluster, "the five messages are dropped", |m| {
        m.publish_drops.redis_down == before.publish_drops.redis_down + 5
    })
    .await;
    assert_eq!(m.published, 1, "{m:#?}");
    assert!(accounted(&m), "{m:#?}");

    // Back: the next message is published, and counted once.
    redis.restart();
    until(&cluster, "Redis is connected again", |m| m.connected).await;
    io.emit("back", "x").await.expect("emit");
    let m = until(&cluster, "the message after the outage is published", |m| {
        m.published == 2
    })
    .await;
    assert!(accounted(&m), "{m:#?}");
}

/// A current-thread runtime: the namespace task cannot run while the test emits, so the
/// inbox fills exactly as the bounds allow.
#[tokio::test(flavor = "current_thread")]
async fn the_namespace_inbox_holds_at_most_its_bytes_and_its_count() {
    let redis = RedisServer::start();
    let (cluster, io) = server(&redis, |c| c.inbox_queue_bytes = BOUND).await;
    const SENT: u64 = 30;
    for i in 0..SENT as usize {
        io.emit("big", &big(i)).await.expect("emit");
    }
    let m = cluster.metrics();
    assert!(m.inbox_peak_bytes <= BOUND as u64, "{m:#?}");
    assert!(m.inbox_bytes <= BOUND as u64, "{m:#?}");
    let fit = (BOUND / BIG) as u64;
    assert!(
        m.inbox_drops.queue_bytes >= SENT - fit,
        "at least {} dropped for bytes: {m:#?}",
        SENT - fit
    );
    assert_eq!(m.inbox_drops.queue_full, 0, "{m:#?}");
    let kept = SENT - m.inbox_drops.queue_bytes;
    let m = until(&cluster, "the kept broadcasts are published", |m| {
        m.published == kept && m.inbox_bytes == 0
    })
    .await;
    assert_eq!(m.core.published, kept, "{m:#?}");

    // The count bound: 4096 small commands at most.
    let redis2 = RedisServer::start();
    let (cluster, io) = server(&redis2, |c| c.inbox_queue = 8).await;
    for i in 0..20 {
        io.emit("small", &i).await.expect("emit");
    }
    let m = cluster.metrics();
    assert_eq!(m.inbox_drops.queue_full, 12, "{m:#?}");
    assert_eq!(m.inbox_drops.queue_bytes, 0, "{m:#?}");
    until(&cluster, "the kept broadcasts are published", |m| {
        m.published == 8
    })
    .await;
}
