// crosscast's adapter on a real Redis Cluster (3 masters) next to the official
// adapter, classic and sharded, with cluster clients of ioredis and of
// node-redis: the server count is summed over the masters, and broadcasts and
// fetchSockets cross between the two servers.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import { connectClient, within } from "./harness.mjs";
import {
  startRedisCluster,
  startServer,
  serversChannel,
  eventually,
  allNext,
} from "./adapter-harness.mjs";

let cluster;
let admins;
before(async () => {
  cluster = await startRedisCluster(3);
  admins = cluster.ports.map((port) => new Redis({ port, host: "127.0.0.1" }));
}, { timeout: 60_000 });
after(async () => {
  admins?.forEach((a) => a.disconnect());
  await cluster?.stop();
});

/** Subscribers of `channel` summed over every master. */
async function subscribers(channel, sharded) {
  let sum = 0;
  for (const admin of admins) {
    const [, n] = await admin.call("PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel);
    sum += Number(n);
  }
  return sum;
}

for (const protocol of ["classic", "sharded"]) {
  for (const lib of ["ioredis", "node-redis"]) {
    describe(`${protocol} on a Redis Cluster, ${lib} cluster clients`, () => {
      const ctx = {};
      const sharded = protocol === "sharded";
      // Each protocol/lib pair gets its own channels through its own prefix.
      const prefix = `cc-${protocol}-${lib}`;
      const opts = sharded ? { channelPrefix: prefix } : { key: prefix };
      const channel = sharded ? `${prefix}#/#` : `${prefix}-request#/#`;

      before(async () => {
        const common = { protocol, lib, clusterPorts: cluster.ports, opts };
        ctx.crosscast = await startServer({ ...common, name: "crosscast", impl: "crosscast" });
        ctx.official = await startServer({ ...common, name: "official", impl: "official" });
        await eventually(async () => (await subscribers(channel, sharded)) === 2, "both servers subscribed");
        ctx.cc = await connectClient(ctx.crosscast.port);
        ctx.co = await connectClient(ctx.official.port);
        if (sharded) {
          for (const name of ["crosscast", "official"]) {
            await eventually(
              async () => (await subscribers(`${prefix}#/#on-${name}#`, true)) === 1,
              `room channel of on-${name}`,
            );
          }
        }
      });

      after(async () => {
        ctx.cc?.disconnect();
        ctx.co?.disconnect();
        await ctx.crosscast?.close();
        await ctx.official?.close();
      });

      test("the server count is summed over the masters", async () => {
        assert.equal(await ctx.crosscast.adapter().serverCount(), 2);
      });

      test("broadcasts cross both ways, to all and to a room", async () => {
        let got = allNext([ctx.cc, ctx.co], "all");
        ctx.crosscast.io.emit("all", "from crosscast", Buffer.from([1]));
        for (const [text, bytes] of await got) {
          assert.equal(text, "from crosscast");
          assert.deepEqual([...bytes], [1]);
        }
        got = allNext([ctx.cc, ctx.co], "all");
        ctx.official.io.emit("all", "from official", Buffer.from([2]));
        for (const [text] of await got) assert.equal(text, "from official");
        got = allNext([ctx.co], "room");
        ctx.crosscast.io.to("on-official").emit("room", 1);
        assert.deepEqual(await got, [[1]]);
        got = allNext([ctx.cc], "room");
        ctx.official.io.to("on-crosscast").emit("room", 2);
        assert.deepEqual(await got, [[2]]);
      });

      test("fetchSockets and serverSideEmitWithAck reach the official server", async () => {
        const sockets = await within(ctx.crosscast.io.fetchSockets(), "fetchSockets");
        assert.deepEqual(sockets.map((s) => s.id).sort(), [ctx.cc.id, ctx.co.id].sort());
        ctx.official.io.once("cluster-sse", (cb) => cb("official here"));
        assert.deepEqual(
          await within(ctx.crosscast.io.serverSideEmitWithAck("cluster-sse"), "sse"),
          ["official here"],
        );
      });
    });
  }
}
