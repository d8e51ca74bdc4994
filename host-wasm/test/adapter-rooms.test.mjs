// allRooms() of crosscast's npm adapter is the cluster's answer in both modes:
// classic asks the other servers (REMOTE_ROOMS); sharded, whose protocol has no
// rooms request, unions the rooms of every socket of the cluster (a
// fetchSockets), as the Rust host does. A sharded cluster of a crosscast
// server and another server (crosscast, or the official createShardedAdapter),
// each with a client in its own rooms, on one real redis-server.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import { startRedis, connectClient, within } from "./harness.mjs";
import { startServer, waitForSubscribers, serversChannel, eventually } from "./adapter-harness.mjs";

for (const other of ["crosscast", "official"]) {
  for (const protocol of ["sharded", "classic"]) {
    describe(`${protocol}: allRooms of a crosscast server next to a ${other} server`, () => {
      const ctx = {};
      const sharded = protocol === "sharded";

      before(async () => {
        ctx.redis = await startRedis();
        ctx.admin = new Redis({ port: ctx.redis.port, host: "127.0.0.1" });
        const common = { redisPort: ctx.redis.port, protocol, lib: "ioredis" };
        ctx.here = await startServer({ ...common, name: "here", impl: "crosscast" });
        ctx.there = await startServer({ ...common, name: "there", impl: other });
        await waitForSubscribers(ctx.admin, serversChannel(protocol), 2, sharded);
        ctx.clientHere = await connectClient(ctx.here.port);
        ctx.clientThere = await connectClient(ctx.there.port);
        // Rooms of one server only: "alpha" here, "beta" there.
        ctx.here.io.in(ctx.clientHere.id).socketsJoin("alpha");
        ctx.there.io.in(ctx.clientThere.id).socketsJoin("beta");
        await eventually(() => ctx.here.adapter().rooms.has("alpha"), "alpha joined here");
        await eventually(() => ctx.there.adapter().rooms.has("beta"), "beta joined there");
      });

      after(async () => {
        ctx.clientHere?.disconnect();
        ctx.clientThere?.disconnect();
        await ctx.here?.close();
        await ctx.there?.close();
        ctx.admin?.disconnect();
        await ctx.redis?.stop();
      });

      test("allRooms holds both servers' rooms, socket-id rooms included", async () => {
        const rooms = await within(ctx.here.adapter().allRooms(), "allRooms");
        assert.ok(rooms instanceof Set, "a Set, as the official classic adapter answers");
        const expected = [
          "alpha", "on-here", ctx.clientHere.id,
          "beta", "on-there", ctx.clientThere.id,
        ];
        assert.deepEqual([...rooms].sort(), expected.sort());
      });

      test("a socket that left the cluster takes its rooms with it", async () => {
        ctx.clientThere.disconnect();
        await eventually(() => !ctx.there.adapter().rooms.has("beta"), "beta gone there");
        const rooms = await within(ctx.here.adapter().allRooms(), "allRooms");
        assert.deepEqual([...rooms].sort(), ["alpha", "on-here", ctx.clientHere.id].sort());
      });
    });
  }
}
