// Requests that a server never answers: a bare Redis subscriber on the
// channel the servers are counted on is a server that stays silent. The
// adapter must end each request at its timeout with the official adapter's
// error, and keep working afterwards.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import { startRedis, connectClient, within } from "./harness.mjs";
import { startServer, waitForSubscribers, serversChannel } from "./adapter-harness.mjs";

for (const protocol of ["classic", "sharded"]) {
  describe(`${protocol}: a silent server`, () => {
    const ctx = {};
    const sharded = protocol === "sharded";

    before(async () => {
      ctx.redis = await startRedis();
      ctx.admin = new Redis({ port: ctx.redis.port, host: "127.0.0.1" });
      ctx.silent = new Redis({ port: ctx.redis.port, host: "127.0.0.1" });
      ctx.server = await startServer({
        name: "alone", redisPort: ctx.redis.port, protocol, lib: "ioredis", impl: "crosscast",
        opts: { requestsTimeout: 300 },
      });
      ctx.client = await connectClient(ctx.server.port);
      ctx.client.on("ask", (cb) => cb("answer"));
      if (sharded) await ctx.silent.ssubscribe(serversChannel(protocol));
      else await ctx.silent.subscribe(serversChannel(protocol));
      await waitForSubscribers(ctx.admin, serversChannel(protocol), 2, sharded);
    });

    after(async () => {
      ctx.client?.disconnect();
      await ctx.server?.close();
      ctx.silent?.disconnect();
      ctx.admin?.disconnect();
      await ctx.redis?.stop();
    });

    test("fetchSockets rejects at the timeout with the official message", async () => {
      const expected = sharded
        ? /^Error: timeout reached: only 0 responses received out of 1$/
        : /^Error: timeout reached while waiting for fetchSockets response$/;
      await assert.rejects(within(ctx.server.io.fetchSockets(), "fetchSockets"), (err) => {
        assert.match(String(err), expected);
        return true;
      });
    });

    test("serverSideEmitWithAck rejects at the timeout", async () => {
      await assert.rejects(
        within(ctx.server.io.serverSideEmitWithAck("nobody"), "sse"),
        /timeout reached: only 0 responses received out of 1/,
      );
    });

    if (!sharded) {
      test("allRooms rejects at the timeout with the official message", async () => {
        await assert.rejects(
          within(ctx.server.adapter().allRooms(), "allRooms"),
          /timeout reached while waiting for allRooms response/,
        );
      });
    }

    test("a broadcast with acks ends with the local acks when the silent server never counts", async () => {
      await assert.rejects(
        within(ctx.server.io.timeout(300).emitWithAck("ask"), "emitWithAck"),
        /operation has timed out/,
      );
    });

    test("after the silent server leaves, requests complete again", async () => {
      ctx.silent.disconnect();
      await waitForSubscribers(ctx.admin, serversChannel(protocol), 1, sharded);
      const sockets = await within(ctx.server.io.fetchSockets(), "fetchSockets");
      assert.deepEqual(sockets.map((s) => s.id), [ctx.client.id]);
      assert.deepEqual(await within(ctx.server.io.timeout(2000).emitWithAck("ask"), "acks"), ["answer"]);
      const stats = ctx.server.adapter().stats();
      assert.ok(stats.requestsTimedOut >= 3, `timed-out requests counted: ${JSON.stringify(stats)}`);
    });
  });
}
