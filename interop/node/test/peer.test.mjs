// Two peer-server.js processes on one private redis-server, for each adapter
// kind and Redis client: what one server's client does reaches the other's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startRedis, startPeer, connect, next, request, stopProcess, eventually } from "../harness.mjs";

const KINDS = [
  { adapter: "classic", client: "ioredis" },
  { adapter: "classic", client: "redis" },
  { adapter: "sharded", client: "redis" },
  { adapter: "sharded", client: "ioredis" },
];

let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  if (redis) await stopProcess(redis.child);
});

for (const { adapter, client } of KINDS) {
  test(`two ${adapter} peer servers (${client}) form one cluster`, async (t) => {
    // A key per case keeps the cases apart on the shared redis-server.
    const key = `t-${adapter}-${client}`;
    const args = ["--redis-url", redis.url, "--adapter", adapter, "--client", client, "--key", key,
      "--requests-timeout", "3000"];
    const a = await startPeer(args);
    const b = await startPeer(args);
    const sockets = [];
    t.after(async () => {
      for (const s of sockets) s.disconnect();
      const codes = await Promise.all([stopProcess(a.child), stopProcess(b.child)]);
      assert.deepEqual(codes, [0, 0], "peer servers exit cleanly on SIGTERM");
    });
    assert.notEqual(a.uid, b.uid);

    const alice = await connect(a.url, { name: "alice" });
    const bob = await connect(b.url, { name: "bob" });
    sockets.push(alice, bob);

    await t.test("who counts both servers and both sockets", async () => {
      // A server prints its "listening" line before Redis has confirmed its subscriptions.
      await eventually(3000, async () =>
        assert.deepEqual(await request(alice, 5000, "who"), { sockets: 2, servers: 2 }));
      assert.deepEqual(await request(bob, 5000, "who"), { sockets: 2, servers: 2 });
    });

    await t.test("a chat message from A reaches the clients of A and B", async () => {
      const atBob = next(bob, "chat message");
      const atAlice = next(alice, "chat message");
      alice.emit("chat message", { text: "hello", n: 1 });
      assert.deepEqual(await atBob, { text: "hello", n: 1 });
      assert.deepEqual(await atAlice, { text: "hello", n: 1 });
    });

    await t.test("stats server-side emit is answered by the other server", async () => {
      assert.deepEqual(await request(alice, 5000, "x:sse", "stats", []), [{ sockets: 1 }]);
    });

    await t.test("a room message reaches only the room, across servers", async () => {
      assert.equal(await request(bob, 5000, "join", "lobby"), true);
      let aliceGot = 0;
      const count = () => aliceGot++;
      alice.on("chat message", count);
      const atBob = next(bob, "chat message");
      alice.emit("room message", { room: "lobby", msg: "to the lobby" });
      assert.equal(await atBob, "to the lobby");
      // A later broadcast to everyone is seen by alice; the room message before it was not.
      const atAlice = next(alice, "chat message");
      alice.emit("chat message", "after");
      assert.equal(await atAlice, "after");
      alice.off("chat message", count);
      assert.equal(aliceGot, 1, "alice received only the broadcast, not the room message");
    });

    await t.test("fetch and rooms see the remote socket with its data", async () => {
      const found = await request(alice, 5000, "x:fetch", { rooms: ["lobby"] });
      assert.deepEqual(found, [{ id: bob.id, rooms: [bob.id, "lobby"], data: { name: "bob" } }]);
      const rooms = await request(alice, 5000, "x:rooms");
      if (adapter === "classic") {
        assert.ok(rooms.includes("lobby"), `rooms: ${JSON.stringify(rooms)}`);
      } else {
        assert.deepEqual(rooms, { error: "allRooms is not supported by this adapter" });
      }
    });

    await t.test("broadcast with ack collects the answers of both clients", async () => {
      alice.on("ping", (ack) => ack("alice"));
      bob.on("ping", (ack) => ack("bob"));
      const answers = await request(alice, 5000, "x:broadcast-ack", { timeout: 3000 });
      assert.deepEqual([...answers].sort(), ["alice", "bob"]);
    });

    await t.test("join-all and disconnect-room act on the remote socket", async () => {
      // The classic adapter applies socketsJoin/Leave only when its own request comes
      // back from Redis, even locally: wait (bounded) until the cluster has applied it.
      const members = async () =>
        (await request(alice, 5000, "x:fetch", { rooms: ["everyone"] })).map((s) => s.id).sort();
      assert.equal(await request(alice, 5000, "x:join-all", "everyone"), true);
      await eventually(3000, async () => assert.deepEqual(await members(), [alice.id, bob.id].sort()));
      assert.equal(await request(alice, 5000, "x:leave-all", "everyone"), true);
      await eventually(3000, async () => assert.deepEqual(await members(), []));

      const bobGone = next(bob, "disconnect");
      assert.equal(await request(alice, 5000, "x:disconnect-room", "lobby"), true);
      assert.equal(await bobGone, "io server disconnect");
      assert.ok(alice.connected, "alice, outside the room, stays connected");
    });
  });
}
