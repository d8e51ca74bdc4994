//! The native adapter, used as a library in a socketioxide app on a real
//! redis-server: what the cluster cannot carry is refused to the caller with
//! an error and counted, before anything is delivered or published.

#![allow(clippy::unwrap_used)]

use crosscast::adapter::{Cluster, ClusterConfig, CrosscastAdapter, Error};
use crosscast_core::Value;
use crosscast_tests::redis_server::RedisServer;
use socketioxide::SocketIo;
use socketioxide::adapter::Emitter;

type A = CrosscastAdapter<Emitter>;

async fn app(redis: &RedisServer, sharded: bool) -> (Cluster, SocketIo<A>) {
    let config = if sharded {
        ClusterConfig::sharded(redis.url())
    } else {
        ClusterConfig::classic(redis.url())
    };
    let cluster = Cluster::connect(config).await.unwrap();
    let (_layer, io) = SocketIo::builder()
        .with_adapter::<A>(cluster.clone())
        .build_layer();
    io.ns("/", async |_: socketioxide::extract::SocketRef<A>| {})
        .await
        .unwrap();
    (cluster, io)
}

fn nested(levels: usize) -> serde_json::Value {
    let mut v = serde_json::json!("core");
    for _ in 0..levels {
        v = serde_json::json!([v]);
    }
    v
}

async fn refusals(sharded: bool) {
    let redis = RedisServer::start();
    let (cluster, io) = app(&redis, sharded).await;

    // 100 levels: carried (tests/tests/server_trust.rs shows it arrives).
    io.emit("deep", &nested(100)).await.unwrap();
    // 200 levels: more than the cluster carries (128). The app gets an error.
    let refused = io.emit("deep", &nested(200)).await;
    assert!(refused.is_err(), "a value too deep to carry is refused");
    assert!(
        refused.unwrap_err().to_string().contains("deeper than 128"),
        "the error says why"
    );
    assert_eq!(cluster.metrics().refused, 1);

    // Reserved server-side event names: refused on both calls, nothing sent.
    for name in crosscast_core::event_name::SERVER_SIDE_RESERVED_EVENTS {
        let plain = cluster
            .server_side_emit("/", name, vec![Value::Int(1)])
            .await;
        assert!(matches!(plain, Err(Error::Refused(_))), "{name}: {plain:?}");
        let with_ack = cluster.server_side_emit_with_ack("/", name, vec![]).await;
        assert!(matches!(with_ack, Err(Error::Refused(_))), "{name}");
    }
    assert_eq!(
        cluster.metrics().refused,
        1 + 2 * crosscast_core::event_name::SERVER_SIDE_RESERVED_EVENTS.len() as u64
    );
    // Refused in the adapter, before the node: the node saw none of them.
    assert_eq!(cluster.metrics().core.refused_too_deep, 0);
    assert_eq!(cluster.metrics().core.refused_reserved_event, 0);
    io.close().await;
    cluster.close().await;
}

#[tokio::test]
async fn classic_what_the_cluster_cannot_carry_is_refused_to_the_caller() {
    refusals(false).await;
}

#[tokio::test]
async fn sharded_what_the_cluster_cannot_carry_is_refused_to_the_caller() {
    refusals(true).await;
}
