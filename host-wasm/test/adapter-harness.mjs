// Real parts for the adapter tests: Socket.IO servers on crosscast's adapter or
// on the official @socket.io/redis-adapter (classic or sharded), each with its
// own pair of ioredis or node-redis clients, on one redis-server. Every wait is
// bounded in time and count.
import { createServer } from "node:http";
import { Server } from "socket.io";
import * as official from "@socket.io/redis-adapter";
import Redis from "ioredis";
import { createClient } from "redis";
import * as crosscast from "../js/index.mjs";
import { freePort, within } from "./harness.mjs";

/** A connected pair of Redis clients of `lib` ("ioredis" or "node-redis"). */
export async function redisPair(port, lib) {
  if (lib === "ioredis") {
    const pub = new Redis({ port, host: "127.0.0.1" });
    const sub = pub.duplicate();
    return { pub, sub, close: async () => [pub, sub].forEach((c) => c.disconnect()) };
  }
  const pub = createClient({ url: `redis://127.0.0.1:${port}` });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  return {
    pub,
    sub,
    close: async () => {
      for (const c of [pub, sub]) await c.quit().catch(() => {});
    },
  };
}

/**
 * A Socket.IO server: `impl` is "crosscast" or "official", `protocol`
 * "classic" or "sharded". Each connecting socket joins `on-<name>` and takes
 * `{server: name}` as its data; `ask` events are answered with `name`.
 */
export async function startServer({ name, redisPort, impl, protocol, lib, opts = {} }) {
  const clients = await redisPair(redisPort, lib);
  const pkg = impl === "crosscast" ? crosscast : official;
  const factory = protocol === "sharded" ? pkg.createShardedAdapter : pkg.createAdapter;
  const httpServer = createServer();
  const io = new Server(httpServer);
  io.adapter(factory(clients.pub, clients.sub, opts));
  io.on("connection", (socket) => {
    socket.data = { server: name };
    socket.join(`on-${name}`);
  });
  const port = await freePort();
  await new Promise((resolve) => httpServer.listen(port, "127.0.0.1", resolve));
  let closed = false;
  return {
    name,
    io,
    port,
    impl,
    adapter: () => io.of("/").adapter,
    close: async () => {
      if (closed) return;
      closed = true;
      await new Promise((resolve) => io.close(() => resolve()));
      await clients.close();
    },
  };
}

/** Subscribers of `channel` (NUMSUB, or SHARDNUMSUB when `sharded`). */
export async function subscribers(admin, channel, sharded) {
  const [, n] = await admin.call("PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel);
  return Number(n);
}

/** Waits until `channel` has `count` subscribers (at most 10 s). */
export async function waitForSubscribers(admin, channel, count, sharded = false) {
  for (let attempt = 0; attempt < 200; attempt++) {
    if ((await subscribers(admin, channel, sharded)) === count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${channel} never had ${count} subscribers`);
}

/** The channel whose subscribers are the servers of namespace "/". */
export const serversChannel = (protocol) =>
  protocol === "sharded" ? "socket.io#/#" : "socket.io-request#/#";

/** Resolves when `predicate()` holds (polled every 25 ms, at most 10 s). */
export async function eventually(predicate, what) {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

/** Resolves with the next `event` arguments on each of `sockets`. */
export function allNext(sockets, event) {
  return within(
    Promise.all(sockets.map((s) => new Promise((resolve) => s.once(event, (...a) => resolve(a))))),
    `${event} on ${sockets.length} sockets`,
  );
}
