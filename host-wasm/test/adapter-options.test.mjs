// The adapter's options, each next to an official server with the same
// options: a custom key with answers on specific response channels (classic),
// and the static and dynamic-private subscription modes (sharded).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import { startRedis, connectClient, within } from "./harness.mjs";
import { startServer, waitForSubscribers, allNext } from "./adapter-harness.mjs";

const configs = [
  {
    protocol: "classic",
    opts: { key: "custom", publishOnSpecificResponseChannel: true },
    channel: "custom-request#/#",
  },
  { protocol: "sharded", opts: { channelPrefix: "st", subscriptionMode: "static" }, channel: "st#/#" },
  {
    protocol: "sharded",
    opts: { channelPrefix: "dp", subscriptionMode: "dynamic-private" },
    channel: "dp#/#",
  },
];

for (const { protocol, opts, channel } of configs) {
  describe(`${protocol} ${JSON.stringify(opts)}`, () => {
    const ctx = {};
    const sharded = protocol === "sharded";

    before(async () => {
      ctx.redis = await startRedis();
      ctx.admin = new Redis({ port: ctx.redis.port, host: "127.0.0.1" });
      const common = { redisPort: ctx.redis.port, protocol, lib: "node-redis", opts };
      ctx.crosscast = await startServer({ ...common, name: "crosscast", impl: "crosscast" });
      ctx.official = await startServer({ ...common, name: "official", impl: "official" });
      await waitForSubscribers(ctx.admin, channel, 2, sharded);
      ctx.cc = await connectClient(ctx.crosscast.port);
      ctx.co = await connectClient(ctx.official.port);
      for (const c of [ctx.cc, ctx.co]) c.on("ask", (cb) => cb(c === ctx.cc ? "cc" : "co"));
      if (opts.subscriptionMode === "dynamic-private") {
        // Every room has its channel, the sockets' own rooms included.
        await waitForSubscribers(ctx.admin, `${channel}${ctx.cc.id}#`, 1, true);
        await waitForSubscribers(ctx.admin, `${channel}${ctx.co.id}#`, 1, true);
      }
      if (opts.subscriptionMode === "static") {
        assert.equal(
          Number((await ctx.admin.call("PUBSUB", "SHARDNUMSUB", `${channel}on-crosscast#`))[1]),
          0,
          "static mode subscribes no room channel",
        );
      }
    });

    after(async () => {
      ctx.cc?.disconnect();
      ctx.co?.disconnect();
      await ctx.crosscast?.close();
      await ctx.official?.close();
      ctx.admin?.disconnect();
      await ctx.redis?.stop();
    });

    for (const [from, to, client] of [
      ["crosscast", "official", "co"],
      ["official", "crosscast", "cc"],
    ]) {
      test(`${from} -> ${to}: a room, a socket's own room, fetchSockets, acks`, async () => {
        let got = allNext([ctx[client]], "room");
        ctx[from].io.to(`on-${to}`).emit("room", 1);
        assert.deepEqual(await got, [[1]]);
        got = allNext([ctx[client]], "direct");
        ctx[from].io.to(ctx[client].id).emit("direct", 2);
        assert.deepEqual(await got, [[2]]);
        const sockets = await within(ctx[from].io.fetchSockets(), "fetchSockets");
        assert.deepEqual(sockets.map((s) => s.id).sort(), [ctx.cc.id, ctx.co.id].sort());
        const acks = await within(ctx[from].io.timeout(5000).emitWithAck("ask"), "acks");
        assert.deepEqual(acks.sort(), ["cc", "co"]);
        assert.equal(await ctx[from].adapter().serverCount(), 2);
      });
    }
  });
}
