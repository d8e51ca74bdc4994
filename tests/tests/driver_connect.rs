//! Connecting: unreachable Redis, password and ACL authentication, wrong credentials.

use std::time::Duration;

use bytes::Bytes;
use crosscast::driver::{Driver, DriverConfig, DriverError, DriverEvent};
use crosscast_tests::redis_server::{RedisOptions, RedisServer, free_port};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_is_a_clear_error() {
    let port = free_port(); // nothing listens there
    let result = timeout(
        WAIT,
        Driver::connect(DriverConfig::new(format!("redis://127.0.0.1:{port}"))),
    )
    .await
    .expect("connect gives up by itself");
    let err = result.expect_err("nothing listens on the port");
    assert!(matches!(err, DriverError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}

async fn ping_pong(url: String) {
    let (driver, mut rx) = Driver::connect(DriverConfig::new(url))
        .await
        .expect("connect");
    driver.subscribe("auth-check").expect("subscribe");
    timeout(WAIT, async {
        while driver.server_count("auth-check").await.expect("numsub") != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("subscribed");
    driver
        .publish("auth-check", Bytes::from_static(b"ok"))
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
    assert_eq!(got, Bytes::from_static(b"ok"));
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_auth() {
    let server = RedisServer::start_with(RedisOptions {
        password: Some("s3cret".into()),
        ..RedisOptions::default()
    });
    assert!(server.url().contains(":s3cret@"));
    ping_pong(server.url()).await;

    let wrong = format!("redis://:nope@127.0.0.1:{}", server.port());
    let err = Driver::connect(DriverConfig::new(wrong))
        .await
        .expect_err("wrong password");
    assert!(matches!(err, DriverError::Unreachable { .. }), "{err:?}");
    let anonymous = format!("redis://127.0.0.1:{}", server.port());
    let (driver, _rx) = Driver::connect(DriverConfig::new(anonymous))
        .await
        .expect("the connection itself opens without AUTH");
    let err = driver
        .publish("x", Bytes::from_static(b"y"))
        .await
        .expect_err("NOAUTH");
    assert!(err.to_string().contains("NOAUTH"), "{err}");
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_auth() {
    let server = RedisServer::start_with(RedisOptions {
        acl_user: Some(("crosscast".into(), "pa55".into())),
        ..RedisOptions::default()
    });
    assert!(server.url().contains("crosscast:pa55@"));
    ping_pong(server.url()).await;
    let wrong = format!("redis://crosscast:bad@127.0.0.1:{}", server.port());
    let err = Driver::connect(DriverConfig::new(wrong))
        .await
        .expect_err("wrong ACL password");
    assert!(matches!(err, DriverError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("authentication failed"), "{err}");
}
