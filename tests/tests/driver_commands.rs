//! The driver executes the command each core output names (`Transmit::kind`, the
//! `Subscription` variant, `ServerCountCommand`), whatever its own `PubSubKind`: one driver
//! serves both families, and a batch may mix them, in order.

use std::time::Duration;

use bytes::Bytes;
use crosscast::driver::{Driver, DriverConfig, DriverError, DriverEvent, PubSubKind, RespVersion};
use crosscast_core::node::{PublishKind, ServerCountCommand, Subscription, Transmit};
use crosscast_tests::redis_server::RedisServer;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

fn transmit(kind: PublishKind, channel: &str, payload: &str) -> Transmit {
    Transmit {
        kind,
        channel: channel.to_owned(),
        payload: payload.as_bytes().to_vec(),
    }
}

async fn wait_count(driver: &Driver, command: ServerCountCommand, channel: &str, expected: u64) {
    timeout(WAIT, async {
        while driver
            .server_count_with(command, channel)
            .await
            .expect("server count")
            != expected
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{command:?} {channel} reaches {expected}"));
}

/// The next `n` messages as `(channel, pattern, payload)`.
async fn messages(
    rx: &mut mpsc::Receiver<DriverEvent>,
    n: usize,
) -> Vec<(String, Option<String>, Bytes)> {
    let mut got = Vec::new();
    timeout(WAIT, async {
        while got.len() < n {
            if let Some(DriverEvent::Message {
                channel,
                pattern,
                payload,
            }) = rx.recv().await
            {
                got.push((channel, pattern, payload));
            }
        }
    })
    .await
    .expect("messages arrive");
    got
}

async fn one_driver_serves_both_kinds(kind: PubSubKind) {
    let server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.kind = kind;
    config.resp = Some(RespVersion::Resp3);
    let (driver, mut rx) = Driver::connect(config).await.expect("connect");

    driver
        .subscribe_to(Subscription::Sharded("shard".into()))
        .expect("ssubscribe");
    driver
        .subscribe_to(Subscription::Channel("plain".into()))
        .expect("subscribe");
    driver
        .subscribe_to(Subscription::Pattern("pat*".into()))
        .expect("psubscribe");
    wait_count(&driver, ServerCountCommand::ShardNumSub, "shard", 1).await;
    wait_count(&driver, ServerCountCommand::NumSub, "plain", 1).await;
    // Each channel is subscribed with the command named, not the driver's kind.
    assert_eq!(
        server.cli(&["PUBSUB", "NUMSUB", "shard"]),
        "shard\n0".to_owned()
    );
    assert_eq!(
        server.cli(&["PUBSUB", "SHARDNUMSUB", "plain"]),
        "plain\n0".to_owned()
    );
    assert_eq!(server.cli(&["PUBSUB", "NUMPAT"]), "1".to_owned());

    // One pipeline mixing both commands. A PUBLISH on the shard channel reaches no one
    // (nothing SUBSCRIBEs it), so it shows that each transmit went out with its own command.
    driver
        .publish_batch(&[
            transmit(PublishKind::SPublish, "shard", "1"),
            transmit(PublishKind::Publish, "shard", "lost"),
            transmit(PublishKind::Publish, "plain", "2"),
            transmit(PublishKind::SPublish, "plain", "lost"),
            transmit(PublishKind::SPublish, "shard", "3"),
            transmit(PublishKind::Publish, "pattern", "4"),
        ])
        .await
        .expect("publish batch");
    driver
        .publish_as(PublishKind::SPublish, "shard", Bytes::from_static(b"5"))
        .await
        .expect("spublish");
    let got = messages(&mut rx, 5).await;
    let m = |c: &str, p: Option<&str>, b: &'static str| {
        (
            c.to_owned(),
            p.map(str::to_owned),
            Bytes::from_static(b.as_bytes()),
        )
    };
    assert_eq!(
        got,
        vec![
            m("shard", None, "1"),
            m("plain", None, "2"),
            m("shard", None, "3"),
            m("pattern", Some("pat*"), "4"),
            m("shard", None, "5"),
        ]
    );

    driver
        .unsubscribe_from(&Subscription::Sharded("shard".into()))
        .expect("sunsubscribe");
    wait_count(&driver, ServerCountCommand::ShardNumSub, "shard", 0).await;
    wait_count(&driver, ServerCountCommand::NumSub, "plain", 1).await;
    driver.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_driver_runs_the_sharded_commands_it_is_given() {
    one_driver_serves_both_kinds(PubSubKind::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_driver_runs_the_classic_commands_it_is_given() {
    one_driver_serves_both_kinds(PubSubKind::Sharded).await;
}

/// A RESP2 subscriber cannot carry `SSUBSCRIBE`: the driver refuses it at once rather than
/// losing the link over it, and keeps serving the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resp2_classic_driver_refuses_a_sharded_subscription() {
    let server = RedisServer::start();
    let mut config = DriverConfig::new(server.url());
    config.resp = Some(RespVersion::Resp2);
    let (driver, _rx) = Driver::connect(config).await.expect("connect");
    assert!(matches!(
        driver.subscribe_to(Subscription::Sharded("shard".into())),
        Err(DriverError::Config(_))
    ));
    driver
        .subscribe_to(Subscription::Channel("plain".into()))
        .expect("subscribe");
    wait_count(&driver, ServerCountCommand::NumSub, "plain", 1).await;
    // Publishing with either command works on any publisher.
    driver
        .publish_batch(&[transmit(PublishKind::SPublish, "shard", "x")])
        .await
        .expect("spublish");
    driver.close().await;
}
