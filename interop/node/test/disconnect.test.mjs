// disconnectSockets(close) across a mixed cluster: a Rust server (rust_peer.rs on
// crosscast's adapter) and a Node.js server (the official @socket.io/redis-adapter)
// on one private redis-server, classic and sharded. Each client is connected to
// two namespaces over one connection ("/" then "/other"); sockets of "/" are
// disconnected from the other server with close false (only "/" goes, the
// connection and "/other" stay) and with close true (the whole connection goes,
// "/other" too).
//
// Why "/other" staying connected is proven by one round trip: with close true
// both servers send the other namespaces' disconnections in the same step as
// "/"'s (Node right after it, crosscast right before it), on the same
// connection, so a ping answered on "/other" after "/" went means none is coming.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { startRedis, startPeer, startRustPeer, request, stopProcess, within, eventually } from "../harness.mjs";

let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  if (redis) await stopProcess(redis.child);
});

/** One connection to `url` with a socket on "/" (connected first) and one on "/other". */
async function connectTwice(url) {
  const manager = new Manager(url, { transports: ["websocket"], reconnection: false });
  const connected = (socket) =>
    within(5000, `connect ${socket.nsp} on ${url}`, new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    }));
  const main = manager.socket("/");
  await connected(main);
  const other = manager.socket("/other");
  await connected(other);
  return { manager, main, other, close: () => { main.disconnect(); other.disconnect(); } };
}

/** Resolves with the reason of `socket`'s next disconnection (bounded). */
function gone(socket, what) {
  return within(5000, `${what} disconnected`, new Promise((resolve) => socket.once("disconnect", resolve)));
}

for (const adapter of ["classic", "sharded"]) {
  test(`disconnectSockets(close) crosses a ${adapter} mixed cluster both ways`, async (t) => {
    const key = `close-${adapter}`;
    const args = ["--redis-url", redis.url, "--adapter", adapter, "--key", key, "--requests-timeout", "3000"];
    const rust = await startRustPeer(args);
    const node = await startPeer([...args, "--client", "ioredis"]);
    const clients = [];
    t.after(async () => {
      for (const c of clients) c.close();
      const codes = await Promise.all([stopProcess(rust.child), stopProcess(node.child)]);
      assert.deepEqual(codes, [0, 0], "both servers exit cleanly on SIGTERM");
    });
    // The servers that send the disconnections, each driven by one client of its own.
    const onRust = await connectTwice(rust.url);
    const onNode = await connectTwice(node.url);
    clients.push(onRust, onNode);
    // Both servers see each other before the first request crosses.
    await eventually(5000, async () => {
      assert.equal((await request(onNode.main, 5000, "who")).servers, 2);
      assert.equal((await request(onRust.main, 5000, "who")).servers, 2);
    });

    const cases = [
      { from: "Node", to: "Rust", sender: onNode, url: rust.url, close: false },
      { from: "Node", to: "Rust", sender: onNode, url: rust.url, close: true },
      { from: "Rust", to: "Node", sender: onRust, url: node.url, close: false },
      { from: "Rust", to: "Node", sender: onRust, url: node.url, close: true },
    ];
    for (const { from, to, sender, url, close } of cases) {
      await t.test(`${from}'s disconnectSockets(${close}) reaches a ${to} socket`, async () => {
        const target = await connectTwice(url);
        clients.push(target);
        const room = `doomed-${from}-${close}`;
        assert.equal(await request(target.main, 5000, "join", room), true);
        const mainGone = gone(target.main, `"/" of the ${to} client`);
        const otherGone = close ? gone(target.other, `"/other" of the ${to} client`) : null;
        assert.equal(await request(sender.main, 5000, "x:disconnect-room", room, close), true);
        assert.equal(await mainGone, "io server disconnect");
        if (close) {
          const reason = await otherGone;
          assert.ok(["io server disconnect", "transport close"].includes(reason), reason);
          assert.equal(target.other.connected, false);
        } else {
          assert.equal(await request(target.other, 5000, "ping"), "pong", '"/other" still answers');
          assert.equal(target.other.connected, true, '"/other" stays connected');
          assert.equal(target.manager.engine.readyState, "open", "the connection stays open");
        }
        assert.ok(sender.main.connected && sender.other.connected, "the sender stays connected");
      });
    }
  });
}
