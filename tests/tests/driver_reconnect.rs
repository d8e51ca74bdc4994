//! Redis restarted under a live driver: publish fails fast while it is down, subscriptions made
//! before and during the outage are restored, delivery resumes.

use std::time::{Duration, Instant};

use bytes::Bytes;
use crosscast::driver::{Driver, DriverConfig, DriverError, DriverEvent, RespVersion};
use crosscast_tests::redis_server::RedisServer;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(15);

/// Waits for an event like `wanted` (any reason for `Disconnected`) and returns it.
async fn wait_for(rx: &mut Receiver<DriverEvent>, wanted: &DriverEvent) -> DriverEvent {
    timeout(WAIT, async {
        loop {
            let event = rx.recv().await.expect("event channel open");
            let same = match (&event, wanted) {
                (DriverEvent::Disconnected { .. }, DriverEvent::Disconnected { .. }) => true,
                (a, b) => a == b,
            };
            if same {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} within {WAIT:?}"))
}

async fn restart_mid_test(resp: RespVersion) {
    let mut server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.resp = Some(resp);
    let (driver, mut rx) = Driver::connect(config).await.expect("connect");
    wait_for(&mut rx, &DriverEvent::Connected).await;
    driver.subscribe("before").expect("subscribe");
    timeout(WAIT, async {
        while driver.server_count("before").await.expect("numsub") != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("subscribed before the outage");

    tokio::task::block_in_place(|| server.stop());
    wait_for(
        &mut rx,
        &DriverEvent::Disconnected {
            reason: String::new(),
        },
    )
    .await;
    assert!(!driver.is_connected());

    // While down: publish fails at once with a typed error, subscriptions are remembered.
    let started = Instant::now();
    let err = driver
        .publish("before", Bytes::from_static(b"lost"))
        .await
        .expect_err("publish while Redis is down");
    let fail_fast = started.elapsed();
    assert!(matches!(err, DriverError::NotConnected), "{err:?}");
    assert!(matches!(
        driver.server_count("before").await,
        Err(DriverError::NotConnected)
    ));
    driver.subscribe("during").expect("subscribe while down");
    // Let the backoff grow towards its maximum before Redis comes back.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    tokio::task::block_in_place(|| server.restart());
    let back = Instant::now();
    wait_for(&mut rx, &DriverEvent::Connected).await;
    wait_for(&mut rx, &DriverEvent::Resubscribed).await;
    let resubscribed = back.elapsed();
    // Both subscriptions are live on the new server, counted once each.
    assert_eq!(
        server.cli(&["PUBSUB", "NUMSUB", "before", "during"]),
        "before\n1\nduring\n1"
    );

    driver
        .publish("during", Bytes::from_static(b"after-restart"))
        .await
        .expect("publish after restart");
    let delivered = timeout(WAIT, async {
        loop {
            if let Some(DriverEvent::Message {
                channel, payload, ..
            }) = rx.recv().await
            {
                return (channel, payload);
            }
        }
    })
    .await
    .expect("delivery resumes");
    let resumed = back.elapsed();
    assert_eq!(
        delivered,
        ("during".to_owned(), Bytes::from_static(b"after-restart"))
    );
    let stats = driver.stats();
    assert_eq!(stats.reconnects, 1);
    assert_eq!(stats.publish_failures, 1);
    assert_eq!(stats.published, 1);
    println!(
        "{resp:?}: publish while down failed in {fail_fast:?}; after Redis answered PING: \
         resubscribed in {resubscribed:?}, message delivered in {resumed:?}"
    );
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_resp2() {
    restart_mid_test(RespVersion::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_resp3() {
    restart_mid_test(RespVersion::Resp3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sharded_channels_are_resubscribed() {
    const CHANNELS: usize = 2000;
    let mut server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.kind = crosscast::driver::PubSubKind::Sharded;
    let (driver, mut rx) = Driver::connect(config).await.expect("connect");
    for i in 0..CHANNELS {
        driver
            .subscribe(format!("socket.io#/#room-{i}#"))
            .expect("subscribe");
    }
    let shard_channels = |server: &RedisServer| {
        server
            .cli(&["PUBSUB", "SHARDCHANNELS"])
            .lines()
            .filter(|l| !l.is_empty())
            .count()
    };
    timeout(WAIT, async {
        while shard_channels(&server) != CHANNELS {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every channel subscribed");

    tokio::task::block_in_place(|| server.restart());
    let back = Instant::now();
    wait_for(&mut rx, &DriverEvent::Resubscribed).await;
    let resubscribed = back.elapsed();
    assert_eq!(shard_channels(&server), CHANNELS);
    println!("{CHANNELS} sharded channels resubscribed {resubscribed:?} after Redis answered PING");
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_redis_is_noticed_by_the_health_check() {
    let server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.health_check_interval = Duration::from_millis(200);
    config.response_timeout = Duration::from_millis(300);
    config.connect_timeout = Duration::from_millis(300);
    let (driver, mut rx) = Driver::connect(config).await.expect("connect");
    driver.subscribe("alive").expect("subscribe");
    timeout(WAIT, async {
        while driver.server_count("alive").await.expect("numsub") != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("subscribed");

    // Redis keeps every connection open but answers nothing for 1.5 s.
    assert_eq!(server.cli(&["CLIENT", "PAUSE", "1500", "ALL"]), "OK");
    let event = wait_for(
        &mut rx,
        &DriverEvent::Disconnected {
            reason: String::new(),
        },
    )
    .await;
    assert!(
        matches!(&event, DriverEvent::Disconnected { reason } if reason.contains("health check")),
        "{event:?}"
    );
    wait_for(&mut rx, &DriverEvent::Resubscribed).await;
    driver
        .publish("alive", Bytes::from_static(b"again"))
        .await
        .expect("publish after the pause");
    let got = timeout(WAIT, async {
        loop {
            if let Some(DriverEvent::Message { payload, .. }) = rx.recv().await {
                return payload;
            }
        }
    })
    .await
    .expect("delivery resumes");
    assert_eq!(got, Bytes::from_static(b"again"));
    driver.close().await;
}
