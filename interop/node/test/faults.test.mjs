// Faults around the crosscast adapter, with real processes: Redis restarted
// under a running cluster, a Node peer killed during fetchSockets, and garbage
// published on every channel a crosscast server listens to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import Redis from "ioredis";
import {
  startRedis, startPeer, startRustPeer, connect, next, request, stopProcess, eventually, within,
} from "../harness.mjs";

/** Starts redis-server on `port` again after a stop; resolves with the child. */
function restartRedis(port) {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] });
  return within(10000, "redis-server back", new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (/Ready to accept connections/.test(out)) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  }));
}

for (const adapter of ["classic", "sharded"]) {
  test(`${adapter}: delivery between crosscast servers resumes after a Redis restart`, async (t) => {
    let redis = await startRedis();
    const port = Number(new URL(redis.url).port);
    const args = ["--redis-url", redis.url, "--adapter", adapter, "--key", `restart-${adapter}`];
    const a = await startRustPeer(args);
    const b = await startRustPeer(args);
    const ca = await connect(a.url);
    const cb = await connect(b.url);
    t.after(async () => {
      ca.disconnect();
      cb.disconnect();
      await Promise.all([stopProcess(a.child), stopProcess(b.child)]);
      await stopProcess(redis.child);
    });
    await eventually(5000, async () =>
      assert.deepEqual(await request(ca, 3000, "who"), { sockets: 2, servers: 2 }));

    await stopProcess(redis.child);
    // While Redis is down, a local broadcast still reaches the sender's own clients.
    const own = next(ca, "chat message", 3000);
    ca.emit("chat message", "while down");
    assert.equal(await own, "while down");

    redis = { ...redis, child: await restartRedis(port) };
    const back = Date.now();
    // Send every 100 ms until b's client hears one; it must within 2 s of Redis being back.
    let n = 0;
    const timer = setInterval(() => ca.emit("chat message", `after restart ${n++}`), 100);
    try {
      const got = await within(2000, "delivery within 2 s of Redis being back", new Promise((resolve) => {
        const on = (m) => {
          if (typeof m === "string" && m.startsWith("after restart")) {
            cb.off("chat message", on);
            resolve(m);
          }
        };
        cb.on("chat message", on);
      }));
      t.diagnostic(`first delivery ${Date.now() - back} ms after Redis was back (${got})`);
    } finally {
      clearInterval(timer);
    }
    const metrics = await request(ca, 3000, "x:metrics");
    assert.ok(metrics.reconnects >= 1, JSON.stringify(metrics));
  });

  test(`${adapter}: a Node peer killed during fetchSockets ends the request with the partial result`, async (t) => {
    const redis = await startRedis();
    const args = ["--redis-url", redis.url, "--adapter", adapter, "--key", `kill-${adapter}`, "--requests-timeout", "15000"];
    const rust = await startRustPeer(args);
    const n1 = await startPeer([...args, "--client", "ioredis"]);
    const n2 = await startPeer([...args, "--client", "ioredis"]);
    const cr = await connect(rust.url);
    const c1 = await connect(n1.url);
    const c2 = await connect(n2.url);
    t.after(async () => {
      for (const c of [cr, c1, c2]) c.disconnect();
      await Promise.all([stopProcess(rust.child), stopProcess(n1.child), stopProcess(n2.child)]);
      await stopProcess(redis.child);
    });
    await eventually(5000, async () =>
      assert.deepEqual(await request(cr, 3000, "who"), { sockets: 3, servers: 3 }));
    // n2 hangs, so it cannot answer; then it dies while the request waits for it.
    n2.child.kill("SIGSTOP");
    const started = Date.now();
    const pending = request(cr, 12000, "x:fetch", {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    n2.child.kill("SIGKILL");
    const found = await pending;
    t.diagnostic(`fetchSockets ended ${Date.now() - started} ms after it started (timeout 15000)`);
    assert.deepEqual(found.map((s) => s.id).sort(), [c1.id, cr.id].sort());
    const metrics = await request(cr, 3000, "x:metrics");
    assert.equal(metrics.timedOut, 0, JSON.stringify(metrics));
    assert.ok(metrics.partial >= 1, JSON.stringify(metrics));
  });

  test(`${adapter}: garbage on every crosscast channel is counted and ignored`, async (t) => {
    const redis = await startRedis();
    const key = `garbage-${adapter}`;
    const args = ["--redis-url", redis.url, "--adapter", adapter, "--key", key];
    const a = await startRustPeer(args);
    const b = await startRustPeer(args);
    const ca = await connect(a.url);
    const cb = await connect(b.url);
    const client = new Redis(redis.url);
    t.after(async () => {
      client.disconnect();
      ca.disconnect();
      cb.disconnect();
      await Promise.all([stopProcess(a.child), stopProcess(b.child)]);
      await stopProcess(redis.child);
    });
    await eventually(5000, async () =>
      assert.deepEqual(await request(ca, 3000, "who"), { sockets: 2, servers: 2 }));
    const channels = adapter === "classic"
      ? [...await client.pubsub("CHANNELS", `${key}*`), `${key}#/#`, `${key}#/#some-room#`]
      : await client.pubsub("SHARDCHANNELS", `${key}*`);
    assert.ok(channels.length >= (adapter === "classic" ? 5 : 2), JSON.stringify(channels));
    const garbage = [Buffer.from([0xc1]), Buffer.from("{not json"), Buffer.from([0x93, 0xa1]),
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), Buffer.from("[1,2,3]"), Buffer.alloc(0)];
    const command = adapter === "classic" ? "publish" : "spublish";
    for (const channel of channels) {
      for (const g of garbage) await client[command](channel, g);
    }
    // Both servers keep serving.
    const atB = next(cb, "chat message");
    ca.emit("chat message", "still here");
    assert.equal(await atB, "still here");
    assert.deepEqual(await request(cb, 3000, "who"), { sockets: 2, servers: 2 });
    const metrics = await request(ca, 3000, "x:metrics");
    assert.ok(metrics.decodeErrors >= channels.length * 4, JSON.stringify({ metrics, channels }));
  });
}
