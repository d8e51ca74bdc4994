// crosscast servers know each other (sharded heartbeats): when a server hangs
// (SIGSTOP: its Redis connections stay open, so it is still counted as a
// subscriber), a request stops waiting for it once its heartbeats stop,
// instead of failing at the requests timeout.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import Redis from "ioredis";
import { startRedis, connectClient, within } from "./harness.mjs";
import { startServer, waitForSubscribers, eventually } from "./adapter-harness.mjs";

const ctx = {};

before(async () => {
  ctx.redis = await startRedis();
  ctx.admin = new Redis({ port: ctx.redis.port, host: "127.0.0.1" });
  ctx.local = await startServer({
    name: "local", redisPort: ctx.redis.port, protocol: "sharded", lib: "ioredis",
    impl: "crosscast", opts: { requestsTimeout: 30_000 },
  });
  const script = fileURLToPath(new URL("./runtime/adapter-server.mjs", import.meta.url));
  ctx.proc = spawn(process.execPath, [script, String(ctx.redis.port)], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await within(
    new Promise((resolve, reject) => {
      let out = "";
      ctx.proc.stdout.on("data", (d) => {
        out += d;
        const m = out.match(/ready (\d+)/);
        if (m) resolve(Number(m[1]));
      });
      ctx.proc.once("exit", (code) => reject(new Error(`adapter-server exited ${code}`)));
    }),
    "adapter-server start",
  );
  ctx.remoteClient = await connectClient(port);
  ctx.localClient = await connectClient(ctx.local.port);
  await waitForSubscribers(ctx.admin, "socket.io#/#", 2, true);
  await eventually(() => ctx.local.adapter().core.peers().length === 1, "the other server is a known peer");
});

after(async () => {
  ctx.remoteClient?.disconnect();
  ctx.localClient?.disconnect();
  if (ctx.proc && ctx.proc.exitCode === null) {
    ctx.proc.kill("SIGCONT");
    ctx.proc.kill("SIGKILL");
  }
  await ctx.local?.close();
  ctx.admin?.disconnect();
  await ctx.redis?.stop();
});

test("both servers answer while both run", async () => {
  const sockets = await within(ctx.local.io.fetchSockets(), "fetchSockets");
  assert.deepEqual(sockets.map((s) => s.id).sort(), [ctx.localClient.id, ctx.remoteClient.id].sort());
});

test("a hung server stops being waited for once its heartbeats stop", async () => {
  ctx.proc.kill("SIGSTOP");
  // Still counted by Redis: only the missing heartbeats tell it is gone.
  assert.equal(Number((await ctx.admin.call("PUBSUB", "SHARDNUMSUB", "socket.io#/#"))[1]), 2);
  const sockets = await within(ctx.local.io.fetchSockets(), "fetchSockets with a hung server", 20_000);
  assert.deepEqual(sockets.map((s) => s.id), [ctx.localClient.id]);
  assert.deepEqual(ctx.local.adapter().core.peers(), []);
  const stats = ctx.local.adapter().stats();
  assert.equal(stats.requestsTimedOut, 0, "the request was not ended by its timeout");
  assert.equal(stats.requestsPartial, 1, "the request ended with one answer missing");
});
