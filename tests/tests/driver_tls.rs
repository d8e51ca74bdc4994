//! `rediss://` against a real TLS redis-server with a CA and certificate made by openssl.

use std::time::Duration;

use bytes::Bytes;
use crosscast::driver::{Driver, DriverConfig, DriverError, DriverEvent, RespVersion};
use crosscast_tests::redis_server::{RedisOptions, RedisServer};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

async fn tls_round_trip(resp: RespVersion) {
    let server = RedisServer::start_with(RedisOptions {
        tls: true,
        password: Some("tls-pass".into()),
        ..RedisOptions::default()
    });
    assert!(server.url().starts_with("rediss://"));
    let tls = server.tls().expect("TLS files");

    // Without the test CA the server's certificate is not trusted.
    let err = Driver::connect(DriverConfig::new(server.url()))
        .await
        .expect_err("untrusted certificate");
    assert!(matches!(err, DriverError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");

    let mut config = DriverConfig::new(server.url());
    config.resp = Some(resp);
    config.tls_root_cert_pem = Some(tls.ca_pem());
    let (driver, mut rx) = Driver::connect(config).await.expect("connect over TLS");
    driver.subscribe("secure").expect("subscribe");
    timeout(WAIT, async {
        while driver.server_count("secure").await.expect("numsub") != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("subscribed");
    driver
        .publish("secure", Bytes::from_static(b"over tls"))
        .await
        .expect("publish");
    let got = timeout(WAIT, async {
        loop {
            if let Some(DriverEvent::Message { payload, .. }) = rx.recv().await {
                return payload;
            }
        }
    })
    .await
    .expect("message");
    assert_eq!(got, Bytes::from_static(b"over tls"));
    // The subscription is visible to a TLS redis-cli on the same server.
    assert_eq!(server.cli(&["PUBSUB", "NUMSUB", "secure"]), "secure\n1");
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_round_trip_resp2() {
    tls_round_trip(RespVersion::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_round_trip_resp3() {
    tls_round_trip(RespVersion::Resp3).await;
}
