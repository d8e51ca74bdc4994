// A crosscast npm adapter that peers cannot make leak or crash: server-side
// events with acks that its app never answers are freed (at once when nobody
// listens, after the requests timeout when a listener never calls back),
// reserved names are refused both ways, and what the cluster cannot carry is
// refused to the caller. The peer is a Socket.IO server on the official adapter.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import { startRedis, within } from "./harness.mjs";
import { startServer, waitForSubscribers, serversChannel, eventually } from "./adapter-harness.mjs";

const FLOOD = 10_000;

for (const protocol of ["classic", "sharded"]) {
  describe(`${protocol}: server-side acks an official peer asks for`, () => {
    const ctx = {};
    const sharded = protocol === "sharded";

    before(async () => {
      ctx.redis = await startRedis();
      ctx.admin = new Redis({ port: ctx.redis.port, host: "127.0.0.1" });
      ctx.crosscast = await startServer({
        name: "crosscast", redisPort: ctx.redis.port, protocol, lib: "ioredis", impl: "crosscast",
        opts: { requestsTimeout: 500 },
      });
      ctx.official = await startServer({
        name: "official", redisPort: ctx.redis.port, protocol, lib: "ioredis", impl: "official",
        opts: { requestsTimeout: 500 },
      });
      await waitForSubscribers(ctx.admin, serversChannel(protocol), 2, sharded);
      // The crosscast app listens to "silent" but never calls back.
      ctx.crosscast.io.on("silent", () => {});
    });

    after(async () => {
      await ctx.official?.close();
      await ctx.crosscast?.close();
      ctx.admin?.disconnect();
      await ctx.redis?.stop();
    });

    const stats = () => ctx.crosscast.adapter().stats();
    const flood = (event) =>
      Promise.allSettled(
        Array.from({ length: FLOOD }, (_, i) =>
          ctx.official.io.serverSideEmitWithAck(event, i),
        ),
      );

    test(`${FLOOD} calls for an event nobody listens to are freed at once`, async () => {
      const settled = await within(flood("nobody-listens"), "the flood", 30_000);
      assert.equal(settled.filter((s) => s.status === "fulfilled").length, 0);
      await eventually(
        () => stats().received >= FLOOD && stats().serverSideAcksPending === 0,
        "every call received and none pending",
      );
      assert.equal(stats().serverSideAcksExpired, 0, "released, not expired");
    });

    test(`${FLOOD} calls a listener never answers expire after the requests timeout`, async () => {
      const before = stats().serverSideAcksExpired;
      const settled = within(flood("silent"), "the flood", 30_000);
      await eventually(() => stats().serverSideAcksPending > 0, "entries are held meanwhile");
      await settled;
      await eventually(() => stats().serverSideAcksPending === 0, "every entry freed");
      assert.equal(stats().serverSideAcksExpired - before, FLOOD);
    });

    test("reserved server-side event names are refused, on every path", () => {
      for (const name of ["error", "disconnect", "newListener", "disconnecting"]) {
        assert.throws(() => ctx.crosscast.io.serverSideEmit(name, 1), /reserved event name/, name);
      }
      assert.ok(stats().refusedReservedEvent >= 4);
    });

    test("a reserved name sent by a peer never reaches the app", async () => {
      let got = 0;
      ctx.crosscast.io.on("disconnecting", () => got++);
      const before = stats().refusedReservedEvent;
      // The official adapter refuses only connect/connection/new_namespace.
      ctx.official.io.serverSideEmit("disconnecting", 1);
      ctx.official.io.serverSideEmit("error", new Error("boom").message);
      await eventually(() => stats().refusedReservedEvent - before === 2, "both refused");
      assert.equal(got, 0);
    });

    test("a value deeper than the cluster carries is refused to the sender", () => {
      let deep = "core";
      for (let i = 0; i < 200; i++) deep = [deep];
      const before = stats().published;
      assert.throws(() => ctx.crosscast.io.emit("deep", deep), /deeper than 128 levels/);
      assert.equal(stats().published, before, "nothing published");
    });
  });
}
