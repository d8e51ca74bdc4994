// Real parts for the cluster tests: a redis-server on a free loopback port,
// Socket.IO servers on the official classic @socket.io/redis-adapter, and
// socket.io-client clients. Every wait is bounded in time.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import net from "node:net";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { io as connect } from "socket.io-client";
import Redis from "ioredis";

export const WAIT_MS = 10_000;

/** A free TCP port on 127.0.0.1 (never 6379: the OS picks from its ephemeral range). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves with `promise`, or rejects after `ms` with `what` in the message. */
export function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts redis-server on a free port; resolves when it accepts connections. */
export async function startRedis() {
  // The port was free a moment before: when something took it meanwhile, try another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOn(await freePort());
    } catch (e) {
      if (attempt >= 4 || !String(e.message).includes("Address already in use")) throw e;
    }
  }
}

async function startRedisOn(port) {
  const proc = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  await within(
    new Promise((resolve, reject) => {
      proc.stdout.on("data", (d) => {
        output += d;
        if (output.includes("Ready to accept connections")) resolve();
      });
      proc.once("exit", (code) => reject(new Error(`redis-server exited ${code}: ${output}`)));
    }),
    "redis-server start",
  );
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", resolve);
        proc.kill("SIGTERM");
      }),
  };
}

/** A Socket.IO server on the classic redis adapter (ioredis pub/sub). */
export async function startSocketServer(redisPort, { key } = {}) {
  const pub = new Redis({ port: redisPort, host: "127.0.0.1" });
  const sub = pub.duplicate();
  const httpServer = createServer();
  const io = new Server(httpServer);
  io.adapter(createAdapter(pub, sub, key ? { key } : {}));
  const port = await freePort();
  await new Promise((resolve) => httpServer.listen(port, "127.0.0.1", resolve));
  return {
    io,
    port,
    close: async () => {
      // The adapter unsubscribes while closing: let it finish before the Redis
      // connections go, or its UNSUBSCRIBE rejects ("Connection is closed").
      await io.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}

/** Waits until `count` adapters subscribe to the request channel of `nsp`. */
export async function waitForSubscribers(redis, count, channel = "socket.io-request#/#") {
  for (let attempt = 0; attempt < 200; attempt++) {
    const [, n] = await redis.pubsub("NUMSUB", channel);
    if (Number(n) >= count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${count} subscribers on ${channel}`);
}

/** A connected socket.io-client socket. */
export async function connectClient(port, nsp = "/") {
  const socket = connect(`http://127.0.0.1:${port}${nsp}`, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
  });
  await within(
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    }),
    "client connect",
  );
  return socket;
}

/** The arguments of the next `event` on `emitter` (a socket or a server). */
export function next(emitter, event, what = event) {
  return within(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), what);
}

/**
 * Resolves false if `event` does not arrive on `socket` before `settle`
 * resolves, true if it does. Used to prove that an excluded socket got nothing:
 * `settle` is a later event that is ordered after the one that must not come.
 */
export async function arrivedBefore(socket, event, settle) {
  let arrived = false;
  const listener = () => {
    arrived = true;
  };
  socket.on(event, listener);
  await settle;
  socket.off(event, listener);
  return arrived;
}

/** A cluster: redis, two Socket.IO servers, and a client on each. */
export async function startCluster() {
  const redis = await startRedis();
  const servers = [await startSocketServer(redis.port), await startSocketServer(redis.port)];
  const admin = new Redis({ port: redis.port, host: "127.0.0.1" });
  await waitForSubscribers(admin, servers.length);
  const stop = async () => {
    for (const s of servers) await s.close();
    admin.disconnect();
    await redis.stop();
  };
  return { redis, servers, admin, stop };
}
