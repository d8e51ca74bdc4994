//! Sharded pub/sub (SSUBSCRIBE/SPUBLISH/SHARDNUMSUB) through the driver against a standalone
//! redis-server, with RESP2 and RESP3 publishers.

use std::time::Duration;

use bytes::Bytes;
use crosscast::driver::{Driver, DriverConfig, DriverEvent, PubSubKind, RespVersion};
use crosscast_tests::redis_server::RedisServer;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

async fn sharded_round_trip(resp: RespVersion) {
    let server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.kind = PubSubKind::Sharded;
    config.resp = Some(resp);
    let (driver, mut rx) = Driver::connect(config).await.expect("connect");
    let main = "socket.io#/#";
    let private = "socket.io#/#0123456789abcdef#";
    driver.subscribe(main).expect("subscribe main");
    driver.subscribe(private).expect("subscribe private");
    timeout(WAIT, async {
        while driver.server_count(main).await.expect("shardnumsub") != 1
            || driver.server_count(private).await.expect("shardnumsub") != 1
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("both channels subscribed");
    // SHARDNUMSUB does not count classic subscribers and vice versa.
    assert_eq!(
        server.cli(&["PUBSUB", "NUMSUB", main]),
        format!("{main}\n0")
    );

    driver
        .publish(private, Bytes::from_static(b"to-me"))
        .await
        .expect("spublish");
    driver
        .publish(main, Bytes::from_static(b"to-all"))
        .await
        .expect("spublish");
    let mut got = Vec::new();
    timeout(WAIT, async {
        while got.len() < 2 {
            if let Some(DriverEvent::Message {
                channel,
                pattern,
                payload,
            }) = rx.recv().await
            {
                assert_eq!(pattern, None);
                got.push((channel, payload));
            }
        }
    })
    .await
    .expect("two sharded messages");
    assert_eq!(
        got,
        vec![
            (private.to_owned(), Bytes::from_static(b"to-me")),
            (main.to_owned(), Bytes::from_static(b"to-all")),
        ]
    );

    driver.unsubscribe(private).expect("sunsubscribe");
    timeout(WAIT, async {
        while driver.server_count(private).await.expect("shardnumsub") != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("private channel unsubscribed");
    assert_eq!(driver.server_count(main).await.expect("shardnumsub"), 1);
    driver.close().await;
    assert_eq!(
        server.cli(&["PUBSUB", "SHARDNUMSUB", main]),
        format!("{main}\n0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_round_trip_resp2_publisher() {
    sharded_round_trip(RespVersion::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_round_trip_resp3() {
    sharded_round_trip(RespVersion::Resp3).await;
}
