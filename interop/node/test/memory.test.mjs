// Without --redis-url, peer-server.js is one in-memory node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startPeer, connect, next, request, stopProcess } from "../harness.mjs";

test("an in-memory peer server is a cluster of one", async (t) => {
  const server = await startPeer(["--requests-timeout", "300"]);
  const sockets = [];
  t.after(async () => {
    for (const s of sockets) s.disconnect();
    assert.equal(await stopProcess(server.child), 0, "exits cleanly on SIGTERM");
  });
  assert.equal(server.uid, "local");
  const a = await connect(server.url);
  const b = await connect(server.url);
  sockets.push(a, b);

  assert.deepEqual(await request(a, 5000, "who"), { sockets: 2, servers: 1 });
  const atB = next(b, "chat message");
  a.emit("chat message", [1, "two", { three: 3 }]);
  assert.deepEqual(await atB, [1, "two", { three: 3 }]);
  // The in-memory adapter never answers a server-side emit; the app's own bound reports it.
  assert.deepEqual(await request(a, 5000, "x:sse", "stats", []), {
    error: "serverSideEmitWithAck timed out",
  });
});
