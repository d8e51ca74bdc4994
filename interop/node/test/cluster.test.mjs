// The sharded protocol on a real 3-master Redis Cluster: a Rust server
// (crosscast's adapter) and a Node server (createShardedAdapter on node-redis's
// cluster client) form one cluster; every channel hashes to its own slot.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  startRedisCluster, startPeer, startRustPeer, connect, next, request, stopProcess, eventually,
} from "../harness.mjs";

test("a Rust server and a Node server form one sharded cluster on Redis Cluster", async (t) => {
  const cluster = await startRedisCluster(3);
  const nodes = cluster.urls.join(",");
  const args = ["--adapter", "sharded", "--key", "rc", "--requests-timeout", "3000"];
  let rust;
  let node;
  const sockets = [];
  t.after(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all([rust && stopProcess(rust.child), node && stopProcess(node.child)]);
    await cluster.stop();
  });
  rust = await startRustPeer([...args, "--redis-cluster", nodes]);
  node = await startPeer([...args, "--client", "redis", "--redis-cluster", nodes]);
  const r1 = await connect(rust.url);
  const n1 = await connect(node.url);
  sockets.push(r1, n1);

  await eventually(8000, async () => {
    assert.deepEqual(await request(r1, 5000, "who"), { sockets: 2, servers: 2 });
    assert.deepEqual(await request(n1, 5000, "who"), { sockets: 2, servers: 2 });
  });
  for (const [from, to] of [[r1, n1], [n1, r1]]) {
    const there = next(to, "chat message");
    from.emit("chat message", { hello: "cluster", bin: Buffer.from([7]) });
    const got = await there;
    assert.equal(got.hello, "cluster");
    assert.deepEqual([...got.bin], [7]);
  }
  // A room channel lives on its own slot, maybe another master.
  assert.equal(await request(n1, 5000, "join", "slot-room"), true);
  await eventually(5000, async () => {
    const atN1 = next(n1, "chat message", 500);
    r1.emit("room message", { room: "slot-room", msg: "across slots" });
    assert.equal(await atN1, "across slots");
  });
  const fetched = await request(r1, 5000, "x:fetch", {});
  assert.deepEqual(fetched.map((s) => s.id).sort(), [n1.id, r1.id].sort());
  assert.deepEqual(await request(r1, 8000, "x:sse", "stats", []), [{ sockets: 1 }]);
  assert.deepEqual(await request(n1, 8000, "x:sse", "stats", []), [{ sockets: 1 }]);
});
