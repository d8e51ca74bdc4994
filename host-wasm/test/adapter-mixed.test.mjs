// Mixed clusters: one Socket.IO server on crosscast's adapter and one on the
// official @socket.io/redis-adapter 8.3.0, classic and sharded, with ioredis
// and with node-redis, one real redis-server each. Every operation socket.io
// calls on an adapter is run from each server and observed on the other.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import { startRedis, connectClient, next, arrivedBefore, within } from "./harness.mjs";
import {
  startServer,
  waitForSubscribers,
  serversChannel,
  eventually,
  allNext,
} from "./adapter-harness.mjs";

/** A client that answers `ask` with its server's name. */
async function client(server) {
  const socket = await connectClient(server.port);
  socket.on("ask", (cb) => cb(`client-of-${server.name}`));
  return socket;
}

for (const protocol of ["classic", "sharded"]) {
  for (const lib of ["ioredis", "node-redis"]) {
    describe(`${protocol} adapter, ${lib}: crosscast and official in one cluster`, () => {
      const ctx = {};
      const sharded = protocol === "sharded";

      /** Waits until the room channel of `on-<name>` has `n` subscribers (sharded dynamic). */
      const roomReady = (name, n = 1) =>
        sharded ? waitForSubscribers(ctx.admin, `socket.io#/#on-${name}#`, n, true) : undefined;

      before(async () => {
        ctx.redis = await startRedis();
        ctx.admin = new Redis({ port: ctx.redis.port, host: "127.0.0.1" });
        const common = { redisPort: ctx.redis.port, protocol, lib };
        ctx.crosscast = await startServer({ ...common, name: "crosscast", impl: "crosscast" });
        ctx.official = await startServer({ ...common, name: "official", impl: "official" });
        await waitForSubscribers(ctx.admin, serversChannel(protocol), 2, sharded);
        for (const s of [ctx.crosscast, ctx.official]) {
          s.io.on("sse-ack", (x, cb) => cb(`${s.name}:${x}`));
          ctx[`client-${s.name}`] = await client(s);
        }
        await roomReady("crosscast");
        await roomReady("official");
      });

      after(async () => {
        for (const key of ["client-crosscast", "client-official"]) ctx[key]?.disconnect();
        await ctx.crosscast?.close();
        await ctx.official?.close();
        ctx.admin?.disconnect();
        await ctx.redis?.stop();
      });

      for (const [from, to] of [
        ["crosscast", "official"],
        ["official", "crosscast"],
      ]) {
        const o = () => ctx[from];
        const t = () => ctx[to];
        const co = () => ctx[`client-${from}`];
        const ct = () => ctx[`client-${to}`];
        const label = `${from} -> ${to}`;

        test(`${label}: broadcast to all, binary arguments intact`, async () => {
          const got = allNext([co(), ct()], "all");
          o().io.emit("all", "text", Buffer.from([0, 1, 255]), { n: 1, bin: Buffer.from([9]) });
          for (const [text, bytes, obj] of await got) {
            assert.equal(text, "text");
            assert.deepEqual([...bytes], [0, 1, 255]);
            assert.equal(obj.n, 1);
            assert.deepEqual([...obj.bin], [9]);
          }
        });

        test(`${label}: broadcast to a room reaches that room only`, async () => {
          const inRoom = next(ct(), "room", "room event on the other server");
          const settled = Promise.all([next(co(), "settle"), next(ct(), "settle")]);
          const leaked = arrivedBefore(co(), "room", settled);
          o().io.to(`on-${to}`).emit("room", 42);
          o().io.emit("settle");
          assert.deepEqual(await inRoom, [42]);
          assert.equal(await leaked, false, "the origin's client is not in the room");
        });

        test(`${label}: except leaves out the excluded room`, async () => {
          const delivered = next(co(), "ex", "ex on the origin's client");
          const settled = Promise.all([next(co(), "settle2"), next(ct(), "settle2")]);
          const leaked = arrivedBefore(ct(), "ex", settled);
          o().io.except(`on-${to}`).emit("ex", "x");
          o().io.emit("settle2");
          assert.deepEqual(await delivered, ["x"]);
          assert.equal(await leaked, false, "the excluded client got the event");
        });

        test(`${label}: broadcast with acks collects every client's ack`, async () => {
          const acks = await within(o().io.timeout(5000).emitWithAck("ask"), "emitWithAck");
          assert.deepEqual(acks.sort(), ["client-of-crosscast", "client-of-official"]);
        });

        test(`${label}: fetchSockets returns the remote socket with its rooms and data`, async () => {
          const sockets = await within(o().io.fetchSockets(), "fetchSockets");
          assert.deepEqual(sockets.map((s) => s.id).sort(), [co().id, ct().id].sort());
          const remote = sockets.find((s) => s.id === ct().id);
          assert.deepEqual([...remote.rooms].sort(), [ct().id, `on-${to}`].sort());
          assert.deepEqual(remote.data, { server: to });
          assert.equal(typeof remote.handshake.issued, "number");
          const inRoom = await within(o().io.in(`on-${to}`).fetchSockets(), "fetchSockets in room");
          assert.deepEqual(inRoom.map((s) => s.id), [ct().id]);
        });

        test(`${label}: socketsJoin and socketsLeave reach the other server`, async () => {
          const room = `joined-${from}`;
          o().io.in(`on-${to}`).socketsJoin(room);
          await eventually(() => t().adapter().rooms.get(room)?.has(ct().id), "remote join");
          assert.equal(o().adapter().rooms.has(room), false, "the origin's socket did not join");
          o().io.socketsJoin("everyone");
          await eventually(() => t().adapter().rooms.get("everyone")?.has(ct().id), "join all");
          assert.ok(o().adapter().rooms.get("everyone")?.has(co().id), "local join applied");
          o().io.in(room).socketsLeave(room);
          await eventually(() => !t().adapter().rooms.has(room), "remote leave");
          o().io.socketsLeave("everyone");
          await eventually(() => !t().adapter().rooms.has("everyone"), "leave all");
          assert.equal(o().adapter().rooms.has("everyone"), false);
        });

        test(`${label}: serverSideEmit without ack`, async () => {
          const heard = next(t().io, "sse", "server-side event");
          const selfHeard = arrivedBefore(o().io, "sse", heard);
          o().io.serverSideEmit("sse", 1, "two", Buffer.from([3]));
          const [one, two, bytes] = await heard;
          assert.deepEqual([one, two], [1, "two"]);
          if (protocol === "classic" && from === "official") {
            // The official classic adapter sends server-side events as JSON:
            // a Buffer arrives as its toJSON() form, whatever the receiver.
            assert.deepEqual(bytes, { type: "Buffer", data: [3] });
          } else {
            assert.deepEqual([...bytes], [3]);
          }
          assert.equal(await selfHeard, false, "the origin does not hear its own event");
        });

        test(`${label}: serverSideEmit with ack gets the other server's answer`, async () => {
          const answers = await within(o().io.serverSideEmitWithAck("sse-ack", 5), "sse ack");
          assert.deepEqual(answers, [`${to}:5`]);
        });

        test(`${label}: serverCount counts both servers`, async () => {
          assert.equal(await o().adapter().serverCount(), 2);
        });

        if (protocol === "classic" || from === "crosscast") {
          test(`${label}: allRooms holds the rooms of both servers`, async () => {
            const rooms = await within(o().adapter().allRooms(), "allRooms");
            assert.ok(rooms.has(`on-${from}`));
            assert.ok(rooms.has(co().id));
            assert.ok(rooms.has(`on-${to}`), "remote room");
            assert.ok(rooms.has(ct().id), "remote socket room");
          });
        }

        test(`${label}: disconnectSockets disconnects the remote client`, async () => {
          const gone = next(ct(), "disconnect", "remote disconnect");
          const settled = Promise.all([next(co(), "settle3"), next(ct(), "settle3")]);
          const selfGone = arrivedBefore(co(), "disconnect", settled);
          // The settle event goes out first: the disconnect must come after it.
          o().io.emit("settle3");
          await settled;
          o().io.in(`on-${to}`).disconnectSockets(true);
          const [reason] = await gone;
          assert.equal(reason, "io server disconnect");
          assert.equal(await selfGone, false);
          // The room's shard channel is unsubscribed before the new client joins it again:
          // a join while the SUNSUBSCRIBE is still in flight can leave the official adapter on
          // node-redis believing it is subscribed when Redis has dropped it.
          await roomReady(to, 0);
          ctx[`client-${to}`] = await client(t());
          await roomReady(to);
        });
      }

      test("a second namespace shares the Redis clients of the first", async () => {
        for (const s of [ctx.crosscast, ctx.official]) s.io.of("/admin");
        const channel = sharded ? "socket.io#/admin#" : "socket.io-request#/admin#";
        await waitForSubscribers(ctx.admin, channel, 2, sharded);
        for (const [from, to] of [["crosscast", "official"], ["official", "crosscast"]]) {
          const remote = await connectClient(ctx[to].port, "/admin");
          try {
            const got = next(remote, "adm", `${from} -> ${to} on /admin`);
            const onRoot = arrivedBefore(ctx[`client-${to}`], "adm", got);
            ctx[from].io.of("/admin").emit("adm", from);
            assert.deepEqual(await got, [from]);
            assert.equal(await onRoot, false, "the / namespace did not get it");
            const sockets = await within(ctx[from].io.of("/admin").fetchSockets(), "fetch /admin");
            assert.deepEqual(sockets.map((x) => x.id), [remote.id]);
          } finally {
            remote.disconnect();
          }
        }
      });

      test("a crosscast server that closes leaves the cluster; the official server stays", async () => {
        const extra = await startServer({
          redisPort: ctx.redis.port, protocol, lib, name: "extra", impl: "crosscast",
        });
        await waitForSubscribers(ctx.admin, serversChannel(protocol), 3, sharded);
        assert.equal(await ctx.official.adapter().serverCount(), 3);
        assert.equal(await ctx.crosscast.adapter().serverCount(), 3);
        await extra.close();
        await waitForSubscribers(ctx.admin, serversChannel(protocol), 2, sharded);
        assert.equal(await ctx.official.adapter().serverCount(), 2);
        const sockets = await ctx.official.io.fetchSockets();
        assert.equal(sockets.length, 2);
      });

      test("after the official server closes, crosscast answers alone", async () => {
        await ctx.official.close();
        await waitForSubscribers(ctx.admin, serversChannel(protocol), 1, sharded);
        assert.equal(await ctx.crosscast.adapter().serverCount(), 1);
        const sockets = await within(ctx.crosscast.io.fetchSockets(), "fetchSockets alone");
        assert.deepEqual(sockets.map((s) => s.id), [ctx["client-crosscast"].id]);
        assert.deepEqual(await ctx.crosscast.io.serverSideEmitWithAck("sse-ack", 1), []);
      });
    });
  }
}
