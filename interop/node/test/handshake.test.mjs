// A Node.js app on the official @socket.io/redis-adapter fetches the sockets
// of a `crosscast serve` server (classic and sharded): a Rust socket arrives
// with the handshake its client really made (auth, query, headers, address,
// time, issued in epoch ms, secure, xdomain, url) and its socket.data (the chat
// app's: the uid of the server it is on). The server's record of its sockets
// shrinks back when they disconnect (the gauge crosscast_socket_records).
// Real processes: a private redis-server, the crosscast binary, socket.io-client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as connectClient } from "socket.io-client";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import Redis from "ioredis";
import { startRedis, stopProcess, within, eventually, freePort, startCrosscast } from "../harness.mjs";

/** A Socket.IO server in this process on the official adapter. */
async function startNodeServer(redisUrl, adapter, key) {
  const pub = new Redis(redisUrl);
  const sub = pub.duplicate();
  const httpServer = createServer();
  const io = new Server(httpServer);
  io.adapter(adapter === "sharded"
    ? createShardedAdapter(pub, sub, { channelPrefix: key })
    : createAdapter(pub, sub, { key }));
  const port = await freePort();
  await new Promise((resolve) => httpServer.listen(port, "127.0.0.1", resolve));
  return {
    io,
    close: async () => {
      await io.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}

/** A websocket client of `url`; resolves once connected. */
async function client(url, options = {}) {
  const socket = connectClient(url, { transports: ["websocket"], reconnection: false, forceNew: true, ...options });
  await within(5000, `client of ${url}`, new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }));
  return socket;
}

/** One sample of `name` in the server's /metrics (undefined when absent). */
async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  if (redis) await stopProcess(redis.child);
});

for (const adapter of ["classic", "sharded"]) {
  test(`${adapter}: a Node app's fetchSockets sees a Rust socket's real handshake and data`, async (t) => {
    const key = `handshake-${adapter}`;
    // The client sends an Origin (so `xdomain` is true): the server must allow it.
    const rust = await startCrosscast([
      "--redis-url", redis.url, "--adapter", adapter, "--key", key,
      "--cors-origin", "http://app.test",
    ]);
    const node = await startNodeServer(redis.url, adapter, key);
    const sockets = [];
    t.after(async () => {
      for (const s of sockets) s.disconnect();
      await node.close();
      assert.equal(await stopProcess(rust.child), 0, "crosscast exits cleanly on SIGTERM");
    });
    await eventually(5000, async () => assert.equal(await node.io.of("/").adapter.serverCount(), 2));

    const before = Date.now();
    const alice = await client(rust.url, {
      auth: { token: "tok-alice", profile: { tags: ["a", "b"], n: 1 } },
      query: { room: "q alice", lang: "fr" },
      extraHeaders: { "x-custom": "hello from alice", origin: "http://app.test" },
    });
    const after = Date.now();
    sockets.push(alice);

    const fetched = await eventually(5000, async () => {
      const all = await within(6000, "fetchSockets", node.io.fetchSockets());
      const found = all.find((s) => s.id === alice.id);
      assert.ok(found, "the Rust socket is in the Node app's answer");
      return found;
    });
    const { handshake, data } = fetched;
    assert.deepEqual(handshake.auth, { token: "tok-alice", profile: { tags: ["a", "b"], n: 1 } });
    assert.equal(handshake.query.room, "q alice");
    assert.equal(handshake.query.lang, "fr");
    assert.equal(handshake.query.EIO, "4");
    assert.equal(handshake.query.transport, "websocket");
    assert.equal(handshake.headers["x-custom"], "hello from alice");
    assert.equal(handshake.headers.host, new URL(rust.url).host);
    assert.equal(handshake.address, "127.0.0.1");
    assert.ok(handshake.issued >= before && handshake.issued <= after,
      `issued ${handshake.issued} is the connection time in epoch ms (${before}..${after})`);
    assert.ok(Math.abs(Date.parse(handshake.time) - handshake.issued) < 1000,
      `time ${JSON.stringify(handshake.time)} is Date's text of the same instant`);
    assert.equal(handshake.secure, false);
    assert.equal(handshake.xdomain, true, "the client sent an Origin header");
    assert.match(handshake.url, /^\/socket\.io\/\?/);
    assert.match(handshake.url, /[?&]lang=fr(&|$)/);
    assert.deepEqual(data, { server: rust.uid }, "the chat app's socket.data: the server's uid");
    assert.deepEqual([...fetched.rooms], [alice.id], "rooms as before");
  });

  test(`${adapter}: an auth nested too deep is left out of its own socket's record only`, async (t) => {
    const key = `deep-${adapter}`;
    const args = ["--redis-url", redis.url, "--adapter", adapter, "--key", key];
    const rust = await startCrosscast(args);
    const other = await startCrosscast(args);
    const node = await startNodeServer(redis.url, adapter, key);
    const sockets = [];
    t.after(async () => {
      for (const s of sockets) s.disconnect();
      await node.close();
      const codes = await Promise.all([stopProcess(rust.child), stopProcess(other.child)]);
      assert.deepEqual(codes, [0, 0]);
    });
    await eventually(5000, async () => assert.equal(await node.io.of("/").adapter.serverCount(), 3));
    // 40 levels: a client may send it (socketioxide reads it), but inside a fetchSockets
    // answer it would be too deep for the crosscast servers that asked.
    let deep = { leaf: 1 };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const deepClient = await client(rust.url, { auth: deep, query: { who: "deep" } });
    const plain = await client(rust.url, { auth: { token: "plain" } });
    const asker = await client(other.url);
    sockets.push(deepClient, plain, asker);

    const all = await within(6000, "fetchSockets", node.io.fetchSockets());
    const byId = new Map(all.map((s) => [s.id, s]));
    assert.deepEqual(byId.get(deepClient.id).handshake.auth, {}, "the deep auth is left out");
    assert.equal(byId.get(deepClient.id).handshake.query.who, "deep", "the rest stays");
    assert.deepEqual(byId.get(plain.id).handshake.auth, { token: "plain" });
    const who = await within(6000, "who", asker.emitWithAck("who"));
    assert.deepEqual(who, { sockets: 3, servers: 3 }, "another crosscast server reads the answer");
    assert.equal(await metric(rust.url, 'crosscast_socket_records_dropped_total{reason="too_deep"}'), 1);
  });

  test(`${adapter}: the record of a server's sockets does not grow past their disconnects`, async (t) => {
    const key = `records-${adapter}`;
    const rust = await startCrosscast(["--redis-url", redis.url, "--adapter", adapter, "--key", key]);
    const sockets = [];
    t.after(async () => {
      for (const s of sockets) s.disconnect();
      assert.equal(await stopProcess(rust.child), 0);
    });
    const stay = await client(rust.url);
    sockets.push(stay);
    await eventually(5000, async () => assert.equal(await metric(rust.url, "crosscast_socket_records"), 1));
    for (let round = 0; round < 3; round++) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => client(rust.url)));
      await eventually(5000, async () => assert.equal(await metric(rust.url, "crosscast_socket_records"), 21));
      for (const s of batch) s.disconnect();
      await eventually(5000, async () => assert.equal(await metric(rust.url, "crosscast_socket_records"), 1));
    }
    assert.equal(await metric(rust.url, "crosscast_connected_sockets"), 1);
  });
}
