// A mixed cluster of the native Rust server (rust-peer: socketioxide on
// crosscast's native adapter) and a Node.js Socket.IO server on this package's
// adapter, classic and sharded: their clients chat and see each other.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import Redis from "ioredis";
import { startRedis, connectClient, within } from "./harness.mjs";
import { startServer, waitForSubscribers, serversChannel, allNext } from "./adapter-harness.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Builds rust-peer (a no-op when it is fresh) and returns its path. */
function rustPeerBinary() {
  execFileSync("nice", ["-n", "10", "cargo", "build", "-p", "crosscast-tests", "--bin", "rust-peer"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    timeout: 900_000,
  });
  const dir = JSON.parse(
    execFileSync("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    }),
  ).target_directory;
  return join(dir, "debug", "rust-peer");
}

/** Starts rust-peer; resolves with its port once it prints its `listening on` line. */
async function startRustPeer(binary, redisPort, protocol) {
  const proc = spawn(
    binary,
    ["--port", "0", "--redis-url", `redis://127.0.0.1:${redisPort}`, "--adapter", protocol],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  const port = await within(
    new Promise((resolve, reject) => {
      proc.stdout.on("data", (d) => {
        out += d;
        const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+) uid=(\S+)/);
        if (m) resolve(Number(m[1]));
      });
      proc.once("exit", (code) => reject(new Error(`rust-peer exited ${code}: ${err}`)));
    }),
    "rust-peer start",
    30_000,
  );
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", resolve);
        proc.kill("SIGTERM");
      }),
  };
}

/** `socket.emit(event, ...args)` with an ack, bounded in time. */
const ask = (socket, event, ...args) =>
  within(socket.timeout(10_000).emitWithAck(event, ...args), `${event} ack`);

let binary;
before(() => {
  binary = rustPeerBinary();
}, { timeout: 900_000 });

for (const protocol of ["classic", "sharded"]) {
  describe(`${protocol}: the Rust server and a Node.js server on crosscast's adapter`, () => {
    const ctx = {};

    before(async () => {
      ctx.redis = await startRedis();
      ctx.admin = new Redis({ port: ctx.redis.port, host: "127.0.0.1" });
      ctx.rust = await startRustPeer(binary, ctx.redis.port, protocol);
      ctx.node = await startServer({
        name: "node", redisPort: ctx.redis.port, protocol, lib: "ioredis", impl: "crosscast",
      });
      ctx.node.io.on("connection", (socket) => {
        socket.on("chat message", (value) => ctx.node.io.emit("chat message", value));
      });
      ctx.node.io.on("from-rust", (x, cb) => cb(`node got ${x}`));
      await waitForSubscribers(ctx.admin, serversChannel(protocol), 2, protocol === "sharded");
      ctx.rustClient = await connectClient(ctx.rust.port);
      ctx.nodeClient = await connectClient(ctx.node.port);
      for (const c of [ctx.rustClient, ctx.nodeClient]) c.on("ping", (cb) => cb(c === ctx.nodeClient ? "node client" : "rust client"));
    });

    after(async () => {
      ctx.rustClient?.disconnect();
      ctx.nodeClient?.disconnect();
      await ctx.node?.close();
      await ctx.rust?.stop();
      ctx.admin?.disconnect();
      await ctx.redis?.stop();
    });

    test("a chat message from the Rust server's client reaches the Node.js server's client", async () => {
      const got = allNext([ctx.nodeClient, ctx.rustClient], "chat message");
      ctx.rustClient.emit("chat message", "hello from rust");
      assert.deepEqual(await got, [["hello from rust"], ["hello from rust"]]);
    });

    test("a chat message from the Node.js server's client reaches the Rust server's client", async () => {
      const got = allNext([ctx.rustClient, ctx.nodeClient], "chat message");
      ctx.nodeClient.emit("chat message", { text: "hello from node", n: 2 });
      const message = [{ text: "hello from node", n: 2 }];
      assert.deepEqual(await got, [message, message]);
    });

    test("the Node.js server's fetchSockets sees the Rust server's client", async () => {
      const sockets = await within(ctx.node.io.fetchSockets(), "fetchSockets");
      assert.deepEqual(sockets.map((s) => s.id).sort(), [ctx.nodeClient.id, ctx.rustClient.id].sort());
      const rust = sockets.find((s) => s.id === ctx.rustClient.id);
      assert.ok(rust.rooms.has(ctx.rustClient.id));
      assert.equal(await ctx.node.adapter().serverCount(), 2);
    });

    test("the Rust server's fetch_sockets sees the Node.js server's client", async () => {
      const sockets = await ask(ctx.rustClient, "x:fetch", {});
      assert.deepEqual(sockets.map((s) => s.id).sort(), [ctx.nodeClient.id, ctx.rustClient.id].sort());
      const node = sockets.find((s) => s.id === ctx.nodeClient.id);
      assert.deepEqual(node.rooms.sort(), [ctx.nodeClient.id, "on-node"].sort());
      assert.deepEqual(await ask(ctx.rustClient, "who"), { sockets: 2, servers: 2 });
    });

    test("allRooms on the Node.js server is the Rust server's rooms(): both servers' rooms", async () => {
      assert.equal(await ask(ctx.rustClient, "join", "room-rust"), true);
      ctx.node.io.in(ctx.nodeClient.id).socketsJoin("room-node");
      const expected = [ctx.rustClient.id, "room-rust", ctx.nodeClient.id, "on-node", "room-node"].sort();
      const fromNode = await within(ctx.node.adapter().allRooms(), "allRooms");
      assert.deepEqual([...fromNode].sort(), expected);
      const fromRust = await ask(ctx.rustClient, "x:rooms");
      assert.deepEqual([...fromRust].sort(), expected, "the Rust host gives the same answer");
    });

    test("server-side events with acks both ways", async () => {
      assert.deepEqual(await within(ctx.node.io.serverSideEmitWithAck("stats"), "stats"), [{ sockets: 1 }]);
      assert.deepEqual(await ask(ctx.rustClient, "x:sse", "from-rust", [7]), ["node got 7"]);
    });

    test("broadcasts with acks both ways", async () => {
      const fromNode = await within(ctx.node.io.timeout(5000).emitWithAck("ping"), "emitWithAck");
      assert.deepEqual(fromNode.sort(), ["node client", "rust client"]);
      const fromRust = await ask(ctx.rustClient, "x:broadcast-ack", { timeout: 5000 });
      assert.deepEqual(fromRust.sort(), ["node client", "rust client"]);
    });
  });
}
