// The Emitter publishing with ioredis and with node-redis into a real cluster:
// redis-server, two Socket.IO servers on the official classic redis adapter,
// real socket.io-client clients.
import { test } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import { createClient } from "redis";
import { Emitter } from "../js/index.mjs";
import { startCluster, connectClient, next, arrivedBefore } from "./harness.mjs";

const clientKinds = {
  ioredis: async (port) => {
    const client = new Redis({ port, host: "127.0.0.1" });
    return { client, close: () => client.disconnect() };
  },
  "node-redis": async (port) => {
    const client = createClient({ url: `redis://127.0.0.1:${port}` });
    await client.connect();
    return { client, close: () => client.destroy() };
  },
};

for (const [kind, makeClient] of Object.entries(clientKinds)) {
  test(`Emitter with ${kind} reaches a real classic cluster`, async (t) => {
    const cluster = await startCluster();
    const [a, b] = cluster.servers;
    for (const server of cluster.servers) {
      server.io.on("connection", (socket) => {
        if (socket.handshake.query.room) socket.join(socket.handshake.query.room);
      });
    }
    const connectIn = async (server, room) =>
      connectClient(server.port, `/?room=${room}`);
    const c1 = await connectIn(a, "r1");
    const c2 = await connectIn(a, "r2");
    const c3 = await connectIn(b, "r1");
    const { client, close } = await makeClient(cluster.redis.port);
    const emitter = new Emitter(client);
    t.after(async () => {
      for (const c of [c1, c2, c3]) c.disconnect();
      await close();
      await cluster.stop();
    });

    await t.test("to(room) with binary arguments, on both servers", async () => {
      const got1 = next(c1, "hello");
      const got3 = next(c3, "hello");
      const marker = next(c2, "marker");
      const leaked = arrivedBefore(c2, "hello", marker);
      const receivers = await emitter.to("r1").emit("hello", "world", Buffer.from([1, 2, 3]), {
        nested: new Uint8Array([9]),
      });
      assert.equal(Number(receivers), 2, "both servers' pattern subscriptions got it");
      await emitter.to("r2").emit("marker");
      for (const [text, bin, obj] of [await got1, await got3]) {
        assert.equal(text, "world");
        assert.deepEqual([...bin], [1, 2, 3]);
        assert.deepEqual([...obj.nested], [9]);
      }
      assert.equal(await leaked, false, "a socket outside r1 got the event");
    });

    await t.test("except(room)", async () => {
      const got2 = next(c2, "ex");
      const markers = [next(c1, "marker"), next(c3, "marker")];
      const leaks = [
        arrivedBefore(c1, "ex", markers[0]),
        arrivedBefore(c3, "ex", markers[1]),
      ];
      await emitter.except("r1").emit("ex", 42);
      await emitter.emit("marker");
      assert.deepEqual(await got2, [42]);
      assert.deepEqual(await Promise.all(leaks), [false, false]);
    });

    await t.test("volatile and compress flags still deliver", async () => {
      const got = next(c3, "flags");
      await emitter.to("r1").volatile.compress(false).emit("flags", 1.5);
      assert.deepEqual(await got, [1.5]);
    });

    await t.test("socketsJoin then emit to the joined room", async () => {
      await emitter.in("r2").socketsJoin(["joined"]);
      const got = next(c2, "after-join");
      await emitter.to("joined").emit("after-join", "yes");
      assert.deepEqual(await got, ["yes"]);
      const rooms = (await a.io.in("joined").fetchSockets()).map((s) => s.id);
      assert.deepEqual(rooms, [c2.id]);
    });

    await t.test("socketsLeave", async () => {
      await emitter.in("r2").socketsLeave("joined");
      const marker = next(c2, "marker");
      const leaked = arrivedBefore(c2, "after-leave", marker);
      await emitter.to("joined").emit("after-leave");
      await emitter.to("r2").emit("marker");
      assert.equal(await leaked, false);
    });

    await t.test("serverSideEmit is received by io.on on every server", async () => {
      const onA = next(a.io, "srv", "server A");
      const onB = next(b.io, "srv", "server B");
      await emitter.serverSideEmit("srv", 1, { a: "b" });
      assert.deepEqual(await onA, [1, { a: "b" }]);
      assert.deepEqual(await onB, [1, { a: "b" }]);
    });

    await t.test("disconnectSockets(true)", async () => {
      const gone = next(c2, "disconnect");
      await emitter.in("r2").disconnectSockets(true);
      const [reason] = await gone;
      assert.equal(reason, "io server disconnect");
      assert.equal(c1.connected && c3.connected, true);
    });
  });
}
