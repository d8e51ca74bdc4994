//! Encode and decode throughput of the wire codec on three realistic messages:
//! a classic broadcast with a binary argument, a classic fetchSockets answer of
//! 100 sockets, and the sharded (JSON) broadcast of the same event without the
//! binary. Run: `cargo bench -p crosscast-core --bench codec`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crosscast_core::classic::RequestType;
use crosscast_core::sharded::ShardedBody;
use crosscast_core::{
    BroadcastOpts, ClassicBroadcast, ClassicResponse, Limits, Packet, ShardedMessage, SocketInfo,
    Value,
};

fn args(with_binary: bool) -> Vec<Value> {
    let mut args = vec![
        Value::from("hello from the other side of the cluster"),
        Value::map([
            ("user", Value::from("alice")),
            ("id", Value::Int(4242)),
            ("score", Value::Float(3.75)),
            (
                "tags",
                Value::Array(vec![Value::from("a"), Value::from("b")]),
            ),
        ]),
    ];
    if with_binary {
        args.push(Value::Bin((0u8..64).collect()));
    }
    args
}

/// (a) `io.to(["room1","room2"]).emit("chat message", text, {…}, <64 bytes>)`.
fn classic_broadcast() -> ClassicBroadcast {
    let mut packet = Packet::event("chat message", args(true));
    packet.nsp = Some("/".into());
    ClassicBroadcast {
        uid: "AAAAAA".into(),
        packet,
        opts: BroadcastOpts::to_rooms(["room1", "room2"]),
    }
}

/// One socket as the Node adapter describes it in a REMOTE_FETCH answer.
fn socket(i: u32) -> SocketInfo {
    let id = format!("SOCKETID{i:012}");
    let handshake = Value::map([
        (
            "headers",
            Value::map([
                ("host", Value::from("127.0.0.1:3000")),
                ("user-agent", Value::from("node-XMLHttpRequest")),
                ("accept", Value::from("*/*")),
            ]),
        ),
        (
            "time",
            Value::from("Thu Jan 01 2026 00:00:00 GMT+0000 (Coordinated Universal Time)"),
        ),
        ("address", Value::from("127.0.0.1")),
        ("xdomain", Value::Bool(false)),
        ("secure", Value::Bool(false)),
        ("issued", Value::Int(1_767_225_600_000 + i64::from(i))),
        ("url", Value::from("/socket.io/?EIO=4&transport=websocket")),
        (
            "query",
            Value::map([
                ("EIO", Value::from("4")),
                ("transport", Value::from("websocket")),
            ]),
        ),
        ("auth", Value::map::<&str>([])),
    ]);
    SocketInfo {
        rooms: vec![id.clone().into(), "room1".into()],
        data: Some(Value::map([("user", Value::from(format!("user{i}")))])),
        handshake: Some(handshake),
        id,
    }
}

/// (b) The answer of one node to `io.fetchSockets()`: 100 sockets.
fn fetch_response() -> ClassicResponse {
    ClassicResponse::Fetch {
        request_id: "RQ0001".into(),
        sockets: (0..100).map(socket).collect(),
    }
}

/// (c) The broadcast of (a), without the binary, as the sharded adapter sends it.
fn sharded_broadcast() -> ShardedMessage {
    ShardedMessage {
        uid: "0123456789abcdef".into(),
        nsp: "/".into(),
        body: ShardedBody::Broadcast {
            packet: Packet::event("chat message", args(false)),
            opts: BroadcastOpts::to_rooms(["room1", "room2"]),
        },
    }
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();

    let message = classic_broadcast();
    let bytes = message.encode();
    assert_eq!(
        ClassicBroadcast::decode(&bytes, &limits).as_ref(),
        Ok(&message)
    );
    eprintln!("classic_broadcast: {} bytes", bytes.len());
    let mut group = c.benchmark_group("classic_broadcast");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&message).encode()));
    group.bench_function("decode", |b| {
        b.iter(|| ClassicBroadcast::decode(black_box(&bytes), &limits))
    });
    group.finish();

    let response = fetch_response();
    let bytes = response.encode();
    assert_eq!(
        ClassicResponse::decode(&bytes, &limits, RequestType::RemoteFetch).as_ref(),
        Ok(&response)
    );
    eprintln!("classic_fetch_response_100: {} bytes", bytes.len());
    let mut group = c.benchmark_group("classic_fetch_response_100");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&response).encode()));
    group.bench_function("decode", |b| {
        b.iter(|| ClassicResponse::decode(black_box(&bytes), &limits, RequestType::RemoteFetch))
    });
    group.finish();

    let message = sharded_broadcast();
    let bytes = message.encode();
    assert_eq!(
        bytes.first(),
        Some(&b'{'),
        "the sharded broadcast goes as JSON"
    );
    assert_eq!(
        ShardedMessage::decode(&bytes, &limits).as_ref(),
        Ok(&message)
    );
    eprintln!("sharded_json_broadcast: {} bytes", bytes.len());
    let mut group = c.benchmark_group("sharded_json_broadcast");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&message).encode()));
    group.bench_function("decode", |b| {
        b.iter(|| ShardedMessage::decode(black_box(&bytes), &limits))
    });
    group.finish();
}

criterion_group! {
    name = codec;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = bench
}
criterion_main!(codec);
