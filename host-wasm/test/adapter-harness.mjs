// Real parts for the adapter tests: Socket.IO servers on crosscast's adapter or
// on the official @socket.io/redis-adapter (classic or sharded), each with its
// own pair of ioredis or node-redis clients, on one redis-server. Every wait is
// bounded in time and count.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "socket.io";
import * as official from "@socket.io/redis-adapter";
import Redis from "ioredis";
import { createClient, createCluster } from "redis";
import * as crosscast from "../js/index.mjs";
import { freePort, within } from "./harness.mjs";

/** A connected pair of Redis clients of `lib` ("ioredis" or "node-redis"). */
export async function redisPair(port, lib) {
  if (lib === "ioredis") {
    const pub = new Redis({ port, host: "127.0.0.1" });
    const sub = pub.duplicate();
    // QUIT, not disconnect(): the commands an adapter's close() left in flight (the
    // official adapter does not catch its UNSUBSCRIBE promises) are answered first,
    // instead of rejecting with "Connection is closed." after the test has ended.
    return {
      pub,
      sub,
      close: async () => {
        await Promise.all([pub, sub].map((c) => c.quit().catch(() => c.disconnect())));
      },
    };
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
 * `{server: name}` as its data. With `clusterPorts`, the clients are cluster
 * clients of that Redis Cluster instead.
 */
export async function startServer({ name, redisPort, impl, protocol, lib, opts = {}, clusterPorts }) {
  const clients = clusterPorts
    ? await redisClusterPair(clusterPorts, lib)
    : await redisPair(redisPort, lib);
  const pkg = impl === "crosscast" ? crosscast : official;
  const factory = protocol === "sharded" ? pkg.createShardedAdapter : pkg.createAdapter;
  const httpServer = createServer();
  const io = new Server(httpServer);
  io.adapter(factory(clients.pub, clients.sub, opts));
  io.on("connection", (socket) => {
    // Added to what is there (the Admin UI's instrument() puts its fields in first).
    Object.assign(socket.data, { server: name });
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

/**
 * A Redis Cluster of `masters` masters (no replicas) on free loopback ports
 * (each node's bus port, port + 10000, free too), in a temporary folder.
 * Resolves once every node reports cluster_state:ok.
 */
export async function startRedisCluster(masters = 3) {
  const dir = mkdtempSync(join(tmpdir(), "crosscast-rcluster-"));
  const ports = [];
  for (let attempt = 0; ports.length < masters && attempt < 100; attempt++) {
    const port = await freePort();
    if (port + 10000 < 65536 && !ports.includes(port) && (await portIsFree(port + 10000))) {
      ports.push(port);
    }
  }
  const procs = [];
  const stop = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise((resolve) => {
            if (p.exitCode !== null) return resolve();
            p.once("exit", resolve);
            p.kill("SIGTERM");
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const proc = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
          "--cluster-enabled", "yes", "--cluster-config-file", join(dir, `nodes-${port}.conf`),
          "--dir", dir],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      procs.push(proc);
      let out = "";
      await within(
        new Promise((resolve, reject) => {
          proc.stdout.on("data", (d) => {
            out += d;
            if (out.includes("Ready to accept connections")) resolve();
          });
          proc.once("exit", (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
        }),
        `cluster node ${port}`,
      );
    }
    execFileSync(
      "redis-cli",
      ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"],
      { stdio: "ignore", timeout: 30_000 },
    );
    await eventually(
      () =>
        ports.every((port) =>
          execFileSync("redis-cli", ["-p", String(port), "cluster", "info"], { timeout: 5000 })
            .toString()
            .includes("cluster_state:ok"),
        ),
      "cluster_state:ok on every node",
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, stop };
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A connected pair of cluster clients of `lib` on a Redis Cluster. */
export async function redisClusterPair(ports, lib) {
  if (lib === "ioredis") {
    const nodes = ports.map((port) => ({ host: "127.0.0.1", port }));
    const options = { shardedSubscribers: true };
    const pub = new Redis.Cluster(nodes, options);
    const sub = new Redis.Cluster(nodes, options);
    await Promise.all([pub, sub].map((c) => within(new Promise((r) => c.once("ready", r)), "cluster ready")));
    return {
      pub,
      sub,
      close: async () => {
        await Promise.all([pub, sub].map((c) => c.quit().catch(() => c.disconnect())));
      },
    };
  }
  const rootNodes = ports.map((port) => ({ url: `redis://127.0.0.1:${port}` }));
  const pub = createCluster({ rootNodes });
  const sub = createCluster({ rootNodes });
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  return {
    pub,
    sub,
    close: async () => {
      for (const c of [pub, sub]) await c.close().catch(() => {});
    },
  };
}
