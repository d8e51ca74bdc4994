// What the npm adapter's JavaScript layer cannot carry out is counted in
// adapter.stats(), and a failed subscription does not leave a server deaf.
// Redis refuses for real: an ACL user without channel permissions gets NOPERM
// for SUBSCRIBE/PSUBSCRIBE and PUBLISH. A refused subscription is counted and
// retried until it holds (here: once the ACL grants the channels), after which
// the server gets the cluster's broadcasts; a refused PUBLISH is counted as
// publishFailed. Real redis-server, ioredis clients, socket.io-client clients;
// every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Server } from "socket.io";
import Redis from "ioredis";
import { io as connect } from "socket.io-client";
import * as crosscast from "../js/index.mjs";
import { startRedis, within, freePort } from "./harness.mjs";
import { startServer, eventually } from "./adapter-harness.mjs";

let redis;
let admin;
const closers = [];
before(async () => {
  redis = await startRedis();
  admin = new Redis({ port: redis.port, host: "127.0.0.1" });
});
after(async () => {
  for (const close of closers.reverse()) await close();
  admin.disconnect();
  await redis.stop();
});

/** A Redis user `name` that may run every command but use no channel (until granted). */
async function userWithoutChannels(name) {
  await admin.call("ACL", "SETUSER", name, "reset", "on", ">secret", "~*", "+@all", "resetchannels");
  const pair = ["pub", "sub"].map(() =>
    new Redis({ port: redis.port, host: "127.0.0.1", username: name, password: "secret" }));
  closers.push(async () => {
    for (const c of pair) c.disconnect();
  });
  return pair;
}

/** A Socket.IO server on crosscast's classic adapter over the given clients. */
async function serverOn(pub, sub) {
  const httpServer = createServer();
  const io = new Server(httpServer);
  io.adapter(crosscast.createAdapter(pub, sub));
  const port = await freePort();
  await new Promise((resolve) => httpServer.listen(port, "127.0.0.1", resolve));
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  return { io, port, adapter: () => io.of("/").adapter };
}

async function client(port) {
  const socket = connect(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true, reconnection: false });
  closers.push(async () => socket.disconnect());
  await within(new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }), "client");
  return socket;
}

test("a refused subscription is counted and retried until it holds, then the server hears the cluster", async () => {
  const [pub, sub] = await userWithoutChannels("deaf");
  const late = await serverOn(pub, sub);
  await eventually(() => late.adapter().stats().subscribeFailed >= 2, "refused subscriptions counted (and retried)");
  const other = await startServer({ name: "other", redisPort: redis.port, impl: "official", protocol: "classic", lib: "ioredis" });
  closers.push(() => other.close());
  const listener = await client(late.port);
  const got = [];
  listener.on("news", (m) => got.push(m));
  other.io.emit("news", "while refused");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(got, [], "nothing arrives while Redis refuses the subscription");

  await admin.call("ACL", "SETUSER", "deaf", "allchannels");
  // Retried at most 5 s apart: the broadcasts arrive once the subscription holds.
  for (let i = 0; i < 120 && got.length === 0; i++) {
    other.io.emit("news", "after the grant");
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(got[0], "after the grant");
});

test("a PUBLISH that Redis refuses is counted as publishFailed", async () => {
  const [pub, sub] = await userWithoutChannels("mute");
  const server = await serverOn(pub, sub);
  assert.equal(server.adapter().stats().publishFailed, 0);
  server.io.emit("news", "refused");
  // Every message the node handed over (the broadcast, and the classic
  // heartbeat of crosscast servers) was refused, and each is counted.
  await eventually(() => {
    const { published, publishFailed } = server.adapter().stats();
    return publishFailed >= 1 && publishFailed === published;
  }, "every refused PUBLISH counted");
});
