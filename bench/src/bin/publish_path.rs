//! `publish-path`: how fast one crosscast node gets broadcasts into Redis.
//!
//! It connects one [`Cluster`] (classic or sharded) to `--redis-url`, builds a
//! socketioxide server on crosscast's adapter with no clients, and calls
//! `io.emit("chat message", {t, s, n})` `--count` times as fast as it can,
//! keeping at most `--window` broadcasts queued but not yet acknowledged by
//! Redis (so the adapter's bounded publish queue never overflows; a full window
//! waits 1 ms, so the CPU figure holds no busy waiting). It prints one
//! JSON object: broadcasts per second into Redis, the node's CPU per broadcast,
//! and the publish drops and failures the adapter counted. Loopback only;
//! bounded in count (at most 10^7) and time (`--timeout` seconds, at most 600).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crosscast::adapter::{Cluster, ClusterConfig, CrosscastAdapter};
use crosscast_core::Value;
use socketioxide::SocketIo;

type A = CrosscastAdapter<socketioxide::adapter::Emitter>;

#[derive(Debug)]
struct Options {
    redis_url: String,
    sharded: bool,
    key: String,
    count: u64,
    window: u64,
    timeout: Duration,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        redis_url: String::new(),
        sharded: false,
        key: "bench-publish".to_owned(),
        count: 200_000,
        window: 512,
        timeout: Duration::from_secs(60),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--redis-url" => o.redis_url = value,
            "--adapter" => o.sharded = value == "sharded",
            "--key" => o.key = value,
            "--count" => o.count = value.parse().map_err(|_| "bad --count")?,
            "--window" => o.window = value.parse().map_err(|_| "bad --window")?,
            "--timeout" => {
                o.timeout = Duration::from_secs(value.parse().map_err(|_| "bad --timeout")?);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let host_ok = ["redis://127.", "redis://localhost", "redis://[::1]"]
        .iter()
        .any(|p| o.redis_url.starts_with(p));
    if !host_ok {
        return Err("--redis-url must be a loopback redis:// URL".to_owned());
    }
    if !(1..=10_000_000).contains(&o.count) || !(1..=60_000).contains(&o.window) {
        return Err("--count must be in 1..=1e7 and --window in 1..=60000".to_owned());
    }
    if o.timeout.is_zero() || o.timeout > Duration::from_secs(600) {
        return Err("--timeout must be in 1..=600 seconds".to_owned());
    }
    Ok(o)
}

/// User + system CPU of this process, from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_us() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command name: state is field 0, utime 11, stime 12.
    (ticks(11) + ticks(12)) * 10_000
}

async fn run(o: Options) -> Result<serde_json::Value, String> {
    let mut config = if o.sharded {
        ClusterConfig::sharded(o.redis_url.clone())
    } else {
        ClusterConfig::classic(o.redis_url.clone())
    };
    config.protocol = config.protocol.with_key(o.key.clone());
    let cluster = Cluster::connect(config)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (_layer, io) = SocketIo::builder()
        .with_adapter::<A>(cluster.clone())
        .build_layer();
    io.ns("/", async |_: socketioxide::extract::SocketRef<A>| {})
        .await
        .map_err(|e| format!("namespace: {e}"))?;
    // Let the subscriptions settle so the first broadcasts are not racing them.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let settled = |c: &Cluster| {
        let m = c.metrics();
        m.driver.published + m.driver.publish_failures + m.publish_dropped
    };
    let base = settled(&cluster);
    let deadline = Instant::now() + o.timeout;
    let cpu_before = cpu_us();
    let start = Instant::now();
    let mut emitted = 0u64;
    while emitted < o.count && Instant::now() < deadline {
        // Heartbeats are published too, so `done` may pass `emitted`.
        let done = settled(&cluster) - base;
        if emitted.saturating_sub(done) >= o.window {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        let payload = Value::Map(vec![
            ("t".into(), Value::from(emitted)),
            ("s".into(), Value::from(0u64)),
            ("n".into(), Value::from(emitted)),
        ]);
        io.emit("chat message", &payload)
            .await
            .map_err(|e| format!("emit: {e}"))?;
        emitted += 1;
    }
    // Broadcasts the adapter dropped before its publish queue (a full namespace
    // inbox) never settle: stop waiting once nothing moved for 500 ms.
    let mut last = (settled(&cluster), Instant::now());
    while last.0 - base < emitted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let now = settled(&cluster);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_millis(500) {
            break;
        }
    }
    let elapsed = last.1.duration_since(start).as_secs_f64();
    let cpu = cpu_us() - cpu_before;
    let m = cluster.metrics();
    let published = m.driver.published;
    cluster.close().await;
    Ok(serde_json::json!({
        "adapter": if o.sharded { "sharded" } else { "classic" },
        "emitted": emitted,
        "published": published,
        "publish_failures": m.driver.publish_failures,
        "publish_dropped": m.publish_dropped,
        "never_published": emitted.saturating_sub(last.0 - base),
        "elapsed_s": elapsed,
        "published_per_s": published as f64 / elapsed,
        "cpu_us": cpu,
        "cpu_us_per_broadcast": cpu as f64 / published.max(1) as f64,
    }))
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("publish-path: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("publish-path: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(o)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("publish-path: {e}");
            ExitCode::FAILURE
        }
    }
}
