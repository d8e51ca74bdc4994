//! The conformance transcript (`tests/conformance/transcript.json`, format in the README
//! beside it) driven through the native host: a socketioxide app on `CrosscastAdapter`, on
//! its own redis-server, observed by a raw subscriber. What it publishes, subscribes and
//! answers, normalised, must be the transcript's `expected` for each protocol; the wasm host
//! is held to the same file by `host-wasm/test/conformance.test.mjs`.
//!
//! `CONFORMANCE_RECORD=1` writes the observation into the file's `expected` instead (to
//! review with `git diff`, never to make a failing case pass unread).
#![allow(clippy::unwrap_used)]

mod server_support;

use std::path::PathBuf;

use crosscast::adapter::{Cluster, ClusterConfig, CrosscastAdapter};
use crosscast_core::Value as CoreValue;
use crosscast_tests::redis_server::{RedisServer, redis_cli};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use server_support::RawSubscriber;
use socketioxide::SocketIo;
use socketioxide::adapter::Emitter;

type A = CrosscastAdapter<Emitter>;

const MARKER: &str = "conformance-marker";

fn transcript_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/transcript.json")
}

fn transcript() -> Value {
    serde_json::from_str(&std::fs::read_to_string(transcript_path()).unwrap()).unwrap()
}

/// The README's escape: printable ASCII as itself, `\` doubled, other bytes `\xNN`.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// The inverse of [`escape`].
fn unescape(text: &str) -> Vec<u8> {
    let (bytes, mut out, mut i) = (text.as_bytes(), Vec::new(), 0);
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'\\')) => {
                out.push(b'\\');
                i += 2;
            }
            (b'\\', Some(b'x')) => {
                out.push(u8::from_str_radix(&text[i + 2..i + 4], 16).unwrap());
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The first request id `<uid>.<digits>` in `bytes`, as it is on the wire.
fn request_id(bytes: &[u8], uid: &str) -> Option<String> {
    let uid = uid.as_bytes();
    (0..bytes.len()).find_map(|i| {
        let rest = bytes[i..].strip_prefix(uid)?.strip_prefix(b".")?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        (digits > 0)
            .then(|| String::from_utf8(bytes[i..i + uid.len() + 1 + digits].to_vec()).unwrap())
    })
}

/// Publishes `payload` on `channel` (`sharded`: `SPUBLISH`) from a connection of its own, as
/// another server would, and waits for Redis's reply.
fn inject(port: u16, sharded: bool, channel: &str, payload: &[u8]) {
    use std::io::{Read, Write};
    let command = if sharded { "SPUBLISH" } else { "PUBLISH" };
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(server_support::WAIT)).unwrap();
    let mut request = format!(
        "*3\r\n${}\r\n{command}\r\n${}\r\n{channel}\r\n${}\r\n",
        command.len(),
        channel.len(),
        payload.len()
    )
    .into_bytes();
    request.extend_from_slice(payload);
    request.extend_from_slice(b"\r\n");
    stream.write_all(&request).unwrap();
    let mut reply = [0u8; 1];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply[0], b':', "{command} answered");
}

/// `bytes` with every request id `<uid>.<digits>` replaced by `<request-id>`, then every
/// other occurrence of `uid` by `<uid>`.
fn without_uid(bytes: &[u8], uid: &str) -> Vec<u8> {
    let (uid, mut out, mut i) = (uid.as_bytes(), Vec::new(), 0);
    while i < bytes.len() {
        if bytes[i..].starts_with(uid) {
            i += uid.len();
            let digits = bytes[i..]
                .iter()
                .skip(1)
                .take_while(|b| b.is_ascii_digit())
                .count();
            if bytes.get(i) == Some(&b'.') && digits > 0 {
                out.extend_from_slice(b"<request-id>");
                i += 1 + digits;
            } else {
                out.extend_from_slice(b"<uid>");
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn sorted_lines(out: &str, uid: &str) -> Vec<String> {
    let mut lines: Vec<String> = out
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| String::from_utf8(without_uid(l.as_bytes(), uid)).unwrap())
        .collect();
    lines.sort();
    lines
}

fn core_value(v: &Value) -> CoreValue {
    match v {
        Value::Null => CoreValue::Nil,
        Value::Bool(b) => CoreValue::Bool(*b),
        Value::Number(n) => CoreValue::Int(n.as_i64().unwrap()),
        Value::String(s) => CoreValue::Str(s.clone()),
        Value::Array(a) => CoreValue::Array(a.iter().map(core_value).collect()),
        Value::Object(o) => {
            CoreValue::Map(o.iter().map(|(k, v)| (k.clone(), core_value(v))).collect())
        }
    }
}

fn json_of(v: &CoreValue) -> Value {
    match v {
        CoreValue::Nil => Value::Null,
        CoreValue::Bool(b) => json!(b),
        CoreValue::Int(i) => json!(i),
        CoreValue::UInt(u) => json!(u),
        CoreValue::Float(f) => json!(f),
        CoreValue::Str(s) => json!(s),
        CoreValue::Array(a) => Value::Array(a.iter().map(json_of).collect()),
        CoreValue::Map(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), json_of(v))).collect())
        }
        other => json!(format!("{other:?}")),
    }
}

fn error(e: impl std::fmt::Display) -> Value {
    json!({ "error": e.to_string() })
}

/// Runs one case's operation; its answer (`null` for operations without one).
async fn run_case(io: &SocketIo<A>, cluster: &Cluster, case: &Value) -> Value {
    let event = case["event"].as_str().unwrap_or("");
    let rooms = strs(&case["rooms"]);
    let except = strs(&case["except"]);
    match case["op"].as_str().unwrap() {
        "broadcast" => {
            let r = io.to(rooms).except(except).emit(event, &case["data"]).await;
            r.err().map_or(Value::Null, error)
        }
        "broadcast_binary" => {
            let bytes: Vec<u8> = serde_json::from_value(case["bytes"].clone()).unwrap();
            let r = io
                .to(rooms)
                .except(except)
                .emit(event, &bytes::Bytes::from(bytes))
                .await;
            r.err().map_or(Value::Null, error)
        }
        "broadcast_with_ack" => match io
            .timeout(std::time::Duration::from_millis(
                case["timeout_ms"].as_u64().unwrap(),
            ))
            .emit_with_ack::<_, Value>(event, &case["data"])
            .await
        {
            // socketioxide ends the stream with an `Err(Timeout)` item for what never
            // acked; Node's callback gets an error and the acks that came.
            Ok(stream) => {
                let (mut acks, mut timed_out) = (Vec::new(), false);
                for (_, r) in stream.collect::<Vec<_>>().await {
                    match r {
                        Ok(v) => acks.push(v),
                        Err(socketioxide::AckError::Timeout) => timed_out = true,
                        Err(e) => acks.push(error(e)),
                    }
                }
                acks.sort_by_key(Value::to_string);
                json!({ "acks": acks, "timed_out": timed_out })
            }
            Err(e) => error(e),
        },
        "sockets_join" => {
            let r = io.to(rooms).join(strs(&case["join"])).await;
            r.err().map_or(Value::Null, error)
        }
        "sockets_leave" => {
            let r = io.to(rooms).leave(strs(&case["join"])).await;
            r.err().map_or(Value::Null, error)
        }
        "disconnect_sockets" => {
            let r = io.to(rooms).disconnect().await;
            r.err().map_or(Value::Null, error)
        }
        "fetch_sockets" => match io.fetch_sockets().await {
            Ok(sockets) => {
                let mut ids: Vec<String> = sockets
                    .iter()
                    .map(|s| cluster.socket_id(s.data()))
                    .collect();
                ids.sort();
                json!(ids)
            }
            Err(e) => error(e),
        },
        "all_rooms" => match io.rooms().await {
            Ok(rooms) => {
                let mut rooms: Vec<String> = rooms.iter().map(ToString::to_string).collect();
                rooms.sort();
                json!(rooms)
            }
            Err(e) => error(e),
        },
        "server_side_emit" => {
            let r = cluster
                .server_side_emit("/", event, vec![core_value(&case["data"])])
                .await;
            r.err().map_or(Value::Null, error)
        }
        "server_side_emit_ack" => {
            match cluster
                .server_side_emit_with_ack("/", event, vec![core_value(&case["data"])])
                .await
            {
                Ok(acks) => json!({
                    "acks": Value::Array(acks.values.iter().map(json_of).collect()),
                    "timed_out": acks.timed_out,
                }),
                Err(e) => error(e),
            }
        }
        "server_count" => cluster
            .server_count("/")
            .await
            .map_or_else(error, |n| json!(n)),
        other => panic!("unknown op {other}"),
    }
}

/// Runs the transcript on one server of `protocol`; the normalised observation.
async fn observe(protocol: &str, t: &Value) -> Value {
    let redis = RedisServer::start();
    let mut config = if protocol == "sharded" {
        ClusterConfig::sharded(redis.url())
    } else {
        ClusterConfig::classic(redis.url())
    };
    config.heartbeat_interval_ms = 0;
    config.requests_timeout_ms = t["requests_timeout_ms"].as_u64().unwrap();
    let cluster = Cluster::connect(config).await.unwrap();
    let (_layer, io) = SocketIo::builder()
        .with_adapter::<A>(cluster.clone())
        .build_layer();
    io.ns("/", async |_: socketioxide::extract::SocketRef<A>| {})
        .await
        .unwrap();
    let uid = cluster.uid("/").unwrap();
    let port = redis.port();
    // The host subscribes asynchronously: wait (bounded) until it holds as many channels as
    // expected (at least one), then take what it holds.
    let kind = if protocol == "sharded" {
        "shard_channels"
    } else {
        "channels"
    };
    let want = t["expected"][protocol]["subscribed"][kind]
        .as_array()
        .map_or(1, Vec::len)
        .max(1);
    let mut attempt = 0;
    let subscribed = loop {
        let subscribed = json!({
            "channels": sorted_lines(&redis_cli(port, &["PUBSUB", "CHANNELS"]), &uid),
            "shard_channels": sorted_lines(&redis_cli(port, &["PUBSUB", "SHARDCHANNELS"]), &uid),
        });
        if subscribed[kind].as_array().unwrap().len() >= want || attempt == 200 {
            break subscribed;
        }
        attempt += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut raw = RawSubscriber::psubscribe(port, "*");
    if protocol == "sharded" {
        for channel in strs(&t["observer_shard_channels"]) {
            raw.also_subscribe(&channel, true);
        }
    }
    // Classic: a silent peer (never answers), so that the host sees two servers as the
    // sharded observer's SSUBSCRIBE makes it see.
    let _silent_peer = (protocol == "classic")
        .then(|| RawSubscriber::subscribe(port, t["classic_silent_peer"].as_str().unwrap(), false));
    let sharded = protocol == "sharded";
    let mut cases = Map::new();
    for case in t["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let message = &case["message"][protocol];
        if case["op"] == "inbound" && message.is_null() {
            continue;
        }
        // What this driver published itself: the observer sees it too, and skips it once.
        let mut injected: Vec<(String, Vec<u8>)> = Vec::new();
        let mut published = Vec::new();
        let mut note = |channel: &str, payload: &[u8], injected: &mut Vec<(String, Vec<u8>)>| {
            if let Some(at) = injected
                .iter()
                .position(|(c, p)| c == channel && p == payload)
            {
                injected.remove(at);
            } else {
                published.push(format!(
                    "{} {}",
                    escape(&without_uid(channel.as_bytes(), &uid)),
                    escape(&without_uid(payload, &uid))
                ));
            }
        };
        let answer = match case["op"].as_str().unwrap() {
            "inbound" => {
                let channel = message[0].as_str().unwrap();
                let payload = unescape(message[1].as_str().unwrap());
                inject(port, sharded, channel, &payload);
                injected.push((channel.to_owned(), payload));
                Value::Null
            }
            "request_answered" => {
                let (io2, cluster2, request) =
                    (io.clone(), cluster.clone(), case["request"].clone());
                let task = tokio::spawn(async move { run_case(&io2, &cluster2, &request).await });
                // The host's request, then a Node server's answer to it.
                let id = tokio::task::block_in_place(|| {
                    loop {
                        let (channel, payload) = raw.next_raw();
                        let id = request_id(&payload, &uid);
                        note(&channel, &payload, &mut injected);
                        if let Some(id) = id {
                            break id;
                        }
                    }
                });
                for response in case["responses"][protocol].as_array().unwrap() {
                    let channel = response[0].as_str().unwrap().replace("<uid>", &uid);
                    let payload =
                        unescape(&response[1].as_str().unwrap().replace("<request-id>", &id));
                    injected.push((channel.clone(), payload.clone()));
                    inject(port, sharded, &channel, &payload);
                }
                task.await.unwrap()
            }
            _ => run_case(&io, &cluster, case).await,
        };
        if case["op"] == "inbound" {
            // Answered after the message before it: a request of the marker's id.
            let marker = &t["inbound_marker"][protocol];
            let channel = marker[0].as_str().unwrap();
            let payload = unescape(marker[1].as_str().unwrap());
            inject(port, sharded, channel, &payload);
            injected.push((channel.to_owned(), payload));
        } else {
            cluster
                .server_side_emit("/", MARKER, vec![CoreValue::Str(name.to_owned())])
                .await
                .unwrap();
        }
        tokio::task::block_in_place(|| {
            loop {
                let (channel, payload) = raw.next_raw();
                let own = injected.iter().any(|(c, p)| *c == channel && *p == payload);
                if !own
                    && payload
                        .windows(MARKER.len())
                        .any(|w| w == MARKER.as_bytes())
                {
                    break;
                }
                note(&channel, &payload, &mut injected);
            }
        });
        cases.insert(
            name.to_owned(),
            json!({ "published": published, "answer": answer }),
        );
    }
    io.close().await;
    cluster.close().await;
    json!({ "subscribed": subscribed, "cases": cases })
}

fn compare(protocol: &str, observed: &Value, t: &Value) {
    let expected = &t["expected"][protocol];
    assert_eq!(
        observed["subscribed"], expected["subscribed"],
        "{protocol}: subscribed channels"
    );
    for case in t["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if case["op"] == "inbound" && case["message"][protocol].is_null() {
            continue;
        }
        assert_eq!(
            observed["cases"][name], expected["cases"][name],
            "{protocol}/{name}: published bytes and answer"
        );
    }
}

async fn conformance(protocol: &str) {
    let t = transcript();
    let observed = observe(protocol, &t).await;
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("conformance-native-{protocol}.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&observed).unwrap()).unwrap();
    if std::env::var_os("CONFORMANCE_RECORD").is_some() {
        let mut t = transcript();
        t["expected"][protocol] = observed;
        std::fs::write(
            transcript_path(),
            serde_json::to_string_pretty(&t).unwrap() + "\n",
        )
        .unwrap();
        return;
    }
    compare(protocol, &observed, &t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_native_host_follows_the_conformance_transcript() {
    conformance("classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_native_host_follows_the_conformance_transcript() {
    conformance("sharded").await;
}
