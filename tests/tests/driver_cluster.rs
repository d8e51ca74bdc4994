//! Sharded and classic pub/sub through the driver on a real 3-master Redis Cluster, with
//! channels owned by different masters.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use crosscast::driver::{Driver, DriverConfig, DriverEvent, PubSubKind, RespVersion};
use crosscast_tests::redis_server::{RedisCluster, redis_cli};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(15);

fn config(cluster: &RedisCluster, kind: PubSubKind, resp: RespVersion) -> DriverConfig {
    let urls = cluster.urls();
    let mut config = DriverConfig::new(urls[0].clone());
    config.cluster_nodes = Some(urls[1..].to_vec());
    config.kind = kind;
    config.resp = Some(resp);
    config
}

/// Sharded-adapter-like channel names (no hash tags), one owned by each master.
fn channels_on_every_master(cluster: &RedisCluster) -> Vec<(String, u16)> {
    let mut seen = BTreeSet::new();
    let mut picked = Vec::new();
    for i in 0..200 {
        let channel = format!("socket.io#/#room-{i}#");
        let owner = cluster.master_of(&channel);
        if seen.insert(owner) {
            picked.push((channel, owner));
        }
        if picked.len() == cluster.ports().len() {
            return picked;
        }
    }
    panic!("200 channel names did not cover every master");
}

async fn wait_count(driver: &Driver, channel: &str, expected: u64) {
    timeout(WAIT, async {
        loop {
            if driver.server_count(channel).await.expect("server_count") == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{channel} never reached {expected} subscribers"));
}

async fn messages(rx: &mut Receiver<DriverEvent>, n: usize) -> BTreeSet<(String, Bytes)> {
    let mut got = BTreeSet::new();
    timeout(WAIT, async {
        while got.len() < n {
            if let Some(DriverEvent::Message {
                channel, payload, ..
            }) = rx.recv().await
            {
                got.insert((channel, payload));
            }
        }
    })
    .await
    .expect("messages within the deadline");
    got
}

async fn sharded_on_cluster(resp: RespVersion) {
    let cluster = RedisCluster::start(3);
    let channels = channels_on_every_master(&cluster);
    let (a, mut rx_a) = Driver::connect(config(&cluster, PubSubKind::Sharded, resp))
        .await
        .expect("connect a");
    let (b, _rx_b) = Driver::connect(config(&cluster, PubSubKind::Sharded, resp))
        .await
        .expect("connect b");

    for (channel, _) in &channels {
        a.subscribe(channel.clone()).expect("subscribe");
    }
    for (channel, owner) in &channels {
        wait_count(&a, channel, 1).await;
        // The SSUBSCRIBE went to the slot owner, and only there.
        for &port in cluster.ports() {
            let expected = if port == *owner { 1 } else { 0 };
            assert_eq!(
                redis_cli(port, &["PUBSUB", "SHARDNUMSUB", channel]),
                format!("{channel}\n{expected}"),
                "node {port}, owner {owner}"
            );
        }
    }
    // A second server on one channel: SHARDNUMSUB is summed over the masters.
    b.subscribe(channels[1].0.clone()).expect("subscribe b");
    wait_count(&a, &channels[1].0, 2).await;
    assert_eq!(a.server_count(&channels[0].0).await.expect("count"), 1);
    assert_eq!(b.server_count(&channels[2].0).await.expect("count"), 1);

    // SPUBLISH from the other driver reaches a on every master.
    for (channel, _) in &channels {
        b.publish(channel, Bytes::from(format!("to {channel}")))
            .await
            .expect("spublish");
    }
    let got = messages(&mut rx_a, channels.len()).await;
    let expected: BTreeSet<(String, Bytes)> = channels
        .iter()
        .map(|(c, _)| (c.clone(), Bytes::from(format!("to {c}"))))
        .collect();
    assert_eq!(got, expected);

    a.unsubscribe(&channels[0].0).expect("unsubscribe");
    wait_count(&b, &channels[0].0, 0).await;
    // A healthy cluster never made the driver rebuild its connections.
    assert_eq!(a.stats().reconnects, 0);
    assert_eq!(b.stats().reconnects, 0);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_cluster_resp2_publisher() {
    sharded_on_cluster(RespVersion::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_cluster_resp3() {
    sharded_on_cluster(RespVersion::Resp3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_cluster_numsub_is_summed() {
    let cluster = RedisCluster::start(3);
    let (a, mut rx_a) = Driver::connect(config(&cluster, PubSubKind::Classic, RespVersion::Resp3))
        .await
        .expect("connect a");
    let (b, _rx_b) = Driver::connect(config(&cluster, PubSubKind::Classic, RespVersion::Resp2))
        .await
        .expect("connect b");
    let request = "socket.io-request#/#";
    a.subscribe(request).expect("subscribe a");
    wait_count(&b, request, 1).await;
    b.subscribe(request).expect("subscribe b");
    wait_count(&a, request, 2).await;
    // The per-node counts add up to the driver's sum, whichever nodes the subscribers use.
    let per_node: u64 = cluster
        .ports()
        .iter()
        .map(|&p| {
            redis_cli(p, &["PUBSUB", "NUMSUB", request])
                .lines()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
                .expect("NUMSUB count")
        })
        .sum();
    assert_eq!(per_node, 2);
    b.publish(request, Bytes::from_static(b"hello cluster"))
        .await
        .expect("publish");
    let got = messages(&mut rx_a, 1).await;
    assert!(got.contains(&(request.to_owned(), Bytes::from_static(b"hello cluster"))));
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_cluster_master_restart() {
    let mut cluster = RedisCluster::start(3);
    let channels = channels_on_every_master(&cluster);
    let (driver, mut rx) =
        Driver::connect(config(&cluster, PubSubKind::Sharded, RespVersion::Resp3))
            .await
            .expect("connect");
    for (channel, _) in &channels {
        driver.subscribe(channel.clone()).expect("subscribe");
    }
    for (channel, _) in &channels {
        wait_count(&driver, channel, 1).await;
    }
    let (restarted_channel, restarted) = channels[0].clone();
    tokio::task::block_in_place(|| cluster.restart_node(restarted));
    let back = std::time::Instant::now();

    // The restarted master lost its subscriptions; the driver restores them.
    timeout(WAIT, async {
        while redis_cli(restarted, &["PUBSUB", "SHARDNUMSUB", &restarted_channel])
            != format!("{restarted_channel}\n1")
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the subscription is back on the restarted master");
    for (channel, owner) in &channels {
        assert_eq!(
            redis_cli(*owner, &["SPUBLISH", channel, "after"]),
            "1",
            "{channel} on {owner}"
        );
    }
    let got = messages(&mut rx, channels.len()).await;
    println!(
        "cluster master restart: all {} channels delivered {:?} after the cluster was ok again; {:?}",
        channels.len(),
        back.elapsed(),
        driver.stats()
    );
    let expected: BTreeSet<(String, Bytes)> = channels
        .iter()
        .map(|(c, _)| (c.clone(), Bytes::from_static(b"after")))
        .collect();
    assert_eq!(got, expected);
    // The lost node connection made the driver rebuild its session and resubscribe.
    assert!(driver.stats().reconnects >= 1, "{:?}", driver.stats());
    driver.close().await;
}
