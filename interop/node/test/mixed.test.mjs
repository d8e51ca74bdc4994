// Mixed clusters: a Rust server (socketioxide + crosscast's cluster adapter,
// tests/src/bin/rust_peer.rs) and a Node.js server (socket.io + the official
// @socket.io/redis-adapter) on one private redis-server, classic and sharded.
// Every adapter operation is driven from each side and observed on the other.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startRedis, startPeer, startRustPeer, connect, next, request, stopProcess, eventually, within,
} from "../harness.mjs";

let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  if (redis) await stopProcess(redis.child);
});

/** Resolves with every payload of `event` received by `socket` within `ms`. */
function collect(socket, event, ms) {
  const got = [];
  const on = (v) => got.push(v);
  socket.on(event, on);
  return new Promise((resolve) => setTimeout(() => {
    socket.off(event, on);
    resolve(got);
  }, ms));
}

for (const adapter of ["classic", "sharded"]) {
  test(`a Rust server and a Node server form one ${adapter} cluster`, async (t) => {
    const key = `mixed-${adapter}`;
    const args = ["--redis-url", redis.url, "--adapter", adapter, "--key", key, "--requests-timeout", "3000"];
    const rust = await startRustPeer(args);
    const node = await startPeer([...args, "--client", "ioredis"]);
    const sockets = [];
    t.after(async () => {
      for (const s of sockets) s.disconnect();
      const codes = await Promise.all([stopProcess(rust.child), stopProcess(node.child)]);
      assert.deepEqual(codes, [0, 0], "both servers exit cleanly on SIGTERM");
    });
    const r1 = await connect(rust.url, { name: "r1" });
    const n1 = await connect(node.url, { name: "n1" });
    sockets.push(r1, n1);
    for (const s of [r1, n1]) s.on("ping", (...args) => args.at(-1)(`pong ${s === r1 ? "r1" : "n1"}`));

    await t.test("both sides count two servers and two sockets", async () => {
      await eventually(5000, async () => {
        assert.deepEqual(await request(r1, 5000, "who"), { sockets: 2, servers: 2 });
        assert.deepEqual(await request(n1, 5000, "who"), { sockets: 2, servers: 2 });
      });
    });

    await t.test("emit to all, both directions, sender included", async () => {
      for (const [from, to] of [[r1, n1], [n1, r1]]) {
        const there = next(to, "chat message");
        const here = next(from, "chat message");
        from.emit("chat message", { text: "hi", from: from.id });
        assert.deepEqual(await there, { text: "hi", from: from.id });
        assert.deepEqual(await here, { text: "hi", from: from.id });
      }
    });

    await t.test("binary arguments survive both directions", async () => {
      for (const [from, to] of [[r1, n1], [n1, r1]]) {
        const there = next(to, "chat message");
        from.emit("chat message", { bin: Buffer.from([1, 2, 3, 250]) });
        const got = await there;
        assert.deepEqual([...got.bin], [1, 2, 3, 250]);
      }
    });

    await t.test("to a room and except a room, both directions", async () => {
      assert.equal(await request(n1, 5000, "join", "room-n"), true);
      assert.equal(await request(r1, 5000, "join", "room-r"), true);
      // Give the sharded dynamic mode time to subscribe the new room channels.
      await eventually(3000, async () => {
        const atN1 = next(n1, "chat message", 500);
        r1.emit("room message", { room: "room-n", msg: "to room-n" });
        assert.equal(await atN1, "to room-n");
      });
      await eventually(3000, async () => {
        const atR1 = next(r1, "chat message", 500);
        n1.emit("room message", { room: "room-r", msg: "to room-r" });
        assert.equal(await atR1, "to room-r");
      });
      for (const [from, excluded, included] of [[r1, n1, r1], [n1, r1, n1]]) {
        const excludedGot = collect(excluded, "except-test", 600);
        const includedGot = collect(included, "except-test", 600);
        const room = excluded === n1 ? "room-n" : "room-r";
        assert.equal(await request(from, 5000, "x:emit", { except: [room], event: "except-test", args: ["x"] }), true);
        assert.deepEqual(await excludedGot, []);
        assert.deepEqual(await includedGot, ["x"]);
      }
    });

    await t.test("a socket is addressed by its id as a room, both directions", async () => {
      const atR1 = next(r1, "direct");
      assert.equal(await request(n1, 5000, "x:emit", { rooms: [r1.id], event: "direct", args: ["from node"] }), true);
      assert.equal(await atR1, "from node");
      const atN1 = next(n1, "direct");
      assert.equal(await request(r1, 5000, "x:remote-emit", n1.id, "direct"), true);
      assert.equal(await atN1, "direct");
    });

    await t.test("fetchSockets sees the other server's sockets, both directions", async () => {
      const fromRust = await request(r1, 5000, "x:fetch", {});
      const ids = fromRust.map((s) => s.id).sort();
      assert.deepEqual(ids, [n1.id, r1.id].sort());
      const n1Seen = fromRust.find((s) => s.id === n1.id);
      assert.ok(n1Seen.rooms.includes("room-n"), JSON.stringify(n1Seen));
      const fromNode = await request(n1, 5000, "x:fetch", { rooms: ["room-r"] });
      assert.deepEqual(fromNode.map((s) => s.id), [r1.id]);
      assert.ok(fromNode[0].rooms.includes(r1.id));
    });

    await t.test("rooms() of the Rust server includes the Node server's rooms", async () => {
      const rooms = await request(r1, 5000, "x:rooms");
      assert.ok(rooms.includes("room-n"), JSON.stringify(rooms));
      assert.ok(rooms.includes(n1.id), JSON.stringify(rooms));
      if (adapter === "classic") {
        const fromNode = await request(n1, 5000, "x:rooms");
        assert.ok(fromNode.includes("room-r"), JSON.stringify(fromNode));
      }
    });

    await t.test("broadcast with acks collects the other server's clients, both directions", async () => {
      for (const from of [r1, n1]) {
        const acks = await request(from, 8000, "x:broadcast-ack", { timeout: 2000 });
        assert.deepEqual([...acks].sort(), ["pong n1", "pong r1"]);
      }
    });

    await t.test("server-side emit with ack, both directions", async () => {
      assert.deepEqual(await request(r1, 8000, "x:sse", "stats", []), [{ sockets: 1 }]);
      assert.deepEqual(await request(n1, 8000, "x:sse", "stats", []), [{ sockets: 1 }]);
    });

    await t.test("remote join and leave, both directions", async () => {
      assert.equal(await request(r1, 5000, "x:join-all", "vip"), true);
      await eventually(3000, async () => {
        const seen = await request(n1, 5000, "x:fetch", { rooms: ["vip"] });
        assert.deepEqual(seen.map((s) => s.id).sort(), [n1.id, r1.id].sort());
      });
      assert.equal(await request(n1, 5000, "x:leave-all", "vip"), true);
      await eventually(3000, async () => {
        const seen = await request(r1, 5000, "x:fetch", { rooms: ["vip"] });
        assert.deepEqual(seen, []);
      });
      assert.equal(await request(r1, 5000, "x:remote-join", n1.id, "picked"), true);
      await eventually(3000, async () => {
        const seen = await request(n1, 5000, "x:fetch", { rooms: ["picked"] });
        assert.deepEqual(seen.map((s) => s.id), [n1.id]);
      });
    });

    await t.test("remote disconnect, both directions", async () => {
      const r2 = await connect(rust.url, { name: "r2" });
      const n2 = await connect(node.url, { name: "n2" });
      sockets.push(r2, n2);
      assert.equal(await request(r2, 5000, "join", "doomed"), true);
      assert.equal(await request(n2, 5000, "join", "doomed"), true);
      const goneR2 = within(5000, "r2 disconnected", new Promise((res) => r2.once("disconnect", res)));
      const goneN2 = within(5000, "n2 disconnected", new Promise((res) => n2.once("disconnect", res)));
      assert.equal(await request(n1, 5000, "x:disconnect-room", "doomed"), true);
      await Promise.all([goneR2, goneN2]);
      assert.ok(r1.connected && n1.connected, "the others stay connected");
    });
  });
}
