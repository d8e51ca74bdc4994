#!/usr/bin/env node
// The chat app of the crosscast interop tests and benchmarks, on the official
// Node.js packages (socket.io + @socket.io/redis-adapter). The Rust
// `crosscast serve` implements the same events, so both kinds of server can
// run side by side in one cluster.
//
// Contract:
// - Listens on 127.0.0.1 only. Prints exactly one line
//   `listening on http://127.0.0.1:PORT uid=<adapter uid>` on stdout when it
//   accepts connections (`uid=local` without Redis). `--port 0` picks a free port.
// - Without --redis-url it is a single in-memory node. The Redis URL must name a
//   loopback host; anything else is refused.
// - --requests-timeout (ms, default 5000) is the classic adapter's requestsTimeout,
//   the bound of x:sse, and the default timeout of x:broadcast-ack; the sharded
//   adapter has no such option (it uses 5000 ms internally).
// - Exits with status 0 on SIGTERM/SIGINT after closing Socket.IO and Redis
//   (bounded: it exits with status 1 if that takes more than 3 s).
//
// Events on namespace "/" (client -> server):
//   chat message (value)          io.emit('chat message', value) to the cluster
//   join (room, ack) / leave      socket joins / leaves room, ack(true)
//   room message ({room, msg})    io.to(room).emit('chat message', msg)
//   who (ack)                     ack({sockets, servers}) over the whole cluster
//   x:fetch (opts, ack)           [{id, rooms, data}] of io[.in(opts.rooms)][.timeout(opts.timeout)].fetchSockets()
//   x:rooms (ack)                 [...await adapter.allRooms()] (an error with the sharded adapter)
//   x:sse (event, args, ack)      io.serverSideEmitWithAck(event, ...args) result, or
//                                 {error: 'serverSideEmitWithAck timed out'} after --requests-timeout
//   x:broadcast-ack ([opts], ack) io.timeout(opts.timeout).emitWithAck('ping') result
//   x:join-all / x:leave-all (room[, ack])   io.socketsJoin / io.socketsLeave
//   x:disconnect-room (room[, close][, ack]) io.in(room).disconnectSockets(close), close
//                                            defaulting to true
//   x:emit ({rooms, except, event, args}, ack) io.to(rooms).except(except).emit(event, ...args)
// Failed requests answer {error: <message>} instead of the result.
// Namespace "/other" (a second namespace on the same connection, for close semantics):
//   ping (ack)                    ack("pong")
// Server-side event (from other servers): stats (ack) -> ack({sockets: local count}).
// A client's handshake `auth` object becomes its `socket.data`.
// --admin-user NAME --admin-password-hash BCRYPT [--admin-server-id ID]: the official
// @socket.io/admin-ui instrument() on this server (namespace /admin, development mode).
"use strict";

const http = require("node:http");
const { parseArgs } = require("node:util");
const express = require("express");
const { Server } = require("socket.io");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");

/** Reads the options from the command line, falling back to the environment. */
function readConfig(argv, env) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      "redis-url": { type: "string" },
      adapter: { type: "string" },
      key: { type: "string" },
      "requests-timeout": { type: "string" },
      client: { type: "string" },
      "subscription-mode": { type: "string" },
      "redis-cluster": { type: "string" },
      "admin-user": { type: "string" },
      "admin-password-hash": { type: "string" },
      "admin-server-id": { type: "string" },
    },
    strict: true,
  });
  const config = {
    port: Number(values.port ?? env.PORT ?? 3000),
    redisUrl: values["redis-url"] ?? env.REDIS_URL ?? null,
    adapter: values.adapter ?? env.ADAPTER ?? "classic",
    key: values.key ?? env.KEY ?? "socket.io",
    requestsTimeout: Number(values["requests-timeout"] ?? env.REQUESTS_TIMEOUT ?? 5000),
    client: values.client ?? env.REDIS_CLIENT ?? "ioredis",
    subscriptionMode: values["subscription-mode"] ?? env.SUBSCRIPTION_MODE ?? "dynamic",
    redisCluster: values["redis-cluster"] ?? null,
    adminUser: values["admin-user"] ?? null,
    adminPasswordHash: values["admin-password-hash"] ?? null,
    adminServerId: values["admin-server-id"] ?? undefined,
  };
  if (config.redisCluster !== null && config.redisUrl === null) {
    config.redisUrl = config.redisCluster.split(",")[0];
  }
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new Error(`bad --port ${config.port}`);
  }
  if (!["classic", "sharded"].includes(config.adapter)) {
    throw new Error(`--adapter must be classic or sharded, got ${config.adapter}`);
  }
  if (!["ioredis", "redis"].includes(config.client)) {
    throw new Error(`--client must be ioredis or redis, got ${config.client}`);
  }
  if (!["static", "dynamic", "dynamic-private"].includes(config.subscriptionMode)) {
    throw new Error(`bad --subscription-mode ${config.subscriptionMode}`);
  }
  if (!Number.isFinite(config.requestsTimeout) || config.requestsTimeout <= 0) {
    throw new Error(`bad --requests-timeout ${config.requestsTimeout}`);
  }
  if (config.redisUrl !== null) {
    const host = new URL(config.redisUrl).hostname;
    if (!["127.0.0.1", "localhost", "[::1]", "::1"].includes(host)) {
      throw new Error(`--redis-url must point to a loopback host, got ${host}`);
    }
  }
  return config;
}

/** Opens the publisher and subscriber connections; returns them with a `quit` to close both. */
async function connectRedis(config) {
  if (config.redisCluster) {
    // A Redis Cluster (sharded adapter only): node-redis routes SSUBSCRIBE/SPUBLISH by slot.
    const { createCluster } = require("redis");
    const rootNodes = config.redisCluster.split(",").map((url) => ({ url }));
    const pub = createCluster({ rootNodes });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) c.on("error", (e) => console.error("redis error:", e.message));
    await Promise.all([pub.connect(), sub.connect()]);
    return { pub, sub, quit: () => Promise.allSettled([pub.quit(), sub.quit()]) };
  }
  if (config.client === "ioredis") {
    const Redis = require("ioredis");
    const pub = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) c.on("error", (e) => console.error("redis error:", e.message));
    await Promise.all([waitReady(pub), waitReady(sub)]);
    return { pub, sub, quit: () => Promise.allSettled([pub.quit(), sub.quit()]) };
  }
  const { createClient } = require("redis");
  const pub = createClient({ url: config.redisUrl });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => console.error("redis error:", e.message));
  await Promise.all([pub.connect(), sub.connect()]);
  return { pub, sub, quit: () => Promise.allSettled([pub.quit(), sub.quit()]) };
}

function waitReady(ioredisClient) {
  if (ioredisClient.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    ioredisClient.once("ready", resolve);
    ioredisClient.once("end", () => reject(new Error("redis connection ended")));
  });
}

/** Splits a handler's arguments into (args, ack); `ack` is a no-op when the client sent none. */
function splitAck(args) {
  if (args.length > 0 && typeof args[args.length - 1] === "function") {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, () => {}];
}

/** Runs `work` and acks its result, or `{error}` when it throws or rejects. */
async function answer(ack, work) {
  try {
    ack(await work());
  } catch (e) {
    ack({ error: String(e && e.message ? e.message : e) });
  }
}

/** Rejects with "<what> timed out" when `promise` has not settled within `ms`. */
function bounded(ms, what, promise) {
  let timer;
  const expiry = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms);
  });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}

function attachHandlers(io, config) {
  const nsp = io.of("/");

  io.on("stats", (...raw) => {
    const [, ack] = splitAck(raw);
    ack({ sockets: nsp.sockets.size });
  });

  io.on("connection", (socket) => {
    const auth = socket.handshake.auth;
    // Added to what is there: with --admin-user, instrument() has put its _admin fields in.
    Object.assign(socket.data, auth && typeof auth === "object" ? auth : {});

    socket.on("chat message", (value) => {
      io.emit("chat message", value);
    });
    socket.on("join", async (...raw) => {
      const [[room], ack] = splitAck(raw);
      await socket.join(String(room));
      ack(true);
    });
    socket.on("leave", async (...raw) => {
      const [[room], ack] = splitAck(raw);
      await socket.leave(String(room));
      ack(true);
    });
    socket.on("room message", (body) => {
      if (body && typeof body === "object" && typeof body.room === "string") {
        io.to(body.room).emit("chat message", body.msg);
      }
    });
    socket.on("who", (...raw) => {
      const [, ack] = splitAck(raw);
      answer(ack, async () => ({
        sockets: (await io.fetchSockets()).length,
        servers: await nsp.adapter.serverCount(),
      }));
    });

    socket.on("x:fetch", (...raw) => {
      const [[opts], ack] = splitAck(raw);
      answer(ack, async () => {
        let op = io.of("/");
        if (opts && opts.rooms !== undefined) op = op.in(opts.rooms);
        if (opts && typeof opts.timeout === "number") op = op.timeout(opts.timeout);
        const sockets = await op.fetchSockets();
        return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data }));
      });
    });
    socket.on("x:rooms", (...raw) => {
      const [, ack] = splitAck(raw);
      answer(ack, async () => {
        // The sharded adapter (ClusterAdapter) has no allRooms: say so, like a failed request.
        if (typeof nsp.adapter.allRooms !== "function") {
          throw new Error("allRooms is not supported by this adapter");
        }
        return [...(await nsp.adapter.allRooms())];
      });
    });
    socket.on("x:sse", (...raw) => {
      const [[event, args], ack] = splitAck(raw);
      // Bounded here too: the in-memory adapter never answers a server-side emit.
      answer(ack, () =>
        bounded(
          config.requestsTimeout,
          "serverSideEmitWithAck",
          io.serverSideEmitWithAck(String(event), ...(Array.isArray(args) ? args : [])),
        ),
      );
    });
    socket.on("x:broadcast-ack", (...raw) => {
      const [[opts], ack] = splitAck(raw);
      const timeout = opts && typeof opts.timeout === "number" ? opts.timeout : config.requestsTimeout;
      answer(ack, () => io.timeout(timeout).emitWithAck("ping"));
    });
    socket.on("x:join-all", (...raw) => {
      const [[room], ack] = splitAck(raw);
      io.socketsJoin(String(room));
      ack(true);
    });
    socket.on("x:leave-all", (...raw) => {
      const [[room], ack] = splitAck(raw);
      io.socketsLeave(String(room));
      ack(true);
    });
    socket.on("x:emit", (...raw) => {
      const [[opts], ack] = splitAck(raw);
      let op = io.of("/");
      if (opts && opts.rooms !== undefined) op = op.to(opts.rooms);
      if (opts && opts.except !== undefined) op = op.except(opts.except);
      op.emit(String(opts.event), ...(Array.isArray(opts.args) ? opts.args : []));
      ack(true);
    });
    socket.on("x:disconnect-room", (...raw) => {
      const [[room, close], ack] = splitAck(raw);
      ack(true);
      io.in(String(room)).disconnectSockets(close !== false);
    });
  });

  io.of("/other").on("connection", (socket) => {
    socket.on("ping", (...raw) => {
      const [, ack] = splitAck(raw);
      ack("pong");
    });
  });
}

async function main() {
  const config = readConfig(process.argv.slice(2), process.env);
  const app = express();
  const httpServer = http.createServer(app);
  const io = new Server(httpServer);

  let redis = null;
  if (config.redisUrl !== null) {
    redis = await connectRedis(config);
    if (config.adapter === "classic") {
      io.adapter(
        createAdapter(redis.pub, redis.sub, { key: config.key, requestsTimeout: config.requestsTimeout }),
      );
    } else {
      io.adapter(
        createShardedAdapter(redis.pub, redis.sub, {
          channelPrefix: config.key,
          subscriptionMode: config.subscriptionMode,
        }),
      );
    }
  }
  if (config.adminUser !== null) {
    // The official Admin UI server side, in development mode, on the cluster adapter.
    const { instrument } = require("@socket.io/admin-ui");
    instrument(io, {
      auth: { type: "basic", username: config.adminUser, password: config.adminPasswordHash },
      serverId: config.adminServerId,
      mode: "development",
    });
  }
  const uid = io.of("/").adapter.uid ?? "local";

  app.get("/health", (_req, res) => {
    res.json({ ok: true, uid, adapter: redis ? config.adapter : "memory" });
  });
  attachHandlers(io, config);

  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(config.port, "127.0.0.1", resolve);
  });
  const port = httpServer.address().port;
  process.stdout.write(`listening on http://127.0.0.1:${port} uid=${uid}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 3000).unref();
    await new Promise((resolve) => io.close(() => resolve()));
    if (redis) await redis.quit();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e) => {
  console.error(`peer-server: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
